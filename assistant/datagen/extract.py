"""Turn log records into normalized, validated MyGene queries (or a counted rejection).

Kept: ``GET``/``POST /v3/query`` and ``GET /v3/gene/{id}`` (and ``POST /v3/gene``) requests that
parse (:func:`assistant.query.parse_query`), whose parameters reduce to the ones the API knows
for that endpoint (:func:`assistant.backends.safe_query`) and that validate against the field
schema. Dropped, each under its own reason: other APIs, non-API paths (``/favicon.ico``,
``/v3/metadata``), error statuses, bots, ``format=html`` pages, POSTs logged without their body,
unparseable or invalid queries, and queries too long to make a training example.

Each kept query is keyed by its canonical text (:func:`assistant.query.canonical`), so the
same request written ten ways counts once, and carries its structural signature
(:func:`assistant.pairs.signature`: species as a sorted list of canonical names, ``q`` values
by kind) and the entities an instruction for it must name (:func:`entities`).

>>> from assistant.datagen.logs import LogRecord
>>> from assistant.datagen.report import Report
>>> r = Report()
>>> c = extract(LogRecord("jsonl", "x:1", "/v3/query?q=symbol:CDK2&species=9606&fields=entrezgene&callback=f"), r)
>>> c.key, c.signature
('/v3/query?q=symbol:cdk2&fields=entrezgene&species=human', 'GET /query | q=symbol:<symbol> | fields=entrezgene | species=human')
>>> [e.label for e in c.entities]
['CDK2', 'human']
>>> extract(LogRecord("combined", "x:2", "/favicon.ico"), r) is None, dict(r.counts["extract"])
(True, {'non_api_path': 1})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import unquote_plus, urlsplit

from ..backends import safe_query
from ..config import Settings
from ..errors import QueryError
from ..pairs import signature
from ..query import INTERVAL_RE, Query, canonical_query, parse_lucene, parse_query, validate
from ..schema import load_api
from .logs import LogRecord
from .report import Report

API_NAMES = {"mygene", "gene", "mygene.info"}
BOT_RE = re.compile(
    r"bot\b|crawler|spider|slurp|bingpreview|facebookexternalhit|semrush|ahrefs|petalbot|"
    r"headlesschrome|python-requests/0|zgrab|masscan|nmap|nikto|sqlmap",
    re.IGNORECASE,
)
"""User agents of crawlers and scanners: their requests follow links, not a person's question."""

API_PATH_RE = re.compile(r"^/v3/(?:query/?|gene(?:/[^/?]*)?/?)$", re.IGNORECASE)
MAX_Q_CHARS = 300
MAX_TERMS = 10
"""Longer ``q`` values and POSTs with more terms or ids make poor training examples."""

SPECIES_WORDS = {
    name: (*words, str(load_api().species[name]))
    for name, words in load_api().species_words.items()
}
"""Words that name each species the API knows (any one of them counts as naming it)."""


@dataclass(frozen=True)
class Entity:
    """Something a query is about that its instruction must name: ``label`` is how the query
    writes it (``CDK2``), ``words`` the lowercase mentions that count (``cdk2``), and ``prefix``
    whether a mention may continue (a wildcard ``cdk*`` is named by ``cdk`` or ``cdk2``)."""

    label: str
    words: tuple[str, ...]
    prefix: bool = False

    def named_in(self, text: str) -> bool:
        """True when ``text`` mentions the entity as a whole word (case-insensitive).

        >>> Entity("CDK2", ("cdk2",)).named_in("Find the Entrez id of CDK2."), Entity("1", ("1",)).named_in("chr12")
        (True, False)
        """
        low = text.lower()
        for word in self.words:
            tail = "" if self.prefix else r"(?![a-z0-9])"
            if re.search(r"(?<![a-z0-9])" + re.escape(word) + tail, low):
                return True
        return False


