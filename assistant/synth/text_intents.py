"""Free-text and pattern questions the way people search: wildcards with ``?`` and inner ``*``,
searches with no field (``q=cdk*``, ``q=tp53`` with the fields wanted), and boolean combinations
of words and phrases with parentheses.

Real logs are full of these shapes (``q=cdk?``, ``q=il*r``, ``q=(interleukin OR insulin) AND
receptor``, ``q="tumor suppressor" NOT receptor``, ``q=tp53&fields=...``) while the gene and set
builders write fielded queries only; without them a model turns "anything starting with IL and
ending with R" into ``il*`` and drops the parentheses of a mixed AND/OR. The values are drawn
from the store (symbols) and from word lists below, never from a log.
"""

from __future__ import annotations

import re

from .base import ATTRS, LIST_FIELDS, Ctx, Draft, fields_of, query_text
from .set_intents import TEXT_PHRASES

WORDS = [
    "interleukin", "insulin", "kinase", "receptor", "channel", "collagen", "keratin", "kinesin",
    "myosin", "actin", "tubulin", "ubiquitin", "histone", "transporter", "phosphatase",
    "cadherin", "integrin", "chemokine", "dehydrogenase", "synthase", "protease", "helicase",
    "ligase", "polymerase", "reductase", "oxidase", "transferase", "cytokine", "hormone",
    "antigen", "lectin", "mucin", "claudin", "laminin", "ribosomal", "mitochondrial", "nuclear",
    "membrane", "binding", "zinc", "calcium", "potassium", "sodium", "glutamate", "dopamine",
    "serotonin", "apoptosis", "autophagy", "inflammation", "development", "signaling",
]  # fmt: skip
"""Single words people combine in free-text searches (each finds genes in every species)."""

HYPHENATED = [
    "cyclin-dependent kinase", "voltage-gated", "ATP-binding cassette", "calcium-binding",
    "mitogen-activated protein kinase", "G protein-coupled receptor", "DNA-binding",
    "ras-related", "heat shock protein", "solute carrier family",
]  # fmt: skip
"""Phrases with hyphens, which a search quotes as they are."""

PATTERN_SYMBOL_RE = re.compile(r"^[A-Za-z]{2,6}[0-9A-Za-z]{1,3}$")

ASK_ATTRS = [
    "entrez", "ensembl", "uniprot", "swissprot", "refseq_rna", "name", "aliases", "summary",
    "type", "location", "go", "go_bp", "pathways", "reactome", "homologene", "cytoband",
]  # fmt: skip
"""What a free-text search for a gene may ask to see of the hits."""


def _species(ctx: Ctx, p: float) -> tuple[int | None, str]:
    taxid = ctx.sampler.species(ctx.rng) if ctx.chance(p) else None
    return taxid, ctx.genes_word(taxid)


def _pattern_symbol(ctx: Ctx, taxid: int) -> str | None:
    doc = ctx.sampler.gene(taxid or 9606, ("symbol",), ctx.rng)
    sym = str((doc or {}).get("symbol", ""))
    return sym if PATTERN_SYMBOL_RE.match(sym) else None


def patterns(ctx: Ctx) -> Draft | None:
    """ "Genes whose symbol is CDK followed by one character" → q=symbol:cdk?; "anything
    starting with IL and ending with R" → q=il*r; "everything matching SOX*" → q=sox*."""
    taxid, genes = _species(ctx, 0.5)
    sym = _pattern_symbol(ctx, taxid)
    if sym is None:
        return None
    kind = ctx.choice(["one", "one", "inner", "inner", "free_prefix"])
    fielded = kind != "free_prefix" and ctx.chance(0.5)
    if kind == "one":
        p = sym[:-1]
        pattern = f"{p}?"
        cond = ctx.choice(
            [
                "whose symbol is {p} followed by exactly one character",
                "with a symbol made of {p} plus a single character",
                "whose symbol matches {p}? (one more character)",
                "named {p} and one more letter or digit",
            ]
            if fielded
            else [
                "matching {p} followed by one character",
                "matching the pattern {p}? (a single character after {p})",
                "that match {p} plus exactly one character anywhere",
                "found by a search for {p}?",
            ]
        ).format(p=p)
    elif kind == "inner":
        head = sym[: ctx.rng.randint(2, min(4, len(sym) - 1))]
        tail = sym[-1]
        pattern = f"{head}*{tail}"
        cond = ctx.choice(
            [
                "whose symbol starts with {h} and ends with {t}",
                "with symbols beginning with {h} and ending in {t}",
                "whose symbol matches {h}*{t}",
            ]
            if fielded
            else [
                "matching anything that starts with {h} and ends with {t}",
                "matching the pattern {h}*{t}",
                "found by a search for {h}*{t}",
            ]
        ).format(h=head, t=tail)
    else:
        p = sym[: ctx.rng.randint(3, min(5, len(sym)))]
        pattern = f"{p}*"
        cond = ctx.choice(
            [
                "matching anything starting with {p} (in any field)",
                "found by a free-text search for {p}*",
                "that match {p}* anywhere, not only in the symbol",
            ]
        ).format(p=p)
    question = ctx.say(
        ["List the {g} {c}.", "Find {g} {c}.", "Which {g} are there {c}?", "Show me {g} {c}."],
        ["{g} {c}", "{g}: {c}"],
        g=genes, c=cond,
    )  # fmt: skip
    q = f"symbol:{pattern}" if fielded else pattern
    return Draft(question, query_text(q, taxid, LIST_FIELDS), "wildcard", ctx.style, min_total=2)


