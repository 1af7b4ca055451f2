"""The query critic: a deterministic check of the model's query against the question, run
before the query is executed, that repairs what the question settles and the query gets wrong.

A small model writes the right kind of query most of the time and slips on the details people
care about (issue 13): it drops the species the question names, reads "12.5 Mb" as 1250000,
asks for ``ensembl.gene`` when the question wants transcripts, counts (``size=0``) when it was
asked for a list, quotes a symbol as a name phrase, writes ``hox`` for "the HOX genes", forgets
the ``hg19.`` of an interval on the old assembly, or the ``scopes`` of a batch. Each rule below
reads one thing from the question — always from the question's words, through the API and field
descriptions (``species_words`` of data/schema/mygene_api.json, ``mentions`` and ``values`` of
data/schema/mygene_fields.json), never from a list of questions — and, when the query disagrees,
changes only that part and says so in a :class:`Fix`. The pipeline shows the fixes in the trace
and the answer's notes; a query someone typed or edited is never criticised.

>>> from assistant.query import parse_query
>>> q = parse_query("/v3/query?q=chr1:1250000-1300000&fields=symbol")
>>> c = critique("Which human genes lie between 12.5 and 13 Mb on chromosome 1?", q)
>>> c.query.to_text()
'/v3/query?q=chr1:12500000-13000000&fields=symbol,genomic_pos&species=human'
>>> [f.rule for f in c.fixes]
['interval', 'species', 'fields']
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .query import INTERVAL_RE, Query, parse_lucene, render_lucene, walk
from .recover import TAXID_RE, edit_distance, fix_copied_terms, plain_words
from .schema import load_api, load_fields

# --- reading the question -------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_UNIT = r"\s*(mbp|mb|megabases?|kbp|kb|kilobases?|bp|base pairs?)?"
_UNITS = {"mb": 1_000_000, "megabase": 1_000_000, "kb": 1_000, "kilobase": 1_000, "bp": 1}
_RANGE = re.compile(
    rf"{_NUMBER}{_UNIT}\s*(?:-|–|—|to|and|until)\s*{_NUMBER}{_UNIT}(?![\w.])", re.IGNORECASE
)
_FIRST_MB = re.compile(r"\bfirst\s+(?:(\d+(?:\.\d+)?)\s*)?(megabases?|mb|kb|kilobases?)\b", re.I)
_CHROM = re.compile(
    r"\b(?:chr(?:omosome)?\.?\s*)([0-9]{1,2}|X|Y|MT?)\b(?!\s*(?:mb|kb|bp)\b)", re.IGNORECASE
)
_HG19 = re.compile(r"\b(?:hg19|grch37|old(?:er)? (?:build|assembly)|previous assembly)\b", re.I)
_HG38 = re.compile(r"\b(?:hg38|grch38)\b", re.I)
_ANY_SPECIES = re.compile(
    r"\b(?:(?:in|across|over|for|of|from)\s+(?:all|any|every|each)\s+(?:the\s+)?"
    r"(?:species|organisms?)|all\s+species|any\s+species|every\s+species|across\s+species"
    r"|regardless of (?:the\s+)?species)\b",
    re.I,
)
_COUNT = re.compile(
    r"\b(?:how many|count|counts|number of|total number|tally|(?:just|only) (?:the )?"
    r"(?:number|count|total))\b",
    re.I,
)
_BREAKDOWN = re.compile(r"\b(?:per|by|each)\s+(?:species|organism|type|chromosome)\b", re.I)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "next": 2}
_PAGE_NO = re.compile(
    r"\b(?:(first|second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th))\s+page"
    r"|page\s*(?:no\.?|number|#)?\s*(\d+))\b",
    re.I,
)
_PER_PAGE = re.compile(
    r"\b(?:(\d+)\s*(?:per page|a page|each page|on each page|at a time|results per page|"
    r"per screen)|pages?\s+of\s+(\d+)|page size\s*(?:of\s*)?(\d+)|(\d+)\s+(?:genes|results|hits)"
    r"\s+per page)\b",
    re.I,
)
_TOP_N = re.compile(
    r"\b(?:top|first|the)\s+(\d{1,4})\b(?!\s*(?:mb|kb|bp|megabases?|pages?|st|nd|rd|th)\b)", re.I
)
_SKIP = re.compile(
    r"\b(?:skip(?:ping)?|after|past|beyond|ignoring|omit(?:ting)?|leave out|leaving out)\s+"
    r"(?:the\s+)?first\s+(\d{1,5})\b",
    re.I,
)
_SORT_BY = re.compile(
    r"\b(?:sort(?:ed)?|order(?:ed)?|rank(?:ed)?)\b[^.;?!]{0,40}?\bby\s+(?:their\s+|the\s+)?"
    r"([\w ]{2,30}?)(?=\s*(?:$|[,.;?!)]|\b(?:first|top|then|and|please|ascending|descending)\b))",
    re.I,
)
SORTABLE = ("symbol", "name", "entrezgene", "taxid", "type_of_gene", "genomic_pos")
"""Fields "sorted by …" may name (the store sorts on their values)."""
_RESULTS_SPAN = re.compile(
    r"\b(?:results?|hits?|genes?|numbers?|items?|rows?|entries|records?|nos?\.?)\s+"
    r"(\d{1,4})\s*(?:to|-|–|through|thru)\s*(\d{1,4})\b(?!\s*(?:mb|kb|bp|megabases?)\b)",
    re.I,
)
_ALPHA = re.compile(r"\b(?:alphabetical(?:ly)?|a-z|a to z|sorted by (?:symbol|name))\b", re.I)
_EXTREME = re.compile(
    r"\b(highest|largest|biggest|greatest|newest|most recent|lowest|smallest|oldest)\s+"
    r"((?:ncbi\s+)?(?:entrez\s*)?(?:gene\s*)?)(?:ids?|numbers?)\b",
    re.I,
)
_STARTS = re.compile(
    r"\b(?:start(?:s|ing)?|begin(?:s|ning)?|prefix(?:ed)?)\s+(?:with\s+)?(?:the\s+)?"
    r"(?:letters?\s+|prefix\s+|symbol\s+)?[\"'“]?([A-Za-z][A-Za-z0-9-]*)",
    re.I,
)
_FAMILY = re.compile(r"\b([A-Za-z][A-Za-z0-9-]{1,11})\s+(?:gene\s+)?(?:genes|family|cluster)\b")
_EXAMPLES = re.compile(r"\b([A-Za-z][A-Za-z-]*?)-?\d+\s*,\s*\1-?\d+\b", re.I)
_EVERYTHING = re.compile(
    r"\b(?:everything|all (?:the )?(?:fields|information|info|annotations?|data)|"
    r"full (?:record|annotation|entry)|whole (?:record|entry)|complete (?:record|annotation))\b",
    re.I,
)
_CALLED = re.compile(
    r"\b(?:called|known as|aka|a\.k\.a\.|alias|symbol)\s+[\"'“‘]?([A-Za-z][\w.-]*)", re.I
)
"""A word the question calls a gene's symbol or alias (``the fly gene called "dpp"``)."""
_SYMBOLISH = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9][A-Za-z0-9.-]*$|^[A-Z][A-Z0-9-]+$")
"""A token that reads as a gene symbol (has a digit, or is written in capitals)."""

