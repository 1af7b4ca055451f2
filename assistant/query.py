"""The one structured form of a MyGene query: parse it from any text, validate it, canonicalize it.

Everything else (the model's output, the query log, the store, the evaluation) passes
:class:`Query` objects around. Text forms accepted by :func:`parse_query`:

- full URLs: ``https://mygene.info/v3/query?q=symbol:CDK2&species=human``
- paths: ``/v3/query?q=...``, ``/v3/query/?q=...``, ``/v3/gene/1017?fields=go``
- bare query strings: ``q=cdk2&species=human`` (URL-encoded or not, ``+`` for spaces)
- the one-line POST form (what :meth:`Query.to_text` writes for POST)::

      POST /v3/query q=CDK2,BRCA1&scopes=symbol&fields=name
      POST /v3/gene ids=1017,672&fields=symbol

  i.e. ``POST``, the path, one space, then the form body as a query string. The body may also be
  JSON (``POST /v3/query {"q": ["CDK2", "BRCA1"], "scopes": "symbol"}``) and parameters may sit in
  the URL instead (``POST /v3/query?q=CDK2,BRCA1&scopes=symbol``).

Parameter aliases become the parameter they stand for (``limit`` → ``size``, ``skip`` → ``from``,
``filter`` / ``_source`` → ``fields``).

>>> query = parse_query("https://mygene.info/v3/query?q=symbol:CDK2&species=human&limit=5")
>>> query.q, query.params
('symbol:CDK2', {'species': 'human', 'size': '5'})
>>> query.to_text()
'/v3/query?q=symbol:CDK2&species=human&size=5'
>>> validate(parse_query("q=symbol:CDK2&species=humna"))
["unknown species 'humna' in species — did you mean 'human'? (use a common name such as human, mouse, rat, or a numeric taxid)"]
>>> canonical(parse_query("/v3/query?q=symbol:CDK2&species=9606&size=10&fields=name,symbol"))
'/v3/query?q=symbol:cdk2&fields=name,symbol&species=human'

Canonical form (:func:`canonical`), so that queries meaning the same thing compare equal:

- path ``/v3/query?`` / ``/v3/gene/{id}?`` / ``POST /v3/query `` / ``POST /v3/gene ``;
- parameters in a fixed order: ``q`` (or ``ids``, or ``scroll_id`` when there is no q), then the
  order of ``data/schema/mygene_api.json``, then unknown parameters alphabetically;
- default values dropped: ``size=10``, ``from=0``, ``facet_size=10``, ``species=all``, booleans
  ``false``, ``scopes=_id,symbol`` (POST), ``fields`` equal to the endpoint's default
  (``symbol,name,taxid,entrezgene`` on /query, ``all`` on /gene); ``email`` and ``callback``
  (ignored by the service) are dropped too;
- set-like lists (fields, species, scopes, facets, exists, missing) de-duplicated and sorted;
  ``sort`` keeps its order (it matters) and only loses duplicates; POST terms and ids keep their
  order (results come back in that order);
- species as lowercase common names where one exists (``9606`` → ``human``), otherwise the taxid;
- integers without leading zeros, booleans as ``true``;
- ``q`` re-written from its parse tree with single spaces; term and phrase values lowercased
  (MyGene's keyword fields use a lowercase normalizer and its text fields a lowercasing analyzer, so
  ``symbol:CDK2`` and ``symbol:cdk2`` match the same genes); field names keep their case (they are
  case-sensitive) except MyGene's case-normalised prefixes (``hgnc:`` → ``HGNC:``, ``GO:`` → ``go:``);
  operators stay uppercase (a lowercase ``and`` is a search term in Lucene, not an operator);
  ``_exists_`` values and regular expressions keep their case; a genome interval loses its
  thousands separators (``chrX:151,073,054-151,383,976`` → ``chrX:151073054-151383976``).

The canonical string is a comparison key (evaluation, de-duplication); show people and train models
on :meth:`Query.to_text`, which keeps what was written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal
from urllib.parse import quote, unquote_plus, urlencode

from .errors import QueryError
from .schema import (
    QUERY_PREFIXES,
    SPECIAL_FIELDS,
    ApiSpec,
    FieldSchema,
    load_api,
    load_fields,
    suggest,
)

Endpoint = Literal["query", "gene"]
Method = Literal["GET", "POST"]

SET_PARAMS = ("fields", "species", "species_facet_filter", "scopes", "facets", "exists", "missing")
"""List parameters whose order does not matter (sorted in the canonical form)."""

IGNORED_PARAMS = ("email", "callback")
"""Parameters the service accepts and ignores; dropped from the canonical form."""

INTERVAL_RE = re.compile(
    r"^(?:(?P<assembly>\w+)\.)?chr(?P<chr>\w+):(?P<start>[0-9,]+)-(?P<end>[0-9,]+)$", re.IGNORECASE
)
"""A genome interval query: ``chr1:1000-2000``, ``chrX:151,073,054-151,383,976``, ``hg19.chr12:56,360,553-56,366,568``."""

_URL_RE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#]*", re.IGNORECASE)
_PATH_RE = re.compile(r"^/?(?:(?P<version>v\d+)/)?(?P<endpoint>[A-Za-z_]+)(?:/(?P<rest>[^?]*))?$")
_KEY_RE = re.compile(r"^[A-Za-z_][\w.\-]*$")
_TEXT_ESCAPES = {"%": "%25", "&": "%26", "#": "%23", "+": "%2B"}
_TEXT_ESCAPE_RE = re.compile("[%&#+\n\r\t]")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
MAX_DIGITS = 18
"""Integers with more digits are beyond every limit of the API (and beyond what ``int()``
reads: 4,300 digits); they are refused by their length, never converted."""
MAX_DEPTH = 50
"""The deepest parse tree a ``q`` may have (groups and operators nested in each other): deeper
is refused before anything walks the tree, as Elasticsearch refuses deeply nested queries."""


@dataclass(frozen=True)
class Query:
    """One MyGene request: endpoint, method, the query string, a gene id and other parameters.

    ``params`` holds every parameter except ``q`` by its canonical name (``size``, not ``limit``),
    values as written (strings). ``q`` is the query string for GET /query and the comma list of
    terms for POST /query; ``gene_id`` is the id of GET /gene/{id}; POST /gene keeps its ids in
    ``params["ids"]``.

    >>> Query("gene", gene_id="1017", params={"fields": "symbol,name"}).to_text()
    '/v3/gene/1017?fields=symbol,name'
    >>> Query("query", "POST", q="CDK2,BRCA1", params={"scopes": "symbol"}).to_text()
    'POST /v3/query q=CDK2,BRCA1&scopes=symbol'
    """

    endpoint: Endpoint
    method: Method = "GET"
    q: str | None = None
    gene_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(
            (self.endpoint, self.method, self.q, self.gene_id, tuple(sorted(self.params.items())))
        )

    def field_list(self) -> list[str]:
        """The names in ``fields`` (empty without it).

        >>> parse_query("/v3/query?q=cdk2&fields=symbol, go.BP").field_list()
        ['symbol', 'go.BP']
        """
        return [f.strip() for f in self.params.get("fields", "").split(",") if f.strip()]

    # --- writing -------------------------------------------------------------------------------
    def path(self, prefix: str = "/v3") -> str:
        """The request path: ``/v3/query``, ``/v3/gene/1017`` (GET) or ``/v3/gene`` (POST)."""
        if self.endpoint == "gene" and self.method == "GET":
            return f"{prefix}/gene/{quote(self.gene_id or '', safe=':.-_')}"
        return f"{prefix}/{self.endpoint}"

    def items(self) -> list[tuple[str, str]]:
        """All parameters as written, ``q`` first (POST /gene: ``ids`` first)."""
        items = [("q", self.q)] if self.q is not None else []
        first = [k for k in ("ids",) if k in self.params]
        return (
            items
            + [(k, self.params[k]) for k in first]
            + [(k, v) for k, v in self.params.items() if k not in first]
        )

    def to_text(self, prefix: str = "/v3") -> str:
        """The readable one-line form (what the model writes and the log stores).

        Only ``%``, ``&``, ``#`` and ``+`` are escaped (``%25 %26 %23 %2B``); spaces stay spaces.

        >>> parse_query("/v3/query?q=tumor+suppressor&fields=symbol").to_text()
        '/v3/query?q=tumor suppressor&fields=symbol'
        """
        body = "&".join(f"{_escape(k)}={_escape(v)}" for k, v in self.items())
        if self.method == "POST":
            return f"POST {self.path(prefix)}" + (f" {body}" if body else "")
        return self.path(prefix) + (f"?{body}" if body else "")

    def to_request(self) -> tuple[str, str, dict[str, str]]:
        """``(method, path, params)`` to send: the path is relative to the API base URL
        (``https://mygene.info/v3``); for POST the params are the form body.

        >>> parse_query("/v3/gene/1017?fields=symbol").to_request()
        ('GET', '/gene/1017', {'fields': 'symbol'})
        """
        return self.method, self.path(prefix=""), dict(self.items())

    def to_url(self, base_url: str = "https://mygene.info/v3") -> str:
        """A clickable URL (percent-encoded). POST queries put their form in the query string,
        which MyGene also accepts, so the link still shows the request.

        >>> parse_query("q=symbol:CDK2 AND taxid:9606").to_url()
        'https://mygene.info/v3/query?q=symbol%3ACDK2+AND+taxid%3A9606'
        """
        params = urlencode(self.items())
        return base_url.rstrip("/") + self.path(prefix="") + (f"?{params}" if params else "")

    def __str__(self) -> str:
        return self.to_text()


def _escape(value: str) -> str:
    return _TEXT_ESCAPE_RE.sub(lambda m: _TEXT_ESCAPES.get(m.group(), " "), value)


# --- parsing ---------------------------------------------------------------------------------------


def parse_query(text: str, api: ApiSpec | None = None) -> Query:
    """Read a query from a URL, a path, a bare query string or the POST one-line form.

    Raises :class:`~assistant.errors.QueryError` for text that is not a MyGene query.

    >>> parse_query("/v3/gene/1017?filter=go").params
    {'fields': 'go'}
    >>> parse_query("POST /v3/query q=CDK2,BRCA1&scopes=symbol").to_text()
    'POST /v3/query q=CDK2,BRCA1&scopes=symbol'
    >>> parse_query("q=%22cyclin-dependent%20kinase%22&skip=20").to_text()
    '/v3/query?q="cyclin-dependent kinase"&from=20'
    >>> parse_query("what genes does TP53 regulate?")
    Traceback (most recent call last):
    ...
    assistant.errors.QueryError: not a MyGene query: 'what genes does TP53 regulate?' — write a path such as /v3/query?q=symbol:CDK2&species=human or /v3/gene/1017
    """
    api = api or load_api()
    raw = text
    text = text.strip().strip("`").strip()
    if not text:
        raise QueryError("empty query — write a path such as /v3/query?q=symbol:CDK2")
    method: Method = "GET"
    head = text.split(None, 1)
    if head[0].upper() in ("GET", "POST") and len(head) == 2:
        method = "POST" if head[0].upper() == "POST" else "GET"
        text = head[1].strip()
    text = _URL_RE.sub("", text)

    body = ""
    if text.startswith("/") or re.match(r"^(v\d+/)?(query|gene|metadata)\b", text):
        target, sep, querystring = text.partition("?")
        if method == "POST" and not sep:
            target, _, body = text.partition(" ")
        elif method == "POST" and " " in querystring and "=" not in querystring.split(" ", 1)[0]:
            querystring, _, body = querystring.partition(" ")
        endpoint, gene_id = _parse_path(target.strip(), raw, api)
    else:
        querystring, endpoint, gene_id = text, "query", None
        if not _looks_like_querystring(querystring, api):
            raise QueryError(
                f"not a MyGene query: {raw.strip()!r} — write a path such as "
                "/v3/query?q=symbol:CDK2&species=human or /v3/gene/1017"
            )

    pairs = _split_querystring(querystring, api)
    body = body.strip()
    if body.startswith("{"):
        pairs += _json_pairs(body)
    elif body:
        pairs += _split_querystring(body, api)

    q: str | None = None
    params: dict[str, str] = {}
    for key, value in pairs:
        key = api.canonical_param(key)
        if key == "q":
            q = value if q is None or method == "GET" else f"{q},{value}"
            continue
        if key in params and api.parameters.get(key, {}).get("type") == "list":
            params[key] = f"{params[key]},{value}"
        else:
            params[key] = value
    if q is not None:
        q = _normalize_space(q) if method == "GET" else ",".join(t.strip() for t in q.split(","))
    if endpoint == "gene" and method == "GET" and gene_id is None and "ids" in params:
        method = "POST"
    return Query(endpoint=endpoint, method=method, q=q, gene_id=gene_id, params=params)


def _parse_path(target: str, raw: str, api: ApiSpec) -> tuple[Endpoint, str | None]:
    match = _PATH_RE.match(target)
    if not match:
        raise QueryError(
            f"cannot read the path {target!r} in {raw.strip()!r} — expected /v3/query or /v3/gene/<id>"
        )
    version = match.group("version")
    if version and f"/{version}" != api.prefix:
        raise QueryError(
            f"{target!r} is not a MyGene {api.prefix} path (MyGene.info is served at {api.prefix}; "
            "v1 paths belong to other BioThings APIs such as MyChem)"
        )
    endpoint = match.group("endpoint").lower()
    rest = unquote_plus((match.group("rest") or "").strip("/"))
    if endpoint == "query" and not rest:
        return "query", None
    if endpoint == "gene" and "/" not in rest:
        return "gene", rest or None
    raise QueryError(
        f"{target!r} is not a query endpoint — use {api.prefix}/query?q=... or {api.prefix}/gene/<id>"
    )


def _looks_like_querystring(text: str, api: ApiSpec) -> bool:
    first = text.split("&", 1)[0]
    key = first.split("=", 1)[0] if "=" in first else None
    return key is not None and (
        api.canonical_param(key) in api.parameters or bool(_KEY_RE.match(key))
    )


def _split_querystring(text: str, api: ApiSpec) -> list[tuple[str, str]]:
    """``a=1&b=2`` → pairs, decoded; a lone ``species:9606`` (a doc typo) reads as ``species=9606``."""
    pairs = []
    for chunk in text.split("&"):
        if not chunk.strip():
            continue
        if "=" in chunk:
            key, value = chunk.split("=", 1)
        else:
            key, _, value = chunk.partition(":")
            if api.canonical_param(unquote_plus(key).strip()) not in api.parameters or key == "q":
                key, value = chunk, ""
        pairs.append((unquote_plus(key).strip(), unquote_plus(value).strip()))
    return pairs


def _json_pairs(body: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise QueryError(
            f"the POST body is not valid JSON ({exc}) — write q=CDK2,BRCA1&scopes=symbol"
        ) from None
    if not isinstance(data, dict):
        raise QueryError(
            'the JSON POST body must be an object such as {"q": ["CDK2"], "scopes": "symbol"}'
        )
    return [
        (
            str(k),
            ",".join(str(x) for x in v)
            if isinstance(v, list)
            else str(v).lower()
            if isinstance(v, bool)
            else str(v),
        )
        for k, v in data.items()
    ]


def _normalize_space(text: str) -> str:
    return " ".join(text.split())


# --- validation ------------------------------------------------------------------------------------


def validate(
    query: Query,
    fields: FieldSchema | None = None,
    api: ApiSpec | None = None,
    store_fields: set[str] | frozenset[str] | None = None,
) -> list[str]:
    """Every problem with a query, as messages that say how to fix it; empty when it is valid.

    ``store_fields``, when given, is the set of fields an embedded store actually holds: names
    outside it are reported too (and names only the store knows are accepted).

    >>> validate(parse_query("/v3/query?q=symbol:CDK2&fields=unipro"))
    ["unknown field 'unipro' in fields — did you mean 'uniprot'?"]
    >>> validate(parse_query("q=(interleukin OR insulin AND receptor&size=2000"))
    ['q cannot be parsed: unbalanced parentheses (1 more ( than ))', 'size must be at most 1000, got 2000']
    >>> validate(parse_query("/v3/query?q=symbl:cdk2&species=human"))
    ["unknown field 'symbl' in q — did you mean 'symbol'?"]
    >>> validate(parse_query("q=chrX:151,073,054-151,383,976&species=human"))
    []
    """
    return _Validator(fields or load_fields(), api or load_api(), store_fields).run(query)


def check(query: Query, fields: FieldSchema | None = None, api: ApiSpec | None = None) -> Query:
    """The query itself when valid; otherwise a :class:`QueryError` listing every problem."""
    errors = validate(query, fields, api)
    if errors:
        raise QueryError("; ".join(errors))
    return query


class _Validator:
    def __init__(self, fields: FieldSchema, api: ApiSpec, store_fields):
        self.fields = fields
        self.api = api
        self.store = set(store_fields) if store_fields is not None else None
        self.errors: list[str] = []

    # names --------------------------------------------------------------------------------------
    def known(self, name: str) -> bool:
        if self.fields.is_path(name):
            return True
        return self.store is not None and self._in_store(name)

    def _in_store(self, name: str) -> bool:
        return name in self.store or any(f.startswith(name + ".") for f in self.store)

    def check_field(
        self, name: str, where: str, searchable: bool = False, special: tuple[str, ...] = ()
    ) -> None:
        if name in special:
            return
        if "*" in name:
            pattern = re.compile(re.escape(name).replace(r"\*", ".*") + "$")
            if not any(pattern.match(f) for f in self.fields.names()):
                self.errors.append(f"the pattern {name!r} in {where} matches no field")
            return
        if not self.known(name):
            pool = (
                self.fields.searchable()
                if searchable
                else self.fields.names() + sorted(self.fields.prefixes())
            )
            if searchable and where == "q":
                pool = pool + sorted(QUERY_PREFIXES)
            self.errors.append(
                f"unknown field {name!r} in {where}" + _did_you_mean(suggest(name, pool))
            )
            return
        if self.store is not None and not self._in_store(name):
            self.errors.append(f"the store holds no {name!r} field (used in {where})")
        elif searchable and self.fields.is_path(name) and not self.fields.is_searchable(name):
            self.errors.append(
                f"field {name!r} in {where} is not indexed: it can be returned with fields= but not searched"
            )

    def check_list(
        self, param: str, value: str, searchable: bool, special: tuple[str, ...] = ()
    ) -> None:
        items = [v.strip() for v in value.split(",")]
        if not any(items):
            self.errors.append(
                f"{param} is empty — give a comma list of field names such as symbol,name"
            )
        for item in items:
            if item:
                self.check_field(
                    item.lstrip("-") if param == "sort" else item, param, searchable, special
                )

    # parameters ---------------------------------------------------------------------------------
    def run(self, query: Query) -> list[str]:
        endpoint, method = query.endpoint, query.method
        if endpoint == "query":
            if query.q is None and "scroll_id" not in query.params:
                self.errors.append("q is missing — write q=<terms>, e.g. q=symbol:CDK2")
            elif query.q is not None and not query.q.strip():
                self.errors.append("q is empty — write q=<terms>, e.g. q=symbol:CDK2")
            elif query.q is not None and method == "POST":
                self.check_terms("q", query.q)
            elif query.q is not None:
                self.check_q(query.q, query.params.get("species"))
        elif method == "GET":
            if query.q is not None:
                self.errors.append("q does not apply to /gene/<id> — use /v3/query?q=... to search")
            if not query.gene_id:
                self.errors.append(
                    "a gene id is missing — write /v3/gene/1017 or /v3/gene/ENSG00000123374"
                )
        elif "ids" not in query.params:
            self.errors.append("ids is missing — POST /v3/gene needs ids=1017,672")
        for name, value in query.params.items():
            self.check_param(name, value, endpoint, method)
        return self.errors

    def check_param(self, name: str, value: str, endpoint: str, method: str) -> None:
        spec = self.api.parameters.get(name)
        if spec is None:
            names = sorted(set(self.api.parameters) | set(self.api.aliases))
            self.errors.append(f"unknown parameter {name!r}" + _did_you_mean(suggest(name, names)))
            return
        if endpoint not in spec.get("endpoints", []):
            self.errors.append(f"parameter {name!r} does not apply to {self.api.prefix}/{endpoint}")
            return
        if method not in spec.get("methods", ["GET", "POST"]):
            self.errors.append(
                f"parameter {name!r} is only used with {' or '.join(spec['methods'])} requests"
            )
        kind = spec.get("type")
        if kind == "int":
            self.check_int(name, value, spec)
        elif kind == "bool" and value.lower() not in _TRUE | _FALSE:
            self.errors.append(f"{name} must be true or false, got {value!r}")
        elif kind == "species":
            self.check_species(name, value)
        elif name == "ids":
            self.check_terms("ids", value)
        elif kind == "list":
            special = {"fields": SPECIAL_FIELDS, "sort": ("_id", "_score")}.get(name, ("_id",))
            self.check_list(name, value, searchable=name != "fields", special=special)

    def check_int(self, name: str, value: str, spec: dict) -> None:
        lo, hi = spec.get("min", 0), spec.get("max")
        if not re.fullmatch(r"\s*-?\d+\s*", value):
            self.errors.append(
                f"{name} must be an integer{f' from {lo} to {hi}' if hi is not None else ''}, got {value!r}"
            )
            return
        digits = value.strip().lstrip("-")
        if len(digits) > MAX_DIGITS:
            bound = f"at least {lo}" if value.strip().startswith("-") else f"at most {hi}"
            self.errors.append(f"{name} must be {bound}, got a {len(digits):,}-digit number")
            return
        number = int(value)
        if number < lo:
            self.errors.append(f"{name} must be at least {lo}, got {number}")
        elif hi is not None and number > hi:
            self.errors.append(f"{name} must be at most {hi}, got {number}")

    def check_species(self, name: str, value: str) -> None:
        for item in (v.strip() for v in value.split(",")):
            if item.lower() == "all" or self.api.taxid(item) is not None:
                continue
            names = list(self.api.species)
            self.errors.append(
                f"unknown species {item!r} in {name}"
                + _did_you_mean(suggest(item, names))
                + f" (use a common name such as {', '.join(names[:3])}, or a numeric taxid)"
            )

    def check_terms(self, name: str, value: str) -> None:
        terms = [t.strip() for t in value.split(",")]
        if not any(terms):
            self.errors.append(f"{name} is empty — give a comma list such as CDK2,BRCA1")
        elif len(terms) > self.api.limits["max_post_terms"]:
            self.errors.append(
                f"{name} has {len(terms)} terms; at most {self.api.limits['max_post_terms']} per request"
            )

    # q ------------------------------------------------------------------------------------------
    def check_q(self, q: str, species: str | None) -> None:
        match = INTERVAL_RE.match(q.strip())
        if match:
            assembly = match.group("assembly")
            known = sorted(
                n[len("genomic_pos_") :]
                for n in self.fields.names()
                if n.startswith("genomic_pos_") and "." not in n
            )
            if assembly and assembly.lower() not in known:
                self.errors.append(
                    f"unknown assembly {assembly!r} in the interval — use one of {', '.join(known)} or none"
                )
            start, end = (match.group(k).replace(",", "") for k in ("start", "end"))
            if not start or not end:
                self.errors.append("the interval has no coordinates — write chr1:1000-2000")
                return
            start, end = start.lstrip("0"), end.lstrip("0")
            if len(start) > MAX_DIGITS or len(end) > MAX_DIGITS:
                self.errors.append("the interval's coordinates are past the end of any chromosome")
                return
            start, end = int(start or 0), int(end or 0)
            if start > end:
                self.errors.append(f"the interval starts after it ends ({start} > {end})")
            return
        tree = parse_lucene(q, self.errors)
        if tree is not None:
            self.walk(tree)

    def walk(self, node) -> None:
        from luqum import tree as t

        if isinstance(node, t.SearchField):
            name = node.name
            if name in ("_exists_", "_missing_"):
                target = str(node.expr).strip()
                if not isinstance(node.expr, t.Word):
                    self.errors.append(f"{name} takes one field name, got {target!r}")
                else:
                    self.check_field(target, name, special=("_id",))
                return
            if INTERVAL_RE.match(f"{name}:{node.expr}"):
                self.errors.append(
                    f"the genome interval {name}:{node.expr} must be the whole q (add species=... to narrow it)"
                )
                return
            if name not in QUERY_PREFIXES and name.lower() not in QUERY_PREFIXES:
                self.check_field(name, "q", searchable=True)
        elif isinstance(node, t.Word):
            value = node.value
            if value.startswith(("*", "?")) and value not in ("*",):
                self.errors.append(
                    f"a wildcard cannot start a term ({value!r}) — put at least one letter first, e.g. cdk*"
                )
        for child in node.children:
            self.walk(child)


def parse_lucene(q: str, errors: list[str] | None = None):
    """The luqum parse tree of a Lucene query string, or None (with a message in ``errors``).

    >>> parse_lucene("symbol:CDK2 AND taxid:9606")
    AndOperation(SearchField('symbol', Word('CDK2')), SearchField('taxid', Word('9606')))
    """
    from luqum.exceptions import ParseError
    from luqum.parser import parser

    problem = _balance_problem(q)
    if problem is None:
        try:
            tree = parser.parse(q)
        except (ParseError, TypeError, AttributeError) as exc:
            problem = str(exc).strip().rstrip("!")
        except ValueError:  # luqum's int() of a phrase's proximity: "a b"~0.5, ~99999...
            problem = "a phrase's ~N must be a whole number (of fewer than 4,300 digits)"
        else:
            depth = tree_depth(tree)
            if depth <= MAX_DEPTH:
                return tree
            problem = (
                f"it is nested {depth} levels deep (groups and operators); at most {MAX_DEPTH}"
            )
    if errors is not None:
        errors.append(f"q cannot be parsed: {problem}")
    return None


def tree_depth(tree) -> int:
    """The depth of a luqum tree, counted without recursion (so any depth can be measured).

    >>> tree_depth(parse_lucene("symbol:cdk2 AND (taxid:9606 OR NOT name:kinase)"))
    6
    """
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children)
    return deepest


def _balance_problem(q: str) -> str | None:
    """Unbalanced quotes, parentheses or brackets, said plainly (outside escapes and phrases)."""
    depth = {"(": 0, "[": 0}
    in_phrase = escaped = False
    for ch in q:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_phrase = not in_phrase
        elif in_phrase:
            continue
        elif ch == "(":
            depth["("] += 1
        elif ch in "[{":
            depth["["] += 1
        elif ch == ")":
            depth["("] -= 1
            if depth["("] < 0:
                return "a ) closes nothing"
        elif ch in "]}":
            depth["["] -= 1
            if depth["["] < 0:
                return f"a {ch} closes nothing"
    if in_phrase:
        return 'unbalanced quotes (a " is not closed)'
    if depth["("]:
        return f"unbalanced parentheses ({depth['(']} more ( than ))"
    if depth["["]:
        return "an unclosed range bracket [ or {"
    return None


def _did_you_mean(names: list[str]) -> str:
    if not names:
        return ""
    return " — did you mean " + " or ".join(repr(n) for n in names) + "?"


# --- canonical form --------------------------------------------------------------------------------


def canonical(query: Query, api: ApiSpec | None = None, fields: FieldSchema | None = None) -> str:
    """The canonical one-line text of a query: equal for queries that mean the same thing.

    See the module docstring for the rules.

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
    return _render(tree, fields, lower=True)


RELAXABLE_FIELDS = ("symbol", "alias", "name", "other_names", "type_of_gene")
"""Fields whose terms :func:`relax_query` turns into plain words when a query matches nothing:
a word the model put in the wrong field (``symbol:insulin``, ``type_of_gene:kinase``) is still
found by a search of all fields."""


def relax_query(query: Query) -> Query | None:
    """The query with its :data:`RELAXABLE_FIELDS` terms searched in all fields instead, or
    None when there is nothing to relax (a POST, a genome interval, no such field term).

    >>> relax_query(parse_query("/v3/query?q=symbol:insulin&fields=uniprot")).to_text()
    '/v3/query?q=insulin&fields=uniprot'
    >>> relax_query(parse_query('q=type_of_gene:kinase AND chr:21')).q
    'kinase AND chr:21'
    >>> relax_query(parse_query("q=entrezgene:1017")) is None
    True
    """
    q = (query.q or "").strip()
    if query.endpoint != "query" or query.method != "GET" or not q or INTERVAL_RE.match(q):
        return None
    tree = parse_lucene(q)
    if tree is None:
        return None
    relaxed = _render(tree, load_fields(), lower=False, relax=RELAXABLE_FIELDS)
    if relaxed == _render(tree, load_fields(), lower=False):
        return None
    return Query(query.endpoint, query.method, relaxed, query.gene_id, dict(query.params))


def render_lucene(tree) -> str:
    """The text of a (possibly edited) luqum tree, written the way :func:`canonical_q` writes
    it but with values as given: one space around operators whatever the tree's whitespace.

    >>> render_lucene(parse_lucene("symbol:cdk2   AND  taxid:9606"))
    'symbol:cdk2 AND taxid:9606'
    """
    return _render(tree, load_fields(), lower=False)


def _field_name(name: str, fields: FieldSchema) -> str:
    if fields.is_path(name) or name in ("_exists_", "_missing_"):
        return name
    if name == "GO":
        return "go"
    target = QUERY_PREFIXES.get(name.lower())
    if target and len(target) == 1 and target[0].lower() == name.lower():
        return target[0]
    return name


def _plain(number) -> str:
    """A boost or fuzziness as written in q: luqum keeps them as normalized Decimals, which
    print ``20`` as ``2E+1``."""
    return format(number, "f") if isinstance(number, Decimal) else str(number)


def _render(node, fields: FieldSchema, lower: bool, relax: tuple[str, ...] = ()) -> str:
    """The text of a luqum tree, values lower-cased when ``lower``; ``relax``: field names whose
    terms are written as plain words (``symbol:x`` → ``x``)."""
    from luqum import tree as t

    def r(child, lower=lower):
        return _render(child, fields, lower, relax)

    if isinstance(node, t.SearchField):
        if node.name.lower() in relax:
            return r(node.expr)
        keep = node.name in ("_exists_", "_missing_")
        return f"{_field_name(node.name, fields)}:{r(node.expr, lower and not keep)}"
    if isinstance(node, (t.Group, t.FieldGroup)):
        return f"({r(node.expr)})"
    joiners = {t.AndOperation: " AND ", t.OrOperation: " OR ", t.UnknownOperation: " "}
    if type(node) in joiners:
        return joiners[type(node)].join(r(c) for c in node.children)
    prefixes = {t.Not: "NOT ", t.Prohibit: "-", t.Plus: "+"}
    if type(node) in prefixes:
        return f"{prefixes[type(node)]}{r(node.a)}"
    if isinstance(node, t.Range):
        low = "[" if node.include_low else "{"
        high = "]" if node.include_high else "}"
        return f"{low}{r(node.low)} TO {r(node.high)}{high}"
    if isinstance(node, t.From):
        return f">{'=' if node.include else ''}{r(node.a)}"
    if isinstance(node, t.To):
        return f"<{'=' if node.include else ''}{r(node.a)}"
    if isinstance(node, (t.Fuzzy, t.Proximity)):
        return f"{r(node.term)}~{_plain(node.degree) if node.degree is not None else ''}"
    if isinstance(node, t.Boost):
        return f"{r(node.expr)}^{_plain(node.force)}"
    if isinstance(node, t.Regex):
        return node.value
    if isinstance(node, (t.Word, t.Phrase)):
        return node.value.lower() if lower else node.value
    return str(node).strip()
