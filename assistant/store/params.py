"""Parameters of the /v3 query and gene endpoints, parsed and checked like MyGene.info does.

Both the HTTP service (strings from a URL or a form) and in-process callers (Python values) go
through :func:`parse_params`; a bad value raises :class:`QueryError` with MyGene's wording.

>>> p = parse_params({"species": "human,10090", "size": "5", "fields": "symbol,go.BP"})
>>> p.species, p.size, p.fields
([9606, 10090], 5, ['symbol', 'go.BP'])
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from ..errors import QueryError
from ..schema import load_api

TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off", ""}


def split_terms(value) -> list[str]:
    """A comma list (quotes allowed, as biothings-client sends them) or a list → clean strings.

    >>> split_terms('"CDK2","BRCA1", tp53')
    ['CDK2', 'BRCA1', 'tp53']
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        text = str(value)
        if "\n" in text and "," not in text:
            items = text.splitlines()
        else:
            try:
                items = next(csv.reader([text], skipinitialspace=True)) if text.strip() else []
            except csv.Error:
                items = text.split(",")
    return [i.strip().strip('"').strip() for i in items if i and i.strip().strip('"').strip()]


def _int(name: str, value, lo: int, hi: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        raise QueryError(f"{name} must be an integer, got {str(value)[:40]!r}") from None
    if n < lo or n > hi:
        raise QueryError(f"{name} must be between {lo} and {hi}, got {n}")
    return n


def _bool(name: str, value) -> bool:
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise QueryError(f"{name} must be true or false, got {str(value)[:40]!r}")


def parse_species(value, name: str = "species") -> list[int] | None:
    """Species names/taxids → taxids; ``all`` (or nothing) → None (no filter)."""
    items = split_terms(value)
    if not items or any(i.lower() == "all" for i in items):
        return None
    api = load_api()
    taxids, bad = [], []
    for item in items:
        taxid = api.taxid(item)
        if taxid is None:
            bad.append(item)
        elif taxid not in taxids:
            taxids.append(taxid)
    if bad:
        raise QueryError(
            f"cannot map some species to taxids: {', '.join(bad[:5])}. Use common names "
            f"({', '.join(api.species)}), numeric taxids or all"
        )
    return taxids


@dataclass
class Params:
    """Parsed query parameters (defaults as on mygene.info)."""

    fields: list[str] | None = None  # None → default fields; ["all"] → everything
    species: list[int] | None = None
    size: int = 10
    from_: int = 0
    sort: list[str] = field(default_factory=list)
    facets: list[str] = field(default_factory=list)
    facet_size: int = 10
    species_facet_filter: list[int] | None = None
    entrezonly: bool = False
    ensemblonly: bool = False
    dotfield: bool = False
    fetch_all: bool = False
    scroll_id: str | None = None
    exists: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)


def parse_params(raw: dict) -> Params:
    """Check and convert raw parameters; unknown names are ignored as mygene.info does."""
    api = load_api()
    lim = api.limits
    p = Params()
    for key, value in raw.items():
        if value is None:
            continue
        name = api.canonical_param(key)
        if name == "fields":
            items = split_terms(value)
            p.fields = ["all"] if any(i == "all" for i in items) else (items or None)
        elif name == "species":
            p.species = parse_species(value)
        elif name == "species_facet_filter":
            p.species_facet_filter = parse_species(value, name)
        elif name == "size":
            p.size = _int("size", value, 0, lim["max_size"])
        elif name == "from":
            p.from_ = _int("from", value, 0, lim["max_from"])
        elif name == "facet_size":
            p.facet_size = _int("facet_size", value, 0, lim["max_facet_size"])
        elif name in ("sort", "facets", "exists", "missing", "scopes"):
            setattr(p, name, split_terms(value))
        elif name in ("entrezonly", "ensemblonly", "dotfield", "fetch_all"):
            setattr(p, name, _bool(name, value))
        elif name == "scroll_id":
            p.scroll_id = str(value)
    return p