ID_SHAPES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"^ENS[A-Z]*G\d{6,}(\.\d+)?$", re.I), "ensembl.gene"),
    (re.compile(r"^ENS[A-Z]*T\d{6,}(\.\d+)?$", re.I), "ensembl.transcript"),
    (re.compile(r"^ENS[A-Z]*P\d{6,}(\.\d+)?$", re.I), "ensembl.protein"),
    (re.compile(r"^[NX][MR]_\d+(\.\d+)?$", re.I), "refseq.rna"),
    (re.compile(r"^[NXY]P_\d+(\.\d+)?$", re.I), "refseq.protein"),
    (re.compile(r"^WP\d+$", re.I), "pathway.wikipathways.id"),
    (re.compile(r"^R-[A-Z]{3}-\d+$", re.I), "pathway.reactome.id"),
    (re.compile(r"^FBgn\d+$", re.I), "FLYBASE"),
    (re.compile(r"^WBGene\d+$", re.I), "WormBase"),
    (re.compile(r"^ZDB-GENE-[\d-]+$", re.I), "ZFIN"),
    (re.compile(r"^IPR\d{6}$", re.I), "interpro"),
    (re.compile(r"^GO:\d{7}$", re.I), "go"),
    (re.compile(r"^PF\d{5}$", re.I), "pfam"),
)
"""Identifier shapes and the field each belongs to: ``ENST…`` is a transcript, never a gene."""


def id_field(value: str) -> str | None:
    """The field of an identifier by its shape (``ENST00000269305`` → ``ensembl.transcript``)."""
    return next((f for pat, f in ID_SHAPES if pat.match(value)), None)


TEXT_FIELDS = ("symbol", "alias", "name", "other_names", "refseq", "ensembl", "uniprot")
"""Fields whose values are never a bare number: a number there is an Entrez gene id."""


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


@dataclass(frozen=True)
class Context:
    """What a rule may ask beyond the question and the query: ``count_symbols(prefix,
    species)``, how many genes have a symbol starting with ``prefix``; ``is_symbol(term,
    species)``, whether ``term`` is a gene's official symbol (None: not known)."""

    count_symbols: Callable[[str, str | None], int] | None = None
    is_symbol: Callable[[str, str | None], bool] | None = None


def critique(
    question: str,
    query: Query,
    count_symbols: Callable[[str, str | None], int] | None = None,
    is_symbol: Callable[[str, str | None], bool] | None = None,
) -> Critique:
    """Check ``query`` against ``question`` with every rule, in order; see the module doc.
    ``count_symbols`` (see :class:`Context`) lets a family of symbols the question only
    implies ("the HOX genes") be checked against the data before it becomes ``symbol:hox*``;
    ``is_symbol`` lets an ``alias:`` term that is an official symbol be searched as one."""
    out = Critique(query)
    if query.endpoint not in ("query", "gene"):
        return out
    ctx = Context(count_symbols, is_symbol)
    for rule in RULES:
        result = rule(question, out.query, ctx)
        if result is not None:
            out.query, note = result
            out.fixes.append(Fix(rule.__name__.removeprefix("rule_"), note))
    out.missing = missing_terms(question, out.query)
    return out


_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]")
_NOT_GENE = re.compile(
    r"^(?:chr\w+|hg\d+|grch\d+|mm\d+|rn\d+|\d+(?:st|nd|rd|th|s)|\d+(?:\.\d+)?(?:mb|kb|bp)"
    r"|[a-z]+\d*:\d+)$",
    re.I,
)
COMMON_CAPITALS = ("DNA", "RNA", "ID", "IDS", "OK", "PLEASE", "NCBI", "API", "URL", "FYI", "ASAP")
"""Words people write in capitals that are not genes (field and species words are excluded
through the schema's mentions and the API's species words)."""


