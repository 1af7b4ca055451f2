"""Scores for a generated MyGene query against a reference query (pure functions).

The evaluation (``evals/eval_lm.py``), the notebooks and the tests all score with this module.
Per item:

- ``valid``: the output parses as a MyGene query and passes schema validation
  (:func:`assistant.query.parse_query` + :func:`assistant.query.validate`);
- ``exact``: its canonical form equals the reference's (:func:`assistant.query.canonical`);
- ``ast``: the original project's metric — the URL path and the *set* of ``(param, value)``
  pairs are equal after URL parsing, without our canonicalization (no case folding, no alias
  or default handling; only the host and a trailing ``/`` of the path are ignored);
- components, each in [0, 1]: ``endpoint`` (method + path template), ``q_terms`` (F1 of the
  fielded terms of ``q`` as a set, read from the luqum tree; POST terms take their ``scopes``
  as field, ``/gene/<id>`` ids the field ``_id``), ``fields`` (F1 of the returned fields, the
  endpoint's default when none are named), ``species`` (equal species sets; none = all) and
  ``paging`` (equal ``size`` and ``from``, defaults 10 and 0);
- ``execution`` (:func:`execution_match`): both queries run on the same store return the same
  total and the same top hit ids (None when the reference itself cannot be run).

>>> s = score("/v3/query?species=9606&q=symbol:CDK2&size=10", "/v3/query?q=symbol:cdk2&species=human")
>>> s["valid"], s["exact"], s["ast"], s["fields"]
(True, True, False, 1.0)
>>> s = score("/v3/query?q=symbol:CDK2&fields=symbol,name", "/v3/query?q=symbol:CDK2&fields=symbol,genomic_pos")
>>> s["exact"], s["fields"], s["q_terms"]
(False, 0.5, 1.0)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .errors import QueryError
from .query import (
    INTERVAL_RE,
    Query,
    canonical,
    canonical_q,
    canonical_query,
    parse_lucene,
    parse_query,
    validate,
)
from .schema import load_api

COMPONENTS = ("endpoint", "q_terms", "fields", "species", "paging")
"""Partial-credit scores of a query's parts."""

METRICS = ("valid", "exact", "ast", *COMPONENTS, "execution")
"""Every per-item score, in the order tables show them."""

STAGES = ("retrieve", "generate", "execute", "total")
"""Pipeline stages whose latency the summary reports (seconds)."""

TOP_K = 10
"""Hits compared by :func:`execution_match`."""


# --- reading ---------------------------------------------------------------------------------


def first_line(text: str | None) -> str:
    """The first non-empty line of a model's output (what the pipeline parses).

    >>> first_line("\\n /v3/query?q=cdk2 \\nmore text")
    '/v3/query?q=cdk2'
    """
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def read(text: str | None) -> tuple[Query | None, list[str]]:
    """``(query, errors)`` for a text: the parsed query (None when it does not parse) and every
    parse or validation problem; never raises.

    >>> read("/v3/query?q=symbl:cdk2")[1]
    ["unknown field 'symbl' in q — did you mean 'symbol'?"]
    >>> read("what is CDK2?")[0] is None
    True
    """
    try:
        query = parse_query(first_line(text))
    except QueryError as exc:
        return None, [str(exc)]
    return query, validate(query)


def reference(text: str) -> Query:
    """The reference query, parsed; a reference that does not parse is a broken dataset line,
    so this raises :class:`QueryError` saying so."""
    try:
        return parse_query(text)
    except QueryError as exc:
        raise QueryError(f"the reference query {text!r} does not parse: {exc}") from None


# --- whole-query metrics ---------------------------------------------------------------------


def is_valid(text: str | None) -> bool:
    """The text parses as a MyGene query and passes schema validation.

    >>> is_valid("/v3/gene/1017?fields=symbol"), is_valid("/v3/query?q=cdk2&size=5000")
    (True, False)
    """
    query, errors = read(text)
    return query is not None and not errors


def exact_match(pred: str | None, ref: str) -> bool:
    """Canonical forms are equal (parameter order, case of values, defaults, species names
    and parameter aliases do not matter).

    >>> exact_match("/v3/query?limit=10&species=9606&q=symbol:CDK2", "q=symbol:cdk2&species=human")
    True
    >>> exact_match("/v3/query?q=symbol:CDK2&species=mouse", "q=symbol:CDK2&species=human")
    False
    """
    query, _ = read(pred)
    return query is not None and canonical(query) == canonical(reference(ref))


