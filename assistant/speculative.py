"""Fewer forward passes than tokens: draft, then verify in one batch (greedy decoding only).

A query line copies a lot: the grammar fixes ``/v3/query?q=``, ``&fields=``, the rest of a field
name once its prefix is unique and the closing syntax, and the question supplies the gene
symbols, ids and numbers. At each step :class:`Drafter` proposes the tokens that

1. the grammar **forces**: bytes that are the only ones the grammar allows next (found by
   applying a clone of the grammar sampler to the vocabulary's single-byte tokens, EOS included),
   tokenized as the tokenizer would write them (jump-forward decoding, as SGLang calls it);
2. the prompt **repeats**: :func:`prompt_lookup`, the n-gram match of llama-cpp-python's
   ``LlamaPromptLookupDecoding`` (most recent match first, at least a 2-gram) over the prompt
   and the tokens so far (gene symbols, ids, numbers copied from the question);
3. or the rest of a question's word once the query has begun it, in any case and after any of
   the characters a query puts before a term (``symbol:brca1`` for "BRCA1"; BPE tokenizers
   fold ``:`` or ``=`` into the word's first token, so the prompt's own tokens never match);
4. or, when nothing in the prompt matches, what queries **usually** say next: :class:`QueryNgrams`,
   n-gram continuations counted over a corpus of known queries (the training pairs), proposed
   only when one continuation clearly dominates (``&fields=genomic_pos`` → ``,symbol``).

Lookup and corpus tokens are kept only while the grammar accepts them.

:func:`speculative_generate` evaluates the pending token and the draft in one ``llama_decode``
with logits for every position, then samples each position with the same greedy (grammar-first)
sampler as plain decoding, accepting drafted tokens while they equal what it picks; at the first
difference it keeps the sampler's token and drops the rest of the draft from the KV cache. Every
emitted token is therefore the one plain greedy decoding under the grammar would emit (a test
compares both on real questions with the real default model); a good draft only saves passes.

The prompt is matched against the tokens already in the KV cache, so a fixed system prompt is
evaluated once and each question evaluates only its own tokens (``prefill_tokens`` in
:attr:`SpecStats`).

Imports of llama_cpp stay inside functions so that the module imports without native code.
"""

from __future__ import annotations

import ctypes
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .sampling import OneCandidate

MAX_FORCED = 32
"""Bytes the grammar may force in one step (a field name, ``&fields=``...)."""
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{2,}")
"""A word of the question a query may copy (gene symbols, ids, numbers)."""
WORD_WINDOW = 400
"""Prompt tokens (from the end) whose words :meth:`Drafter.begin` indexes."""
MAX_LOOKUP = 8
"""Tokens taken from a prompt n-gram match in one step."""
NGRAM = 3
"""Longest n-gram the prompt lookup matches on (it falls back to shorter ones)."""


@dataclass
class SpecStats:
    """What one generation did (``LlamaCppModel`` adds these to ``Generation.timings``)."""

    prefill_tokens: int = 0
    """Prompt tokens evaluated (after the cached prefix)."""
    cached_tokens: int = 0
    """Prompt tokens reused from the KV cache."""
    forward_passes: int = 0
    """``llama_decode`` calls: prompt batches plus one per verification step."""
    emitted: int = 0
    """Tokens yielded (the query's tokens, end-of-generation included)."""
    drafted: int = 0
    accepted: int = 0
    forced: int = 0
    """Drafted tokens that the grammar forced (the rest came from the prompt, its words or the
    query n-grams)."""
    grammar_s: float = 0.0
    """Time spent in the grammar: constrained sampling and drafting."""
    decode_s: float = 0.0
    """Time spent in ``llama_decode``."""

    def as_timings(self) -> dict[str, float]:
        return {f"spec_{k}": v for k, v in asdict(self).items()}


def prompt_lookup(ids: np.ndarray, limit: int, max_n: int = NGRAM, min_n: int = 2) -> list[int]:
    """What followed the latest earlier occurrence of the last ``n`` tokens (longest ``n``
    first, never a single token, which matches too much): llama-cpp-python's
    ``LlamaPromptLookupDecoding``, but most recent match first and at least a 2-gram.

    >>> prompt_lookup(np.array([5, 6, 7, 8, 1, 5, 6]), 2)
    [7, 8]
    >>> prompt_lookup(np.array([5, 6, 7, 6]), 2)
    []
    """
    n_ids = len(ids)
    for n in range(min(max_n, n_ids - 1), min_n - 1, -1):
        tail = ids[-n:]
        windows = np.lib.stride_tricks.sliding_window_view(ids[:-1], n)
        hits = np.nonzero(np.all(windows == tail, axis=1))[0]
        for start in hits[::-1]:
            out = ids[start + n : start + n + limit].tolist()
            if out:
                return out
    return []


