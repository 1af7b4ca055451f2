"""Scoring a generated query against a reference (assistant.metrics) on hand-written cases;
execution accuracy against the tiny real store."""

from __future__ import annotations

import doctest

import pytest

from assistant import metrics
from assistant.backends import EmbeddedBackend
from assistant.config import Settings
from assistant.errors import QueryError
from assistant.metrics import (
    COMPONENTS,
    METRICS,
    aggregate,
    ast_key,
    ast_match,
    exact_match,
    execution_match,
    hit_ids,
    is_valid,
    q_terms,
    score,
    summary_table,
)
from assistant.query import parse_query

ALL_ONE = dict.fromkeys(COMPONENTS, 1.0)


@pytest.mark.parametrize(
    "pred,ref,expected",
    [
        pytest.param(  # same parameters in another order: both metrics agree
            "/v3/query?species=human&q=symbol:CDK2&fields=symbol",
            "/v3/query?q=symbol:CDK2&species=human&fields=symbol",
            {"valid": True, "exact": True, "ast": True, **ALL_ONE},
            id="reordered-parameters",
        ),
        pytest.param(  # a reordered list inside a value: only the canonical form sees through it
            "/v3/query?q=symbol:CDK2&fields=name,symbol",
            "/v3/query?q=symbol:CDK2&fields=symbol,name",
            {"exact": True, "ast": False, **ALL_ONE},
            id="reordered-field-list",
        ),
        pytest.param(
            "/v3/query?q=symbol:cdk2&species=human",
            "/v3/query?q=symbol:CDK2&species=human",
            {"valid": True, "exact": True, "ast": False, **ALL_ONE},
            id="different-case",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&size=10&from=0&species=all&fields=symbol,name,taxid,entrezgene",
            "/v3/query?q=symbol:CDK2",
            {"exact": True, "ast": False, **ALL_ONE},
            id="default-values",
        ),
        pytest.param(
            "https://mygene.info/v3/query/?q=symbol:CDK2&species=9606&limit=5",
            "/v3/query?q=symbol:CDK2&species=human&size=5",
            {"exact": True, "ast": False, **ALL_ONE},
            id="taxid-alias-and-host",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&species=human&fields=symbol,name",
            "/v3/query?q=symbol:CDK2&species=human&fields=symbol,genomic_pos",
            {"valid": True, "exact": False, "ast": False, **ALL_ONE, "fields": 0.5},
            id="wrong-field",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&species=mouse",
            "/v3/query?q=symbol:CDK2&species=human",
            {"valid": True, "exact": False, **ALL_ONE, "species": 0.0},
            id="wrong-species",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&size=5&from=5",
            "/v3/query?q=symbol:CDK2&size=5",
            {"exact": False, **ALL_ONE, "paging": 0.0},
            id="wrong-page",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2 AND taxid:9606",
            "/v3/query?q=symbol:CDK2 AND taxid:9606 AND type_of_gene:protein-coding",
            {"exact": False, **ALL_ONE, "q_terms": 0.8},
            id="missing-q-term",
        ),
        pytest.param(  # POST keeps its terms in order (results come back in that order)
            "POST /v3/query q=BRCA1,CDK2&scopes=symbol&species=human",
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol&species=human",
            {"valid": True, "exact": False, "ast": False, **ALL_ONE},
            id="post-multi-gene-reordered",
        ),
        pytest.param(
            "POST /v3/query q=CDK2,BRCA1&species=human&scopes=symbol",
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol&species=9606",
            {"exact": True, "ast": False, **ALL_ONE},
            id="post-multi-gene-species-id",
        ),
        pytest.param(  # the same genes asked by GET: other endpoint, same terms
            "/v3/query?q=symbol:CDK2 OR symbol:BRCA1&species=human",
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol&species=human",
            {"valid": True, "exact": False, **ALL_ONE, "endpoint": 0.0},
            id="post-versus-get",
        ),
        pytest.param(
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol,alias",
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol",
            {"exact": False, **ALL_ONE, "q_terms": 0.0},
            id="post-wrong-scopes",
        ),
        pytest.param(
            "/v3/gene/1017?fields=all",
            "/v3/gene/1017",
            {"valid": True, "exact": True, "ast": False, **ALL_ONE},
            id="gene-id-default-fields",
        ),
        pytest.param(
            "/v3/gene/1017?fields=symbol",
            "/v3/gene/1017",
            {"exact": False, **ALL_ONE, "fields": 0.0},
            id="gene-id-other-fields",
        ),
        pytest.param(
            "/v3/gene/672",
            "/v3/gene/1017",
            {"valid": True, "exact": False, **ALL_ONE, "q_terms": 0.0},
            id="gene-id-wrong-gene",
        ),
        pytest.param(
            "/v3/query?q=entrezgene:1017&fields=all",
            "/v3/gene/1017",
            {"exact": False, "endpoint": 0.0, "q_terms": 0.0, "fields": 1.0},
            id="gene-id-as-query",
        ),
        pytest.param(
            "POST /v3/gene ids=672,1017&fields=symbol",
            "POST /v3/gene ids=1017,672&fields=symbol",
            {"valid": True, "exact": False, **ALL_ONE},
            id="post-gene-ids",
        ),
        pytest.param(
            "/v3/query?q=symbl:CDK2",
            "/v3/query?q=symbol:CDK2",
            {"valid": False, "exact": False, "ast": False, "endpoint": 1.0, "q_terms": 0.0},
            id="unknown-field-parses-but-invalid",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&size=5000",
            "/v3/query?q=symbol:CDK2",
            {"valid": False, "exact": False, "paging": 0.0},
            id="size-over-limit",
        ),
        pytest.param(
            "The gene CDK2 is a kinase.",
            "/v3/query?q=symbol:CDK2",
            {"valid": False, "exact": False, "ast": False, **dict.fromkeys(COMPONENTS, 0.0)},
            id="not-a-query",
        ),
        pytest.param(
            "",
            "/v3/query?q=symbol:CDK2",
            {"valid": False, "exact": False, "ast": False, **dict.fromkeys(COMPONENTS, 0.0)},
            id="empty-output",
        ),
        pytest.param(  # the pipeline reads the first line only; so does the scorer
            "\n/v3/query?q=symbol:CDK2\nThis query finds CDK2.",
            "/v3/query?q=symbol:CDK2",
            {"valid": True, "exact": True, "ast": True, **ALL_ONE},
            id="trailing-chatter",
        ),
    ],
)
def test_score_hand_written_cases(pred, ref, expected):
    got = score(pred, ref)
    assert set(got) == set(METRICS) - {"execution"}
    assert {k: got[k] for k in expected} == expected
    assert got["exact"] == exact_match(pred, ref) and got["ast"] == ast_match(pred, ref)
    assert got["valid"] == is_valid(pred)
    if got["exact"]:  # canonical equality implies every component agrees
        assert all(got[c] == 1.0 for c in COMPONENTS)


