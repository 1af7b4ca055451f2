"""Reading the question: the species, fields, gene terms, identifiers, intervals and
wordings the critic's rules compare with the query — always through the API and field
descriptions (data/schema/), never from a list of questions."""

from __future__ import annotations

import re
from functools import lru_cache

from ..query import INTERVAL_RE, Query
from ..recover import TAXID_RE, edit_distance
from ..schema import load_api, load_fields

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_UNIT = r"\s*(mbp|mb|megabases?|kbp|kb|kilobases?|bp|base pairs?)?"
_UNITS = {"mb": 1_000_000, "megabase": 1_000_000, "kb": 1_000, "kilobase": 1_000, "bp": 1}
_RANGE = re.compile(
    rf"{_NUMBER}{_UNIT}\s*(?:-|–|—|to|and|until)\s*{_NUMBER}{_UNIT}(?![\w.])", re.IGNORECASE
)
_FIRST_MB = re.compile(r"\bfirst\s+(?:(\d+(?:\.\d+)?)\s*)?(megabases?|mb|kb|kilobases?)\b", re.I)
CHROM = re.compile(
    r"\b(?:chr(?:omosome)?\.?\s*)([0-9]{1,2}|X|Y|MT?)\b(?!\s*(?:mb|kb|bp)\b)", re.IGNORECASE
)
HG19 = re.compile(r"\b(?:hg19|grch37|old(?:er)? (?:build|assembly)|previous assembly)\b", re.I)
HG38 = re.compile(r"\b(?:hg38|grch38)\b", re.I)
ANY_SPECIES = re.compile(
    r"\b(?:(?:in|across|over|for|of|from)\s+(?:all|any|every|each)\s+(?:the\s+)?"
    r"(?:species|organisms?)|all\s+species|any\s+species|every\s+species|across\s+species"
    r"|regardless of (?:the\s+)?species)\b",
    re.I,
)
COUNT = re.compile(
    r"\b(?:how many|how m(?:nay|ayn|anny|any|eny|uch)|in total|count|counts|number of(?=\s+(?:[\w-]+\s+){0,3}?[\w-]+s\b)|total number|tally|(?:just|only) (?:the )?"
    r"(?:number|count|total))\b",
    re.I,
)
BREAKDOWN = re.compile(
    r"\b(?:per|by|each|across)\s+(?:gene\s+)?(?:species|organisms?|types?|chromosomes?|taxa|taxon)\b"
    r"|\bbreak(?:s|ing)?[- ]?down\b|\bdistribution\b",
    re.I,
)
BY_SPECIES = re.compile(r"\b(?:per|by|each|across)\s+(?:species|organisms?|taxa|taxon)\b", re.I)
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "next": 2}
PAGE_NO = re.compile(
    r"\b(?:(first|second|third|fourth|fifth|sixth|\d+(?:st|nd|rd|th))\s+page"
    r"|page\s*(?:no\.?|number|#)?\s*(\d+))\b",
    re.I,
)
PER_PAGE = re.compile(
    r"\b(?:(\d+)\s*(?:per page|a page|each page|on each page|at a time|results per page|"
    r"per screen)|pages?\s+of\s+(\d+)|page size\s*(?:of\s*)?(\d+)|(\d+)\s+(?:genes|results|hits)"
    r"\s+per page)\b",
    re.I,
)
TOP_N = re.compile(
    r"\b(?:top|first|the)\s+(\d{1,4})\b(?!\s*(?:mb|kb|bp|megabases?|pages?|st|nd|rd|th)\b)"
    r"(?!\s*(?:-|–|to)\s*\d)",
    re.I,
)
SKIP = re.compile(
    r"\b(?:skip(?:ping)?|after|past|beyond|ignoring|omit(?:ting)?|leave out|leaving out)\s+"
    r"(?:the\s+)?first\s+(\d{1,5})\b",
    re.I,
)
SORT_BY = re.compile(
    r"\b(?:sort(?:ed)?|order(?:ed)?|rank(?:ed)?)\b[^.;?!]{0,40}?\bby\s+(?:their\s+|the\s+)?"
    r"([\w ]{2,30}?)(?=\s*(?:$|[,.;?!)]|\b(?:first|top|then|and|please|ascending|descending)\b))",
    re.I,
)
SORTABLE = ("symbol", "name", "entrezgene", "taxid", "type_of_gene", "genomic_pos")
"""Fields "sorted by …" may name (the store sorts on their values)."""
RESULTS_SPAN = re.compile(
    r"\b(?:results?|hits?|genes?|numbers?|items?|rows?|entries|records?|nos?\.?)\s+"
    r"(\d{1,4})\s*(?:to|-|–|through|thru)\s*(\d{1,4})\b(?!\s*(?:mb|kb|bp|megabases?)\b)",
    re.I,
)
SORT_WORDS = re.compile(
    r"\b(?:sort\w*|order\w*|rank\w*|alphabetic\w*|highest|lowest|largest|smallest|biggest|"
    r"newest|oldest|most|least|ascending|descending|reverse\w*|top|first|last|a-z|z-a)\b",
    re.I,
)
"""Words that ask for an order: a query that sorts where the question has none does not."""
IN_THE_NAME = re.compile(
    r"\b(?:with|having|containing|contain|has|have|that have)\s+[\"'“‘]?([A-Za-z][\w-]{2,30})"
    r"[\"'”’]?\s+in\s+(?:the|their|its)\s+(?:full\s+|official\s+)?names?\b",
    re.I,
)
"""A word the question wants in the genes' names ("with channel in the name")."""
ALPHA = re.compile(r"\b(?:alphabetical(?:ly)?|a-z|a to z|sorted by (?:symbol|name))\b", re.I)
EXTREME = re.compile(
    r"\b(highest|largest|biggest|greatest|newest|most recent|lowest|smallest|oldest)\s+"
    r"((?:ncbi\s+)?(?:entrez\s*)?(?:gene\s*)?)(?:ids?|numbers?)\b",
    re.I,
)
STARTS = re.compile(
    r"\b(?:start(?:s|ing)?|begin(?:s|ning)?|prefix(?:ed)?)\s+(?:with\s+)?(?:the\s+)?"
    r"(?:letters?\s+|prefix\s+|symbol\s+)?[\"'“]?([A-Za-z][A-Za-z0-9-]*)"
    r"|\b([A-Za-z][A-Za-z0-9]*)-prefixed\b",
    re.I,
)
FAMILY = re.compile(
    r"\b([A-Za-z][A-Za-z0-9-]{1,11})\s+(?:([A-Za-z][A-Za-z0-9-]{1,11})\s+)?(?:gene\s+)?"
    r"(?:genes|family|cluster)\b"
)
"""A word before "genes" (or the word before that: "TRPM channel genes", "of wnt genes")."""
EXAMPLES = re.compile(r"\b([A-Za-z][A-Za-z-]*?)-?\d+\s*,\s*\1-?\d+\b", re.I)
EVERYTHING = re.compile(
    r"\b(?:everything|all (?:the )?(?:fields|information|info|annotations?|data)|"
    r"full (?:record|annotation|entry)|whole (?:record|entry)|complete (?:record|annotation))\b",
    re.I,
)
CALLED = re.compile(
    r"\b(?:called|known as|aka|a\.k\.a\.|alias|symbol)\s+[\"'“‘]?([A-Za-z][\w.-]*)", re.I
)
"""A word the question calls a gene's symbol or alias (``the fly gene called "dpp"``)."""
SYMBOLISH = re.compile(
    r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9][A-Za-z0-9.-]*$|^[A-Z][A-Z0-9-]+$"
    r"|^[a-z]{1,2}[A-Z][A-Za-z]*$"  # hERG, mTOR, pRb
    r"|^(?=[^-]*-)(?=.+[A-Z])(?=(?:.*-)?[A-Za-z0-9]{1,3}(?:-|$))[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$"
)
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
        if tok[0].isdigit() or not SYMBOLISH.match(tok) or _NOT_GENE.match(tok):
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
    return list(dict.fromkeys(out + abbreviations(question)))


