"""The deterministic answer and the grounding check, on real results from the tiny store."""

from __future__ import annotations

import pytest

from assistant.backends import EmbeddedBackend, Result
from assistant.config import Settings
from assistant.query import parse_query
from assistant.summarize import (
    as_list,
    detect_intent,
    get_path,
    label,
    species,
    summarize,
    ungrounded,
)

CASES = [
    # question, query, expected intent
    ("what is the official symbol of LMP10?", "/v3/query?q=LMP10", "symbol"),
    ("What are the aliases of human CDK2?", "/v3/query?q=symbol:CDK2&species=human&fields=symbol,alias", "alias"),
    ("What is the Ensembl gene id of human EGFR?", "/v3/query?q=symbol:EGFR&species=human&fields=symbol,ensembl.gene", "ids"),
    ("Which gene is ENSG00000141510?", "/v3/query?q=ensembl.gene:ENSG00000141510&fields=symbol,name,taxid", "ids"),
    ("Where is human BRCA1 located?", "/v3/query?q=symbol:BRCA1&species=human&fields=symbol,genomic_pos,map_location", "location"),
    ("Which biological processes is TP53 involved in?", "/v3/query?q=symbol:TP53&species=human&fields=symbol,go.BP", "go"),
    ("Which pathways is CDK2 in?", "/v3/query?q=symbol:CDK2&species=human&fields=symbol,pathway", "pathway"),
    ("What does INS do?", "/v3/query?q=symbol:INS&species=human&fields=symbol,summary", "summary"),
    ("How many kinase genes are there?", "/v3/query?q=kinase", "count"),
    ("Count kinase genes per species", "/v3/query?q=kinase&facets=taxid", "facets"),
    ("List the human kinase genes", "/v3/query?q=kinase&species=human&size=5", "list"),
    ("Look up CDK2, BRCA1 and NOSUCHGENE", "POST /v3/query q=CDK2,BRCA1,NOSUCHGENE&scopes=symbol&fields=symbol,name", "multi"),
    ("Tell me about gene 1017", "/v3/gene/1017?fields=symbol,name,taxid,entrezgene", "gene"),
]  # fmt: skip


@pytest.fixture(scope="module")
def backend(tiny_store):
    return EmbeddedBackend(Settings(), store=tiny_store)


def _run(backend, question, text):
    query = parse_query(text)
    result = backend.query(query)
    return query, result, summarize(question, query, result)


@pytest.mark.parametrize("question,text,intent", CASES)
def test_every_answer_is_grounded_in_its_hits(backend, question, text, intent):
    query, result, s = _run(backend, question, text)
    assert s.intent == intent
    assert s.status == "ok"
    assert s.text
    assert ungrounded(s.text, result, result.sent) == []
    assert len(s.rows) == min(len(result.hits), 10)
    assert all(len(row) == len(s.columns) for row in s.rows)


def test_symbol_answer_names_the_top_hit(backend):
    _, result, s = _run(backend, "what is the official symbol of LMP10?", "/v3/query?q=LMP10")
    top = result.hits[0]
    assert top["symbol"] in s.text and str(top["entrezgene"]) in s.text
    assert species(top["taxid"]) in s.text


def test_answers_carry_the_requested_field_values(backend):
    _, result, s = _run(backend, *CASES[4][:2])
    pos = result.hits[0]["genomic_pos"]
    assert str(pos["start"]) in s.text and str(pos["end"]) in s.text
    assert result.hits[0]["map_location"] in s.text
    assert s.columns == ["symbol", "genomic_pos", "map_location"]

    _, result, s = _run(backend, *CASES[5][:2])
    first_term = get_path(result.hits[0], "go.BP")[0]["term"]
    assert first_term in s.text

    _, result, s = _run(backend, *CASES[1][:2])
    assert all(a in s.text for a in as_list(result.hits[0]["alias"]))


def test_multi_gene_post_reports_terms_without_hits(backend):
    _, result, s = _run(backend, *CASES[11][:2])
    assert "NOSUCHGENE" in s.text and result.notfound == ["NOSUCHGENE"]
    assert s.columns[0] == "query"


def test_no_hits_says_so(backend):
    for question, text in [
        ("what is the official symbol of NOTAGENE1?", "/v3/query?q=alias:NOTAGENE1"),
        ("what is gene 999999999?", "/v3/gene/999999999"),
    ]:
        _, result, s = _run(backend, question, text)
        assert s.status == "no_hits" and result.total == 0
        assert ungrounded(s.text, result, result.sent) == []


def test_equally_good_different_genes_are_ambiguous(backend):
    question, text = "what is the official symbol of kinase?", "/v3/query?q=kinase&species=human"
    _, result, s = _run(backend, question, text)
    top = result.hits[0]["_score"]
    tied = {h["symbol"].lower() for h in result.hits if h["_score"] >= 0.9 * top}
    assert len(tied) > 1
    assert s.status == "ambiguous"
    assert {c["symbol"].lower() for c in s.candidates} == tied
    assert all(c["symbol"] in s.text for c in s.candidates)
    first = s.candidates[0]["symbol"]
    assert s.text.startswith(f"kinase most likely means {first} (")
    assert "; kinase is also an alias of " in s.text


