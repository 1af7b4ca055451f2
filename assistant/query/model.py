"""The structured query: :class:`Query`, its parameters and how it is written out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlencode

Endpoint = Literal["query", "gene"]
Method = Literal["GET", "POST"]

SET_PARAMS = ("fields", "species", "species_facet_filter", "scopes", "facets", "exists", "missing")
"""List parameters whose order does not matter (sorted in the canonical form)."""

IGNORED_PARAMS = ("email", "callback")
"""Parameters the service accepts and ignores; dropped from the canonical form."""

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

        >>> from assistant.query import parse_query
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

        >>> from assistant.query import parse_query
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

        >>> from assistant.query import parse_query
        >>> parse_query("/v3/gene/1017?fields=symbol").to_request()
        ('GET', '/gene/1017', {'fields': 'symbol'})
        """
        return self.method, self.path(prefix=""), dict(self.items())

    def to_url(self, base_url: str = "https://mygene.info/v3") -> str:
        """A clickable URL (percent-encoded). POST queries put their form in the query string,
        which MyGene also accepts, so the link still shows the request.

        >>> from assistant.query import parse_query
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