def ast_key(text: str | None) -> tuple[str, frozenset[tuple[str, str]]] | None:
    """The original project's comparison key: ``(path, {(param, value), ...})`` after URL
    parsing only (scheme and host dropped, a trailing ``/`` of the path dropped, ``+`` and
    ``%xx`` decoded). The POST one-line form keeps ``POST`` in the path and reads its body
    as parameters. None for an empty text.

    >>> path, pairs = ast_key("https://mygene.info/v3/query/?q=symbol:CDK2&species=human")
    >>> path, sorted(pairs)
    ('/v3/query', [('q', 'symbol:CDK2'), ('species', 'human')])
    >>> ast_key("POST /v3/query q=CDK2,BRCA1&scopes=symbol")[0]
    'POST /v3/query'
    """
    line = first_line(text)
    if not line:
        return None
    method = ""
    head = line.split(None, 1)
    if head[0].upper() in ("GET", "POST") and len(head) == 2:
        method, line = head[0].upper(), head[1].strip()
    body = ""
    if method == "POST" and " " in line:
        line, body = line.split(" ", 1)
    parts = urlsplit(line if "://" in line else "http://host/" + line.lstrip("/"))
    path = "/" + parts.path.strip("/")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs += parse_qsl(body.strip(), keep_blank_values=True)
    label = f"POST {path}" if method == "POST" else path
    return label, frozenset((k.strip(), v.strip()) for k, v in pairs)


def ast_match(pred: str | None, ref: str) -> bool:
    """The original project's exact-match metric (:func:`ast_key` equal).

    >>> ast_match("/v3/query?species=human&q=symbol:CDK2", "/v3/query/?q=symbol:CDK2&species=human")
    True
    >>> ast_match("/v3/query?q=symbol:cdk2&species=human", "/v3/query?q=symbol:CDK2&species=human")
    False
    """
    key = ast_key(pred)
    return key is not None and key == ast_key(ref)


# --- components ------------------------------------------------------------------------------


def endpoint_key(query: Query) -> str:
    """Method and path template: ``GET /v3/query``, ``GET /v3/gene/{id}``, ``POST /v3/query``
    or ``POST /v3/gene``.

    >>> endpoint_key(parse_query("/v3/gene/1017"))
    'GET /v3/gene/{id}'
    """
    path = "/v3/gene/{id}" if query.endpoint == "gene" and query.method == "GET" else None
    return f"{query.method} {path or '/v3/' + query.endpoint}"


def q_terms(query: Query) -> frozenset[tuple[str, str]]:
    """The fielded terms of a query as a set of ``(field, value)``; values lowercased, field
    names as in the canonical form, ``""`` for an unfielded term, ``-`` before a negated value.
    POST terms take the ``scopes`` as their field; gene ids the field ``_id``.

    >>> sorted(q_terms(parse_query("q=symbol:CDK2 AND (taxid:9606 OR taxid:10090)")))
    [('symbol', 'cdk2'), ('taxid', '10090'), ('taxid', '9606')]
    >>> sorted(q_terms(parse_query("POST /v3/query q=CDK2,BRCA1&scopes=symbol")))
    [('symbol', 'brca1'), ('symbol', 'cdk2')]
    >>> sorted(q_terms(parse_query('q="tumor suppressor" NOT symbol:(TP53 OR MDM2)')))
    [('', '"tumor suppressor"'), ('symbol', '-mdm2'), ('symbol', '-tp53')]
    """
    if query.endpoint == "gene":
        ids = [query.gene_id or ""] if query.method == "GET" else query.params.get("ids", "")
        if isinstance(ids, str):
            ids = ids.split(",")
        return frozenset(("_id", i.strip().lower()) for i in ids if i.strip())
    q = query.q or ""
    if query.method == "POST":
        scopes = query.params.get("scopes") or load_api().parameters["scopes"]["default"]
        scope = ",".join(sorted({s.strip() for s in scopes.split(",") if s.strip()}))
        return frozenset((scope, t.strip().lower()) for t in q.split(",") if t.strip())
    text = canonical_q(q)
    if INTERVAL_RE.match(text):
        return frozenset({("interval", text.lower())})
    tree = parse_lucene(text)
    if tree is None:
        return frozenset({("", text.lower())}) if text else frozenset()
    out: set[tuple[str, str]] = set()
    _collect_terms(tree, "", False, out)
    return frozenset(out)