def test_exact_is_symmetric_and_reflexive():
    a = "/v3/query?q=symbol:CDK2&species=9606&limit=5"
    b = "/v3/query?size=5&species=human&q=symbol:cdk2"
    assert exact_match(a, b) and exact_match(b, a) and exact_match(a, a)


def test_a_broken_reference_is_an_error_not_a_zero():
    with pytest.raises(QueryError, match="reference query"):
        score("/v3/query?q=symbol:CDK2", "where is CDK2?")


def test_ast_key_reads_urls_paths_and_post_bodies():
    assert ast_key("https://mygene.info/v3/query/?q=tumor+suppressor&size=5") == (
        "/v3/query",
        frozenset({("q", "tumor suppressor"), ("size", "5")}),
    )
    assert ast_key("/v3/query?q=tumor%20suppressor&size=5") == ast_key(
        "https://mygene.info/v3/query?size=5&q=tumor+suppressor"
    )
    assert ast_key("POST /v3/query q=CDK2,BRCA1&scopes=symbol") == (
        "POST /v3/query",
        frozenset({("q", "CDK2,BRCA1"), ("scopes", "symbol")}),
    )
    assert ast_key("/v3/gene/1017")[0] == "/v3/gene/1017"
    assert ast_key("") is None and not ast_match("", "/v3/gene/1017")
    # no alias handling: limit is not size for the original metric
    assert not ast_match("/v3/query?q=cdk2&limit=5", "/v3/query?q=cdk2&size=5")


def test_q_terms_follow_the_parse_tree():
    terms = q_terms(parse_query("/v3/query?q=(symbol:CDK2 OR alias:CDK2) AND NOT taxid:10090"))
    assert terms == {("symbol", "cdk2"), ("alias", "cdk2"), ("taxid", "-10090")}
    assert q_terms(parse_query('/v3/query?q=name:"cyclin dependent kinase 2"')) == {
        ("name", '"cyclin dependent kinase 2"')
    }
    assert q_terms(parse_query("/v3/query?q=chrX:151,073,054-151,383,976")) == {
        ("interval", "chrx:151073054-151383976")
    }
    # MyGene's case-normalised prefixes compare equal (GO: and go:)
    assert q_terms(parse_query("q=GO:0000082")) == q_terms(parse_query("q=go:0000082"))
    assert q_terms(parse_query("/v3/gene/ENSG00000123374")) == {("_id", "ensg00000123374")}


