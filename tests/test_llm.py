"""The language-model interface with the real SmolLM2-135M GGUF (98 MB, fetched from PyPI)."""

from __future__ import annotations

import re
import threading

import pytest
from chat_stub import chat_server

from assistant.config import Settings
from assistant.errors import ModelError, UnknownModel
from assistant.llm import Generation, LlamaCppModel, OpenAIModel, get_model
from assistant.registry import fetch, load_registry

YES_NO = 'root ::= "yes" | "no"'
SYMBOL_QUERY = 'root ::= "symbol:" [A-Z] [A-Z0-9]{1,5}'
QUESTION = [
    {"role": "system", "content": "You answer questions about genes."},
    {"role": "user", "content": "Is CDK2 a protein kinase? Answer yes or no."},
]


@pytest.fixture(scope="session")
def smollm2():
    settings = Settings(n_ctx=1024, max_tokens=32)
    fetch(load_registry().get("smollm2-135m"), settings, echo=lambda s: None)
    model = get_model("smollm2-135m", settings)
    model.load()
    return model


def test_get_model_picks_the_backend(smollm2):  # smollm2: the weights are fetched
    assert isinstance(get_model("smollm2-135m", Settings()), LlamaCppModel)
    oa = get_model("openai:gpt-4o-mini", Settings())
    assert isinstance(oa, OpenAIModel) and oa.model == "gpt-4o-mini"
    assert get_model("openai", Settings(openai_model="local")).model == "local"
    with pytest.raises(UnknownModel, match="smollm2-135m"):
        get_model("no-such-model", Settings())


def test_generate_without_grammar(smollm2):
    g = smollm2.generate(QUESTION, max_tokens=16)
    assert isinstance(g, Generation)
    assert g.text.strip()
    assert g.prompt_tokens > 10
    assert 1 <= g.completion_tokens <= 16
    assert g.finish_reason in ("stop", "length")
    assert g.timings["eval_tokens"] >= 1


def test_grammar_constrains_the_answer(smollm2):
    g = smollm2.generate(QUESTION, grammar=YES_NO, max_tokens=8)
    assert g.text in ("yes", "no")
    g = smollm2.generate(
        [{"role": "user", "content": "Write a MyGene query for the gene CDK2."}],
        grammar=SYMBOL_QUERY,
        max_tokens=12,
    )
    assert re.fullmatch(r"symbol:[A-Z][A-Z0-9]{1,5}", g.text), g.text
    assert len(smollm2._grammars) >= 2
    smollm2.generate(QUESTION, grammar=YES_NO, max_tokens=8)
    assert list(smollm2._grammars).count(YES_NO) == 1  # compiled once, reused


def test_stream_yields_the_same_text_and_counts(smollm2):
    whole = smollm2.generate(QUESTION, max_tokens=20)
    stream = smollm2.generate(QUESTION, max_tokens=20, stream=True)
    pieces = list(stream)
    assert len(pieces) > 1
    assert "".join(pieces) == whole.text == stream.result.text
    assert stream.result.prompt_tokens == whole.prompt_tokens
    assert stream.result.completion_tokens == whole.completion_tokens
    assert stream.result.finish_reason == whole.finish_reason

    g = smollm2.generate(QUESTION, grammar=YES_NO, stream=True)
    assert g.text() in ("yes", "no")


def test_the_lock_serializes_generations(smollm2):
    stream = smollm2.generate(QUESTION, max_tokens=8, stream=True)
    it = iter(stream)
    next(it)
    assert smollm2.lock.locked()  # held while a generation is under way
    for _ in it:
        pass
    assert not smollm2.lock.locked()

    expected = smollm2.generate(QUESTION, max_tokens=12).text
    results: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(smollm2.generate(QUESTION, max_tokens=12).text)
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_missing_files_raise_model_errors(tmp_path):
    with pytest.raises(ModelError, match="model fetch"):
        LlamaCppModel(tmp_path / "none.gguf").load()
    smol = load_registry().get("smollm2-135m").weights_path(Settings())
    with pytest.raises(ModelError, match="LoRA adapter not found"):
        LlamaCppModel(smol, lora_path=tmp_path / "adapter.gguf").load()


def test_openai_model_talks_to_a_compatible_server():
    with chat_server(lambda body: "q=symbol:CDK2") as (url, requests):
        settings = Settings(openai_base_url=url, openai_api_key="local")
        model = get_model("openai:qwen-local", settings)
        g = model.generate(QUESTION, grammar=YES_NO, max_tokens=5)
    assert (g.text, g.prompt_tokens, g.completion_tokens) == ("q=symbol:CDK2", 11, 4)
    sent = requests[-1]
    assert sent["model"] == "qwen-local" and sent["grammar"] == YES_NO
    assert sent["max_tokens"] == 5 and sent["messages"] == QUESTION
