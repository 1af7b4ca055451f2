"""Property-based tests (hypothesis) of the query parser, the validator, the canonical form and
the store's q handling: thousands of generated inputs, and no exception escapes but the typed
user error (:class:`~assistant.errors.QueryError`).

- any text: :func:`parse_query` gives a Query or a QueryError; validate, canonical, to_text and
  to_url of what it gives never raise, and the text it writes parses again;
- valid queries built from the API description's pieces (fielded terms, phrases, wildcards,
  ranges, booleans, groups, intervals; GET and POST; every kind of parameter): the validator
  accepts them, ``parse ∘ render`` is the identity (``to_text``, and ``to_url`` for GET), and the
  canonical form is a valid query whose canonical form is itself;
- the store (the tiny real one): any q and any parameter values give a result or a QueryError.

Hypothesis runs derandomized without an example database, so every run (and CI) draws the same
examples.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import QueryError
from assistant.query import Query, canonical, parse_query, validate

SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}


def examples(n: int):
    return settings(max_examples=n, **SETTINGS)


# --- strategies ---------------------------------------------------------------------------------

OPERATORS = {"AND", "OR", "NOT", "TO"}
WORD = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8).filter(
    lambda w: w.upper() not in OPERATORS
)
SYMBOL = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=8).filter(
    lambda w: w not in OPERATORS
)
TEXT_FIELDS = ("symbol", "name", "alias", "type_of_gene", "summary", "other_names", "ensembl.gene")
TEXT_FIELDS += ("go.BP.id", "refseq.rna", "uniprot.Swiss-Prot", "HGNC", "go", "refseq", "hgnc")
NUMBER_FIELDS = ("entrezgene", "taxid", "genomic_pos.start", "genomic_pos.end")
RETURN_FIELDS = ("symbol", "name", "taxid", "entrezgene", "go.BP.id", "genomic_pos", "refseq.rna")
RETURN_FIELDS += ("summary", "alias", "ensembl.gene", "pathway.reactome.id")
SPECIES = ("human", "mouse", "rat", "zebrafish", "9606", "10090", "7227")

INTEGER = st.integers(0, 10**9).map(str)
WILDCARD = st.builds(
    lambda a, b: f"{a}{b}*", st.sampled_from(string.ascii_lowercase), WORD | st.just("")
)
PHRASE = st.lists(WORD, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
FIELDED = st.builds(
    lambda f, v: f"{f}:{v}", st.sampled_from(TEXT_FIELDS), WORD | SYMBOL | PHRASE | WILDCARD
)
NUMERIC = st.builds(lambda f, v: f"{f}:{v}", st.sampled_from(NUMBER_FIELDS), INTEGER)
RANGE = st.builds(
    lambda f, lo, hi, a, b: f"{f}:{a}{min(lo, hi)} TO {max(lo, hi)}{b}",
    st.sampled_from(NUMBER_FIELDS),
    st.integers(0, 10**8),
    st.integers(0, 10**8),
    st.sampled_from("[{"),
    st.sampled_from("]}"),
)
EXISTS = st.builds(lambda f: f"_exists_:{f}", st.sampled_from(RETURN_FIELDS))
NUMBER = st.integers(1, 10**6).map(str) | st.sampled_from(["0.5", "1.25", "20", "100"])
BOOSTED = st.one_of(  # cdk2^20 (the canonical form once wrote 2E+1), tumor~2, "a b"~10
    st.builds(lambda term, n: f"{term}^{n}", WORD | PHRASE | FIELDED, NUMBER),
    st.builds(lambda f, term, n: f"{f}:{term}~{n}", st.sampled_from(TEXT_FIELDS), WORD, NUMBER),
    st.builds(lambda term, n: f"{term}~{n}", WORD, NUMBER),
    st.builds(lambda phrase, n: f"{phrase}~{n}", PHRASE, st.integers(0, 100)),
)
LEAF = WORD | SYMBOL | PHRASE | WILDCARD | FIELDED | NUMERIC | RANGE | EXISTS | BOOSTED


def _combine(children):
    return st.one_of(
        st.builds(
            lambda a, op, b: f"{a}{op}{b}",
            children,
            st.sampled_from([" AND ", " OR ", " AND NOT ", " "]),
            children,
        ),
        children.map(lambda c: f"({c})"),
    )


LUCENE = st.recursive(LEAF, _combine, max_leaves=8)
INTERVAL = st.builds(
    lambda asm, chrom, a, b: f"{asm}chr{chrom}:{min(a, b)}-{max(a, b)}",
    st.sampled_from(["", "hg19."]),
    st.sampled_from([*map(str, range(1, 23)), "X", "Y", "MT"]),
    st.integers(0, 250_000_000),
    st.integers(0, 250_000_000),
)
VALID_Q = LUCENE | INTERVAL


def comma_list(items, min_size=1, max_size=3):
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=max_size, unique=True).map(
        ",".join
    )


BOOL = st.sampled_from(["true", "false"])
QUERY_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "species": comma_list(SPECIES),
        "size": st.integers(0, 1000).map(str),
        "from": st.integers(0, 10000).map(str),
        "fields": comma_list(RETURN_FIELDS, max_size=4),
        "sort": comma_list(["symbol", "-entrezgene", "taxid", "_score", "-_id"], max_size=2),
        "facets": comma_list(["taxid", "type_of_gene"]),
        "facet_size": st.integers(0, 1000).map(str),
        "entrezonly": BOOL,
        "ensemblonly": BOOL,
        "dotfield": BOOL,
        "exists": comma_list(RETURN_FIELDS, max_size=2),
        "missing": comma_list(RETURN_FIELDS, max_size=2),
    },
)
GENE_PARAMS = st.fixed_dictionaries(
    {}, optional={"fields": comma_list(RETURN_FIELDS, max_size=4), "dotfield": BOOL}
)
GENE_ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)
TERMS = st.lists(SYMBOL | INTEGER, min_size=1, max_size=5).map(",".join)
POST_PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "scopes": comma_list(["symbol", "alias", "entrezgene", "ensembl.gene", "retired"]),
        "species": comma_list(SPECIES),
        "fields": comma_list(RETURN_FIELDS, max_size=4),
        "dotfield": BOOL,
    },
)

GET_QUERY = st.builds(lambda q, p: Query("query", "GET", q, None, p), VALID_Q, QUERY_PARAMS)
GET_GENE = st.builds(lambda i, p: Query("gene", "GET", None, i, p), GENE_ID, GENE_PARAMS)
POST_QUERY = st.builds(lambda t, p: Query("query", "POST", t, None, p), TERMS, POST_PARAMS)
POST_GENE = st.builds(
    lambda ids, p: Query("gene", "POST", None, None, {"ids": ids, **p}),
    st.lists(GENE_ID, min_size=1, max_size=5).map(",".join),
    GENE_PARAMS,
)
VALID_QUERY = GET_QUERY | GET_GENE | POST_QUERY | POST_GENE

# Text with the characters that matter to the parser, mixed with arbitrary Unicode.
SYNTAX = st.sampled_from(
    ["/v3/query?", "/v3/gene/", "POST /v3/query ", "POST /v3/gene ", "https://x.example/v3/",
     "q=", "&", "=", "%", "%2", "+", "#", "?", "/", ":", ",", " ", '"', "(", ")", "[", "]", "{",
     "}", "*", "\\", "~", "^", "-", "AND", "OR", "NOT", "TO", "_exists_", "chr1:", "1-2",
     "size=", "from=", "species=", "fields=", "ids=", "scopes=", "limit=", "skip=", '{"q": ',
     "999999999999999999999", "-1", "\x00", "\n", "\u00b2", "\u0661", "\U0010ffff", "symbol"]
)  # fmt: skip
SYNTAX_TEXT = st.lists(SYNTAX | st.text(max_size=4), max_size=24).map("".join)
ANY_TEXT = st.text(max_size=200) | SYNTAX_TEXT
ANY_TEXT_WITH_SURROGATES = st.text(st.characters(blacklist_categories=()), max_size=60)


# --- the parser, the validator and the canonical form on any text ------------------------------


def parse_any(text: str) -> Query | None:
    """parse_query and everything downstream of it: only QueryError may escape parse_query."""
    try:
        query = parse_query(text)
    except QueryError as exc:
        assert str(exc).strip()
        return None
    errors = validate(query)
    assert isinstance(errors, list) and all(isinstance(e, str) and e for e in errors)
    assert isinstance(canonical(query), str)
    for written in (query.to_text(), query.to_url()):
        try:
            parse_query(written)
        except QueryError:
            pass
    return query


@examples(1500)
@given(ANY_TEXT)
def test_parser_any_text(text):
    parse_any(text)


@examples(600)
@given(st.builds(lambda p, qs: p + qs, st.sampled_from(["", "/v3/query?", "q="]), SYNTAX_TEXT))
def test_parser_any_query_string(text):
    parse_any(text)


@examples(400)
@given(ANY_TEXT_WITH_SURROGATES)
def test_parser_any_code_point(text):
    parse_any(text)


@examples(500)
@given(VALID_Q | ANY_TEXT, QUERY_PARAMS)
def test_validator_and_canonical_form_on_raw_queries(q, params):
    query = Query("query", "GET", q, None, params)
    errors = validate(query)
    assert all(isinstance(e, str) and e for e in errors)
    canonical(query)


# --- valid queries: the validator accepts them, parse ∘ render is the identity ----------------


@examples(1000)
@given(VALID_QUERY)
def test_valid_queries_validate_and_round_trip(query):
    assert validate(query) == [], query.to_text()
    assert parse_query(query.to_text()) == query
    if query.method == "GET":
        assert parse_query(query.to_url()) == query
    key = canonical(query)
    again = parse_query(key)
    assert validate(again) == [], key
    assert canonical(again) == key


# --- the store's q handling ---------------------------------------------------------------------

STORE_PARAMS = st.dictionaries(
    st.sampled_from(
        ["species", "size", "from", "fields", "sort", "facets", "facet_size", "entrezonly",
         "ensemblonly", "dotfield", "exists", "missing", "species_facet_filter", "fetch_all"]
    ),
    ANY_TEXT | INTEGER | st.sampled_from(["-1", "1001", "true", "all", "taxid", "human"]),
    max_size=3,
)  # fmt: skip


def store_query(store, q, params):
    try:
        out = store.query(q, **params)
    except QueryError as exc:
        assert str(exc).strip() and 400 <= exc.status < 500
        return None
    assert out["total"] >= len(out.get("hits", []))
    return out


@examples(700)
@given(ANY_TEXT | ANY_TEXT_WITH_SURROGATES)
def test_store_any_q(tiny_store, q):
    store_query(tiny_store, q, {})


@examples(700)
@given(VALID_Q)
def test_store_valid_q_answers(tiny_store, q):
    """A valid q (as the validator sees it) is answered; the only refusals are the store's own
    limits (work budget, clauses, ranges it cannot order)."""
    try:
        out = tiny_store.query(q, size="3")
    except QueryError as exc:
        pytest.fail(f"the store refused the valid q {q!r}: {exc}")
    assert out["total"] >= len(out["hits"])


@examples(500)
@given(VALID_Q | ANY_TEXT, STORE_PARAMS)
def test_store_any_parameters(tiny_store, q, params):
    store_query(tiny_store, q, params)


@examples(300)
@given(TERMS | ANY_TEXT, POST_PARAMS | STORE_PARAMS)
def test_store_post_any_terms(tiny_store, terms, params):
    params = dict(params)
    scopes = params.pop("scopes", None)
    try:
        out = tiny_store.querymany(terms, scopes, **params)
    except QueryError as exc:
        assert str(exc).strip()
        return
    assert isinstance(out, list)
