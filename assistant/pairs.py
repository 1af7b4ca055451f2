"""Question → query training pairs: the :class:`Pair` record, its structural signature, a split
without leakage, and the files in ``data/pairs/`` (JSONL per split, a ``datasets`` folder,
stats.json).

One pair per JSON line::

    {"id": "syn-000123", "question": "what's the entrez id of human CDK2?",
     "query": "/v3/query?q=symbol:cdk2&fields=entrezgene&species=human",
     "intent": "id_conversion", "signature": "GET /query | q=symbol:<symbol> | ...",
     "style": "terse", "source": "synthetic", "split": "train"}

``query`` is the canonical form (:func:`assistant.query.canonical`). The ``signature`` says what
shape the query has without the gene it is about, so that "the Entrez id of human CDK2" and "the
Entrez id of human BRCA1" share one signature and :func:`split_pairs` keeps them in one split:

>>> from assistant.query import parse_query
>>> signature(parse_query("/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"))
'GET /query | q=symbol:<symbol> | fields=entrezgene | species=human'
>>> signature(parse_query("/v3/query?q=symbol:BRCA1&species=9606&fields=entrezgene"))
'GET /query | q=symbol:<symbol> | fields=entrezgene | species=human'
>>> signature(parse_query("/v3/query?q=chr1:1000000-2000000&species=mouse,human&size=0"))
'GET /query | q=<interval> | size=0 | species=human,mouse'

The test split is never used for training or for few-shot retrieval: fine-tuning reads
``train`` (and ``validation`` for early stopping), :mod:`assistant.retrieval` indexes
``train.jsonl`` only.
"""

from __future__ import annotations

import json
import random
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError, QueryError
from .query import INTERVAL_RE, Query, canonical_query, parse_lucene, parse_query
from .schema import load_api

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = {"train": 0.9, "validation": 0.05, "test": 0.05}
SOURCES = ("synthetic", "log", "docs", "correction")
HF_DIR = "hf"
STATS_FILE = "stats.json"

# --- the record ------------------------------------------------------------------------------


