"""The GBNF query grammar (assistant/grammar.py, grammars/mygene.gbnf).

Acceptance is checked with a real recognizer: llguidance (the constrained-decoding engine llama.cpp
can also use) compiles the GBNF and consumes each query byte by byte through a 256-token byte
vocabulary. llama.cpp's own parser must load the grammar as well.
"""

from __future__ import annotations

import argparse

import llguidance
import pytest
from query_examples import INVALID, VALID, seed_log

from assistant.errors import AssistantError
from assistant.grammar import (
    GRAMMAR_PATH,
    add_commands,
    build_grammar,
    check_llama_cpp,
    load_grammar,
)
from assistant.query import canonical, parse_query, validate


class _ByteVocabulary:
    """A tokenizer whose tokens are the 256 bytes (plus an end token): one token per byte."""

    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]

    def __call__(self, text):
        return list(text if isinstance(text, bytes) else text.encode())


@pytest.fixture(scope="module")
def accepts():
    tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_ByteVocabulary()))
    compiled = llguidance.grammar_from("gbnf", load_grammar())

    def accepts(line: str) -> bool:
        matcher = llguidance.LLMatcher(tokenizer, compiled, log_level=0)
        return matcher.consume_tokens(list(line.encode())) and matcher.is_accepting()

    return accepts


def test_checked_in_grammar_is_generated_from_the_schema():
    assert GRAMMAR_PATH.read_text() == build_grammar(), "run `python -m assistant grammar build`"


def test_llama_cpp_loads_the_grammar():
    check_llama_cpp(load_grammar())
    with pytest.raises(AssistantError, match="could not parse"):
        check_llama_cpp('root ::= "/v3/query?q=" undefined-rule')


def test_grammar_is_compact():
    text = load_grammar()
    assert len(text) < 20_000
    assert text.count("::=") < 200


@pytest.mark.parametrize("text", VALID)
def test_grammar_accepts_valid_queries(accepts, text):
    query = parse_query(text)
    assert validate(query) == []
    assert accepts(query.to_text()), query.to_text()
    assert accepts(canonical(query)), canonical(query)


def test_grammar_accepts_every_valid_seed_log_query(accepts):
    log = seed_log()
    if log is None:
        pytest.skip("shared/data/seed/query_log_sample.jsonl is not on this machine")
    checked = 0
    for text in log:
        if text.startswith(("/v1/", "/v3/api")):
            continue
        query = parse_query(text)
        if validate(query):
            continue
        assert accepts(query.to_text()), query.to_text()
        assert accepts(canonical(query)), canonical(query)
        checked += 1
    assert checked >= 60


@pytest.mark.parametrize(
    "line",
    [
        "/v3/query?q=symbol:CDK2 AND",  # dangling operator
        "/v3/query?q=AND symbol:CDK2",
        '/v3/query?q="tumor suppressor',  # unclosed phrase
        "/v3/query?q=(interleukin OR insulin",  # unclosed group
        "/v3/query?q=interleukin)",
        "/v3/query?q=*kinase",  # leading wildcard
        "/v3/query?q=symbl:cdk2",  # unknown field
        "/v3/query?q=cdk2&fields=unipro",
        "/v3/query?q=cdk2&species=martian",
        "/v3/query?q=cdk2&size=ten",
        "/v3/query?q=cdk2&format=html",  # unknown parameter
        "/v3/query?q=cdk2&scopes=symbol",  # POST only
        "/v3/query?species=human",  # no q
        "/v3/query?q=",
        "/v3/query?q=cdk2&",
        "/v3/query?q=tumor  suppressor",  # one space between terms
        "/v3/query?q=cdk2&dotfield=yes",
        "/v3/query?q=taxid:[1 TO 10",
        "/v3/gene/",
        "/v3/gene/1017?size=5",
        "/v3/gene/1017?fields=ensembl.gene=all",
        "POST /v3/query scopes=symbol",
        "POST /v3/gene fields=symbol",
        "/v1/chem/DB00619?fields=drugbank",
        "what genes does TP53 regulate?",
        "/v3/query?q=cdk2\n",
        "",
    ],
)
def test_grammar_rejects_malformed_lines(accepts, line):
    assert not accepts(line)


@pytest.mark.parametrize(
    ("text", "_"),
    [case for case in INVALID if "q cannot be parsed" in case[1] or "unbalanced" in case[1]],
)
def test_grammar_rejects_unparsable_q(accepts, text, _):
    assert not accepts(parse_query(text).to_text())


def test_grammar_command_writes_the_file(tmp_path):
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    out = tmp_path / "mygene.gbnf"
    args = parser.parse_args(["grammar", "build", "--output", str(out)])
    assert args.func(args) == 0
    assert out.read_text() == build_grammar()
    args = parser.parse_args(["grammar", "check", "--path", str(out)])
    assert args.func(args) == 0
    out.write_text('root ::= "stale"\n')
    with pytest.raises(AssistantError, match="out of date"):
        args.func(args)


def test_grammar_bounds_repetition(accepts):
    """A small model can loop on list items or parameters; the grammar ends such lines."""
    from assistant.grammar import MAX_LIST, MAX_PARAMS

    fields = ",".join(["symbol"] * MAX_LIST)
    assert accepts(f"/v3/query?q=symbol:CDK2&fields={fields}")
    assert not accepts(f"/v3/query?q=symbol:CDK2&fields={fields},name")
    params = "&species=human" * MAX_PARAMS
    assert accepts(f"/v3/query?q=symbol:CDK2{params}")
    assert not accepts(f"/v3/query?q=symbol:CDK2{params}&size=1")
    assert accepts(f"POST /v3/query q=CDK2,TP53&scopes=symbol{params[: -len('&species=human')]}")