_ABBREVIATED = re.compile(r"\b([A-Za-z][A-Za-z-]{3,})\s+\(([A-Za-z][A-Za-z0-9-]{0,7})\)")


def abbreviations(question: str) -> list[str]:
    """Short names the question gives in parentheses after a gene's name, spelt from its
    letters (``eyless (ey)``, ``bicoid (bcd)``, ``squint (sqt)``): the symbols of fly and
    fish genes, which are written in lower case and so do not read as symbols otherwise.

    >>> abbreviations("FlyBase number of bicoid (bcd), and of hedgehog (the fly one)?")
    ['bcd']
    """
    out = []
    for m in _ABBREVIATED.finditer(question):
        word, short = m.group(1).lower(), m.group(2)
        letters = iter(word)
        if short[0].lower() == word[0] and all(c in letters for c in short.lower()):
            out.append(short)
    return out


@lru_cache(maxsize=1)
def _not_gene_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words of the field mentions (as written and lower-cased) and of the species names."""
    mention = {w for phrase in _field_phrases() for w in phrase}
    mention |= {w.lower() for w in mention}
    species = {w for phrase in _species_phrases() for w in phrase}
    return frozenset(mention), frozenset(species)


def squash(text: str) -> str:
    """``text`` lower-cased with only its letters and digits (``Bcl-xL`` → ``bclxl``)."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def missing_terms(question: str, query: Query) -> list[str]:
    """The question's :func:`gene_terms` when the query searches none of them (empty when it
    searches one, or the question names none): the model wrote about another gene."""
    terms = gene_terms(question)
    if not terms or query.endpoint not in ("query", "gene"):
        return []
    if query.q and INTERVAL_RE.match(query.q.strip()):
        return []  # a region: the genes the question names are context
    searched = squash(" ".join(filter(None, [query.q, query.gene_id, query.params.get("ids")])))
    if not searched or any(squash(t) in searched for t in terms):
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


