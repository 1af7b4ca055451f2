"""Corrections of a model query that found nothing (assistant/recover.py), on the tiny store."""

from __future__ import annotations

import pytest
from scripted import ScriptedModel
from scripts import load_script

from assistant.backends import EmbeddedBackend
from assistant.config import Settings
from assistant.pipeline import Assistant
from assistant.query import parse_query
from assistant.recover import alternatives, closest, fix_copied_terms, species_from_question


def test_a_term_copied_wrong_takes_the_questions_closest_word():
    q = parse_query("/v3/query?q=symbol:ckd2 AND taxid:9606&fields=symbol")
    fixed, why = fix_copied_terms("Where is CDK2 in people?", q)
    assert fixed.q == "symbol:CDK2 AND taxid:9606" and fixed.params == q.params
    assert why == "ckd2 is not in the question but CDK2 is"
    post = parse_query("POST /v3/query q=CDK2,BRAC1,TP53&scopes=symbol&fields=uniprot")
    fixed, _ = fix_copied_terms("uniprot ids of CDK2, BRCA1 and TP53", post)
    assert fixed.q == "CDK2,BRCA1,TP53" and fixed.method == "POST"


@pytest.mark.parametrize(
    "question, text",
    [
        ("Where is CDK2?", "/v3/query?q=symbol:cdk2"),  # already in the question
        ("what does p53 do?", "/v3/query?q=symbol:wnt7b"),  # nothing within two edits
        ("cdk1 or cdk3?", "/v3/query?q=symbol:cdk2"),  # two words as close: no guess
        ("genes on chr1", "/v3/query?q=chr1:1000-2000"),  # an interval has no terms
        ("cyclin-dependent kinase*", "/v3/query?q=cyclin*"),  # wildcards are left alone
    ],
)
def test_no_correction_without_one_clear_word_from_the_question(question, text):
    assert fix_copied_terms(question, parse_query(text)) is None


def test_closest_is_bounded_by_length():
    tokens = {"bmpr1b": "Bmpr1b", "ins": "INS"}
    assert closest("brmp1b", tokens) == "Bmpr1b"  # two edits in six letters
    assert closest("inx", tokens) == "INS"  # one edit in three
    assert closest("abc", tokens) is None


def test_the_taxid_the_question_names_wins_over_another_species():
    q = parse_query("/v3/query?q=alias:crf2r&species=mouse&fields=symbol")
    fixed, why = species_from_question("Crf2r official symbol for taxid 10116", q)
    assert fixed.params["species"] == "rat" and fixed.q == q.q
    assert why == "the question names taxid 10116 (rat), not mouse"
    assert species_from_question("Crf2r for taxid 10090", q) is None  # mouse already
    assert species_from_question("Crf2r in rat", q) is None  # no taxid written


def test_alternatives_come_most_specific_first():
    q = parse_query("/v3/query?q=symbol:ckd2&species=mouse")
    notes = [why for _, why in alternatives("Cdk2 symbol for taxid 10116", q)]
    assert notes == [
        "ckd2 is not in the question but Cdk2 is",
        "ckd2 is not in the question but Cdk2 is; searching alias:Cdk2: the name may be an alias",
        "ckd2 is not in the question but Cdk2 is; searching symbol:Cdk2*: symbols that start with it",
        "the question names taxid 10116 (rat), not mouse",
        "searching alias:ckd2: the name may be an alias",
        "searching symbol:ckd2*: symbols that start with it",
        "searching all fields for ckd2 instead",
    ]


def _ask(store, question: str, line: str):
    """The pipeline's answer when the model writes ``line``."""
    settings = Settings(model="scripted", critic=False)  # recovery alone (the critic: test_critic)
    backend = EmbeddedBackend(settings, store=store)
    return Assistant(settings, model=ScriptedModel([line]), backend=backend).answer(
        question, mode="ft"
    )


def test_the_pipeline_runs_the_first_correction_that_finds_genes(tiny_store):
    a = _ask(
        tiny_store, "Where is CDK2?", "/v3/query?q=symbol:ckd2&species=human&fields=genomic_pos"
    )
    assert a.recovered_from == "/v3/query?q=symbol:ckd2&species=human&fields=genomic_pos"
    assert a.query == "/v3/query?q=symbol:CDK2&species=human&fields=genomic_pos"
    assert a.answer.startswith("Nothing matched symbol:ckd2; ckd2 is not in the question but CDK2")
    assert a.hits[0]["symbol"] == "CDK2" and a.status == "ok"
    # a query that finds genes is never corrected, even where the question says it otherwise
    a = _ask(tiny_store, "what does p53 do?", "/v3/query?q=symbol:tp53&species=human")
    assert a.recovered_from is None and a.hits[0]["symbol"] == "TP53"


def test_a_post_names_the_terms_it_corrected(tiny_store):
    a = _ask(
        tiny_store, "CDK2 and BRCA1 ids", "POST /v3/query q=CDK2,BRAC1&scopes=symbol&fields=symbol"
    )
    assert a.query == "POST /v3/query q=CDK2,BRCA1&scopes=symbol&fields=symbol"
    assert a.answer.startswith("Nothing matched BRAC1; brac1 is not in the question but BRCA1 is:")
    assert a.notfound == [] and {h["symbol"] for h in a.hits} >= {"CDK2", "BRCA1"}


def test_the_benchmark_replays_corrections_on_stored_outputs(tiny_store):
    bench = load_script("bench_recovery")
    ref = "/v3/query?q=symbol:cdk2&species=human"
    rows = [
        {"question": "Where is CDK2?", "output": "/v3/query?q=symbol:ckd2&species=human",
         "reference": ref, "scores": {"valid": True}},  # fixed by the question's word
        {"question": "Where is CDK2?", "output": ref, "reference": ref,
         "scores": {"valid": True}},  # right as written
        {"question": "Where is CDK2?", "output": "/v3/query?q=symbl:x", "reference": ref,
         "scores": {"valid": False}},  # never run
    ]  # fmt: skip
    counts = bench.replay(EmbeddedBackend(Settings(), store=tiny_store), rows)
    assert counts == {"n": 2, "criticised": 0, "empty": 1, "corrected": 1, "before": 1,
                      "after": 2, "fixed": 1, "broken": 0}  # fmt: skip
    # with the critic first: the copied term is repaired before it runs (nothing to correct;
    # both queries also get the genomic_pos "where" asks for)
    counts = bench.replay(EmbeddedBackend(Settings(), store=tiny_store), rows, critic=True)
    assert counts == {"n": 2, "criticised": 2, "empty": 0, "corrected": 0, "before": 1,
                      "after": 2, "fixed": 1, "broken": 0}  # fmt: skip
