"""What every rule shares: the :class:`Fix` it reports, the :class:`Context` it may ask, and
small helpers that rebuild a query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..query import INTERVAL_RE, Query, parse_lucene

if TYPE_CHECKING:
    from ..backends import Result


@dataclass(frozen=True)
class Fix:
    """One repair: ``rule`` (``species``, ``interval``, ``fields``, …) and ``note`` (said
    plainly, for the trace and the answer)."""

    rule: str
    note: str


@dataclass
class Critique:
    """The repaired ``query``, the :class:`Fix` list (empty: the query agrees) and
    ``missing``: the question's gene terms the query does not search at all — no rule can
    repair that, so the pipeline sends the query back to the model once with a note."""

    query: Query
    fixes: list[Fix] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.fixes)


Probe = Callable[[Query], "Result | None"]
"""Runs a query on the data (the pipeline's backend): its result, or None when it fails."""


@dataclass(frozen=True)
class Context:
    """What a rule may ask of the data beyond the question and the query, through ``probe``
    (None: no data; every question then gets None, and a rule that needs the answer stays
    out). Each probe is one query of the backend the answer runs on."""

    probe: Probe | None = None

    def total(self, q: str, species: str | None = None) -> int | None:
        """How many genes (of ``species``) ``q`` finds; None when there is no data."""
        result = self._run(q, species, size="0")
        return None if result is None else result.total

    def first(self, q: str, species: str | None = None, fields: str = "") -> dict | None:
        """The top hit of ``q`` (of ``species``) with ``fields``; None when none or no data."""
        result = self._run(q, species, size="1", **({"fields": fields} if fields else {}))
        return result.hits[0] if result is not None and result.hits else None

    def count_symbols(self, prefix: str, species: str | None) -> int | None:
        """How many genes have a symbol starting with ``prefix`` ("the HOX genes")."""
        return self.total(f"symbol:{prefix.lower()}*", species)

    def is_symbol(self, term: str, species: str | None) -> bool | None:
        """Whether ``term`` is a gene's official symbol (None: not known)."""
        n = self.total(f"symbol:{term.lower()}", species)
        return None if n is None else n > 0

    def is_alias(self, term: str, species: str | None) -> bool | None:
        """Whether ``term`` is an alias of a gene (None: not known)."""
        n = self.total(f"alias:{term.lower()}", species)
        return None if n is None else n > 0

    def _run(self, q: str, species: str | None, **params: str) -> Result | None:
        if self.probe is None:
            return None
        if species:
            params["species"] = species
        return self.probe(Query("query", q=q, params=params))


def _with(query: Query, **params: str | None) -> Query:
    new = dict(query.params)
    for k, v in params.items():
        if v is None:
            new.pop(k, None)
        else:
            new[k] = v
    return replace(query, params=new)


def _tree(query: Query):
    q = (query.q or "").strip()
    if query.endpoint != "query" or query.method != "GET" or not q or INTERVAL_RE.match(q):
        return None
    return parse_lucene(q)


def _set_child(node, i: int, value) -> None:
    children = list(node.children)
    children[i] = value
    node.children = children


Rule = Callable[[str, Query, "Context"], "tuple[Query, str] | None"]
