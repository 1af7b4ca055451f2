"""Greedy grammar-first sampling gives exactly the output of llama-cpp-python's full filter."""

import llama_cpp
import pytest

from assistant.config import Settings
from assistant.grammar import load_grammar
from assistant.prompts import build_messages
from assistant.registry import fetch, load_registry, require_weights
from assistant.sampling import GrammarFirstGreedy, grammar_first_llama_class

QUESTIONS = [
    "what is the official symbol of LMP10?",
    "ensembl id of mouse Cdk2",
    "human genes on chr7 between 55000000 and 56000000",
]


@pytest.fixture(scope="module")
def smollm2_path():
    settings = Settings()
    spec = load_registry().get("smollm2-135m")
    fetch(spec, settings, echo=lambda s: None)
    return str(require_weights(spec, settings))


@pytest.fixture(scope="module")
def grammar():
    return llama_cpp.LlamaGrammar.from_string(load_grammar(), verbose=False)


def _answers(llm, grammar, **kwargs):
    return [
        llm.create_chat_completion(
            messages=build_messages(q, "zero-shot"), grammar=grammar, max_tokens=48, **kwargs
        )["choices"][0]["message"]["content"]
        for q in QUESTIONS
    ]


def test_same_output_as_the_full_grammar_filter(smollm2_path, grammar):
    plain = llama_cpp.Llama(smollm2_path, n_ctx=2048, n_threads=2, verbose=False)
    fast = grammar_first_llama_class()(smollm2_path, n_ctx=2048, n_threads=2, verbose=False)
    expected = _answers(plain, grammar, temperature=0)
    got = _answers(fast, grammar, temperature=0)
    assert got == expected
    assert all(a.startswith(("/v3/", "POST /v3/")) for a in got)
    sampler = fast._init_sampler(temp=0.0, grammar=grammar)
    assert isinstance(sampler.grammar_first, GrammarFirstGreedy)
    # sampling at a temperature is left to the library's own chain
    assert not hasattr(fast._init_sampler(temp=0.7, grammar=grammar), "grammar_first")


def test_falls_back_to_the_whole_vocabulary(smollm2_path):
    """A grammar no likely token starts ("zq" then digits) still holds, via the full filter."""
    fast = grammar_first_llama_class()(smollm2_path, n_ctx=512, n_threads=2, verbose=False)
    odd = llama_cpp.LlamaGrammar.from_string('root ::= "zq" [0-9] [0-9]', verbose=False)
    out = fast.create_chat_completion(
        messages=[{"role": "user", "content": "Say hello."}],
        grammar=odd,
        temperature=0,
        max_tokens=8,
    )["choices"][0]["message"]["content"]
    assert out[:2] == "zq" and out[2:].isdigit() and len(out) == 4
