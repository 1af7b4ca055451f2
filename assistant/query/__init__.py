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

The package: :mod:`.model` (the :class:`Query` and how it is written out), :mod:`.lucene` (the
``q`` parse tree, the interval pattern, the walker and renderer), :mod:`.parse`, :mod:`.validate`
and :mod:`.canonical`; every public name is importable from ``assistant.query``.
"""

from __future__ import annotations

from .canonical import canonical, canonical_q, canonical_query
from .lucene import (
    INTERVAL_RE,
    MAX_DEPTH,
    parse_lucene,
    render_lucene,
    render_tree,
    tree_depth,
    walk,
)
from .model import IGNORED_PARAMS, MAX_DIGITS, SET_PARAMS, Endpoint, Method, Query, _escape  # noqa: F401
from .parse import parse_query
from .validate import check, validate

__all__ = [
    "IGNORED_PARAMS",
    "INTERVAL_RE",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "SET_PARAMS",
    "Endpoint",
    "Method",
    "Query",
    "canonical",
    "canonical_q",
    "canonical_query",
    "check",
    "parse_lucene",
    "parse_query",
    "render_lucene",
    "render_tree",
    "tree_depth",
    "validate",
    "walk",
]