class QueryNgrams:
    """Next-token counts after every 2..``order``-token context of a corpus of token sequences.

    >>> ng = QueryNgrams([[1, 2, 3, 4], [1, 2, 3, 4], [9, 2, 3, 5]], order=3)
    >>> ng.continue_([7, 1, 2], 3)      # after (1, 2): 3 twice, then (2, 3): 4 twice of three
    [3, 4]
    >>> ng.continue_([8, 8], 3)
    []
    """

    def __init__(self, sequences: list[list[int]], order: int = 4, min_count: int = 2,
                 min_share: float = 0.6):  # fmt: skip
        self.order = order
        self.min_count = min_count
        self.min_share = min_share
        self.tables: dict[int, dict[tuple[int, ...], dict[int, int]]] = {
            n: {} for n in range(2, order + 1)
        }
        for seq in sequences:
            for n, table in self.tables.items():
                for i in range(n, len(seq)):
                    nxt = table.setdefault(tuple(seq[i - n : i]), {})
                    nxt[seq[i]] = nxt.get(seq[i], 0) + 1

    def _next(self, context: list[int]) -> int | None:
        for n in range(min(self.order, len(context)), 1, -1):
            counts = self.tables[n].get(tuple(context[-n:]))
            if counts is None:
                continue
            token, count = max(counts.items(), key=lambda kv: kv[1])
            if count >= self.min_count and count >= self.min_share * sum(counts.values()):
                return token
            return None
        return None

    def continue_(self, context: list[int], limit: int) -> list[int]:
        """The dominant continuation of ``context``, at most ``limit`` tokens."""
        out: list[int] = []
        ctx = list(context[-self.order :])
        while len(out) < limit:
            token = self._next(ctx)
            if token is None:
                break
            out.append(token)
            ctx = (ctx + [token])[-self.order :]
        return out


class Drafter:
    """Proposes draft tokens for one model: grammar-forced bytes, then prompt-lookup or corpus
    tokens. ``corpus`` is a list of known query lines (for :class:`QueryNgrams`), or None."""

    def __init__(
        self,
        llm: Any,
        corpus: list[str] | None = None,
        max_forced: int = MAX_FORCED,
        max_lookup: int = MAX_LOOKUP,
    ):
        import llama_cpp

        self._lib = llama_cpp
        self._llm = llm
        self.max_forced = max_forced
        self.max_lookup = max_lookup
        self.ngrams = (
            QueryNgrams(
                [llm.tokenize(q.encode("utf-8"), add_bos=False, special=False) for q in corpus]
            )
            if corpus
            else None
        )
        vocab = llm._model.vocab
        ids, values = [], []
        for b in range(256):
            toks = llm.tokenize(bytes([b]), add_bos=False, special=False)
            if len(toks) == 1 and llm.detokenize(toks) == bytes([b]):
                ids.append(toks[0])
                values.append(b)
        self.eog = [t for t in (llm.token_eos(),) if t >= 0]
        self._ids = ids + self.eog
        self._bytes = values
        n = len(self._ids)
        self._data = (llama_cpp.llama_token_data * n)()
        self._arr = llama_cpp.llama_token_data_array(
            data=self._data, size=n, selected=-1, sorted=False
        )
        self._one = OneCandidate()
        self._vocab = vocab
        self.words: dict[int, list[int]] = {}

    def _special(self, token: int) -> bool:
        lib = self._lib
        return bool(
            lib.llama_vocab_is_control(self._vocab, token)
            or lib.llama_vocab_is_eog(self._vocab, token)
        )

    def begin(self, prompt: list[int]) -> None:
        """Index the words of a new prompt: first token of the word as a query writes it (after
        ``:``, ``=``, ``,`` or nothing; as asked, lower- or upper-cased) → its other tokens.
        Later words win, so the question beats the system prompt."""
        text = self._llm.detokenize(prompt[-WORD_WINDOW:]).decode("utf-8", "replace")
        words: dict[int, list[int]] = {}
        for word in dict.fromkeys(WORD.findall(text)):
            for form in dict.fromkeys((word, word.lower(), word.upper())):
                for before in ("", ":", "=", ",", "(", " "):
                    toks = self._llm.tokenize(
                        (before + form).encode(), add_bos=False, special=False
                    )
                    if len(toks) > 1:
                        words[toks[0]] = toks[1:]
        self.words = words

    def _allowed(self, grammar, token: int) -> bool:
        return self._one.allowed(grammar, token)

    def _forced_bytes(self, grammar) -> bytes:
        out = bytearray()
        n = len(self._ids)
        while len(out) < self.max_forced:
            for i, t in enumerate(self._ids):
                self._data[i].id = t
                self._data[i].logit = 0.0
            self._arr.size = n
            self._arr.selected = -1
            self._lib.llama_sampler_apply(grammar, ctypes.byref(self._arr))
            allowed = [i for i in range(n) if np.isfinite(self._data[i].logit)]
            if len(allowed) != 1 or allowed[0] >= len(self._bytes):
                break
            i = allowed[0]
            self._lib.llama_sampler_accept(grammar, self._ids[i])
            out.append(self._bytes[i])
        # a forced multi-byte character cut in the middle is left for the model
        while out:
            try:
                out.decode("utf-8")
                break
            except UnicodeDecodeError:
                out.pop()
        return bytes(out)

    def draft(self, grammar, history: np.ndarray, room: int) -> tuple[list[int], int]:
        """Tokens to try after ``history`` (the prompt and every token so far, the pending one
        last), at most ``room``; also how many of them the grammar forced. ``grammar`` is the
        live grammar sampler (already past the pending token) or None; it is cloned, not moved.
        """
        if room <= 0:
            return [], 0
        clone = self._lib.llama_sampler_clone(grammar) if grammar else None
        try:
            draft: list[int] = []
            if clone:
                forced = self._forced_bytes(clone)
                if forced:
                    draft = self._llm.tokenize(forced, add_bos=False, special=False)[:room]
            n_forced = len(draft)
            ids = np.concatenate([history, np.asarray(draft, dtype=np.intc)]) if draft else history
            guess = prompt_lookup(ids, self.max_lookup) or self.words.get(int(ids[-1]), [])
            if len(guess) < self.max_lookup and self.ngrams is not None:
                context = np.concatenate([ids, np.asarray(guess, dtype=np.intc)]) if guess else ids
                guess = guess + self.ngrams.continue_(
                    context[-self.ngrams.order :].tolist(), self.max_lookup - len(guess)
                )
            for t in guess:
                if len(draft) >= room or self._special(t):
                    break
                if clone:
                    if not self._allowed(clone, t):
                        break
                    self._lib.llama_sampler_accept(clone, t)
                draft.append(int(t))
            return draft, n_forced
        finally:
            if clone:
                self._lib.llama_sampler_free(clone)