def gene_terms(question: str) -> list[str]:
    """The words of the question that read as gene symbols or ids (``CDK2``, ``p53``,
    ``ENSG00000141510``), leaving out species, field words, assemblies and units.

    >>> gene_terms("Where was EGFR in the old build (hg19)? Also its Entrez ID")
    ['EGFR']
    """
    mention_words, species_words = _not_gene_words()
    out = []
    for tok in _TERM.findall(question):
        if tok[0].isdigit() or not _SYMBOLISH.match(tok) or _NOT_GENE.match(tok):
            continue
        if tok.upper() in COMMON_CAPITALS or tok in mention_words:
            continue
        if (
            tok.lower() in species_words
            or tok.lower() in mention_words
            and not any(c.isdigit() for c in tok)
        ):
            continue
        out.append(tok)
    return list(dict.fromkeys(out))


@lru_cache(maxsize=1)
def _not_gene_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words of the field mentions (as written and lower-cased) and of the species names."""
    mention = {w for phrase in _field_phrases() for w in phrase}
    mention |= {w.lower() for w in mention}
    species = {w for phrase in _species_phrases() for w in phrase}
    return frozenset(mention), frozenset(species)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def missing_terms(question: str, query: Query) -> list[str]:
    """The question's :func:`gene_terms` when the query searches none of them (empty when it
    searches one, or the question names none): the model wrote about another gene."""
    terms = gene_terms(question)
    if not terms or query.endpoint not in ("query", "gene"):
        return []
    if query.q and INTERVAL_RE.match(query.q.strip()):
        return []  # a region: the genes the question names are context
    searched = _squash(" ".join(filter(None, [query.q, query.gene_id, query.params.get("ids")])))
    if not searched or any(_squash(t) in searched for t in terms):
        return []
    return terms


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _similar(word: str, target: str) -> bool:
    """``word`` (lower-case) is ``target``, its plural, or ``target`` misspelt by one edit
    (two for long words)."""
    if word == target or word in (target + "s", target + "es"):
        return True
    if len(target) < 5 or abs(len(word) - len(target)) > 2:
        return False
    return edit_distance(word, target) <= (2 if len(target) >= 9 else 1)


def _find_phrases(
    text: str, phrases: dict[tuple[str, ...], str], fuzzy: bool = True
) -> list[tuple[int, str]]:
    """Each phrase of ``phrases`` (token tuples → label) found in ``text``, longest first, as
    ``(position, label)``; a token is used by one phrase only. A phrase written with capitals
    (``GO``) must match exactly; others match lower-cased, plural or misspelt by an edit."""
    raw = tokens(text)
    low = [t.lower() for t in raw]
    used = [False] * len(raw)
    found: list[tuple[int, str]] = []
    ordered = sorted(phrases, key=len, reverse=True)
    for loose in (False, True) if fuzzy else (False,):  # exact matches first, then misspelt
        for phrase in ordered:
            n = len(phrase)
            exact = any(c.isupper() for c in "".join(phrase))
            if exact and loose:
                continue
            for i in range(len(raw) - n + 1):
                if any(used[i : i + n]):
                    continue
                if exact:
                    ok = tuple(raw[i : i + n]) == phrase
                else:
                    ok = all(
                        low[i + j] == p
                        or low[i + j] in (p + "s", p + "es")
                        or (loose and not p[-1].isdigit() and _similar(low[i + j], p))
                        for j, p in enumerate(phrase)
                    )
                if ok:
                    used[i : i + n] = [True] * n
                    found.append((i, phrases[phrase]))
    return sorted(found)


@lru_cache(maxsize=1)
def _species_phrases() -> dict[tuple[str, ...], str]:
    api = load_api()
    named = [(name, words) for name, words in api.species_words.items()]
    named += [(str(taxid), words) for taxid, words in api.other_species_words.items()]
    return {
        tuple(t.lower() for t in tokens(word)): name
        for name, words in named
        for word in words
        if tokens(word)
    }


@lru_cache(maxsize=1)
def _field_phrases() -> dict[tuple[str, ...], str]:
    out: dict[tuple[str, ...], str] = {}
    for name, spec in load_fields().fields.items():
        for mention in spec.mentions:
            toks = tokens(mention)
            key = tuple(toks) if any(c.isupper() for c in mention) else tuple(map(str.lower, toks))
            out.setdefault(key, name)
    return out


def species_named(question: str) -> list[str]:
    """The API's species names the question names (``murine`` → mouse; an organism the API
    has no name for by its taxid: ``chicken`` → ``9031``), in order of mention.

    >>> species_named("is the mouse Sox2 the same as human SOX2?")
    ['mouse', 'human']
    """
    api = load_api()
    names = [label for _, label in _find_phrases(question, _species_phrases())]
    names += [api.species_name(int(t)) or t for t in TAXID_RE.findall(question)]
    return list(dict.fromkeys(names))


def fields_named(question: str) -> list[str]:
    """The fields the question asks for, through the field schema's ``mentions``.

    >>> fields_named("Retrieve the symbol, Entrez gene ID and Ensembl transcript ids of TP53")
    ['symbol', 'entrezgene', 'ensembl.transcript']
    """
    return list(dict.fromkeys(label for _, label in _find_phrases(question, _field_phrases())))


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


# --- the rules, in the order they run ----------------------------------------------------------------

Rule = Callable[[str, Query, Context], "tuple[Query, str] | None"]


def rule_ids(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An identifier searched in the field of another kind of identifier (``ensembl.gene:ENST…``)
    moves to its own field; a bare number in a text field (``refseq:7157``) is an Entrez id."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    changes = []

    def visit(node):
        for i, child in enumerate(list(node.children)):
            if type(child) is t.Word and not isinstance(node, t.SearchField):
                shape = id_field(child.value)
                if shape and shape != "go":  # a bare id: searched in its own field
                    _set_child(node, i, t.SearchField(shape, t.Word(child.value)))
                    changes.append(f"{child.value} → {shape}:{child.value}")
        if isinstance(node, t.SearchField) and type(node.expr) is t.Word:
            value = node.expr.value
            shape = id_field(value)
            if shape and not (shape == node.name or shape.startswith(node.name + ".")):
                if not (node.name.startswith(shape.split(".")[0]) and "." not in node.name):
                    changes.append(f"{node.name}:{value} → {shape}:{value}")
                    node.name = shape
            elif value.isdigit() and node.name.split(".")[0] in TEXT_FIELDS:
                changes.append(f"{node.name}:{value} → entrezgene:{value}")
                node.name = "entrezgene"
        for child in node.children:
            visit(child)

    root = t.Group(tree)
    visit(root)
    if not changes:
        return None
    return replace(query, q=render_lucene(root.expr)), "; ".join(changes) + " (the id's own field)"


def rule_phrases(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A symbol written as a one-word phrase (``"cdc2"``, ``name:"sox2"``) is searched as a
    term, so an official symbol ranks above names that mention it."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    changed = []

    called = {m.group(1).lower() for m in _CALLED.finditer(question)}

    def single(node) -> str | None:
        if isinstance(node, t.Phrase):
            inner = node.value.strip('"').strip()
            if (
                inner
                and " " not in inner
                and (_SYMBOLISH.match(_as_written(question, inner)) or inner.lower() in called)
            ):
                return inner
        return None

    def visit(node):
        for i, child in enumerate(list(node.children)):
            if isinstance(child, t.SearchField) and child.name in ("name", "other_names"):
                inner = single(child.expr)
                if inner:
                    _set_child(node, i, t.Word(inner))
                    changed.append(f'{child.name}:"{inner}" → {inner}')
                    continue
            inner = single(child)
            if inner and not isinstance(node, t.SearchField):
                _set_child(node, i, t.Word(inner))
                changed.append(f'"{inner}" → {inner}')
                continue
            visit(child)

    root = t.Group(tree)
    visit(root)
    if not changed:
        return None
    new_q = render_lucene(root.expr)
    return replace(query, q=new_q), "; ".join(changed) + " (a symbol, not a phrase of a name)"


def _set_child(node, i: int, value) -> None:
    children = list(node.children)
    children[i] = value
    node.children = children


def _as_written(question: str, term: str) -> str:
    """``term`` as the question writes it (case), else as given."""
    for tok in re.findall(r"[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]|[A-Za-z0-9]", question):
        if tok.lower() == term.lower():
            return tok
    return term


def interval_in(question: str) -> tuple[str | None, int, int] | None:
    """``(chromosome or None, start, end)`` in bases of the genome interval the question
    names, with units (``12.5 and 13 Mb``, ``chrX:67.5-67.8Mb``, ``117,480,000-117,580,000``,
    ``the first megabase``), or None.

    >>> interval_in("genes between 12.5 and 13 Mb on chromosome 1")
    ('1', 12500000, 13000000)
    >>> interval_in("genes at chrX:67.5-67.8Mb (human)")
    ('X', 67500000, 67800000)
    >>> interval_in("the first megabase of human chromosome 1")
    ('1', 1, 1000000)
    """
    chrom = _CHROM.search(question)
    chrom_name = chrom.group(1).upper() if chrom else None
    if chrom_name == "M":
        chrom_name = "MT"
    for m in _RANGE.finditer(question):
        a, ua, b, ub = m.groups()
        unit = (ub or ua or "").lower()
        factor = next((v for k, v in _UNITS.items() if unit.startswith(k)), None)
        if factor is None:
            if "," not in a + b and max(float(a), float(b)) < 10_000:
                continue  # "between 3 and 5" without a unit is not a genome interval
            factor = 1
        if ua and not ub:
            continue  # "5 kb and 2" reads as no interval
        start = round(float(a.replace(",", "")) * factor)
        end = round(float(b.replace(",", "")) * factor)
        if end <= start:
            continue
        return chrom_name, max(start, 1), end
    m = _FIRST_MB.search(question)
    if m:
        n = float(m.group(1) or 1)
        factor = 1_000 if m.group(2).lower().startswith("k") else 1_000_000
        return chrom_name, 1, round(n * factor)
    return None


def rule_interval(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The interval the question names, in bases (``12.5 Mb`` is 12,500,000), on its assembly
    (``hg19.`` when the question says hg19/GRCh37); a bare ``chr21`` is a chromosome."""
    q = (query.q or "").strip()
    if query.endpoint != "query" or query.method != "GET" or not q:
        return None
    found = interval_in(question)
    m = INTERVAL_RE.match(q)
    asked_hg19 = bool(_HG19.search(question)) and not _HG38.search(question)
    if m:
        asm = m.group("assembly")
        chrom, start, end = m.group("chr"), m.group("start"), m.group("end")
        new_chrom, new_start, new_end = chrom, start.replace(",", ""), end.replace(",", "")
        if found:
            new_chrom = found[0] or chrom
            new_start, new_end = str(found[1]), str(found[2])
        elif int(end.replace(",", "")) < 10_000 and not _in_question(question, end):
            said = _CHROM.search(question)
            if said:  # numbers the question never gave: the question asks for a chromosome
                name = said.group(1).upper()
                return replace(query, q=f"genomic_pos.chr:{name}"), (
                    f"the question names chromosome {name}, not the interval {q}"
                )
        new_asm = asm
        if asked_hg19 and not asm:
            new_asm = "hg19"
        elif asm and asm.lower() == "hg19" and not asked_hg19:
            new_asm = None  # the current assembly unless the question says the old one
        new_q = (f"{new_asm}." if new_asm else "") + f"chr{new_chrom}:{new_start}-{new_end}"
        if new_q.replace(",", "").lower() == q.replace(",", "").lower():
            return None
        return replace(query, q=new_q), f"the question's interval is {_interval_words(new_q)}"
    bare_chr = re.fullmatch(
        r"(?:genomic_pos\.chr:|chr(?:omosome)?)\s*([0-9]{1,2}|X|Y|MT?)", q, re.I
    )
    if bare_chr and found and found[0] in (None, bare_chr.group(1).upper()):
        chrom = bare_chr.group(1).upper()
        new_q = ("hg19." if asked_hg19 else "") + f"chr{chrom}:{found[1]}-{found[2]}"
        return replace(query, q=new_q), f"the question names the interval {_interval_words(new_q)}"
    if bare_chr and q.lower().startswith("chr") and not found:
        new_q = f"genomic_pos.chr:{bare_chr.group(1).upper()}"
        return replace(query, q=new_q), f"{q} is chromosome {bare_chr.group(1).upper()}"
    return None