@dataclass
class Pair:
    """One question with the canonical query that answers it.

    Keys beyond the shared format (e.g. a RAFT ``context``) ride along in ``extra`` and are
    written back by :meth:`to_dict`.

    >>> p = Pair.from_dict({"question": "Entrez id of CDK2?", "query": "/v3/query?q=symbol:cdk2"})
    >>> p.source, p.split, p.to_dict()["query"]
    ('synthetic', 'train', '/v3/query?q=symbol:cdk2')
    """

    question: str
    query: str
    id: str = ""
    intent: str = ""
    signature: str = ""
    style: str = ""
    source: str = "synthetic"
    split: str = "train"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Pair:
        """A pair from a JSON object; ``question`` and ``query`` are required."""
        if not isinstance(row, dict) or "question" not in row or "query" not in row:
            raise ConfigError(
                f"not a training pair: {str(row)[:120]!r} — each line needs question and query"
            )
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: ("" if v is None else str(v)) for k, v in row.items() if k in names}
        extra = {k: v for k, v in row.items() if k not in names and k != "extra"}
        if isinstance(row.get("extra"), dict):
            extra.update(row["extra"])
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the pair (core keys first, then ``extra``)."""
        row = asdict(self)
        extra = row.pop("extra")
        first = ("id", "question", "query", "intent", "signature", "style", "source", "split")
        return {**{k: row[k] for k in first}, **extra}

    def parsed(self) -> Query:
        """The query as a :class:`Query`."""
        return parse_query(self.query)


# --- the signature -----------------------------------------------------------------------------

_KIND_PATTERNS: list[tuple[str, re.Pattern]] = [
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in [
        ("ensembl_gene", r"ENS[A-Z]*G\d{6,}(\.\d+)?"),
        ("ensembl_transcript", r"ENS[A-Z]*T\d{6,}(\.\d+)?"),
        ("ensembl_protein", r"ENS[A-Z]*P\d{6,}(\.\d+)?"),
        ("go_id", r"GO:\d{7}"),
        ("hgnc_id", r"HGNC:\d+"),
        ("mgi_id", r"MGI:\d+"),
        ("rgd_id", r"RGD:\d+"),
        ("refseq", r"[NXWY][MRPC]_\d+(\.\d+)?"),
        ("reactome_id", r"R-[A-Z]{3}-\d+"),
        ("wikipathways_id", r"WP\d+"),
        ("kegg_id", r"[a-z]{3}\d{5}"),
        ("flybase_id", r"FBgn\d+"),
        ("wormbase_id", r"WBGene\d+"),
        ("zfin_id", r"ZDB-GENE-[\d-]+"),
        ("pfam_id", r"PF\d{5}"),
        ("interpro_id", r"IPR\d{6}"),
        ("tair_id", r"AT[1-5CM]G\d{5}"),
        (
            "uniprot",
            r"[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2}",
        ),
        ("number", r"\d+"),
    ]
]

WEAK_KINDS = frozenset({"uniprot", "kegg_id", "number"})
"""Id kinds whose pattern a gene symbol can also have (``A2M``, ``1060P11.3``): inside a symbol
field they read as ``symbol``."""

SYMBOL_FIELDS = frozenset({"symbol", "alias", "other_names", "_id"})
"""Fields whose values read as one gene name (``<symbol>``) whatever they look like."""

TEXT_FIELDS = frozenset(
    {"name", "summary", "other_names", "go.BP.term", "go.MF.term", "go.CC.term"}
)
"""Full-text fields: a bare value in them is a ``word``."""


def value_kind(value: str, field_name: str | None = None) -> str:
    """The kind of one query value: an id kind, ``number``, ``wildcard``, ``symbol``, ``term``
    (a keyword value such as ``protein-coding``) or ``word`` (free text).

    Decided by the value's pattern first, then by the field it sits in (canonical values are
    lowercase, so ``symbol:egfr`` and ``symbol:cdk2`` are both ``symbol``).

    >>> value_kind("ENSG00000123374"), value_kind("P24941"), value_kind("1017")
    ('ensembl_gene', 'uniprot', 'number')
    >>> value_kind("cdk*"), value_kind("egfr", "symbol"), value_kind("kinase")
    ('wildcard', 'symbol', 'word')
    >>> value_kind("protein-coding", "type_of_gene"), value_kind("a2m", "symbol")
    ('term', 'symbol')
    """
    value = value.strip().strip('"')
    if "*" in value or "?" in value:
        return "wildcard"
    symbolic = field_name in SYMBOL_FIELDS
    for kind, pattern in _KIND_PATTERNS:
        if pattern.fullmatch(value) and not (symbolic and kind in WEAK_KINDS):
            return kind
    if symbolic:
        return "symbol"
    if field_name is None or field_name in TEXT_FIELDS or field_name.endswith(".name"):
        return "word"
    return "term"


def _shape(node, field_name: str | None = None) -> str:
    """A luqum tree rendered with values replaced by ``<kind>``."""
    from luqum import tree as t

    if isinstance(node, t.SearchField):
        if node.name in ("_exists_", "_missing_"):
            return f"{node.name}:{str(node.expr).strip()}"
        return f"{node.name}:{_shape(node.expr, node.name)}"
    if isinstance(node, (t.Group, t.FieldGroup)):
        return f"({_shape(node.expr, field_name)})"
    if isinstance(node, (t.AndOperation, t.OrOperation)):
        op = " AND " if isinstance(node, t.AndOperation) else " OR "
        return op.join(_shape(c, field_name) for c in node.children)
    if isinstance(node, t.UnknownOperation):
        parts = [_shape(c, field_name) for c in node.children]
        if len(set(parts)) == 1 and parts[0].startswith("<"):
            return parts[0].rstrip(">").rstrip("+") + "+>"  # "tumor suppressor" → <word+>
        return " ".join(parts)
    if isinstance(node, t.Not):
        return f"NOT {_shape(node.a, field_name)}"
    if isinstance(node, t.Prohibit):
        return f"-{_shape(node.a, field_name)}"
    if isinstance(node, t.Plus):
        return f"+{_shape(node.a, field_name)}"
    if isinstance(node, t.Range):
        return "<range>"
    if isinstance(node, (t.From, t.To)):
        return "<bound>"
    if isinstance(node, (t.Fuzzy, t.Proximity)):
        return f"{_shape(node.term, field_name)}~"
    if isinstance(node, t.Boost):
        return f"{_shape(node.expr, field_name)}^"
    if isinstance(node, t.Regex):
        return "<regex>"
    if isinstance(node, t.Phrase):
        kind = value_kind(node.value.strip('"'), None)
        return f"<{kind if kind not in ('word',) else 'phrase'}>"
    if isinstance(node, t.Word):
        if node.value == "*":
            return "*"
        return f"<{value_kind(node.value, field_name)}>"
    return f"<{type(node).__name__.lower()}>"


def q_shape(q: str) -> str:
    """The structure of a GET ``q``: fielded names, operators and value kinds.

    >>> q_shape('symbol:CDK2 AND (go.BP.id:"GO:0006915" OR "tumor suppressor")')
    'symbol:<symbol> AND (go.BP.id:<go_id> OR <phrase>)'
    >>> q_shape("tumor suppressor protein")
    '<word+>'
    >>> q_shape("chrX:151,073,054-151,383,976"), q_shape("hg19.chr1:1-2")
    ('<interval>', 'hg19.<interval>')
    """
    q = " ".join(q.split())
    match = INTERVAL_RE.match(q)
    if match:
        return (f"{match.group('assembly').lower()}." if match.group("assembly") else "") + (
            "<interval>"
        )
    tree = parse_lucene(q)
    if tree is None:
        return "<unparsed>"
    return _shape(tree)


def _terms_shape(value: str, scopes: str | None = None) -> str:
    """POST terms as the set of their kinds: ``CDK2,BRCA1`` → ``<symbol+>``."""
    scope_fields = [s.strip() for s in (scopes or "").split(",") if s.strip()]
    field_name = scope_fields[0] if len(scope_fields) == 1 else None
    kinds = sorted({value_kind(t, field_name) for t in value.split(",") if t.strip()})
    return ",".join(f"<{k}+>" for k in kinds)


def signature(query: Query) -> str:
    """The structural signature of a query (computed on its canonical form).

    Parts, joined by `` | ``: method and endpoint; the shape of ``q`` (:func:`q_shape`), of the
    POST terms or of the gene id; then every parameter: ``fields``, ``species`` (a sorted list
    of canonical species names), ``scopes``, ``facets`` and ``sort`` by their values; ``size``
    as ``0`` (a count) or ``n``; any other parameter by name only.

    >>> signature(parse_query("POST /v3/query q=CDK2,BRCA1,TP53&scopes=symbol&fields=name"))
    'POST /query | terms=<symbol+> | fields=name | scopes=symbol'
    >>> signature(parse_query("/v3/gene/1017?fields=go"))
    'GET /gene | id=<number> | fields=go'
    >>> signature(parse_query("/v3/query?q=type_of_gene:ncrna&species=9606,10090&facets=taxid&size=0"))
    'GET /query | q=type_of_gene:<term> | facets=taxid | size=0 | species=human,mouse'
    """
    query = canonical_query(query)
    parts = [f"{query.method} /{query.endpoint}"]
    params = dict(query.params)
    if query.endpoint == "query" and query.method == "GET" and query.q is not None:
        parts.append(f"q={q_shape(query.q)}")
    elif query.endpoint == "query" and query.q is not None:
        parts.append(f"terms={_terms_shape(query.q, params.get('scopes'))}")
    elif query.endpoint == "gene" and query.method == "GET":
        parts.append(f"id=<{value_kind(query.gene_id or '', None)}>")
    if "ids" in params:
        parts.append(f"ids={_terms_shape(params.pop('ids'))}")
    for name in sorted(params):
        value = params[name]
        if name in ("fields", "species", "scopes", "facets", "sort", "exists", "missing"):
            parts.append(f"{name}={value}")
        elif name == "size":
            parts.append(f"size={'0' if value.strip() == '0' else 'n'}")
        else:
            parts.append(name)
    return " | ".join(parts)


def endpoint_of(query: Query) -> str:
    """``GET /v3/query``, ``POST /v3/query``, ``GET /v3/gene`` or ``POST /v3/gene``."""
    return f"{query.method} /v3/{query.endpoint}"


def species_of(query: Query) -> list[str]:
    """The canonical species of a query's ``species`` parameter (``["none"]`` without one)."""
    value = canonical_query(query).params.get("species")
    return value.split(",") if value else ["none"]