def _decode(llm, batch: list[int], logits_all: bool, stats: SpecStats) -> None:
    n_past = llm.n_tokens
    llm._batch.set_batch(batch=batch, n_past=n_past, logits_all=logits_all)
    t0 = time.perf_counter()
    llm._ctx.decode(llm._batch)
    stats.decode_s += time.perf_counter() - t0
    stats.forward_passes += 1
    llm.input_ids[n_past : n_past + len(batch)] = batch


def _prefill(llm, tokens: list[int], stats: SpecStats) -> None:
    """Evaluate ``tokens`` after the longest prefix already in the KV cache (at least one)."""
    keep = 0
    for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), tokens):
        if a != b:
            break
        keep += 1
    keep = min(keep, len(tokens) - 1)
    if keep <= 0 or not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
        keep = 0
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    llm.n_tokens = keep
    stats.cached_tokens = keep
    rest = tokens[keep:]
    stats.prefill_tokens = len(rest)
    for i in range(0, len(rest), llm.n_batch):
        chunk = rest[i : i + llm.n_batch]
        _decode(llm, chunk, False, stats)
        llm.n_tokens += len(chunk)


def speculative_generate(
    llm, tokens, sampler, drafter: Drafter, stats: SpecStats, stopping_criteria=None
):
    """Yield the greedy tokens for the prompt ``tokens``, drafting and verifying in batches.

    ``sampler`` is the greedy ``LlamaSampler`` chain (with ``grammar_first`` when a grammar
    constrains it). Before every ``yield``, ``llm.input_ids[:llm.n_tokens]`` is exactly what the
    KV cache holds, so a consumer may stop at any token and the next prompt reuses the cache.
    ``stopping_criteria`` is called as the library's loop calls it (the tokens before the new
    one, and the score row it passes), and ends the generation before that token.
    """
    step = getattr(sampler, "grammar_first", None)
    tokens = list(tokens)
    t0 = time.perf_counter()
    drafter.begin(tokens)
    stats.grammar_s += time.perf_counter() - t0
    _prefill(llm, tokens, stats)
    llm._requires_eval = True

    def sample(idx: int) -> int:
        t0 = time.perf_counter()
        token = sampler.sample(llm._ctx, idx)
        stats.grammar_s += time.perf_counter() - t0
        return token

    def stop(before: int) -> bool:
        return stopping_criteria is not None and bool(
            stopping_criteria(llm._input_ids[:before], llm._scores[-1, :])
        )

    token = sample(-1)
    while True:
        if stop(llm.n_tokens):
            return
        stats.emitted += 1
        yield token
        room = llm._n_ctx - llm.n_tokens - 2
        if room < 0:
            return
        t0 = time.perf_counter()
        history = np.append(llm.input_ids[: llm.n_tokens], np.intc(token))
        draft, n_forced = drafter.draft(step.grammar if step else None, history, room)
        stats.grammar_s += time.perf_counter() - t0
        stats.drafted += len(draft)
        base = llm.n_tokens
        _decode(llm, [token] + draft, True, stats)
        llm.n_tokens = base + 1
        for i, d in enumerate(draft):
            token = sample(i)
            if token != d:
                break
            stats.accepted += 1
            stats.forced += i < n_forced
            if stop(llm.n_tokens):
                return
            llm.n_tokens += 1
            stats.emitted += 1
            yield token
        else:
            token = sample(len(draft))
        if llm.n_tokens < base + 1 + len(draft):
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
