"""Turn the hits of an executed query into a short answer that never says more than the hits.

:func:`summarize` is deterministic: it guesses what the question asks (:func:`detect_intent`:
an official symbol, aliases, ids, a location, GO terms, pathways, a count, several genes at
once...), picks the gene the answer is about and writes one or two sentences from its fields,
plus a table of the hits with the requested fields. When nothing matched, or the query is
ambiguous (an alias shared by several genes), it names the most likely gene — the store ranks
an official symbol above an alias, the species asked for and human above others, pseudogenes at
half weight, and equal scores by the older (better-studied) Entrez id — and says which other
genes the alias also names.

:func:`ungrounded` is the grounding check: every gene symbol, id and number in an answer must
appear in the hits (or in the query's own terms, or be a count of them). The tests run it on
every answer; the pipeline uses it to drop an LLM summary that invents anything.

>>> from assistant.query import parse_query
>>> from assistant.backends import Result
>>> q = parse_query("/v3/query?q=LMP10")
>>> hits = [{"_id": "5699", "_score": 7.75, "symbol": "PSMB10",
...          "name": "proteasome 20S subunit beta 10", "taxid": 9606, "entrezgene": 5699}]
>>> s = summarize("what is the official symbol of LMP10?", q, Result(q, 1, hits))
>>> s.text
'The official symbol of LMP10 is PSMB10 (proteasome 20S subunit beta 10; human; Entrez gene 5699).'
>>> ungrounded(s.text, Result(q, 1, hits), q)
[]
>>> ungrounded("The official symbol of LMP10 is PSMB9 (Entrez gene 5698).", Result(q, 1, hits), q)
['PSMB9', '5698']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .backends import Result
from .query import INTERVAL_RE, Query
from .schema import load_api

DEFAULT_COLUMNS = ["symbol", "name", "taxid", "entrezgene"]
AMBIGUITY_RATIO = 0.9
"""Hits scoring at least this share of the best score count as equally good matches."""

ID_FIELDS: dict[str, str] = {
    "entrezgene": "Entrez gene",
    "_id": "gene id",
    "ensembl.gene": "Ensembl gene",
    "ensembl.transcript": "Ensembl transcript",
    "ensembl.protein": "Ensembl protein",
    "uniprot": "UniProt",
    "uniprot.Swiss-Prot": "UniProt/Swiss-Prot",
    "uniprot.TrEMBL": "UniProt/TrEMBL",
    "refseq": "RefSeq",
    "refseq.rna": "RefSeq RNA",
    "refseq.protein": "RefSeq protein",
    "refseq.genomic": "RefSeq genomic",
    "HGNC": "HGNC",
    "MIM": "MIM",
    "MGI": "MGI",
    "RGD": "RGD",
    "ZFIN": "ZFIN",
    "FLYBASE": "FlyBase",
    "WormBase": "WormBase",
    "Vega": "Vega",
    "homologene": "HomoloGene",
    "homologene.id": "HomoloGene",
    "pharos.target_id": "Pharos",
    "pdb": "PDB",
    "interpro": "InterPro",
    "pfam": "Pfam",
    "ec": "EC",
    "unigene": "UniGene",
    "locus_tag": "locus tag",
}
"""Identifier fields and how the answer names them."""

GO_NAMES = {"BP": "biological process", "MF": "molecular function", "CC": "cellular component"}
PATHWAY_NAMES = {
    "reactome": "Reactome",
    "wikipathways": "WikiPathways",
    "kegg": "KEGG",
    "biocarta": "BioCarta",
    "pid": "PID",
    "netpath": "NetPath",
    "humancyc": "HumanCyc",
    "smpdb": "SMPDB",
    "pharmgkb": "PharmGKB",
    "mousecyc": "MouseCyc",
    "yeastcyc": "YeastCyc",
}

TEMPLATE_WORDS = {
    "GO", "BP", "MF", "CC", "NCBI", "HGNC", "MIM", "MGI", "RGD", "ZFIN", "EC", "PDB", "KEGG",
    "PID", "SMPDB", "ID", "IDS", "RNA", "DNA", "NOT", "AND", "OR", "OK",
}  # fmt: skip
"""Upper-case words the answers may use without them being in the hits (labels, not data)."""

_TOKEN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.:/\-]*[A-Za-z0-9])?")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")


# --- the result of summarizing --------------------------------------------------------------------


@dataclass
class Summary:
    """The answer to show: ``text`` (one or two sentences), a table and, when the query was
    ambiguous, the candidate genes.

    ``status`` is ``ok``, ``no_hits`` or ``ambiguous``; ``intent`` what the question asked for
    (see :func:`detect_intent`).
    """

    text: str
    status: str
    intent: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def markdown_table(self) -> str:
        """The table as GitHub markdown (empty when there are no rows)."""
        if not self.rows:
            return ""
        esc = [[c.replace("|", "\\|") for c in row] for row in self.rows]
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(row) + " |" for row in esc]
        return "\n".join(lines)


# --- intent --------------------------------------------------------------------------------------

_INTENT_WORDS: list[tuple[str, re.Pattern]] = [
    ("facets", re.compile(r"\b(per|by|breakdown|distribution|each) (species|taxon|type)\b")),
    ("count", re.compile(r"\b(how many|number of|count|(just|only) (the )?(number|count|total))\b")),
    ("symbol", re.compile(r"\b(official |gene |approved )?symbols?\b")),
    ("alias", re.compile(r"\b(alias(es)?|synonyms?|other names?|also (known|called))\b")),
    ("location", re.compile(r"\b(where|chromosome|located|locations?|positions?|coordinates|"
                            r"cytoband|map location|genomic)\b")),
    ("go", re.compile(r"\b(go terms?|gene ontology|biological process(es)?|molecular "
                      r"functions?|cellular components?|go annotations?|compartment)\b")),
    ("pathway", re.compile(r"\bpathways?\b")),
    ("ids", re.compile(r"\b(ids?|identifiers?|accessions?|entrez|ensembl|uniprot|refseq|hgnc|"
                       r"omim|mim|mgi|zfin|flybase|wormbase)\b")),
    ("summary", re.compile(r"\b(what does|function of|summary|describe|role of|what is the "
                           r"function)\b")),
    ("name", re.compile(r"\b(full name|name of|called)\b")),
    ("type", re.compile(r"\b(protein[- ]?coding|coding|pseudo ?genes?|non[- ]?coding|ncrna|"
                        r"lncrna|gene type|type of gene|biotype|kind of gene|rna gene)\b")),
    ("list", re.compile(r"\b(list|(which|what)( \S+){0,2} genes|genes (that|with|in|on|annotated|"
                        r"involved|whose|having|where)|find (all )?genes|all genes)\b")),
]  # fmt: skip


def detect_intent(question: str, query: Query) -> str:
    """What the question asks for, from its words and the query's fields.

    One of ``multi`` (a POST with several terms or ids), ``facets``, ``count``, ``symbol``,
    ``alias``, ``location``, ``go``, ``pathway``, ``ids``, ``summary``, ``name``, ``type``
    (protein-coding or not), ``list`` or ``gene`` (anything else about one gene).

    >>> from assistant.query import parse_query
    >>> detect_intent("what is the official symbol of LMP10?", parse_query("q=LMP10"))
    'symbol'
    >>> detect_intent("Tell me about CDK2", parse_query("q=symbol:CDK2&fields=go.BP"))
    'go'
    """
    if query.method == "POST":
        return "multi"
    if "facets" in query.params:
        return "facets"
    text = " ".join(question.lower().split())
    words = [name for name, pattern in _INTENT_WORDS if pattern.search(text)]
    if _is_interval(query) or ("list" in words and not _is_one_gene_lookup(query)):
        # a region, or "which genes ..." over a set query: the answer is the genes themselves
        # (or their number), whatever else the question mentions (pathway, GO term, ids)
        return "count" if "count" in words else "list"
    if words and words[0] == "ids" and _is_id_search(query):
        words = words[1:] or ["symbol"]
    if words:
        return words[0]
    if query.endpoint == "query" and _is_id_search(query):
        return "ids"
    fields = _requested(query)
    for name, test in (
        ("location", lambda f: f.startswith(("genomic_pos", "map_location", "exons"))),
        ("go", lambda f: f == "go" or f.startswith("go.")),
        ("pathway", lambda f: f == "pathway" or f.startswith("pathway.")),
        ("alias", lambda f: f == "alias"),
        ("summary", lambda f: f == "summary"),
        ("ids", lambda f: f in ID_FIELDS and f != "entrezgene"),
    ):
        if any(test(f) for f in fields):
            return name
    return "gene"


def _requested(query: Query) -> list[str]:
    return query.field_list()


def _is_interval(query: Query) -> bool:
    """``q=chr17:7600000-7700000``: the genes of a genome region."""
    return query.endpoint == "query" and bool(INTERVAL_RE.match((query.q or "").strip()))


def _is_id_search(query: Query) -> bool:
    """``q=ensembl.gene:ENSG...`` / ``q=uniprot:P24941``: the question names an id and asks
    which gene it is."""
    q = (query.q or "").strip()
    if query.endpoint == "gene":
        return True
    if _is_interval(query):
        return False
    head = q.split(":", 1)[0].lower()
    if head.split(".")[0] in SET_FIELDS:
        return False
    return ":" in q and head not in ("symbol", "alias", "name") and " " not in q


SET_FIELDS = (
    "genomic_pos", "genomic_pos_hg19", "chr", "type_of_gene", "taxid", "go", "pathway",
    "interpro", "pfam", "summary", "other_names", "_exists_", "_missing_", "exists", "missing",
)  # fmt: skip
"""Fields whose one term picks a set of genes (a chromosome, a type, a GO term), not one gene."""


def _is_one_gene_lookup(query: Query) -> bool:
    """A query for one named gene: by id, or ``q=symbol:X`` / ``alias:X``."""
    q = (query.q or "").strip()
    if _is_id_search(query):
        return True
    head, _, value = q.rpartition(":")
    return head.lower() in ("symbol", "alias") and bool(re.fullmatch(r"[\w.-]+", value))


# --- values and the table ---------------------------------------------------------------------------


def get_path(doc: Any, path: str) -> Any:
    """The value at a dotted path; lists are walked into (``go.BP.term`` → every term).

    >>> get_path({"go": {"BP": [{"term": "DNA repair"}, {"term": "DNA replication"}]}}, "go.BP.term")
    ['DNA repair', 'DNA replication']
    """
    if path in doc if isinstance(doc, dict) else False:
        return doc[path]
    parts = path.split(".")
    values = [doc]
    for part in parts:
        nxt = []
        for v in values:
            if isinstance(v, list):
                nxt += [x.get(part) for x in v if isinstance(x, dict) and part in x]
            elif isinstance(v, dict) and part in v:
                nxt.append(v[part])
        values = [x for v in nxt for x in (v if isinstance(v, list) else [v])]
        if not values:
            return None
    return values[0] if len(values) == 1 else values


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def format_value(value: Any, limit: int = 160) -> str:
    """A cell of the table: lists joined with ``; ``, GO and pathway entries by their names,
    positions as ``chr12:55966781-55972789 (+)``.

    >>> format_value({"chr": "12", "start": 55966781, "end": 55972789, "strand": 1})
    'chr12:55966781-55972789 (+)'
    """
    if value is None:
        return ""
    if isinstance(value, list):
        items = list(dict.fromkeys(s for s in (format_value(v, limit) for v in value) if s))
        text = "; ".join(items)
    elif isinstance(value, dict):
        text = _format_dict(value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _format_dict(d: dict) -> str:
    if "chr" in d and "start" in d:
        strand = {1: " (+)", -1: " (-)"}.get(d.get("strand"), "")
        return f"chr{d['chr']}:{d['start']}-{d.get('end', '')}{strand}"
    for key in ("term", "name"):
        if d.get(key):
            return f"{d[key]} ({d['id']})" if d.get("id") and d["id"] != d[key] else str(d[key])
    if "id" in d:
        return str(d["id"])
    if set(d) <= {"Swiss-Prot", "TrEMBL"}:
        return format_value([*as_list(d.get("Swiss-Prot")), *as_list(d.get("TrEMBL"))])
    return ", ".join(f"{k}: {format_value(v)}" for k, v in d.items() if v not in (None, "", []))


def columns_for(query: Query) -> list[str]:
    """The table's columns: the requested fields (``all`` or none: symbol, name, taxid,
    entrezgene), after ``query`` for POST queries."""
    fields = [f for f in _requested(query) if f not in ("all", "_score")]
    cols = fields or list(DEFAULT_COLUMNS)
    if "symbol" not in cols and "all" not in _requested(query):
        cols = ["symbol", *cols]
    if query.method == "POST":
        cols = ["query", *[c for c in cols if c != "query"]]
    return cols


def table(hits: list[dict], columns: list[str], max_rows: int = 10) -> list[list[str]]:
    """One row per hit (at most ``max_rows``), one cell per column, as text."""
    return [[format_value(get_path(h, c)) for c in columns] for h in hits[:max_rows]]


# --- summarizing --------------------------------------------------------------------------------------


def species(taxid: Any) -> str:
    """``9606`` → ``human``; unknown taxids → ``taxid 9913``."""
    try:
        tid = int(taxid)
    except (TypeError, ValueError):
        return ""
    return load_api().species_name(tid) or f"taxid {tid}"


def label(hit: dict, details: bool = True) -> str:
    """``PSMB10 (proteasome 20S subunit beta 10; human; Entrez gene 5699)``."""
    symbol = hit.get("symbol") or f"gene {hit.get('_id')}"
    if not details:
        return str(symbol)
    parts = [
        str(hit["name"]) if hit.get("name") else "",
        species(hit.get("taxid")) if hit.get("taxid") is not None else "",
    ]
    if hit.get("entrezgene") is not None:
        parts.append(f"Entrez gene {hit['entrezgene']}")
    elif hit.get("_id") and hit.get("symbol"):
        parts.append(f"gene id {hit['_id']}")
    parts = [p for p in parts if p]
    return f"{symbol} ({'; '.join(parts)})" if parts else str(symbol)


def searched_term(query: Query) -> str | None:
    """The one thing a single-gene query looks for: ``q=alias:LMP10`` → ``LMP10``."""
    if query.endpoint == "gene":
        return query.gene_id if query.method == "GET" else None
    q = (query.q or "").strip()
    if not q or " " in q or INTERVAL_RE.match(q):
        return None
    value = q.split(":", 1)[1] if ":" in q and not q.startswith('"') else q
    value = value.strip().strip('"').replace("\\:", ":")
    return value or None


def _name_search(query: Query) -> bool:
    """True when ``q`` looks a gene up by what it is called (a bare term, ``symbol:``,
    ``alias:``, ``name:``, ``other_names:``): several equally good hits are then ambiguous."""
    q = (query.q or "").strip()
    head = q.split(":", 1)[0].lower() if ":" in q and not q.startswith('"') else ""
    return head in ("", "symbol", "alias", "name", "other_names")


def _alias_search(query: Query) -> bool:
    """True for ``q=alias:x`` or a bare term (which searches aliases too)."""
    q = (query.q or "").strip()
    return q.lower().startswith("alias:") or ":" not in q


def _key(hit: dict) -> str:
    return str(hit.get("symbol") or hit.get("_id") or "").lower()


def _candidates(hits: list[dict]) -> list[dict]:
    """Best-scoring hits that are different genes (different symbols, case-insensitive)."""
    if not hits:
        return []
    scores = [h.get("_score") for h in hits]
    if any(s is None for s in scores):
        return []
    top = max(scores)
    seen: dict[str, dict] = {}
    for h in hits:
        if h["_score"] >= AMBIGUITY_RATIO * top and _key(h) not in seen:
            seen[_key(h)] = h
    return list(seen.values())


SINGLE_GENE_INTENTS = (
    "type",
    "symbol",
    "alias",
    "location",
    "go",
    "pathway",
    "ids",
    "summary",
    "name",
    "gene",
)


def summarize(question: str, query: Query, result: Result, max_rows: int = 10) -> Summary:
    """The deterministic answer to ``question`` from the ``result`` of ``query``."""
    sent = result.sent or query
    intent = detect_intent(question, sent)
    cols = columns_for(sent)
    rows = table(result.hits, cols, max_rows)
    hits = result.hits
    if not hits and result.total and sent.method == "GET":  # size=0: the count alone was asked
        if result.facets:
            return Summary(_facets(sent, result), "ok", "facets", cols, rows)
        return Summary(_count(sent, result), "ok", "count", cols, rows)
    if not hits:
        return Summary(_no_hits(sent, result), "no_hits", intent, cols, rows)
    if intent == "multi":
        return Summary(_multi(sent, result), "ok", intent, cols, rows)
    if intent == "facets" and result.facets:
        return Summary(_facets(sent, result), "ok", intent, cols, rows)
    if intent == "count" or (intent == "facets" and not result.facets):
        return Summary(_count(sent, result), "ok", intent, cols, rows)
    if intent == "list":
        return Summary(_list(sent, result), "ok", intent, cols, rows)
    term = searched_term(sent)
    top = hits[0]
    exact = term and term.lower() in (_key(top), str(top.get("name", "")).lower())
    if term and "*" in term and sent.endpoint == "query":  # a prefix: a family of genes
        return Summary(_list(sent, result), "ok", "list", cols, rows)
    set_search = not _name_search(sent) and not _is_id_search(sent)
    if term and not exact and sent.endpoint == "query" and set_search:
        return Summary(_list(sent, result), "ok", "list", cols, rows)  # summary:x, go:x, …
    if term and not exact and sent.endpoint == "query":
        cands = _candidates(hits)
        if len(cands) > 1:
            also = "is also an alias of" if _alias_search(sent) else "also matches"
            others = ", ".join(label(h) for h in cands[1:8])
            more = f" and {len(cands) - 8} more" if len(cands) > 8 else ""
            text = (
                f"{term} most likely means {label(cands[0])}; {term} {also} {others}{more}. "
                "Ask again with the official symbol or the species to pick another."
            )
            cand = [
                {k: h.get(k) for k in ("_id", "symbol", "name", "taxid") if k in h} for h in cands
            ]
            return Summary(text, "ambiguous", intent, cols, rows, cand)
    text = _ONE_GENE.get(intent, _gene)(top, sent, result, term)
    others = _other_species(hits)
    if others and intent in SINGLE_GENE_INTENTS:
        text += f" The same symbol also matched in {others}."
    return Summary(text, "ok", intent, cols, rows)


def _no_hits(sent: Query, result: Result) -> str:
    if sent.endpoint == "gene" and sent.method == "GET":
        return f"No gene has the id {sent.gene_id}."
    if result.notfound:
        return f"Nothing matched {', '.join(result.notfound[:10])}."
    where = f" in {sent.params['species']}" if sent.params.get("species") else ""
    return f"No gene matched q={sent.q}{where}."


def _other_species(hits: list[dict]) -> str:
    top = hits[0]
    same = [
        h
        for h in hits[1:]
        if _key(h) == _key(top) and h.get("taxid") not in (None, top.get("taxid"))
    ]
    names = list(dict.fromkeys(species(h.get("taxid")) for h in same))
    return ", ".join(n for n in names if n)


def _who(hit: dict) -> str:
    """``BRCA1 (human)``, or the symbol alone when the hit has no taxid."""
    sp = species(hit.get("taxid"))
    return f"{label(hit, False)} ({sp})" if sp else label(hit, False)


def _gene(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    more = f" ({result.total} hits; the best match is shown first)" if result.total > 1 else ""
    return f"The best match is {label(hit)}{more}."


def _symbol(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    if not hit.get("symbol"):
        return _gene(hit, sent, result, term)
    if term and term.lower() == str(hit["symbol"]).lower():
        return f"{label(hit)} is an official gene symbol."
    if term:
        return f"The official symbol of {term} is {label(hit)}."
    return f"The official symbol is {label(hit)}."


def _name(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    if not hit.get("name"):
        return _gene(hit, sent, result, term)
    return f"The full name of {label(hit, False)} ({species(hit.get('taxid'))}) is {hit['name']}."


def _alias(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    aliases = [str(a) for a in as_list(hit.get("alias"))]
    who = _who(hit)
    if not aliases:
        return f"{who}: the hits hold no aliases for it."
    if term and term.lower() in (a.lower() for a in aliases):
        return f"{term} is an alias of {label(hit)}; its aliases are {', '.join(aliases)}."
    return f"The aliases of {who} are {', '.join(aliases)}."


def _ids(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    wanted = [f for f in _requested(sent) if f in ID_FIELDS and f != "_id"]
    if not wanted:
        wanted = [f for f in ("entrezgene", "ensembl.gene", "uniprot", "HGNC") if get_path(hit, f)]
    parts = []
    for f in wanted:
        value = format_value(get_path(hit, f), limit=120)
        if value:
            parts.append(f"{ID_FIELDS[f]} {value}")
    who = label(hit, False)
    sp = species(hit.get("taxid"))
    if _is_id_search(sent) and term:
        head = f"{term} belongs to {label(hit)}"
        return head + (f"; {', '.join(parts)}." if parts else ".")
    if not parts:
        return f"{label(hit)}: the hits hold none of the requested ids."
    return f"{who}{f' ({sp})' if sp else ''}: {', '.join(parts)}."


def _location(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    who = _who(hit)
    parts = []
    for path, what in (
        ("genomic_pos", ""),
        ("genomic_pos_hg19", " (hg19)"),
        ("genomic_pos_mm9", " (mm9)"),
    ):
        positions = [p for p in as_list(hit.get(path)) if isinstance(p, dict) and "chr" in p]
        for p in positions[:3]:
            strand = {1: ", plus strand", -1: ", minus strand"}.get(p.get("strand"), "")
            span = f", {p['start']}-{p['end']}" if p.get("start") and p.get("end") else ""
            parts.append(f"chromosome {p['chr']}{span}{strand}{what}")
    if hit.get("map_location"):
        parts.append(f"cytoband {hit['map_location']}")
    if not parts:
        return f"{label(hit)}: the hits hold no genomic position for it."
    return f"{who} is located at {'; '.join(parts)}."


def _go(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    wanted = [f for f in _requested(sent) if f == "go" or f.startswith("go.")]
    cats = [
        c
        for c in GO_NAMES
        if not wanted or any(w in ("go", f"go.{c}") or w.startswith(f"go.{c}.") for w in wanted)
    ]
    who = _who(hit)
    parts = []
    for cat in cats:
        entries = [e for e in as_list(get_path(hit, f"go.{cat}")) if isinstance(e, dict)]
        terms = list(dict.fromkeys(str(e.get("term") or e.get("id")) for e in entries if e))
        if terms:
            noun = "terms" if len(terms) > 1 else "term"
            parts.append(f"{GO_NAMES[cat]} {noun} {_shown(terms, 8)}")
    if not parts:
        return f"{label(hit)}: the hits hold no GO annotations for it."
    return f"{who} is annotated with the GO {'; '.join(parts)}."


def _shown(names: list[str], limit: int) -> str:
    """The first ``limit`` names, comma-separated, saying when there are more.

    >>> _shown(["DNA repair", "cell cycle", "apoptosis"], 2)
    'DNA repair, cell cycle (more in the table)'
    """
    return ", ".join(names[:limit]) + (" (more in the table)" if len(names) > limit else "")


def _pathway(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    who = _who(hit)
    parts = []
    pathways = hit.get("pathway") if isinstance(hit.get("pathway"), dict) else {}
    for source, entries in pathways.items():
        names = [
            str(e.get("name") or e.get("id"))
            for e in as_list(entries)
            if isinstance(e, dict) and (e.get("name") or e.get("id"))
        ]
        names = list(dict.fromkeys(names))
        if names:
            parts.append(f"{PATHWAY_NAMES.get(source, source)}: {_shown(names, 6)}")
    if not parts:
        return f"{label(hit)}: the hits hold no pathways for it."
    return f"{who} is in these pathways — {'; '.join(parts)}."


def _summary(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    text = str(hit.get("summary") or "").strip()
    if not text:
        return _gene(hit, sent, result, term)
    sentences = re.split(r"(?<=[.!?])\s+", text)
    return f"{label(hit)}: {' '.join(sentences[:2])}"


TYPE_WORDS = {"protein-coding": "a protein-coding gene", "pseudo": "a pseudogene",
              "ncRNA": "a non-coding RNA gene", "biological-region": "a biological region",
              "other": "of type other", "unknown": "of unknown type"}  # fmt: skip


def _type(hit: dict, sent: Query, result: Result, term: str | None) -> str:
    kind = hit.get("type_of_gene")
    if not kind:
        return f"{label(hit)}: the hits hold no gene type for it."
    words = TYPE_WORDS.get(str(kind), f"a {kind} gene")
    return f"{label(hit)} is {words} (type_of_gene {kind})."


_ONE_GENE = {
    "type": _type,
    "symbol": _symbol,
    "name": _name,
    "alias": _alias,
    "ids": _ids,
    "location": _location,
    "go": _go,
    "pathway": _pathway,
    "summary": _summary,
    "gene": _gene,
}


def _multi(sent: Query, result: Result) -> str:
    by_term: dict[str, list[dict]] = {}
    for h in result.hits:
        by_term.setdefault(str(h.get("query", h.get("_id"))), []).append(h)
    parts = []
    for t, hits in list(by_term.items())[:10]:
        genes = ", ".join(label(h) for h in hits[:2])
        more = " and others" if len(hits) > 2 else ""
        parts.append(f"{t} → {genes}{more}")
    text = f"{len(by_term)} of {len(by_term) + len(result.notfound)} terms matched: " + "; ".join(
        parts
    )
    if result.notfound:
        text += f". No match for {', '.join(result.notfound[:10])}"
    return text + "."


def _count(sent: Query, result: Result) -> str:
    noun = "gene matches" if result.total == 1 else "genes match"
    where = f" in {sent.params['species']}" if sent.params.get("species") else ""
    what = f" q={sent.q}" if sent.q and sent.method == "GET" else " the query"
    return f"{result.total:,} {noun}{what}{where}."


def _list(sent: Query, result: Result) -> str:
    shown = result.hits[:10]
    names = ", ".join(label(h, False) for h in shown)
    if result.total <= len(shown):
        return f"{result.total} gene{'s' if result.total != 1 else ''} match: {names}."
    return f"{result.total} genes match; the first {len(shown)}: {names}."


def _facets(sent: Query, result: Result) -> str:
    parts = []
    for name, facet in result.facets.items():
        terms = facet.get("terms", []) if isinstance(facet, dict) else []
        shown = []
        for t in terms[:8]:
            term = t.get("term")
            if name == "taxid":
                sp = species(term)
                term = f"{sp} ({term})" if sp and not sp.startswith("taxid") else term
            shown.append(f"{term} {t.get('count')}")
        if shown:
            parts.append(f"by {name}: " + ", ".join(shown))
    return f"{result.total} genes match; counts " + "; ".join(parts) + "."


# --- grounding ----------------------------------------------------------------------------------------


def _checked(token: str) -> bool:
    """Tokens the grounding check looks at: anything with a digit (ids, numbers, most symbols)
    and upper-case words of two or more letters (symbols such as EGFR or INS)."""
    if any(c.isdigit() for c in token):
        return True
    letters = [c for c in token if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(_THOUSANDS_RE.sub("", text))


def _add_value(value: Any, out: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(str(k).lower())
            _add_value(v, out)
    elif isinstance(value, list):
        for v in value:
            _add_value(v, out)
    elif value is not None and not isinstance(value, bool):
        text = str(value)
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        out.add(text.lower())
        for tok in _tokens(text):
            out.add(tok.lower())
            out.update(p.lower() for p in re.split(r"[_.:/\-]", tok) if p)


def grounding_vocabulary(result: Result, query: Query | None = None) -> set[str]:
    """Every string an answer may cite: values and keys of the hits, the facets, the counts,
    the terms that matched nothing and the query's own search terms (lowercased)."""
    out: set[str] = set()
    _add_value(result.hits, out)
    _add_value(result.facets, out)
    _add_value(result.notfound, out)
    for n in (result.total, len(result.hits)):
        out.add(str(n))
    n_terms = len({str(h.get("query")) for h in result.hits if "query" in h})
    out.update({str(n_terms), str(n_terms + len(result.notfound))})
    if query is not None:
        for text in (query.q, query.gene_id, query.params.get("ids"), query.params.get("species")):
            if text:
                _add_value(text, out)
    return out


def ungrounded(text: str, result: Result, query: Query | None = None) -> list[str]:
    """The symbols, ids and numbers in ``text`` that appear nowhere in the hits (nor in the
    query's terms, nor as a count); empty when the answer is grounded.

    Numbers may be written with thousands separators (``55,966,781``). A handful of label
    words (GO, BP, HGNC, ...; see ``TEMPLATE_WORDS``) are not checked. A token joined from
    grounded parts (``55966781-55972789``) is grounded.
    """
    vocab = grounding_vocabulary(result, query)
    missing = []
    for tok in _tokens(text):
        if not _checked(tok) or tok.upper() in TEMPLATE_WORDS:
            continue
        low = tok.lower()
        if low in vocab:
            continue
        parts = [p for p in re.split(r"[_.:/\-]", tok) if p]
        if len(parts) > 1 and all(p.lower() in vocab or not _checked(p) for p in parts):
            continue
        if tok not in missing:
            missing.append(tok)
    return missing


def is_grounded(text: str, result: Result, query: Query | None = None) -> bool:
    """True when :func:`ungrounded` finds nothing."""
    return not ungrounded(text, result, query)