def _in_question(question: str, number: str) -> bool:
    """``number`` (digits, maybe with commas) is written in the question, in any grouping."""
    digits = number.replace(",", "")
    return digits in re.sub(r"(?<=\d),(?=\d)", "", question)


def _interval_words(q: str) -> str:
    m = INTERVAL_RE.match(q)
    assert m is not None
    asm = f" ({m.group('assembly')})" if m.group("assembly") else ""
    return f"chr{m.group('chr')}:{int(m.group('start')):,}-{int(m.group('end')):,}{asm}"


_ANYTHING = re.compile(r"\b(?:anything|any (?:field|term|word|text)|everything)\b", re.I)
_DESCENDING = re.compile(r"\b(?:descending|desc|reverse(?:d)?|z to a|z-a)\b", re.I)
NOT_FAMILIES = (
    "all", "the", "these", "those", "some", "many", "any", "other", "more", "which", "what",
    "coding", "related", "similar", "known", "new", "human", "mouse", "rat", "fly", "worm",
    "fish", "pig", "candidate", "target", "marker", "housekeeping", "reference", "disease",
)  # fmt: skip
"""Words before "genes" that say which genes, not how their symbols start."""
FAMILY_MIN = 3
"""Genes whose symbols start with a word before "genes" make it a family (HOX, Olfr, KRT)."""

