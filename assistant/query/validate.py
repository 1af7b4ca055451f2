"""Check a :class:`Query` against the API description and the field schema; say what is wrong."""

from __future__ import annotations

import re

from ..errors import QueryError
from ..schema import (
    QUERY_PREFIXES,
    SPECIAL_FIELDS,
    ApiSpec,
    FieldSchema,
    load_api,
    load_fields,
    suggest,
)
from .lucene import INTERVAL_RE, parse_lucene
from .model import _FALSE, _TRUE, MAX_DIGITS, Query

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

    >>> from assistant.query import parse_query
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


def _did_you_mean(names: list[str]) -> str:
    if not names:
        return ""
    return " — did you mean " + " or ".join(repr(n) for n in names) + "?"