def _collect_terms(node, field: str, negated: bool, out: set[tuple[str, str]]) -> None:
    from luqum import tree as t

    if isinstance(node, t.SearchField):
        _collect_terms(node.expr, node.name, negated, out)
    elif isinstance(node, (t.Not, t.Prohibit)):
        _collect_terms(node.a, field, not negated, out)
    elif isinstance(node, (t.Word, t.Phrase, t.Regex, t.Range, t.From, t.To)):
        value = str(node).strip()
        out.add((field, ("-" if negated else "") + value.lower()))
    elif isinstance(node, (t.Fuzzy, t.Proximity, t.Boost)):
        value = str(node).strip()
        out.add((field, ("-" if negated else "") + value.lower()))
    else:
        for child in node.children:
            _collect_terms(child, field, negated, out)


def field_set(query: Query) -> frozenset[str]:
    """The fields a query returns: its ``fields`` list, else the endpoint's default
    (``symbol, name, taxid, entrezgene`` for /query, ``all`` for /gene).

    >>> sorted(field_set(parse_query("/v3/query?q=cdk2")))
    ['entrezgene', 'name', 'symbol', 'taxid']
    >>> sorted(field_set(parse_query("/v3/gene/1017?fields=go.BP,symbol")))
    ['go.BP', 'symbol']
    """
    value = canonical_query(query).params.get("fields")
    if value is None:
        return frozenset({"all"} if query.endpoint == "gene" else load_api().default_fields)
    return frozenset(value.split(","))


def species_set(query: Query) -> frozenset[str]:
    """Canonical species names (``9606`` → ``human``); ``{"all"}`` when none are given.

    >>> sorted(species_set(parse_query("q=cdk2&species=10090,9606")))
    ['human', 'mouse']
    """
    value = canonical_query(query).params.get("species", "all")
    return frozenset(value.split(","))


def paging(query: Query) -> tuple[int, int]:
    """``(size, from)`` with MyGene's defaults (10, 0); unreadable numbers count as -1.

    >>> paging(parse_query("q=cdk2&limit=5&skip=20")), paging(parse_query("/v3/gene/1017"))
    ((5, 20), (10, 0))
    """
    params = query.params

    def number(name: str, default: int) -> int:
        try:
            return int(params.get(name, default))
        except ValueError:
            return -1

    return number("size", 10), number("from", 0)


def set_f1(pred: Iterable, ref: Iterable) -> float:
    """F1 of two sets (1.0 when both are empty).

    >>> set_f1({"symbol", "name"}, {"symbol", "genomic_pos"}), set_f1(set(), set())
    (0.5, 1.0)
    """
    pred, ref = set(pred), set(ref)
    if not pred and not ref:
        return 1.0
    common = len(pred & ref)
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return round(2 * precision * recall / (precision + recall), 4)


def components(pred: Query | None, ref: Query) -> dict[str, float]:
    """The component scores of a parsed prediction against the parsed reference (all 0 when
    the prediction did not parse).

    >>> components(parse_query("/v3/query?q=symbol:CDK2&species=mouse"), parse_query("q=symbol:cdk2&species=human"))
    {'endpoint': 1.0, 'q_terms': 1.0, 'fields': 1.0, 'species': 0.0, 'paging': 1.0}
    """
    if pred is None:
        return dict.fromkeys(COMPONENTS, 0.0)
    return {
        "endpoint": float(endpoint_key(pred) == endpoint_key(ref)),
        "q_terms": set_f1(q_terms(pred), q_terms(ref)),
        "fields": set_f1(field_set(pred), field_set(ref)),
        "species": float(species_set(pred) == species_set(ref)),
        "paging": float(paging(pred) == paging(ref)),
    }


def score(pred: str | None, ref: str) -> dict[str, Any]:
    """Every static score of one item (all but ``execution``): ``valid``, ``exact``, ``ast``
    (booleans) and the :data:`COMPONENTS` (floats). Raises :class:`QueryError` when the
    reference does not parse."""
    ref_query = reference(ref)
    query, errors = read(pred)
    return {
        "valid": query is not None and not errors,
        "exact": query is not None and canonical(query) == canonical(ref_query),
        "ast": ast_match(pred, ref),
        **components(query, ref_query),
    }


