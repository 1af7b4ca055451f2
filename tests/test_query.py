"""Parsing, validation and canonical form of MyGene queries (the assistant/query package)."""

from __future__ import annotations

import pytest
from query_examples import INVALID, MALFORMED, VALID, seed_log

from assistant.errors import QueryError
from assistant.query import Query, canonical, check, parse_query, validate
from assistant.schema import load_api, load_fields

# --- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://mygene.info/v3/query?q=symbol:CDK2&species=human",
            "/v3/query?q=symbol:CDK2&species=human",
        ),
        ("http://localhost:8700/v3/query/?q=cdk2", "/v3/query?q=cdk2"),
        (
            "/v3/query?q=symbol:CDK1+AND+taxid:9606&size=1",
            "/v3/query?q=symbol:CDK1 AND taxid:9606&size=1",
        ),
        (
            "/v3/query?q=symbol%3ACDK2%20AND%20taxid%3A9606",
            "/v3/query?q=symbol:CDK2 AND taxid:9606",
        ),
        ("q=cdk2&species=human", "/v3/query?q=cdk2&species=human"),
        ("query?q=cdk2", "/v3/query?q=cdk2"),
        ("GET /v3/query?q=cdk2", "/v3/query?q=cdk2"),
        ("`/v3/query?q=cdk2`", "/v3/query?q=cdk2"),
        ("q=cdk2&limit=5&skip=10&filter=name", "/v3/query?q=cdk2&size=5&from=10&fields=name"),
        ("q=cdk2&_source=name&fields=symbol", "/v3/query?q=cdk2&fields=name,symbol"),
        (
            "q=chrX:151073054-151383976&species:9606",
            "/v3/query?q=chrX:151073054-151383976&species=9606",
        ),
        ("q=a%26b%2Bc", "/v3/query?q=a%26b%2Bc"),
        ("/v3/query?q=ensemblgene:7087\tICAM5\t19", "/v3/query?q=ensemblgene:7087 ICAM5 19"),
        ("/v3/gene/1017?fields=symbol,name", "/v3/gene/1017?fields=symbol,name"),
        ("/v3/gene/ENSG00000123374/", "/v3/gene/ENSG00000123374"),
        ("POST /v3/query q=CDK2, BRCA1&scopes=symbol", "POST /v3/query q=CDK2,BRCA1&scopes=symbol"),
        ("POST /v3/query?q=CDK2,BRCA1&scopes=symbol", "POST /v3/query q=CDK2,BRCA1&scopes=symbol"),
        (
            "post https://mygene.info/v3/query q=CDK2&scopes=symbol",
            "POST /v3/query q=CDK2&scopes=symbol",
        ),
        (
            'POST /v3/query {"q": ["CDK2", "BRCA1"], "scopes": "symbol", "dotfield": true}',
            "POST /v3/query q=CDK2,BRCA1&scopes=symbol&dotfield=true",
        ),
        ("POST /v3/gene ids=1017,672&fields=symbol", "POST /v3/gene ids=1017,672&fields=symbol"),
    ],
)
def test_parse_reads_every_written_form(text, expected):
    assert parse_query(text).to_text() == expected


def test_parse_gives_structured_fields():
    query = parse_query("POST /v3/query q=CDK2,BRCA1&scopes=symbol&fields=name")
    assert query == Query(
        "query", "POST", q="CDK2,BRCA1", params={"scopes": "symbol", "fields": "name"}
    )
    gene = parse_query("/v3/gene/1017?fields=go")
    assert (gene.endpoint, gene.method, gene.gene_id, gene.q) == ("gene", "GET", "1017", None)


@pytest.mark.parametrize("text", MALFORMED)
def test_parse_rejects_garbage_with_a_clear_error(text):
    with pytest.raises(QueryError) as info:
        parse_query(text)
    message = str(info.value)
    assert "/v3" in message or "JSON" in message


@pytest.mark.parametrize("text", VALID)
def test_text_form_round_trips(text):
    query = parse_query(text)
    assert parse_query(query.to_text()) == query


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", VALID)
def test_valid_examples_have_no_errors(text):
    assert validate(parse_query(text)) == []


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_examples_say_what_is_wrong(text, message):
    errors = validate(parse_query(text))
    assert any(message in e for e in errors), errors


def test_validate_against_the_fields_a_store_holds():
    store = {"symbol", "name", "taxid", "entrezgene", "go.BP.id", "go.BP.term", "local_note"}
    fields, api = load_fields(), load_api()
    assert (
        validate(parse_query("q=go.BP.id:GO\\:0000082&fields=symbol,go"), fields, api, store) == []
    )
    assert validate(parse_query("q=local_note:x"), fields, api, store) == []
    errors = validate(parse_query("q=symbol:CDK2&fields=pathway.reactome"), fields, api, store)
    assert errors == ["the store holds no 'pathway.reactome' field (used in fields)"]


def test_check_raises_with_every_problem():
    with pytest.raises(QueryError, match="size must be at most 1000.*unknown species"):
        check(parse_query("q=cdk2&size=5000&species=martian"))
    query = parse_query("q=cdk2")
    assert check(query) is query


