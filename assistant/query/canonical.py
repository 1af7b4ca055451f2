"""The canonical text of a query: equal for queries that mean the same thing (see the package)."""

from __future__ import annotations

import re

from ..schema import ApiSpec, FieldSchema, load_api, load_fields
from .lucene import INTERVAL_RE, parse_lucene, render_tree
from .model import _FALSE, _TRUE, IGNORED_PARAMS, MAX_DIGITS, SET_PARAMS, Query
from .parse import _normalize_space

# --- canonical form --------------------------------------------------------------------------------


def canonical(query: Query, api: ApiSpec | None = None, fields: FieldSchema | None = None) -> str:
    """The canonical one-line text of a query: equal for queries that mean the same thing.

    See the module docstring for the rules.

    >>> from assistant.query import parse_query
    >>> canonical(parse_query("q=symbol:CDK2&species=human,9606&fields=symbol,name,taxid,entrezgene"))
    '/v3/query?q=symbol:cdk2&species=human'
    >>> canonical(parse_query("/v3/query?q=tumor  and   suppressor&limit=10&skip=0&sort=-taxid,symbol"))
    '/v3/query?q=tumor and suppressor&sort=-taxid,symbol'
    >>> canonical(parse_query("/v3/gene/1017?fields=all&dotfield=0"))
    '/v3/gene/1017'
    """
    return canonical_query(query, api, fields).to_text(prefix=(api or load_api()).prefix)


def canonical_query(
    query: Query, api: ApiSpec | None = None, fields: FieldSchema | None = None
) -> Query:
    """The canonical :class:`Query` (see :func:`canonical`)."""
    api = api or load_api()
    fields = fields or load_fields()
    q = query.q
    if q is not None:
        q = _canonical_terms(q) if query.method == "POST" else canonical_q(q, fields)
    params: dict[str, str] = {}
    for name, value in query.params.items():
        value = _canonical_value(name, value.strip(), query, api)
        if value is not None:
            params[name] = value
    order = ["ids", "scroll_id"] + list(api.parameters)
    rank = {name: i for i, name in enumerate(order)}
    ordered = dict(sorted(params.items(), key=lambda kv: (rank.get(kv[0], len(order)), kv[0])))
    return Query(query.endpoint, query.method, q, query.gene_id, ordered)


def _canonical_value(name: str, value: str, query: Query, api: ApiSpec) -> str | None:
    spec = api.parameters.get(name, {})
    kind = spec.get("type")
    if name in IGNORED_PARAMS:
        return None
    if kind == "int" and re.fullmatch(r"-?\d+", value) and len(value) <= MAX_DIGITS:
        value = str(int(value))
    elif kind == "bool" and value.lower() in _TRUE | _FALSE:
        value = "true" if value.lower() in _TRUE else "false"
    elif kind == "species":
        value = _canonical_species(value, api)
    elif name == "ids":
        value = _canonical_terms(value)
    elif name in SET_PARAMS:
        items = sorted({v.strip() for v in value.split(",") if v.strip()})
        value = "all" if name == "fields" and "all" in items else ",".join(items)
    elif kind == "list":
        value = ",".join(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    default = spec.get("default")
    if name == "fields":
        default = "all" if query.endpoint == "gene" else ",".join(sorted(api.default_fields))
    if default is not None and name in ("scopes",):
        default = ",".join(sorted(str(default).split(",")))
    if default is not None and value == (
        str(default).lower() if isinstance(default, bool) else str(default)
    ):
        return None
    return value


def _canonical_species(value: str, api: ApiSpec) -> str:
    out = set()
    for item in (v.strip().lower() for v in value.split(",") if v.strip()):
        if item == "all":
            return "all"
        taxid = api.taxid(item)
        out.add(api.species_name(taxid) or str(taxid) if taxid is not None else item)
    return ",".join(sorted(out))


def _canonical_terms(value: str) -> str:
    return ",".join(dict.fromkeys(_normalize_space(t) for t in value.split(",") if t.strip()))


def canonical_q(q: str, fields: FieldSchema | None = None) -> str:
    """The canonical text of a ``q`` value (see the module docstring).

    >>> canonical_q('symbol:CDK2   AND (hgnc:1771 OR GO:0004693)')
    'symbol:cdk2 AND (HGNC:1771 OR go:0004693)'
    >>> canonical_q("hg19.chrX:151,073,054-151,383,976")
    'hg19.chrX:151073054-151383976'
    >>> canonical_q('"tumor suppressor" NOT receptor')
    '"tumor suppressor" NOT receptor'
    """
    fields = fields or load_fields()
    q = _normalize_space(q)
    match = INTERVAL_RE.match(q)
    if match:
        assembly = f"{match.group('assembly').lower()}." if match.group("assembly") else ""
        start, end = (match.group(k).replace(",", "") for k in ("start", "end"))
        return f"{assembly}chr{match.group('chr')}:{start}-{end}"
    tree = parse_lucene(q)
    if tree is None:
        return q
    return render_tree(tree, fields, lower=True)