def word_boolean(ctx: Ctx) -> Draft | None:
    """ "Genes that mention interleukin or insulin, and also receptor" → q=(interleukin OR
    insulin) AND receptor; "the phrase "tumor suppressor" but not kinase" → q="tumor
    suppressor" NOT kinase; "both actin and myosin" → q=actin AND myosin."""
    taxid, genes = _species(ctx, 0.4)
    w1, w2, w3 = ctx.rng.sample(WORDS, 3)
    kind = ctx.choice(["or_and", "or_and", "phrase_not", "and", "or", "not", "and_or"])
    if kind == "or_and":
        q = f"({w1} OR {w2}) AND {w3}"
        cond = ctx.choice(
            [
                "that mention {a} or {b}, and also {c}",
                "about {a} or {b} that also match {c}",
                "matching either {a} or {b} together with {c}",
                "for which a search for ({a} or {b}) and {c} matches",
            ]
        )
    elif kind == "and_or":
        q = f"{w1} AND ({w2} OR {w3})"
        cond = ctx.choice(
            ["that mention {a} and also {b} or {c}", "matching {a} together with either {b} or {c}"]
        )
    elif kind == "phrase_not":
        phrase = ctx.choice([p for p in TEXT_PHRASES + HYPHENATED if " " in p or "-" in p])
        if w1 in phrase.lower():
            return None
        q = f'"{phrase}" NOT {w1}'
        cond = ctx.choice(
            [
                'matching the exact phrase "{p}" but not {a}',
                'that mention "{p}" but not {a}',
                'with the phrase "{p}", leaving out anything about {a}',
            ]
        ).replace("{p}", phrase)
    elif kind == "and":
        q = f"{w1} AND {w2}"
        cond = ctx.choice(["that mention both {a} and {b}", "matching {a} as well as {b}"])
    elif kind == "or":
        q = f"{w1} OR {w2}"
        cond = ctx.choice(["that mention either {a} or {b}", "matching {a} or {b}"])
    else:
        q = f"{w1} NOT {w2}"
        cond = ctx.choice(["about {a} but not {b}", "that mention {a} and not {b}"])
    cond = cond.format(a=w1, b=w2, c=w3)
    question = ctx.say(
        ["List the {g} {c}.", "Find {g} {c}.", "Which {g} are there {c}?", "Search for {g} {c}."],
        ["{g} {c}"],
        g=genes, c=cond,
    )  # fmt: skip
    return Draft(question, query_text(q, taxid, LIST_FIELDS), "boolean", ctx.style)


def phrase_search(ctx: Ctx) -> Draft | None:
    """Hyphenated phrases, quoted as written: "genes matching the phrase "cyclin-dependent
    kinase"" → q="cyclin-dependent kinase"."""
    taxid, genes = _species(ctx, 0.4)
    phrase = ctx.choice(HYPHENATED)
    question = ctx.say(
        [
            'Which {g} match the phrase "{p}"?',
            'Find {g} that mention "{p}".',
            "Search {g} for the exact phrase {p}.",
            'List {g} with "{p}" anywhere in their record.',
        ],
        ['"{p}" {g}', "{g} phrase {p}"],
        g=genes, p=phrase,
    )  # fmt: skip
    q = f'"{phrase}"' if " " in phrase else phrase
    return Draft(question, query_text(q, taxid, LIST_FIELDS), "text_search", ctx.style)


def free_text_gene(ctx: Ctx) -> Draft | None:
    """A search for a gene's name with no field, and what to show of the hits: "Search human
    genes for TP53 and give me the Ensembl ids and pathways of the hits" →
    q=tp53&species=human&fields=symbol,ensembl.gene,pathway (size=1 for "the best hit")."""
    taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(taxid, (), ctx.rng)
    if doc is None:
        return None
    sym = str(doc["symbol"])
    with_sp = ctx.chance(0.6)
    genes = ctx.genes_word(taxid if with_sp else None)
    options = [
        a for a in ASK_ATTRS if (not ATTRS[a].taxa or taxid in ATTRS[a].taxa)
        and ctx.sampler.has(taxid, ATTRS[a].need)
    ]  # fmt: skip
    attrs: list[str] = []
    for a in ctx.rng.sample(options, len(options)):
        roots = {f.split(".")[0] for f in ATTRS[a].fields if f != "symbol"}
        if not roots & {f.split(".")[0] for b in attrs for f in ATTRS[b].fields if f != "symbol"}:
            attrs.append(a)
    attrs = attrs[: ctx.rng.randint(1, 4)]
    if not attrs:
        return None
    words = [ctx.choice(list(ATTRS[a].words)) for a in attrs]
    asked = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    top = ctx.chance(0.3)
    hits = "the best hit" if top else "the hits"
    question = ctx.say(
        [
            "Search {g} for {s} and give me the {a} of {h}.",
            "Do a free-text search for {s} in {g} and show {a} for {h}.",
            "Look up {g} that have anything to do with {s}; I need the {a} of {h}.",
            "What are the {a} of {h} when I search {g} for {s}?",
            "Query {s} across {g} and return {a} for {h}.",
        ],
        ["{s} search, {g}: {a} of {h}", "search {s} {g} -> {a}"],
        g=genes, s=sym, a=asked, h=hits,
    )  # fmt: skip
    query = query_text(sym, taxid if with_sp else None, fields_of(*attrs), size=1 if top else None)
    return Draft(question, query, "text_search", ctx.style, expect=[str(doc["_id"])] if top else [])


BUILDERS = {
    "patterns": (patterns, 4),
    "word_boolean": (word_boolean, 4),
    "phrase_search": (phrase_search, 1),
    "free_text_gene": (free_text_gene, 3),
}
"""Builders of this module and their relative weights."""