@dataclass
class Candidate:
    """One distinct query found in the logs.

    ``key`` is the canonical text (the pair's ``query``), ``display`` the query as first seen
    (after dropping unknown parameters; shown to the instruction writer), ``count`` how many
    log records gave it, ``questions`` real questions asked for it (the assistant's log) as
    ``(question, source)`` pairs; ``instruct`` is False for a query kept only for its real
    question (beyond the per-signature cap).
    """

    key: str
    query: Query
    display: str
    signature: str
    entities: list[Entity]
    count: int = 1
    where: str = ""
    formats: set[str] = field(default_factory=set)
    questions: list[tuple[str, str]] = field(default_factory=list)
    instruct: bool = True


def extract(rec: LogRecord, report: Report, settings: Settings | None = None) -> Candidate | None:
    """The candidate query of one record, or None with the reason counted (stage ``extract``)."""
    settings = settings or Settings()
    reason = _precheck(rec)
    if reason:
        report.reject("extract", reason, f"{rec.where}: {rec.text()}")
        return None
    try:
        parsed = parse_query(rec.text())
    except QueryError as exc:
        report.reject("extract", "unparseable", f"{rec.where}: {rec.text()} ({exc})")
        return None
    params = {k: v for k, v in parsed.params.items()}
    fmt = params.pop("format", None)
    if fmt is not None and fmt.strip().lower() != "json":
        if fmt.strip().lower() == "html":
            report.reject("extract", "html_format", f"{rec.where}: {rec.text()}")
            return None
        report.count("extract_params", "dropped format")
    parsed = replace(parsed, params=params)
    if parsed.method == "POST" and parsed.endpoint == "query" and not parsed.q:
        report.reject("extract", "post_without_body", f"{rec.where}: {rec.text()}")
        return None
    if parsed.method == "POST" and parsed.endpoint == "gene" and not parsed.params.get("ids"):
        report.reject("extract", "post_without_body", f"{rec.where}: {rec.text()}")
        return None
    try:
        safe, notes = safe_query(parsed, settings)
    except QueryError as exc:
        report.reject("extract", "invalid_query", f"{rec.where}: {rec.text()} ({exc})")
        return None
    for note in notes:
        report.count("extract_params", re.sub(r" \(.*", "", note))
    errors = validate(safe)
    if errors:
        report.reject("extract", "invalid_query", f"{rec.where}: {rec.text()} ({errors[0]})")
        return None
    if len(safe.q or "") > MAX_Q_CHARS and safe.method == "GET":
        report.reject("extract", "too_long", f"{rec.where}: {rec.text()}")
        return None
    terms = (safe.q or "") if safe.method == "POST" and safe.endpoint == "query" else ""
    terms = terms or safe.params.get("ids", "")
    if len([t for t in terms.split(",") if t.strip()]) > MAX_TERMS:
        report.reject("extract", "too_long", f"{rec.where}: {rec.text()}")
        return None
    canon = canonical_query(safe)
    return Candidate(
        key=canon.to_text(),
        query=canon,
        display=safe.to_text(),
        signature=signature(canon),
        entities=entities(safe),
        where=rec.where,
        formats={rec.fmt},
    )


def _precheck(rec: LogRecord) -> str | None:
    """A reason to drop the record before parsing it, or None."""
    if rec.api and rec.api not in API_NAMES:
        return "other_api"
    if rec.status is not None and not 200 <= rec.status < 400:
        return "http_error_status"
    if rec.agent and BOT_RE.search(rec.agent):
        return "bot_user_agent"
    if rec.method not in ("GET", "POST"):
        return "other_method"
    target = rec.target.strip()
    if not target:
        return "empty_request"
    if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE):
        parts = urlsplit(target)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    if target.startswith("/") or re.match(r"^v\d+/", target):
        path = unquote_plus(target.split("?", 1)[0].split(" ", 1)[0])
        if not path.startswith("/"):
            path = "/" + path
        if not API_PATH_RE.match(path):
            return "non_api_path"
        if re.match(r"^/v3/gene/?$", path, re.IGNORECASE) and rec.method == "GET":
            return "non_api_path"
    return None


# --- entities ----------------------------------------------------------------------------------