def as_written(question: str, term: str) -> str:
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
    said = chromosome_in(question)
    chrom_name = said[0] if said else None
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


_CHROM_NAME = r"([0-9]{1,2}[LR]?|X|Y|MT?|I{1,3}|IV|V)"
_CHROM_MENTIONS = (
    re.compile(
        rf"\b(?:chr(?:omosome)?s?\.?\s*|chrom\s+){_CHROM_NAME}\b(?!\s*(?:mb|kb|bp)\b)", re.I
    ),
    re.compile(r"\b([XY])[- ](?:chromosomes?|chr|linked)\b", re.I),
    re.compile(r"\bon\s+(?:the\s+)?(?:[a-z]+\s+)?([XY])\b(?![-'])"),
    re.compile(r"\b([23][LR])(?=\s*:|\s+arm\b)"),
    re.compile(
        r"\b(?:mitochondri(?:al|on)|mito)(?:[- ](?:genome|chromosome|dna|chr|encoded)|\s+genes?"
        r"\s+(?:on|of)\s+the\s+mitochondri)|\bmt-?dna\b|\bmitogenome\b|\bmitochondrially\b",
        re.I,
    ),
)
_NEGATED = re.compile(
    r"\b(?:not|n't|outside(?: of)?|excluding|except|other than|apart from|besides|off)\b"
    r"[^.;,?!]{0,24}$",
    re.I,
)
_ROMAN = {"I": "I", "II": "II", "III": "III", "IV": "IV", "V": "V"}


def chromosome_in(question: str) -> tuple[str, bool] | None:
    """``(chromosome, negated)`` of the first chromosome the question names — ``chr15``,
    ``chromosome X``, ``the Y chromosome``, ``on the human X``, a fly arm (``2L:``), the
    mitochondrial genome (``MT``) — with ``negated`` when it says "not on"; None otherwise.

    >>> chromosome_in("How many pseudogenes sit on the human Y chromosome?")
    ('Y', False)
    >>> chromosome_in("genes with 'insulin' in the name but not on chromosome 11")
    ('11', True)
    >>> chromosome_in("how many genes are encoded by the human mitochondrial genome?")
    ('MT', False)
    >>> chromosome_in("Which chromosome is CDK2 on?") is None
    True
    """
    found = []
    for n, pattern in enumerate(_CHROM_MENTIONS):
        m = pattern.search(question)
        if m:
            name = "MT" if n == len(_CHROM_MENTIONS) - 1 else m.group(1).upper()
            found.append((m.start(), "MT" if name == "M" else name, m))
    if not found:
        return None
    start, name, _ = min(found, key=lambda f: f[0])
    return name, bool(_NEGATED.search(question[:start]))


UNIPROT = re.compile(
    r"^(?:[OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9](?:[A-Z][A-Z0-9]{2}[0-9]){1,2})$"
)
"""A UniProt accession (``P24941``, ``Q8NBP7``, ``A0A024R161``), upper case as UniProt writes it."""


def batch_field(term: str) -> str | None:
    """The field a batch term is an id of, by its shape: :func:`id_field`, a number (an Entrez
    gene id) or a UniProt accession; None for a symbol."""
    if term.isdigit():
        return "entrezgene"
    return id_field(term) or ("uniprot" if UNIPROT.match(term) else None)