# --- the split --------------------------------------------------------------------------------


class _Groups:
    """Union-find over pair indexes."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _keys(pair: Pair) -> tuple[str, str]:
    """The canonical query and the signature of a pair (computed when missing)."""
    try:
        query = parse_query(pair.query)
        canon = canonical_query(query).to_text()
        sig = pair.signature or signature(query)
    except QueryError:
        canon, sig = pair.query, pair.signature or f"<unparsed> {pair.query}"
    return canon, sig


def _intent(pair: Pair) -> str:
    return pair.intent


def _species(pair: Pair) -> str:
    match = re.search(r"[?&]species=([^&]+)", pair.query)
    return match.group(1) if match else "none"


def split_pairs(
    pairs: Iterable[Pair], fractions: dict[str, float] | None = None, seed: int = 0
) -> dict[str, list[Pair]]:
    """Split pairs so that no canonical query and no signature falls in two splits.

    Pairs sharing a query or a signature form one group; groups are shuffled (``seed``) and
    each goes to the split furthest below its share of the group's intent and (less strongly)
    species, so every split sees every intent the group sizes allow, never past a split's
    target size; groups too big for
    any share go to ``train`` (or the first split named), and splits left short are topped up
    with the smallest remaining groups. A group holding a pair with ``extra["pin"]`` set to a split name goes
    to that split (pairs a prompt already shows are pinned to ``train``). Each pair's ``split``
    is set.

    >>> ps = [Pair(f"Entrez id of {s}?", f"/v3/query?q=symbol:{s}&fields=entrezgene") for s in "AB"]
    >>> ps += [Pair("Where is CDK2?", "/v3/query?q=symbol:CDK2&fields=genomic_pos")]
    >>> {k: len(v) for k, v in split_pairs(ps, {"train": 0.6, "test": 0.4}).items()}
    {'train': 2, 'test': 1}
    """
    pairs = list(pairs)
    fractions = dict(fractions or DEFAULT_FRACTIONS)
    if not fractions or any(f < 0 for f in fractions.values()) or sum(fractions.values()) <= 0:
        raise ConfigError(f"split fractions must be non-negative and sum above 0, got {fractions}")
    total_frac = sum(fractions.values())
    targets = {k: len(pairs) * f / total_frac for k, f in fractions.items()}
    fallback = "train" if "train" in fractions else next(iter(fractions))

    groups = _Groups(len(pairs))
    first: dict[str, int] = {}
    for i, p in enumerate(pairs):
        for key in _keys(p):
            if key in first:
                groups.union(i, first[key])
            else:
                first[key] = i
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(pairs)):
        members[groups.find(i)].append(i)

    rng = random.Random(seed)
    groups = [members[root] for root in sorted(members)]
    rng.shuffle(groups)
    # Two axes kept in proportion: the intent (a hard cap per split) and the species (a tie-break).
    keys = [
        tuple(Counter(k(pairs[i]) for i in g).most_common(1)[0][0] for k in (_intent, _species))
        for g in groups
    ]
    totals = [Counter(), Counter()]
    for g, key in zip(groups, keys, strict=True):
        for axis in (0, 1):
            totals[axis][key[axis]] += len(g)
    share = {k: f / total_frac for k, f in fractions.items()}
    used = {k: [Counter(), Counter()] for k in fractions}
    where: list[str | None] = [None] * len(groups)

    def move(gi: int, split: str, sign: int = 1) -> None:
        where[gi] = split if sign > 0 else None
        for axis in (0, 1):
            used[split][axis][keys[gi][axis]] += sign * len(groups[gi])

    def deficit(split: str, gi: int, axis: int) -> float:
        want = totals[axis][keys[gi][axis]] * share[split]
        return (want - used[split][axis][keys[gi][axis]]) / max(want, 1e-9)

    def score(split: str, gi: int) -> float:
        """How far below its shares of this group's intent and species a split is, or -inf
        when the group would overfill the split or its intent share (by more than a quarter)."""
        size = len(groups[gi])
        if split != fallback:
            want = totals[0][keys[gi][0]] * share[split]
            if used[split][0][keys[gi][0]] + size > want + max(1.0, 0.25 * want):
                return float("-inf")
            if sum(used[split][0].values()) + size > targets[split]:
                return float("-inf")
        return deficit(split, gi, 0) + 0.5 * deficit(split, gi, 1)

    def pinned(gi: int) -> str | None:
        pins = [pairs[i].extra.get("pin") for i in groups[gi]]
        return next((p for p in pins if p in fractions), None)

    for gi in range(len(groups)):  # pinned groups first
        if pinned(gi):
            move(gi, pinned(gi))
    others = [k for k in fractions if k != fallback]
    for gi in range(len(groups)):
        if where[gi] is None:
            move(gi, max([fallback, *others], key=lambda k: score(k, gi)))
    for split in others:  # top up splits left short by groups too big for their intent share
        for gi in sorted(range(len(groups)), key=lambda i: len(groups[i])):
            short = targets[split] - sum(used[split][0].values())
            if short < 1:
                break
            if where[gi] == fallback and len(groups[gi]) <= short and not pinned(gi):
                move(gi, fallback, -1)
                move(gi, split)

    for gi, g in enumerate(groups):
        for i in g:
            pairs[i].split = where[gi]
    out: dict[str, list[Pair]] = {k: [] for k in fractions}
    for p in pairs:  # keep the input order within each split
        out[p.split].append(p)
    return out


def leaks(splits: dict[str, list[Pair]]) -> dict[str, list[str]]:
    """Canonical queries and signatures found in more than one split (empty lists = no leak)."""
    seen: dict[str, dict[str, set[str]]] = {
        "query": defaultdict(set),
        "signature": defaultdict(set),
    }
    for name, pairs in splits.items():
        for p in pairs:
            canon, sig = _keys(p)
            seen["query"][canon].add(name)
            seen["signature"][sig].add(name)
    return {kind: sorted(k for k, s in d.items() if len(s) > 1) for kind, d in seen.items()}


# --- files -------------------------------------------------------------------------------------


def _lengths(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "mean": 0.0, "median": 0.0, "max": 0}
    return {
        "min": min(values),
        "mean": round(statistics.fmean(values), 1),
        "median": float(statistics.median(values)),
        "max": max(values),
    }


def _describe(pairs: list[Pair]) -> dict[str, Any]:
    intent, endpoint, species, style, source = Counter(), Counter(), Counter(), Counter(), Counter()
    q_chars, query_chars, q_words = [], [], []
    for p in pairs:
        intent[p.intent or "unknown"] += 1
        style[p.style or "unknown"] += 1
        source[p.source or "unknown"] += 1
        try:
            query = parse_query(p.query)
            endpoint[endpoint_of(query)] += 1
            species.update(species_of(query))
        except QueryError:
            endpoint["unparsed"] += 1
        q_chars.append(len(p.question))
        q_words.append(len(p.question.split()))
        query_chars.append(len(p.query))
    top = lambda c: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))  # noqa: E731
    return {
        "count": len(pairs),
        "signatures": len({p.signature for p in pairs}),
        "queries": len({p.query for p in pairs}),
        "intent": top(intent),
        "endpoint": top(endpoint),
        "species": top(species),
        "style": top(style),
        "source": top(source),
        "question_chars": _lengths(q_chars),
        "question_words": _lengths(q_words),
        "query_chars": _lengths(query_chars),
    }


def pair_stats(splits: dict[str, list[Pair]]) -> dict[str, Any]:
    """Counts per split, and per split and overall: intent, endpoint, species, style, source,
    question and query lengths; plus the leakage check (``leaks``: shared queries/signatures)."""
    everything = [p for pairs in splits.values() for p in pairs]
    found = leaks(splits)
    return {
        "total": len(everything),
        "splits": {name: len(pairs) for name, pairs in splits.items()},
        "leaks": {kind: len(items) for kind, items in found.items()},
        "all": _describe(everything),
        "by_split": {name: _describe(pairs) for name, pairs in splits.items()},
    }


HF_COLUMNS = ("id", "question", "query", "intent", "signature", "style", "source", "split")


def save_pairs(
    splits: dict[str, list[Pair]],
    folder: Path | str,
    hf: bool = True,
    extra_stats: dict | None = None,
) -> dict[str, Any]:
    """Write ``<split>.jsonl`` per split, the ``hf/`` DatasetDict (``save_to_disk``, core
    columns only) and ``stats.json``; return the stats."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        tmp = folder / f"{name}.jsonl.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            for p in pairs:
                p.split = name
                fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        tmp.replace(folder / f"{name}.jsonl")
    if hf:
        import datasets
        from datasets import Dataset, DatasetDict

        bars = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        DatasetDict(
            {
                name: Dataset.from_dict(
                    {col: [str(getattr(p, col)) for p in pairs] for col in HF_COLUMNS}
                )
                for name, pairs in splits.items()
            }
        ).save_to_disk(str(folder / HF_DIR))
        if bars:
            datasets.enable_progress_bars()
    stats = pair_stats(splits)
    if extra_stats:
        stats.update(extra_stats)
    (folder / STATS_FILE).write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def load_pairs(folder: Path | str | None = None, split: str = "train") -> list[Pair]:
    """The pairs of one split from ``<folder>/<split>.jsonl`` (default: the ``pairs_dir`` setting).

    >>> load_pairs(split="test")[0].split  # doctest: +SKIP
    'test'
    """
    if folder is None:
        from .config import Settings

        folder = Settings().pairs_dir
    path = Path(folder) / f"{split}.jsonl"
    if not path.is_file():
        raise ConfigError(
            f"no {split} pairs at {path} — run `python -m assistant pairs synth` "
            "(or set QA_PAIRS_DIR)"
        )
    return read_pairs_file(path)


def read_pairs_file(path: Path | str, limit: int | None = None) -> list[Pair]:
    """The pairs in any JSONL file of ``{"question": ..., "query": ...}`` objects (other keys ride
    along), the first ``limit`` only if given. A pair without an id gets ``<file stem>-<line>``.

    A line that is not JSON, or not an object with non-empty ``question`` and ``query`` strings,
    raises :class:`ConfigError` naming the file and line; blank lines are skipped.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read pairs from {path}: {exc.strerror}") from None
    out: list[Pair] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}:{n} is not valid JSON ({exc.msg}); fix or drop that line"
            ) from None
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) and row[k].strip() for k in ("question", "query")
        ):
            raise ConfigError(
                f'{path}:{n} lacks a non-empty "question" or "query" string; every line must be '
                'like {"question": "Entrez id of CDK2?", "query": "/v3/query?q=symbol:CDK2"}'
            )
        pair = Pair.from_dict(row)
        pair.id = pair.id or f"{path.stem}-{n:05d}"
        out.append(pair)
        if limit and len(out) >= limit:
            break
    return out


def known_species() -> list[str]:
    """The species names the API description knows (``human``, ``mouse``, ...)."""
    return list(load_api().species)