def _value_entity(value: str, field_name: str | None) -> Entity | None:
    value = value.strip().strip('"').strip()
    if not value or value == "*" or value.upper() in ("AND", "OR", "NOT"):
        return None
    api = load_api()
    if field_name == "taxid":
        name = api.species_name(int(value)) if value.isdigit() else None
        if name:
            return species_entity(name)
    if "*" in value or "?" in value:
        stem = re.split(r"[*?]", value, maxsplit=1)[0]
        return Entity(value, (stem.lower(),), prefix=True) if stem else None
    words = {value.lower()}
    if ":" in value:  # GO:0004693, HGNC:1771 — the bare number also names it
        words.add(value.split(":", 1)[1].lower())
    if " " in value:  # a phrase is named by its words in order, hyphens or not
        words.add(value.lower().replace("-", " "))
    return Entity(value, tuple(sorted(words)))


def species_entity(name: str) -> Entity:
    """The entity of one species (a common name or a taxid).

    >>> species_entity("human").named_in("in Homo sapiens"), species_entity("9913").named_in("taxid 9913")
    (True, True)
    """
    return Entity(name, SPECIES_WORDS.get(name, (name.lower(),)))


def entities(query: Query) -> list[Entity]:
    """What an instruction for ``query`` must name: the values in ``q`` (symbols, ids, words,
    the bounds of an interval), the POST terms or ids, the gene id and each species.

    >>> [e.label for e in entities(parse_query("/v3/query?q=symbol:CDK2 AND go.BP.id:GO\\\\:0006915&species=human,mouse"))]
    ['CDK2', 'GO:0006915', 'human', 'mouse']
    >>> [e.words for e in entities(parse_query("q=chr1:1,000,000-2,000,000"))]
    [('chr1', 'chromosome 1'), ('1000000', '1,000,000'), ('2000000', '2,000,000')]
    """
    found: list[Entity] = []
    if query.endpoint == "query" and query.method == "GET" and query.q:
        found += _q_entities(query.q)
    elif query.endpoint == "query" and query.q:
        found += [e for t in query.q.split(",") if (e := _value_entity(t, None))]
    if query.endpoint == "gene" and query.gene_id:
        found.append(Entity(query.gene_id, (query.gene_id.lower(),)))
    for t in query.params.get("ids", "").split(","):
        if t.strip():
            found.append(Entity(t.strip(), (t.strip().lower(),)))
    api = load_api()
    for s in query.params.get("species", "").split(","):
        s = s.strip().lower()
        if s and s != "all":
            taxid = api.taxid(s)
            found.append(species_entity(api.species_name(taxid) or s if taxid else s))
    out, seen = [], set()
    for e in found:
        if e.label.lower() not in seen:
            seen.add(e.label.lower())
            out.append(e)
    return out


def _q_entities(q: str) -> list[Entity]:
    match = INTERVAL_RE.match(" ".join(q.split()))
    if match:
        chrom = match.group("chr")
        out = [Entity(f"chr{chrom}", (f"chr{chrom}".lower(), f"chromosome {chrom}".lower()))]
        for k in ("start", "end"):
            n = int(match.group(k).replace(",", ""))
            out.append(Entity(str(n), (str(n), f"{n:,}")))
        return out
    tree = parse_lucene(q)
    if tree is None:
        return []
    out: list[Entity] = []
    _walk(tree, None, out)
    return out


def _walk(node, field_name: str | None, out: list[Entity]) -> None:
    from luqum import tree as t

    if isinstance(node, t.SearchField):
        if node.name in ("_exists_", "_missing_"):
            return
        _walk(node.expr, node.name, out)
        return
    if isinstance(node, t.Range):
        for bound in (node.low, node.high):
            if str(bound).strip() != "*":
                out.append(Entity(str(bound).strip(), (str(bound).strip().lower(),)))
        return
    if isinstance(node, t.Regex):
        return
    if isinstance(node, (t.Word, t.Phrase)):
        value = node.value.replace("\\", "")
        e = _value_entity(value, field_name)
        if e:
            out.append(e)
        return
    for child in node.children:
        _walk(child, field_name, out)