_EXAMPLE_LIST = re.compile(
    r"([A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*(?:\s*,\s*[A-Za-z][A-Za-z0-9-]*\d[A-Za-z0-9-]*)+)"
    r"\s*,?\s*(?:\.\.\.|…|etc\b)"
)


def example_prefixes(question: str) -> list[str]:
    """The common start of symbols listed as examples of a family ("H2BC1, H2BC3, ..." →
    ``H2BC``; "unc-1, unc-2, etc." → ``unc-``), at least two characters.

    >>> example_prefixes("human histone H2B genes (H2BC1, H2BC3 ...)")
    ['H2BC']
    """
    out = []
    for m in _EXAMPLE_LIST.finditer(question):
        names = [n.strip() for n in m.group(1).split(",")]
        prefix = os.path.commonprefix([n.lower() for n in names])
        prefix = re.sub(r"\d+$", "", prefix) if len(set(names)) > 1 else prefix
        if len(prefix) >= 2:
            out.append(names[0][: len(prefix)])
    return out


def rule_wildcard(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """ "genes starting with KRT", "the HOX genes", "unc-1, unc-2, …": a family of symbols,
    searched as ``symbol:KRT*``, when the query wrote the prefix as a plain word."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    prefixes = {
        m.group(1).lower().rstrip("-"): m.group(1)
        for m in _STARTS.finditer(question)
        if not _ANYTHING.search(question[: m.start()])  # "anything starting with": all fields
    }
    species = query.params.get("species")
    plain = {w.value.rstrip("*").lower() for w in plain_words(tree)}  # words, fielded or not
    for m in _FAMILY.finditer(question):
        word = m.group(1)
        written = _SYMBOLISH.match(word) or (
            word[0].isupper() and m.start() > 0 and word[1:].islower()
        )
        if word.lower() in NOT_FAMILIES or len(word) < 3 or word.lower() not in plain:
            continue  # (only a word the query searches is asked about: no needless request)
        # "the HOX genes" implies a family; "the GPCR genes" does not: ask the data (which
        # also allows a word in lower case, "wnt genes")
        if ctx.count_symbols is None:
            if written:
                prefixes.setdefault(word.lower(), word)
        elif ctx.count_symbols(word, species) >= FAMILY_MIN:
            prefixes.setdefault(word.lower(), word)
    for m in _EXAMPLES.finditer(question):
        prefixes.setdefault(m.group(1).lower().rstrip("-"), m.group(1))
    for prefix in example_prefixes(question):
        prefixes.setdefault(prefix.lower().rstrip("-"), prefix)
    if not prefixes:
        return None
    dash = {p for p in prefixes if re.search(rf"\b{re.escape(p)}-\d", question, re.I)}
    changed = []

    def visit(node):
        for i, child in enumerate(list(node.children)):
            target = child.expr if isinstance(child, t.SearchField) else child
            name = child.name if isinstance(child, t.SearchField) else None
            if type(target) is t.Word and name in (None, "symbol", "name", "alias"):
                value = target.value.rstrip("*").lower()
                if value in prefixes and (name != "symbol" or not target.value.endswith("*")):
                    new = f"{value}{'-' if value in dash else ''}*"
                    _set_child(node, i, t.SearchField("symbol", t.Word(new)))
                    changed.append(f"{target.value} → symbol:{new}")
                    continue
            if not isinstance(child, t.SearchField):
                visit(child)

    root = t.Group(tree)
    visit(root)
    if not changed:
        return None
    return replace(query, q=render_lucene(root.expr)), (
        "; ".join(changed) + " (the question asks for a family of symbols)"
    )


@lru_cache(maxsize=1)
def _type_lookup() -> dict[str, str]:
    """Words for gene types (``pseudogene``, ``lncRNA``) → the value ``type_of_gene`` holds."""
    spec = load_fields().fields.get("type_of_gene")
    lookup: dict[str, str] = {}
    for value, words in (spec.values if spec else {}).items():
        lookup[value.lower()] = value
        for w in words:
            lookup[w.lower().replace(" ", "-")] = value
            lookup[w.lower().replace(" ", "")] = value
    return lookup


TYPE_WORDS_NOT_PLAIN = ("other", "unknown", "coding")
"""Type values too common as plain words to read a bare one as a gene type."""

GENERIC_TERMS = ("gene", "genes", "locus", "loci")
"""Words that name no gene: a clause of a conjunction searching one of them is dropped."""


def rule_types(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """Gene types as the field describes them: a plain ``pseudogenes`` (or ``symbol:snorna``)
    is ``type_of_gene:pseudo``; a ``type_of_gene:kinase`` that is no gene type is a name word;
    a species or ``gene`` searched as a term is no term (the species is a filter)."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    lookup = _type_lookup()
    named = {w.lower(): s for s in species_named(question) for w in _species_words(s)}

    def known(word: str) -> str | None:
        w = word.lower().strip('"')
        return lookup.get(w) or lookup.get(w.rstrip("s")) or lookup.get(w.removesuffix("es"))

    def plain_type(word: str) -> str | None:
        value = known(word)
        if value is None or word.lower().rstrip("s") in TYPE_WORDS_NOT_PLAIN:
            return None
        return None if _SYMBOLISH.match(_as_written(question, word)) else value

    changed: list[str] = []
    drop: list[int] = []
    top = tree.children if isinstance(tree, t.AndOperation) else [tree]

    def term_of(node) -> tuple[str | None, str | None]:
        if isinstance(node, t.SearchField) and type(node.expr) is t.Word:
            return node.name, node.expr.value
        if type(node) is t.Word:
            return None, node.value
        return None, None

    for i, node in enumerate(top):
        name, value = term_of(node)
        if value is None:
            continue
        low = value.lower()
        if (low in named or low in GENERIC_TERMS) and name not in ("genomic_pos.chr", "taxid"):
            if len(top) > 1:
                drop.append(i)
                changed.append(f"dropped {node} ({value} is not a gene term)")
            else:  # the only term: every gene of the species (named, or the query's one)
                species = named.get(low) or query.params.get("species", "")
                taxid = load_api().taxid(species)
                if taxid is None:
                    continue
                top[i] = t.SearchField("taxid", t.Word(str(taxid)))
                changed.append(f"{render_lucene(node)} → taxid:{taxid} (all {species} genes)")
    if drop:
        top = [n for i, n in enumerate(top) if i not in drop]

    def visit(node):
        for i, child in enumerate(list(node.children)):
            if isinstance(child, t.SearchField):
                if type(child.expr) is not t.Word or "*" in child.expr.value:
                    continue
                v = child.expr.value
                if child.name == "type_of_gene":
                    value = known(v)
                    if value is None:
                        _set_child(node, i, t.SearchField("name", t.Word(v)))
                        changed.append(f"type_of_gene:{v} → name:{v}")
                    elif value != v:
                        _set_child(node, i, t.SearchField("type_of_gene", t.Word(value)))
                        changed.append(f"type_of_gene:{v} → type_of_gene:{value}")
                elif child.name in ("symbol", "alias", "name") and (value := plain_type(v)):
                    _set_child(node, i, t.SearchField("type_of_gene", t.Word(value)))
                    changed.append(f"{child.name}:{v} → type_of_gene:{value}")
                continue
            if type(child) is t.Word and (value := plain_type(child.value)):
                _set_child(node, i, t.SearchField("type_of_gene", t.Word(value)))
                changed.append(f"{child.value} → type_of_gene:{value}")
                continue
            visit(child)

    root = t.Group(top[0] if len(top) == 1 else t.AndOperation(*top))
    visit(root)
    if not changed:
        return None
    return replace(query, q=render_lucene(root.expr)), "; ".join(changed) + " (gene types)"


def _species_words(name: str) -> tuple[str, ...]:
    return (name, *load_api().species_words.get(name, ()))


def rule_question_ids(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An identifier the question gives (``WP179``, ``ENST…``) that the query does not search
    takes the place of the query's term of the same family (or of its only term)."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    ids = []
    for tok in re.findall(r"[A-Za-z0-9][A-Za-z0-9_.:-]*[A-Za-z0-9]", question):
        shape = id_field(tok)
        if shape:
            ids.append((tok, shape))
    if len(ids) != 1:
        return None
    value, shape = ids[0]
    family = shape.split(".")[0]
    top = tree.children if isinstance(tree, t.AndOperation) else [tree]
    for node in top:  # already searched as itself, in its field or in all fields
        field_name = node.name if isinstance(node, t.SearchField) else None
        word = node.expr if isinstance(node, t.SearchField) else node
        text = f"{field_name}:{word.value}" if type(word) is t.Word and field_name else ""
        if type(word) is t.Word and value.lower() in (word.value.lower(), text.lower()):
            if field_name is None or field_name.split(".")[0].lower() in (family, "all", "go"):
                return None
    same = [
        i
        for i, n in enumerate(top)
        if isinstance(n, t.SearchField) and n.name.split(".")[0] == family
    ]
    if len(same) == 1:
        i = same[0]
    elif len(top) == 1:
        i = 0
    else:
        return None
    old = render_lucene(top[i])
    top = list(top)
    if shape == "go":  # GO:0006915 is MyGene's own syntax for a GO id
        top[i] = t.SearchField("GO", t.Word(value.split(":", 1)[1]))
    else:
        top[i] = t.SearchField(shape, t.Word(value))
    new_q = render_lucene(top[0] if len(top) == 1 else t.AndOperation(*top))
    return replace(query, q=new_q), f"the question gives {value}: {old} → {shape}:{value}"


def rule_species(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The species the question names in ``species`` (added, or put in place of another);
    none at all when it asks across species."""
    if query.endpoint != "query":
        return None
    said = query.params.get("species")
    if _ANY_SPECIES.search(question):
        if said and said != "all":
            return _with(query, species=None), "the question asks across all species"
        return None
    named = species_named(question)
    if not named:
        return None
    api = load_api()
    have = [s.strip() for s in (said or "").split(",") if s.strip()]
    have_ids = {api.taxid(s) for s in have}
    named_ids = {api.taxid(s) for s in named}
    if have_ids & named_ids or "all" in have:
        return None
    if len(named) != 1:
        return None  # "the mouse ortholog of human X": the query's choice stands
    said_as = f"taxid {named[0]}" if named[0].isdigit() else named[0]
    if not have:
        return _with(query, species=named[0]), f"the question is about {said_as} genes"
    return _with(query, species=named[0]), f"the question names {said_as}, not {said}"


def rule_count(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """``size=0`` only counts: a question that does not ask how many gets the genes."""
    if query.params.get("size") != "0" or _COUNT.search(question):
        return None
    drop = {"size": None}
    if "facets" in query.params and not _BREAKDOWN.search(question):
        drop["facets"] = None
    return _with(query, **drop), "the question asks for genes, not a count"


def rule_paging(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """``size`` and ``from`` where the question puts them: "the second page of 20" is
    ``size=20&from=20``, "pages of 20, first page" only ``size=20``, "top 5" ``size=5``."""
    if query.endpoint != "query" or query.method != "GET" or _COUNT.search(question):
        return None
    per = _PER_PAGE.search(question)
    page = _PAGE_NO.search(question)
    skip = _SKIP.search(question)
    size = query.params.get("size")
    start = query.params.get("from")
    new_size, new_from = size, start
    span = _RESULTS_SPAN.search(question)
    if span and not page and not per and 1 <= int(span.group(1)) < int(span.group(2)):
        a, b = int(span.group(1)), int(span.group(2))
        new_size, new_from = str(b - a + 1), (str(a - 1) if a > 1 else None)
    elif per:
        new_size = next(g for g in per.groups() if g)
    elif skip and not page:
        new_from = skip.group(1)
    elif not page:
        top = _TOP_N.search(question)
        if top and int(top.group(1)) <= load_api().limits.get("max_size", 1000):
            new_size = top.group(1)
    if page:
        word, number = page.groups()
        n = int(number) if number else _ORDINALS.get(word.lower()) or int(word[:-2])
        per_page = int(new_size or 10)
        new_from = str((n - 1) * per_page) if n > 1 else None
        if n > 1 and not per and not size:
            new_size = str(per_page)
    if (new_size, new_from) == (size, start) or (
        new_from is None and start == "0" and new_size == size
    ):
        return None
    note = []
    if new_size != size:
        note.append(f"size={new_size}")
    if new_from != start:
        note.append(f"from={new_from}" if new_from else f"no from (was {start})")
    return _with(query, size=new_size, **{"from": new_from}), "paging as asked: " + ", ".join(note)


def rule_sort(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """ "alphabetically" sorts by symbol; "the highest Entrez ids" by ``-entrezgene``."""
    if query.endpoint != "query" or query.method != "GET":
        return None
    want = None
    m = _EXTREME.search(question)
    if m:
        desc = m.group(1).lower() in ("highest", "largest", "biggest", "greatest", "newest")
        desc = desc or m.group(1).lower() == "most recent"
        want = ("-" if desc else "") + "entrezgene"
    elif sort_by := _SORT_BY.search(question):
        named = [f for f in fields_named(sort_by.group(1)) if f in SORTABLE]
        want = named[0] if named else None
    if want is None and _ALPHA.search(question):
        want = "name" if re.search(r"\bby (?:full )?name\b", question, re.I) else "symbol"
    if want and not want.startswith("-") and _DESCENDING.search(question):
        want = "-" + want
    if want is None or query.params.get("sort") == want:
        return None
    return _with(query, sort=want), f"sorted by {want.lstrip('-')}" + (
        " (descending)" if want.startswith("-") else ""
    )


def rule_scopes(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A batch (POST) without ``scopes`` gets the fields its terms' shapes say (numbers:
    entrezgene; ENSG…: ensembl.gene; NM_…: refseq; symbols: symbol and alias)."""
    if query.method != "POST" or query.endpoint != "query":
        return None
    terms = [t.strip() for t in (query.q or "").split(",") if t.strip()]
    if not terms:
        return None
    given = query.params.get("scopes")
    if given:
        shapes = [id_field(t) for t in terms]
        if not all(shapes) or any(s.split(".")[0] in given for s in shapes if s):
            return None  # symbols, or ids already in their scope
    scopes: list[str] = []
    for term in terms:
        shape = id_field(term)
        if term.isdigit():
            shape = "entrezgene"
        elif shape and shape.startswith("refseq"):
            shape = "refseq"
        elif shape is None:
            shape = "symbol,alias"
        for s in shape.split(","):
            if s not in scopes:
                scopes.append(s)
    value = ",".join(scopes)
    return _with(query, scopes=value), f"the batch's terms are searched in {value}"


def rule_fields(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The fields the question asks for (through the field schema's ``mentions``) are in
    ``fields``: added, or in place of a sibling of the same family the question did not ask
    for (``ensembl.gene`` → ``ensembl.transcript``); "everything" is ``fields=all``."""
    from .metrics import field_covered, field_set

    if query.endpoint not in ("query", "gene") or query.params.get("size") == "0":
        return None
    if query.method == "GET" and query.endpoint == "query" and not (query.q or "").strip():
        return None
    have = query.field_list()
    if _EVERYTHING.search(question):
        if "all" in have or (query.endpoint == "gene" and not have):
            return None
        return _with(query, fields="all"), "the question asks for the whole record"
    named = fields_named(question)
    if not named:
        return None
    if not have:
        if query.endpoint == "gene":
            return None  # /gene returns every field
        have = list(load_api().default_fields)
    returned = field_set(_with(query, fields=",".join(have)))
    missing = [f for f in named if not field_covered(returned, f)]
    if not missing:
        return None
    new = list(have)
    for f in missing:
        family = f.split(".")[0]
        sibling = next(
            (
                h
                for h in new
                if "." in h
                and "." in f
                and h.split(".")[0] == family
                and not any(field_covered(frozenset([h]), n) for n in named)
            ),
            None,
        )
        if sibling is not None:
            new[new.index(sibling)] = f
        else:
            new.append(f)
    new = list(dict.fromkeys(new))
    return _with(query, fields=",".join(new)), "the question asks for " + ", ".join(missing)


def rule_terms(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A query that searches none of the question's gene terms, because it copied one wrong
    (``ckd2`` for CDK2), gets the question's closest word back (as
    :func:`assistant.recover.fix_copied_terms` does after a query finds nothing)."""
    if not missing_terms(question, query):
        return None
    return fix_copied_terms(question, query)


def rule_alias_symbol(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An ``alias:`` term that is an official symbol in the query's species (human when it names
    none) is searched as the symbol: an exact official symbol beats an alias, as in MyGene's and
    NCBI's ranking (``alias:gapdh`` → ``symbol:gapdh``; ``alias:lmp10`` stays)."""
    from luqum import tree as t

    if ctx.is_symbol is None:
        return None
    tree = _tree(query)
    if tree is None:
        return None
    species = [s.strip() for s in query.params.get("species", "").split(",") if s.strip()]
    if len(species) > 1 or species == ["all"]:
        return None
    where = species[0] if species else "human"
    changed = []
    root = t.Group(tree)
    for node in walk(root):
        for i, child in enumerate(list(node.children)):
            if (
                isinstance(child, t.SearchField)
                and child.name == "alias"
                and type(child.expr) is t.Word
                and not any(c in child.expr.value for c in "*?")
                and ctx.is_symbol(child.expr.value, where)
            ):
                _set_child(node, i, t.SearchField("symbol", t.Word(child.expr.value)))
                changed.append(child.expr.value)
    if not changed:
        return None
    note = f"{', '.join(changed)} {'is an official symbol' if len(changed) == 1 else 'are official symbols'} in {where}: searched as the symbol"
    return replace(query, q=render_lucene(root.expr)), note


RULES: tuple[Rule, ...] = (
    rule_terms,
    rule_question_ids,
    rule_ids,
    rule_phrases,
    rule_interval,
    rule_wildcard,
    rule_types,
    rule_species,
    rule_alias_symbol,
    rule_count,
    rule_paging,
    rule_sort,
    rule_scopes,
    rule_fields,
)