def field_values_in(question: str) -> list[tuple[str, str]]:
    """``(field, value)`` for each id the question gives after the name of its field, for the
    fields whose values are bare numbers (``value_pattern`` in the field schema): "RGD ID 2998"
    → ``("RGD", "2998")``, "OMIM 601622" → ``("MIM", "601622")``.

    >>> field_values_in("rat gene with RGD ID 2998, what is it?")
    [('RGD', '2998')]
    """
    out = []
    for pattern, name in _value_patterns():
        for m in pattern.finditer(question):
            out.append((m.start(), name, m.group(1)))
    return [(name, value) for _, name, value in sorted(set(out))]


@lru_cache(maxsize=1)
def _value_patterns() -> list[tuple[re.Pattern, str]]:
    fields = load_fields().fields
    out = []
    for name, spec in fields.items():
        if not spec.value_pattern:
            continue
        parent = fields.get(name.rsplit(".", 1)[0]) if "." in name else None
        mentions = spec.mentions or (parent.mentions if parent else ())
        words = "|".join(
            r"\s+".join(map(re.escape, m.split())) for m in sorted(mentions, key=len, reverse=True)
        )
        if not words:
            continue
        out.append(
            (
                re.compile(
                    rf"\b(?:{words})(?:\s+gene)?(?:\s+(?:id|ids|identifier|number|no\.?|group|"
                    rf"entry|accession))?\s*(?:[:#=]|is|of)?\s*({spec.value_pattern})\b",
                    re.I,
                ),
                name,
            )
        )
    return out


def species_implied(question: str) -> list[str]:
    """The species the question names (:func:`species_named`) or implies: by a field only one
    species' genes have (FlyBase, RGD, OMIM) and by the prefix of an id (``ENSMUSG…``, ``FBgn…``).

    >>> species_implied("FlyBase FBgn number of bicoid (bcd)?")
    ['fruitfly']
    """
    api, fields = load_api(), load_fields().fields
    out = list(species_named(question))
    out += [fields[f].species for f in fields_named(question) if f in fields and fields[f].species]
    out += [s for tok in re.findall(r"[A-Za-z0-9][A-Za-z0-9:_-]*", question)
            if (s := api.species_of_id(tok))]  # fmt: skip
    return list(dict.fromkeys(out))


ORTHOLOG = re.compile(
    r"\b(?:ortholog(?:ue)?s?|orthologous|homolog(?:ue)?s?|homologous|counterparts?|"
    r"equivalents?|versions? of)\b",
    re.I,
)
SAME_GROUP = re.compile(
    r"\bsame\s+homolog(?:ene|y)(?:\s+(?:group|cluster))?\b"
    r"|\b(?:members?|genes|who|which|what)\s+(?:are\s+)?(?:in|of)\s+(?:the\s+|its\s+)?"
    r"homolog(?:ene|y)\s+(?:group|cluster)\b"
    r"|\bortholog(?:ue)?s?\s+(?:in|across)\s+(?:all|every|other)\s+species\b",
    re.I,
)
"""A question for every gene of a HomoloGene group (not for a gene's ``homologene`` field)."""


def ortholog_ask(question: str) -> tuple[str, str, str | None] | None:
    """``(gene, source species, target species)`` when the question asks for the ortholog of
    a gene in another species ("the fruit fly counterpart of the human PTCH1 gene" →
    ``("PTCH1", "human", "fruitfly")``); target None when it asks for the whole HomoloGene
    group. The source is the species written just before the gene (human when none); None
    when the question asks no such thing.

    >>> ortholog_ask("I study human CDK2; which mouse gene is its ortholog?")
    ('CDK2', 'human', 'mouse')
    >>> ortholog_ask("Drosophila homolog of the channel PIEZO1?")
    ('PIEZO1', 'human', 'fruitfly')
    """
    if not ORTHOLOG.search(question) and not SAME_GROUP.search(question):
        return None
    genes = [g for g in gene_terms(question) if not id_field(g)]
    if not genes:
        return None
    gene = genes[0]
    words = tokens(question)
    at = next((i for i, w in enumerate(words) if w.lower() == tokens(gene)[0].lower()), None)
    if at is None:
        return None
    named = _find_phrases(question, _species_phrases())
    source = None
    for pos, label in named:
        between = [w.lower() for w in words[pos + 1 : at]]
        if pos < at and len(between) <= 2 and set(between) <= {"gene", "the", "protein"}:
            source = label  # "human CDK2", "mouse gene Sox2"
    source = source or "human"
    targets = [label for _, label in named if label != source]
    if SAME_GROUP.search(question) or ANY_SPECIES.search(question):
        return gene, source, None
    if len(set(targets)) != 1:
        return None
    return gene, source, targets[0]