# --- canonical form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("q=symbol:CDK2&species=human", "https://mygene.info/v3/query?species=9606&q=symbol:cdk2"),
        ("q=symbol:CDK2", "q=symbol:CDK2&size=10&from=0&species=all&facet_size=10&fetch_all=false"),
        ("q=cdk2&fields=symbol,name,taxid,entrezgene", "q=cdk2"),
        ("q=cdk2&fields=name,symbol,name", "q=cdk2&filter=symbol&_source=name"),
        ("q=cdk2&species=mouse,human", "q=cdk2&species=9606,mouse,10090"),
        ("q=tumor   AND  suppressor", "q=tumor+AND+suppressor"),
        ("q=hgnc:1771 OR GO:0004693", "q=HGNC:1771 OR go:0004693"),
        ("q=chrX:151,073,054-151,383,976", "q=chrX:151073054-151383976"),
        ("q=cdk2&entrezonly=1&size=010", "q=cdk2&size=10&entrezonly=true"),
        ("q=cdk2&email=me@example.org&callback=f", "q=cdk2"),
        ("/v3/gene/1017?fields=all", "/v3/gene/1017"),
        (
            "POST /v3/query q=CDK2, BRCA1&scopes=symbol,alias,symbol",
            "POST /v3/query q=CDK2,BRCA1&scopes=alias,symbol",
        ),
    ],
)
def test_equal_queries_have_equal_canonical_forms(a, b):
    assert canonical(parse_query(a)) == canonical(parse_query(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("q=cdk2&sort=symbol,-taxid", "q=cdk2&sort=-taxid,symbol"),  # sort order matters
        ("q=HGNC:1771", "q=hgnc.id:1771"),  # field names are case-sensitive paths
        ("q=cdk2 and cyclin", "q=cdk2 AND cyclin"),  # lowercase 'and' is a term
        ("POST /v3/query q=CDK2,BRCA1", "POST /v3/query q=BRCA1,CDK2"),  # results follow term order
        ("/v3/query?q=cdk2&fields=all", "/v3/query?q=cdk2"),  # all is not the /query default
    ],
)
def test_different_queries_stay_different(a, b):
    assert canonical(parse_query(a)) != canonical(parse_query(b))


def test_canonical_drops_the_default_scopes():
    default = load_api().parameters["scopes"]["default"].split(",")
    written = parse_query(f"POST /v3/query q=CDK2&scopes={','.join(reversed(default))}")
    assert canonical(written) == "POST /v3/query q=CDK2"


def test_canonical_form_is_ordered_and_stable():
    text = canonical(
        parse_query("q=symbol:CDK2&size=5&species=9606&fields=symbol,name&sort=-taxid")
    )
    assert text == "/v3/query?q=symbol:cdk2&fields=name,symbol&species=human&size=5&sort=-taxid"
    assert canonical(parse_query(text)) == text


@pytest.mark.parametrize("text", VALID)
def test_canonical_is_idempotent(text):
    once = canonical(parse_query(text))
    assert canonical(parse_query(once)) == once


# --- sending ---------------------------------------------------------------------------------------


def test_to_request_and_to_url():
    query = parse_query("/v3/query?q=symbol:CDK2 AND taxid:9606&fields=symbol")
    assert query.to_request() == (
        "GET",
        "/query",
        {"q": "symbol:CDK2 AND taxid:9606", "fields": "symbol"},
    )
    assert query.to_url("http://127.0.0.1:8700/v3/") == (
        "http://127.0.0.1:8700/v3/query?q=symbol%3ACDK2+AND+taxid%3A9606&fields=symbol"
    )
    post = parse_query("POST /v3/gene ids=1017,672&fields=symbol")
    assert post.to_request() == ("POST", "/gene", {"ids": "1017,672", "fields": "symbol"})
    assert (
        parse_query(parse_query("/v3/gene/1017?fields=go").to_url()).to_text()
        == "/v3/gene/1017?fields=go"
    )


# --- the seed query log ----------------------------------------------------------------------------

# What the validator must say about the invalid queries of the seed log (everything else is valid).
SEED_INVALID = {
    "/v3/query/?fields=ensemble.gene,genomic_pos&q=all": "did you mean 'ensembl.gene'?",
    "/v3/query?q=CAND1&fields=symbol,genecards&species=human": "unknown field 'genecards'",
    "/v3/query/?fields=hits&q=TOPORS": "unknown field 'hits' in fields",
    "/v3/query/?scopes=symbol&fields=unipro&species=human&q=ZNF263": "did you mean 'uniprot'?",
    "/v3/query?q=ensembl.gene:ENSG00000001497&fields=transcripts": "did you mean 'ensembl.transcript'",
    "http://mygene.info/v3/query": "q is missing",
    "/v3/gene/4157?species=human&fields=ensembl.gene=all&dotfield=true&size=10": "unknown field 'ensembl.gene=all'",
}


def test_every_seed_log_query_is_read_and_judged():
    log = seed_log()
    if log is None:
        pytest.skip("shared/data/seed/query_log_sample.jsonl is not on this machine")
    valid = invalid = refused = 0
    for text in log:
        if text.startswith(("/v1/", "/v3/api")):
            with pytest.raises(QueryError):
                parse_query(text)
            refused += 1
            continue
        query = parse_query(text)
        errors = validate(query)
        if text in SEED_INVALID:
            assert any(SEED_INVALID[text] in e for e in errors), (text, errors)
        if errors:
            invalid += 1
        else:
            valid += 1
            assert canonical(parse_query(canonical(query))) == canonical(query)
        assert parse_query(query.to_text()) == query
    assert refused == 8
    assert valid >= 60 and invalid >= len(SEED_INVALID)