@pytest.fixture(scope="module")
def backend(tiny_store_path, tiny_store):
    return EmbeddedBackend(Settings(store_path=tiny_store_path), store=tiny_store)


def _run(backend, text):
    result = backend.query(parse_query(text))
    return result.total, hit_ids(result.hits)


@pytest.mark.parametrize(
    "pred,ref,same",
    [
        pytest.param(
            "/v3/query?q=symbol:CDK2&species=human&fields=symbol,name",
            "/v3/query?q=symbol:CDK2&species=human&fields=symbol,genomic_pos",
            True,
            id="wrong-field-same-genes",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&species=mouse",
            "/v3/query?q=symbol:CDK2&species=human",
            False,
            id="wrong-species",
        ),
        pytest.param(
            "POST /v3/query q=BRCA1,CDK2&scopes=symbol&species=human",
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol&species=human",
            True,
            id="post-reordered",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2 OR symbol:BRCA1&species=human",
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol&species=human",
            True,
            id="post-versus-get",
        ),
        pytest.param("/v3/query?q=entrezgene:1017", "/v3/gene/1017", True, id="gene-as-query"),
        pytest.param("/v3/gene/672", "/v3/gene/1017", False, id="other-gene"),
        pytest.param(
            "/v3/query?q=symbol:CDK2&size=1",
            "/v3/query?q=symbol:CDK2",
            True,
            id="fewer-hits-asked",
        ),
        pytest.param(
            "/v3/query?q=symbol:CDK2&size=1&from=1",
            "/v3/query?q=symbol:CDK2&size=1",
            False,
            id="second-page",
        ),
    ],
)
def test_execution_on_the_tiny_store(backend, pred, ref, same):
    p_total, p_ids = _run(backend, pred)
    r_total, r_ids = _run(backend, ref)
    assert r_total > 0  # every reference here finds something in the tiny store
    assert execution_match(p_total, p_ids, r_total, r_ids) is same


def test_execution_match_edge_cases():
    assert execution_match(0, [], 0, []) is True  # both find nothing
    assert execution_match(3, ["1017"], 2, ["1017"]) is False  # same top hit, other total
    assert execution_match(None, None, 1, ["1017"]) is False  # the prediction did not run
    assert execution_match(1, ["1017"], None, None) is None  # the reference did not run
    top = [str(i) for i in range(20)]
    assert execution_match(20, top, 20, top[:10] + ["x"] * 10)  # only the top 10 count
    assert hit_ids([{"query": "XYZ", "notfound": True}, {"_id": "672"}]) == ["672"]


def test_aggregate_counts_scores_latency_and_tokens():
    def row(valid, exact, execution, generate, prompt, **extra):
        return {
            "scores": {"valid": valid, "exact": exact, "execution": execution},
            "timings": {"retrieve": 0.01, "generate": generate, "total": generate + 0.05},
            "tokens": {"prompt": prompt, "completion": 20},
            "status": "ok" if valid else "invalid",
            **extra,
        }

    rows = [
        row(True, True, True, 1.0, 500),
        row(True, False, False, 2.0, 520),
        row(False, False, None, 3.0, 540),
        row(True, True, True, 9.0, 560, error="the reference query 'x' does not parse"),
    ]
    s = aggregate(rows)
    assert (s["n"], s["scored"], s["errors"]) == (4, 3, 1)
    assert s["metrics"]["valid"] == 0.6667 and s["metrics"]["exact"] == 0.3333
    assert s["metrics"]["execution"] == 0.5 and s["execution_n"] == 2
    assert s["metrics"]["ast"] is None  # not measured in these rows
    assert s["latency"]["generate"] == {"p50": 2.0, "p95": 2.9}
    assert s["tokens"]["prompt"] == {"mean": 520.0, "p50": 520.0, "max": 540}
    assert s["status"] == {"ok": 2, "invalid": 1}
    table = summary_table(
        [{"label": "a", "mode": "icl", "summary": s}, {"label": "b", "summary": s}]
    )
    lines = table.splitlines()
    assert len(lines) == 4 and lines[2].startswith("| a | ") and "| 67% | 33% |" in lines[2]


def test_percentile_and_empty_summaries():
    assert metrics.percentile([5], 95) == 5.0
    empty = aggregate([])
    assert empty["n"] == 0 and empty["metrics"]["exact"] is None and empty["latency"] == {}


def test_doctests_pass():
    result = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20 and result.failed == 0
