"""Speculative greedy decoding (assistant/speculative.py) against the library's plain loop:
token-for-token the same output under the grammar, fewer forward passes, the system prompt
evaluated once. SmolLM2-135M for the fast checks, the default fine-tuned model on real
questions for the slow one."""

from __future__ import annotations

import json

import pytest

from assistant.config import ROOT, Settings
from assistant.grammar import load_grammar
from assistant.llm import get_model
from assistant.prompts import build_messages
from assistant.registry import fetch, load_registry

QUESTIONS = [
    "what is the official symbol of LMP10?",
    "Where is human BRCA1 located?",
    "Look up CDK2, BRCA1 and TP53 by symbol.",
    "Which genes are on human chromosome 12 between 55900000 and 56000000?",
    "whats the uniprot accession of insulin",
    "HER2 official gene symbol?",
    "GO terms for mouse Trp53 pls",
]


def plain_llama(model):
    """The library's own ``llama_cpp.Llama`` on the same file and settings (no drafts, no
    grammar-first sampling)."""
    import llama_cpp

    kwargs = {k: v for k, v in model.llama_kwargs.items() if k != "speculative"}
    return llama_cpp.Llama(
        model_path=str(model.model_path),
        chat_format=model.chat_format,
        lora_path=str(model.lora_path) if model.lora_path else None,
        **kwargs,
    )


def plain_texts(model, grammar: str, messages_list, max_tokens: int) -> list[str]:
    import llama_cpp

    llm = plain_llama(model)
    g = llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
    out = []
    for messages in messages_list:
        llm.reset()
        res = llm.create_chat_completion(
            messages=messages, grammar=g, temperature=0.0, max_tokens=max_tokens
        )
        out.append(res["choices"][0]["message"]["content"] or "")
    llm.close()
    return out


@pytest.fixture(scope="module")
def small():
    settings = Settings(n_ctx=2048, speculative=True)
    fetch(load_registry().get("smollm2-135m"), settings, echo=lambda s: None)
    model = get_model("smollm2-135m", settings)
    model.load()
    return model


def test_speculative_output_is_the_plain_greedy_output(small):
    grammar = load_grammar()
    messages = [build_messages(q, "icl") for q in QUESTIONS]
    ours = [small.generate(m, grammar=grammar, max_tokens=48) for m in messages]
    assert all("spec_forward_passes" in g.timings for g in ours)
    assert [g.text for g in ours] == plain_texts(small, grammar, messages, 48)
    tokens = sum(g.completion_tokens for g in ours)
    passes = sum(g.timings["spec_forward_passes"] - 1 for g in ours)  # minus the prompt batch
    assert passes < tokens, (passes, tokens)
    assert sum(g.timings["spec_accepted"] for g in ours) > 0


def test_each_question_evaluates_only_its_own_tokens(small):
    grammar = load_grammar()
    first = small.generate(build_messages(QUESTIONS[0], "icl"), grammar=grammar, max_tokens=8)
    second = small.generate(build_messages(QUESTIONS[1], "icl"), grammar=grammar, max_tokens=8)
    # the system prompt and its examples stay in the KV cache: only the question is evaluated
    assert second.timings["spec_cached_tokens"] > 200
    assert second.timings["spec_prefill_tokens"] < 40
    assert first.timings["spec_cached_tokens"] + first.timings["spec_prefill_tokens"] > 200
    shared = second.timings["spec_cached_tokens"]
    assert shared + second.timings["spec_prefill_tokens"] == second.prompt_tokens


def test_a_stopped_generation_leaves_a_consistent_cache(small):
    """max_tokens cuts a generation between drafted tokens; the next one is still exact."""
    grammar = load_grammar()
    messages = build_messages(QUESTIONS[3], "icl")
    cut = small.generate(messages, grammar=grammar, max_tokens=5)
    assert cut.finish_reason == "length" and cut.completion_tokens == 5
    again = small.generate(messages, grammar=grammar, max_tokens=48)
    streamed = small.generate(messages, grammar=grammar, max_tokens=48, stream=True)
    assert streamed.text() == again.text == plain_texts(small, grammar, [messages], 48)[0]
    assert again.text.startswith(cut.text)


def test_without_grammar_and_when_switched_off(small):
    messages = build_messages(QUESTIONS[2], "icl")
    free = small.generate(messages, max_tokens=24)
    assert "spec_forward_passes" in free.timings
    off = get_model("smollm2-135m", Settings(n_ctx=2048, speculative=False))
    plain = off.generate(messages, max_tokens=24)
    assert "spec_forward_passes" not in plain.timings
    assert plain.text == free.text


@pytest.mark.slow
def test_the_default_model_is_identical_on_real_questions():
    """The shipped fine-tuned model in its own mode, on real phrasings and test-split questions."""
    settings = Settings(speculative=True)
    spec = load_registry().get(settings.model)
    fetch(spec, settings, echo=lambda s: None)
    model = get_model(settings.model, settings)
    grammar = load_grammar()
    with open(ROOT / "data" / "pairs" / "test.jsonl", encoding="utf-8") as fh:
        test = [json.loads(line)["question"] for line in fh][:13]
    messages = [build_messages(q, "ft") for q in QUESTIONS + test]
    ours = [model.generate(m, grammar=grammar, max_tokens=96) for m in messages]
    assert [g.text for g in ours] == plain_texts(model, grammar, messages, 96)
    tokens = sum(g.completion_tokens for g in ours)
    passes = sum(g.timings["spec_forward_passes"] for g in ours)
    assert passes < tokens