# --- execution -------------------------------------------------------------------------------


def hit_ids(hits: Sequence[dict[str, Any]], k: int = TOP_K) -> list[str]:
    """The ``_id`` of the first ``k`` hits (POST results: the hits that were found).

    >>> hit_ids([{"_id": "1017", "symbol": "CDK2"}, {"query": "XYZ", "notfound": True}])
    ['1017']
    """
    return [str(h["_id"]) for h in hits if isinstance(h, dict) and "_id" in h][:k]


def execution_match(
    pred_total: int | None,
    pred_ids: Sequence[str] | None,
    ref_total: int | None,
    ref_ids: Sequence[str] | None,
    k: int = TOP_K,
) -> bool | None:
    """Both queries found the same number of hits and the same top hits: the ids of the first
    ``n`` hits are equal as sets, ``n`` being the fewer of ``k`` and the two hit counts (so a
    query asking for fewer hits is not penalised for it). ``pred_total`` None means the
    prediction could not be run (False); ``ref_total`` None means the reference could not be
    run (None: the item is not scored).

    >>> execution_match(1, ["1017"], 1, ["1017"]), execution_match(6, ["12566"], 6, ["1017"])
    (True, False)
    >>> execution_match(None, None, 1, ["1017"]), execution_match(1, ["1017"], None, None)
    (False, None)
    """
    if ref_total is None:
        return None
    if pred_total is None or pred_ids is None:
        return False
    ref_ids = list(ref_ids or [])
    n = min(k, len(pred_ids), len(ref_ids))
    return pred_total == ref_total and set(list(pred_ids)[:n]) == set(ref_ids[:n])


# --- summaries -------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile with linear interpolation (NaN for no values).

    >>> percentile([1, 2, 3, 4], 50), percentile([0.2, 0.1, 5.0], 95), percentile([], 50)
    (2.5, 4.52, nan)
    """
    values = sorted(float(v) for v in values)
    if not values:
        return float("nan")
    pos = (len(values) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return round(values[lo] + (values[hi] - values[lo]) * (pos - lo), 6)


def mean(values: list[float]) -> float | None:
    """The mean rounded to 4 places, None for no values.

    >>> mean([1.0, 0.0, 0.0]), mean([])
    (0.3333, None)
    """
    return round(sum(values) / len(values), 4) if values else None


def aggregate(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Means of every metric over scored rows, p50/p95 latency per stage and token counts.

    A row is what ``evals/eval_lm.py`` writes: ``scores`` (the :data:`METRICS`; ``execution``
    may be None), ``timings`` (seconds by stage), ``tokens`` (``prompt``, ``completion``) and
    ``status``. Rows with an ``error`` (e.g. a reference that does not parse) are counted but
    not scored.

    >>> rows = [
    ...     {"scores": {"valid": True, "exact": True, "execution": True}, "timings": {"generate": 1.0},
    ...      "tokens": {"prompt": 300, "completion": 20}, "status": "ok"},
    ...     {"scores": {"valid": False, "exact": False, "execution": None}, "timings": {"generate": 3.0},
    ...      "tokens": {"prompt": 320, "completion": 40}, "status": "invalid"},
    ... ]
    >>> s = aggregate(rows)
    >>> s["n"], s["metrics"]["valid"], s["metrics"]["execution"], s["execution_n"]
    (2, 0.5, 1.0, 1)
    >>> s["latency"]["generate"], s["tokens"]["prompt"]["mean"]
    ({'p50': 2.0, 'p95': 2.9}, 310.0)
    """
    rows = list(rows)
    scored = [r for r in rows if not r.get("error") and r.get("scores")]
    metrics: dict[str, float | None] = {}
    for name in METRICS:
        values = [float(r["scores"][name]) for r in scored if r["scores"].get(name) is not None]
        metrics[name] = mean(values)
    latency = {}
    for stage in STAGES:
        values = [
            r["timings"][stage] for r in scored if r.get("timings", {}).get(stage) is not None
        ]
        if values:
            latency[stage] = {"p50": percentile(values, 50), "p95": percentile(values, 95)}
    tokens = {}
    for kind in ("prompt", "completion"):
        values = [r["tokens"][kind] for r in scored if r.get("tokens", {}).get(kind) is not None]
        if values:
            tokens[kind] = {
                "mean": mean(values),
                "p50": percentile(values, 50),
                "max": max(values),
            }
    return {
        "n": len(rows),
        "scored": len(scored),
        "errors": len(rows) - len(scored),
        "metrics": metrics,
        "execution_n": sum(r["scores"].get("execution") is not None for r in scored),
        "latency": latency,
        "tokens": tokens,
        "status": dict(Counter(r.get("status", "") for r in scored)),
    }


