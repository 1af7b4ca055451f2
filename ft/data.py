"""Training examples: question→query pairs rendered with the assistant's ``ft`` prompt.

Each pair becomes the chat messages of :func:`assistant.prompts.training_messages` (the same
function the assistant's ``ft`` mode prompts with), rendered by the model's own chat template
(the one in the GGUF file, saved with the tokenizer). The loss covers only the answer: the
prompt tokens get the label ``IGNORE`` (-100), the query line and the end-of-turn token are
learned.

>>> pair = {"question": "What is the Entrez id of human CDK2?",
...         "query": "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"}
>>> ex = encode_pair(tokenizer, pair["question"], pair["query"])       # doctest: +SKIP
>>> tokenizer.decode([t for t, l in zip(ex["tokens"], ex["labels"]) if l != IGNORE])  # doctest: +SKIP
'/v3/query?q=symbol:CDK2&species=human&fields=entrezgene<|im_end|>\\n'
"""

from __future__ import annotations

import random
from pathlib import Path

from assistant.errors import AssistantError, ConfigError
from assistant.pairs import read_pairs_file
from assistant.prompts import training_messages

IGNORE = -100
"""The label of tokens that do not count in the loss (torch's CrossEntropyLoss ignore_index)."""


class PairsError(AssistantError):
    """The training pairs are missing, empty or malformed."""


def pairs_file(source: str | Path, split: str) -> Path:
    """The JSONL file of ``split``: ``source`` itself if it is a file, else ``source/<split>.jsonl``."""
    source = Path(source).expanduser()
    path = source if source.suffix == ".jsonl" else source / f"{split}.jsonl"
    if not path.is_file():
        raise PairsError(
            f"training pairs not found at {path}; build them with the dataset step "
            "(data/pairs/{train,validation,test}.jsonl) or pass --pairs FILE.jsonl"
        )
    return path


def read_pairs(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    """``[{"question", "query"}, ...]`` from a JSONL file of pairs (other keys are ignored), read
    by :func:`assistant.pairs.read_pairs_file`.

    A line that is not a JSON object with non-empty ``question`` and ``query`` strings raises
    :class:`PairsError` naming the file and line; so does a file with no pairs.
    """
    try:
        pairs = read_pairs_file(path, limit)
    except ConfigError as exc:
        raise PairsError(str(exc)) from None
    if not pairs:
        raise PairsError(
            f"{path} holds no pairs; regenerate the dataset or pass another --pairs file"
        )
    return [{"question": p.question, "query": p.query} for p in pairs]


def encode_pair(
    tokenizer, question: str, query: str, mode: str = "ft", max_seq_len: int | None = None
) -> dict[str, list[int]]:
    """``{"tokens", "labels"}`` for one pair; prompt positions are labelled :data:`IGNORE`.

    ``tokenizer`` is a Hugging Face tokenizer with a chat template. The prompt is rendered with
    ``add_generation_prompt=True`` (exactly what the model sees when serving), the answer is the
    rest of the rendered conversation. Longer examples are cut at ``max_seq_len``.
    """
    messages = training_messages(question, query, mode)
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise PairsError(
            "the chat template renders the prompt differently with and without the answer; "
            "use a model whose chat template appends the assistant turn"
        )
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    tokens = p_ids + a_ids
    labels = [IGNORE] * len(p_ids) + a_ids
    if max_seq_len:
        tokens, labels = tokens[:max_seq_len], labels[:max_seq_len]
    return {"tokens": tokens, "labels": labels}


def encode_pairs(tokenizer, pairs, mode="ft", max_seq_len=None) -> list[dict[str, list[int]]]:
    """:func:`encode_pair` over a list, dropping examples longer than ``max_seq_len`` (a cut
    answer would teach the model to stop without the end-of-turn token)."""
    out = []
    for p in pairs:
        ex = encode_pair(tokenizer, p["question"], p["query"], mode)
        if not max_seq_len or len(ex["tokens"]) <= max_seq_len:
            out.append(ex)
    if not out:
        raise PairsError(f"every example is longer than max_seq_len={max_seq_len}; raise it")
    return out


def collate(batch: list[dict[str, list[int]]], pad_id: int):
    """Right-pad a batch to its longest example: ``(tokens, labels)`` LongTensors."""
    import torch

    n = max(len(ex["tokens"]) for ex in batch)
    tokens = torch.full((len(batch), n), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), n), IGNORE, dtype=torch.long)
    for i, ex in enumerate(batch):
        tokens[i, : len(ex["tokens"])] = torch.tensor(ex["tokens"])
        labels[i, : len(ex["labels"])] = torch.tensor(ex["labels"])
    return tokens, labels


def batch_order(n_examples: int, batch_size: int, epoch: int, seed: int) -> list[list[int]]:
    """The shuffled batches of one epoch (deterministic in ``seed`` and ``epoch``, so a resumed
    run continues with the same batches); a last short batch is dropped."""
    idx = list(range(n_examples))
    random.Random(seed * 1000 + epoch).shuffle(idx)
    return [idx[i : i + batch_size] for i in range(0, n_examples - batch_size + 1, batch_size)]