def test_a_prefix_search_lists_the_family(backend):
    _, result, s = _run(backend, "human genes starting with CDK", "/v3/query?q=symbol:cdk*")
    assert result.total > 1 and s.status == "ok" and s.intent == "list"
    assert "most likely" not in s.text
    assert ungrounded(s.text, result, result.sent) == []


def test_orthologs_with_one_symbol_are_not_ambiguous(backend):
    _, result, s = _run(backend, "official symbol of cdk2?", "/v3/query?q=symbol:cdk2")
    assert len({h["taxid"] for h in result.hits}) > 1
    assert s.status == "ok"
    assert result.hits[0]["symbol"] in s.text


def test_grounding_check_catches_invented_symbols_ids_and_numbers(backend):
    query, result, s = _run(backend, "what is the official symbol of LMP10?", "/v3/query?q=LMP10")
    hit = result.hits[0]
    assert ungrounded(f"{hit['symbol']} is gene {hit['_id']}.", result, query) == []
    bad = f"{hit['symbol']} is BRCA2, Entrez gene 675, on chromosome 13 at 32,315,507."
    assert ungrounded(bad, result, query) == ["BRCA2", "675", "13", "32315507"]
    # numbers written with thousands separators are compared without them
    _, loc, _ = _run(backend, *CASES[4][:2])
    start = loc.hits[0]["genomic_pos"]["start"]
    assert ungrounded(f"It starts at {start:,}.", loc, loc.sent) == []


def test_intent_falls_back_to_the_requested_fields():
    assert (
        detect_intent("tell me about CDK2", parse_query("q=symbol:CDK2&fields=genomic_pos"))
        == "location"
    )
    assert detect_intent("CDK2?", parse_query("q=symbol:CDK2&fields=pathway.reactome")) == "pathway"
    assert detect_intent("CDK2?", parse_query("q=symbol:CDK2")) == "gene"


def test_empty_result_object():
    query = parse_query("/v3/query?q=cdk2")
    s = summarize("what is cdk2", query, Result(query, 0, []))
    assert s.status == "no_hits" and s.rows == []


def test_a_count_with_size_0_is_the_number_not_no_hits(backend):
    question = "how many protein-coding genes are there in human?"
    query, result, s = _run(
        backend, question, "/v3/query?q=type_of_gene:protein-coding&species=human&size=0"
    )
    assert result.hits == [] and result.total > 0
    assert s.status == "ok" and s.intent == "count"
    assert s.text == f"{result.total:,} genes match q=type_of_gene:protein-coding in human."
    assert ungrounded(s.text, result, result.sent) == []


def test_the_genes_of_a_region_are_listed_not_read_as_an_id(backend):
    genes = backend.query(parse_query("/v3/query?q=symbol:CDK2&species=human&fields=genomic_pos"))
    pos = genes.hits[0]["genomic_pos"]
    text = f"/v3/query?q=chr{pos['chr']}:{pos['start'] - 1000}-{pos['end'] + 1000}&species=human"
    for question in (
        "genes between these two positions",
        "ensembl ids of the genes in this region",
    ):
        _, result, s = _run(backend, question, text + "&fields=symbol,ensembl.gene")
        assert s.intent == "list" and s.status == "ok" and "CDK2" in s.text
        assert ungrounded(s.text, result, result.sent) == []


def test_which_genes_questions_list_the_genes_of_a_set_query():
    query = parse_query("/v3/query?q=wnt&species=human&fields=symbol")
    assert detect_intent("which genes are in the wnt signaling pathway?", query) == "list"
    assert detect_intent("how many genes are in the wnt pathway?", query) == "count"
    # a one-gene lookup keeps the question's own intent
    one = parse_query("/v3/query?q=symbol:CDK2&fields=pathway")
    assert detect_intent("which genes share pathways with CDK2? list them", one) == "pathway"


def test_a_gene_named_exactly_the_term_is_not_ambiguous(backend):
    _, result, s = _run(
        backend, "what is insulin's uniprot id?", "/v3/query?q=insulin&species=human"
    )
    assert [h["symbol"] for h in result.hits[:2]] == ["INS", "INSR"]
    assert s.status == "ok" and "INS" in s.text and "INSR" not in s.text


def test_a_gene_type_question_is_answered_with_the_type(backend):
    _, result, s = _run(backend, "is CDK2 protein coding?",
                        "/v3/query?q=symbol:cdk2&species=human&fields=symbol,type_of_gene")  # fmt: skip
    assert s.intent == "type"
    assert s.text == (
        f"{label(result.hits[0])} is a protein-coding gene (type_of_gene protein-coding)."
    )
    assert ungrounded(s.text, result, result.sent) == []


def test_a_chromosome_query_lists_genes_and_a_bare_chromosome_prints_no_none(backend):
    _, result, s = _run(backend, "human genes on chromosome 12, sorted by symbol",
                        "/v3/query?q=genomic_pos.chr:12&species=human&sort=symbol")  # fmt: skip
    assert result.total > 1 and s.intent == "list" and s.status == "ok"
    _, result, s = _run(backend, "which chromosome is human CDK2 on?",
                        "/v3/query?q=symbol:cdk2&species=human&fields=genomic_pos.chr")  # fmt: skip
    assert "None" not in s.text and "chromosome 12" in s.text