TABLE_METRICS = ("valid", "exact", "ast", "execution", *COMPONENTS)


def as_percent(value: float | None) -> str:
    """``0.25`` → ``25%``; ``–`` for a missing value.

    >>> as_percent(0.25), as_percent(None)
    ('25%', '–')
    """
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0%}"
    )


def seconds(value: float | None) -> str:
    """Seconds with two decimals for tables; ``–`` for a missing value."""
    return "–" if value is None or math.isnan(value) else f"{value:.2f}"


def token_count(value: float | None) -> str:
    """A (mean) token count rounded for tables; ``–`` for a missing value."""
    return "–" if value is None else str(round(value))


def summary_table(runs: Sequence[dict[str, Any]]) -> str:
    """One markdown table, a row per run. Each run is ``{"label": ..., "summary": ...}`` (the
    summary from :func:`summarize`, optionally with ``model``, ``mode``, ``grammar``).

    >>> row = {"label": "icl", "model": "smollm2-135m", "mode": "icl", "grammar": True,
    ...        "summary": aggregate([{"scores": {"valid": True, "exact": False}, "timings":
    ...                               {"generate": 0.8, "total": 1.0}, "tokens": {"prompt": 400}}])}
    >>> print(summary_table([row]).splitlines()[2])
    | icl | smollm2-135m | icl | on | 1 | 100% | 0% | – | – | – | – | – | – | – | 0.80 | 0.80 | 1.00 | 400 |
    """
    head = ["run", "model", "mode", "grammar", "n", *TABLE_METRICS]
    head += ["generate p50 s", "generate p95 s", "total p50 s", "prompt tok"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        s = run["summary"]
        lat = s.get("latency", {})
        grammar = run.get("grammar")
        cells = [
            str(run.get("label", "")),
            str(run.get("model", "")),
            str(run.get("mode", "")),
            "" if grammar is None else ("on" if grammar else "off"),
            str(s.get("scored", s.get("n", 0))),
            *(as_percent(s["metrics"].get(m)) for m in TABLE_METRICS),
            seconds(lat.get("generate", {}).get("p50")),
            seconds(lat.get("generate", {}).get("p95")),
            seconds(lat.get("total", {}).get("p50")),
            token_count(s.get("tokens", {}).get("prompt", {}).get("mean")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def slug(text: str) -> str:
    """A file-name-safe form of a label: ``rag+icl`` → ``rag_icl``.

    >>> slug("qwen2.5-coder-0.5b rag+icl")
    'qwen2.5-coder-0.5b-rag_icl'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("+", "_")).strip("-")


# --- answer accuracy (the real-phrasing development set) -------------------------------------

GOLD_KEYS = ("expect_top", "expect_any", "expect_all", "expect_none", "expect_total")
"""What a development-set item may require of the executed hits (all that it names must hold):
``expect_top`` the first hit's id, ``expect_any`` at least one of these ids among the hits,
``expect_all`` every one of them, ``expect_none`` none of them (the page before, for a paging
question), ``expect_total`` the hit count within ``[lo, hi]`` (``[0, 0]``: no such gene)."""


def field_covered(returned: Iterable[str], required: str) -> bool:
    """A required field spec is among the ``returned`` fields. A spec is one field family or
    dotted field (``ensembl``, ``go.BP``, ``ensembl.transcript``) or alternatives joined by
    ``|`` (``genomic_pos|map_location``: either answers "where is it"). A returned field
    covers a required one when it is the same, a parent of it (``go`` returns ``go.BP``),
    a part of it (``go.BP.term`` answers ``go.BP``; any ``ensembl.*`` answers ``ensembl``),
    or ``all`` — but a sibling does not (``ensembl.gene`` does not answer
    ``ensembl.transcript``, ``go.MF`` does not answer ``go.BP``).

    >>> field_covered({"symbol", "go.BP"}, "go.BP"), field_covered({"go"}, "go.BP")
    (True, True)
    >>> field_covered({"ensembl.gene"}, "ensembl.transcript"), field_covered({"all"}, "summary")
    (False, True)
    >>> field_covered({"map_location"}, "genomic_pos|map_location")
    True
    """
    returned = set(returned)
    if "all" in returned:
        return True
    for spec in required.split("|"):
        spec = spec.strip()
        for f in returned:
            if f == spec or spec.startswith(f + ".") or f.startswith(spec + "."):
                return True
    return False


def missing_fields(query: Query, required: Iterable[str]) -> list[str]:
    """The required field specs (:func:`field_covered`) that ``query`` does not return. A query
    without ``fields`` returns the endpoint's default (:func:`field_set`: the gene's identity,
    ``symbol, name, taxid, entrezgene``, for /query; ``all`` for /gene).

    >>> missing_fields(parse_query("/v3/query?q=symbol:tp53&fields=ensembl.gene"), ["ensembl.transcript"])
    ['ensembl.transcript']
    >>> missing_fields(parse_query("/v3/query?q=symbol:il6&species=human"), ["entrezgene"])
    []
    """
    returned = field_set(query)
    return [r for r in required if not field_covered(returned, r)]


def gold_failures(item: dict[str, Any], total: int | None, ids: Sequence[str]) -> list[str]:
    """Why executed hits (``total`` and the returned hits' ``ids``, in order) miss an item's
    gold (:data:`GOLD_KEYS`); empty when they satisfy it. ``total`` None: nothing ran.

    >>> gold_failures({"expect_top": "1017"}, 6, ["1017", "12566"])
    []
    >>> gold_failures({"expect_top": "1017", "expect_total": [1, 1]}, 6, ["12566", "1017"])
    ['top hit 12566, not 1017', 'total 6 not in [1, 1]']
    >>> gold_failures({"expect_all": ["672", "675"], "expect_none": ["7157"]}, 2, ["672", "675"])
    []
    """
    if total is None:
        return ["nothing was run"]
    ids = [str(i) for i in ids]
    why = []
    if "expect_top" in item and (not ids or ids[0] != str(item["expect_top"])):
        why.append(f"top hit {ids[0] if ids else 'none'}, not {item['expect_top']}")
    if "expect_any" in item and not set(map(str, item["expect_any"])) & set(ids):
        why.append(f"none of {', '.join(map(str, item['expect_any']))} among the hits")
    if "expect_all" in item:
        lost = [str(i) for i in item["expect_all"] if str(i) not in ids]
        if lost:
            why.append(f"missing {len(lost)} of {len(item['expect_all'])} genes ({lost[0]}, ...)")
    if "expect_none" in item:
        extra = [str(i) for i in item["expect_none"] if str(i) in ids]
        if extra:
            why.append(f"{len(extra)} hits that must not be there ({extra[0]}, ...)")
    if "expect_total" in item:
        lo, hi = item["expect_total"]
        if not lo <= total <= hi:
            why.append(f"total {total} not in [{lo}, {hi}]")
    return why


def answer_score(
    item: dict[str, Any], query: Query | None, total: int | None, ids: Sequence[str]
) -> dict[str, Any]:
    """Answer accuracy of one development-set item: ``answer`` is True when the executed hits
    satisfy the gold (``gold``, :func:`gold_failures`) and the query returns every required
    field family (``fields``, :func:`missing_fields` of the item's ``fields``). ``query`` is
    the query that ran (None when none ran: the answer is wrong); ``why`` lists what missed.

    >>> item = {"expect_top": "7157", "fields": ["ensembl.transcript"]}
    >>> q = parse_query("/v3/query?q=symbol:tp53&species=human&fields=ensembl.gene")
    >>> s = answer_score(item, q, 1, ["7157"])
    >>> s["answer"], s["gold"], s["fields"], s["why"]
    (False, True, False, ['lacks field ensembl.transcript'])
    """
    if query is None:
        return {"answer": False, "gold": False, "fields": False, "why": ["no query ran"]}
    why = gold_failures(item, total, ids)
    lost = missing_fields(query, item.get("fields") or [])
    gold_ok = not why
    why += [f"lacks field {f}" for f in lost]
    return {"answer": gold_ok and not lost, "gold": gold_ok, "fields": not lost, "why": why}
