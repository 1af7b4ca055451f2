"""Questions about sets of genes: GO terms, pathways, genome intervals, gene types, counts and
facets, wildcard symbols, boolean combinations, free text, with paging and sorting.

Each builder takes a :class:`~assistant.synth.base.Ctx` and returns a
:class:`~assistant.synth.base.Draft` (or None when the store has nothing suitable).
"""

from __future__ import annotations

import re

from .base import LIST_FIELDS, Ctx, Draft, query_text
from .genes import first

PHRASE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ,:()'+\-]{2,70}$")
"""GO terms and pathway names a question can quote (no quotes, slashes or brackets)."""

GO_CATEGORY = {
    "BP": {
        "id": ["the biological process {x}", "GO biological process {x}", "the GO process {x}"],
        "term": ["involved in {x}", "annotated with the process {x}", "taking part in {x}"],
    },
    "MF": {
        "id": ["the molecular function {x}", "GO molecular function {x}", "the GO function {x}"],
        "term": ["annotated with the molecular function {x}", "annotated with the function {x}"],
    },
    "CC": {
        "id": ["the cellular component {x}", "GO cellular component {x}", "the GO component {x}"],
        "term": [
            "located in the {x}",
            "found in the {x}",
            "annotated to the cellular component {x}",
        ],
    },
}
"""How a question names a GO category; all read after "genes ... are" and "list genes ..."."""


def _mode(ctx: Ctx) -> str:
    """What a set question wants: a list, a list of N, a count, or a per-species breakdown."""
    return ctx.rng.choices(["list", "list_n", "count", "facet"], weights=[50, 20, 20, 10])[0]


def _list_question(ctx: Ctx, mode: str, genes: str, cond: str, n: int) -> str:
    """ "Which human genes are involved in apoptosis?" and its count / top-N / facet forms."""
    if mode == "count":
        return ctx.say(
            ["How many {g} are {c}?", "Count the {g} {c}.", "What is the number of {g} {c}?"],
            ["how many {g} {c}", "count {g} {c}"],
            g=genes, c=cond,
        )  # fmt: skip
    if mode == "facet":
        return ctx.say(
            [
                "How many genes {c} are there in each species?",
                "Break down the genes {c} by species.",
                "Count genes {c} per species.",
            ],
            ["genes {c} per species", "species breakdown: genes {c}"],
            c=cond,
        )
    if mode == "list_n":
        return ctx.say(
            ["List {n} {g} {c}.", "Show me {n} {g} {c}.", "Give me the first {n} {g} {c}."],
            ["{n} {g} {c}", "top {n} {g} {c}"],
            n=n, g=genes, c=cond,
        )  # fmt: skip
    return ctx.say(
        ["Which {g} are {c}?", "List the {g} {c}.", "Find {g} {c}.", "Show me {g} {c}."],
        ["{g} {c}", "list {g} {c}"],
        g=genes, c=cond,
    )  # fmt: skip


def _set_query(ctx: Ctx, q: str, taxid: int | None, mode: str, n: int, fields=LIST_FIELDS) -> str:
    if mode == "count":
        return query_text(q, taxid, None, size=0)
    if mode == "facet":
        return query_text(q, None, None, size=0, facets="taxid")
    return query_text(q, taxid, fields, size=n if mode == "list_n" else None)


def _n(ctx: Ctx) -> int:
    return ctx.choice([5, 10, 20, 20, 25, 50, 100])


def _facet_genes(ctx: Ctx, taxid: int, mode: str) -> tuple[int | None, str]:
    """Facet questions name no species; otherwise the species is named 70% of the time."""
    if mode == "facet" or not ctx.chance(0.7):
        return None, "genes"
    return taxid, ctx.genes_word(taxid)


def genes_by_go(ctx: Ctx) -> Draft | None:
    """ "Which human genes are involved in apoptotic process?" → q=go.BP.term:"apoptotic process"
    &species=human&fields=symbol,name; by id → go.BP.id:"GO:0006915"; no category → GO:0006915."""
    taxid = ctx.sampler.species(ctx.rng)
    cat = ctx.choice(["BP", "BP", "MF", "CC"])
    doc = ctx.sampler.gene(taxid, (f"go.{cat}",), ctx.rng)
    if doc is None:
        return None
    terms = [t for t in _as_list(doc["go"][cat]) if PHRASE_RE.match(t.get("term", ""))]
    if not terms:
        return None
    term = ctx.choice(terms)
    mode = _mode(ctx)
    sp, genes = _facet_genes(ctx, taxid, mode)
    by = ctx.choice(["term", "term", "id", "id_nocat"])
    if by == "term":
        cond = ctx.choice(GO_CATEGORY[cat]["term"]).format(x=term["term"])
        q = f'go.{cat}.term:"{term["term"]}"'
    elif by == "id":
        cond = "annotated with " + ctx.choice(GO_CATEGORY[cat]["id"]).format(x=term["id"])
        q = f'go.{cat}.id:"{term["id"]}"'
    else:
        cond = ctx.choice(["annotated with the GO term {x}", "annotated with {x}"]).format(
            x=term["id"]
        )
        q = term["id"]
    n = _n(ctx)
    question = _list_question(ctx, mode, genes, cond, n)
    return Draft(question, _set_query(ctx, q, sp, mode, n), "genes_by_go", ctx.style)


PATHWAY_SOURCES = {
    "reactome": ("Reactome", ["the Reactome pathway {x}", "Reactome's {x} pathway"]),
    "wikipathways": ("WikiPathways", ["the WikiPathways pathway {x}", "WikiPathways {x}"]),
}


def genes_by_pathway(ctx: Ctx) -> Draft | None:
    """ "List human genes in the Reactome pathway Cell Cycle" → q=pathway.reactome.name:"Cell Cycle"
    &species=human&fields=symbol,name; by id → pathway.reactome.id:R-HSA-1640170."""
    taxid = ctx.sampler.species(ctx.rng)
    src = ctx.choice(["reactome", "reactome", "wikipathways"])
    doc = ctx.sampler.gene(taxid, (f"pathway.{src}",), ctx.rng)
    if doc is None:
        return None
    items = [p for p in _as_list(doc["pathway"][src]) if PHRASE_RE.match(p.get("name", ""))]
    if not items:
        return None
    pw = ctx.choice(items)
    mode = _mode(ctx)
    sp, genes = _facet_genes(ctx, taxid, mode)
    if ctx.chance(0.6):
        x = pw["name"]
        q = f'pathway.{src}.name:"{x}"'
    else:
        x = pw["id"]
        q = f"pathway.{src}.id:{x}"
    place = ctx.choice(PATHWAY_SOURCES[src][1]).format(x=x)
    cond = ctx.choice(["in {p}", "part of {p}", "members of {p}"]).format(p=place)
    n = _n(ctx)
    question = _list_question(ctx, mode, genes, cond, n)
    return Draft(question, _set_query(ctx, q, sp, mode, n), "genes_by_pathway", ctx.style)


def placed_gene(ctx: Ctx, taxid: int, path: str = "genomic_pos") -> tuple[dict, dict] | None:
    """A gene of ``taxid`` with a position under ``path`` on a plainly named chromosome, and
    that position (``{"chr", "start", "end"}``); None when the draw has none."""
    doc = ctx.sampler.gene(taxid, (path,), ctx.rng)
    if doc is None:
        return None
    pos = first(doc[path])
    if not isinstance(pos, dict) or not re.fullmatch(r"[0-9A-Za-z]{1,4}", str(pos.get("chr", ""))):
        return None
    return doc, pos


def interval(ctx: Ctx) -> Draft | None:
    """ "Which human genes lie in chr12:55,966,000-55,973,000?" → q=chr12:55966000-55973000&species=
    human&fields=symbol,genomic_pos (hg19: q=hg19.chr...&fields=symbol,genomic_pos_hg19)."""
    taxid = ctx.sampler.species(ctx.rng)
    hg19 = taxid == 9606 and ctx.chance(0.2)
    path = "genomic_pos_hg19" if hg19 else "genomic_pos"
    found = placed_gene(ctx, taxid, path)
    if found is None:
        return None
    doc, pos = found
    chrom = str(pos["chr"])
    lo = max(0, (int(pos["start"]) - ctx.rng.randint(0, 200_000)) // 1000 * 1000)
    hi = -(-(int(pos["end"]) + ctx.rng.randint(0, 200_000)) // 1000) * 1000
    form = ctx.choice(["colon", "colon", "plain", "words", "mb"])
    if form == "colon":
        region = f"chr{chrom}:{lo:,}-{hi:,}"
    elif form == "plain":
        region = f"chr{chrom}:{lo}-{hi}"
    elif form == "words":
        region = f"chromosome {chrom} from {lo:,} to {hi:,}"
    else:
        region = f"chromosome {chrom} between {lo / 1e6:.3f} and {hi / 1e6:.3f} Mb"
    if hg19:
        region += ctx.choice([" (hg19)", " in hg19 coordinates", " on GRCh37"])
    genes = ctx.genes_word(taxid)
    count = ctx.chance(0.2)
    if count:
        question = ctx.say(
            ["How many {g} are in {r}?", "Count the {g} located in {r}."],
            ["how many {g} in {r}", "count {g} {r}"],
            g=genes, r=region,
        )  # fmt: skip
    else:
        question = ctx.say(
            [
                "Which {g} lie in {r}?",
                "What {g} are located in {r}?",
                "List the {g} that overlap {r}.",
                "Find {g} in the region {r}.",
            ],
            ["{g} in {r}", "{g} {r}"],
            g=genes, r=region,
        )  # fmt: skip
    q = f"{'hg19.' if hg19 else ''}chr{chrom}:{lo}-{hi}"
    fields = ("symbol", path)
    query = query_text(q, taxid, None, size=0) if count else query_text(q, taxid, fields)
    return Draft(question, query, "interval", ctx.style, expect=[] if count else [doc["_id"]])


TYPE_WORDS = {
    "protein-coding": ["protein-coding genes", "protein coding genes"],
    "ncrna": ["ncRNA genes", "non-coding RNA genes"],
    "pseudo": ["pseudogenes"],
    "snorna": ["snoRNA genes"],
    "trna": ["tRNA genes"],
    "rrna": ["rRNA genes"],
    "snrna": ["snRNA genes"],
}


def type_counts(ctx: Ctx) -> Draft | None:
    """ "How many protein-coding genes does the rat have?" → q=type_of_gene:protein-coding&species=
    rat&size=0; "count human genes by type" → q=_exists_:type_of_gene&species=human&facets=
    type_of_gene&size=0; across species → facets=taxid."""
    taxid = ctx.sampler.species(ctx.rng)
    kind = ctx.choice(["count", "count", "by_type", "by_species", "chr_types"])
    gtype = ctx.choice(list(TYPE_WORDS))
    words = ctx.choice(TYPE_WORDS[gtype])
    if kind == "count":
        question = ctx.say(
            ["How many {t} does the {s} have?", "How many {t} are there {i}?", "Count the {t} {i}."],
            ["how many {t} {i}", "number of {t} {i}"],
            t=words, s=ctx.choice(_adj(taxid)), i=ctx.in_species(taxid).strip(),
        )  # fmt: skip
        query = query_text(f"type_of_gene:{gtype}", taxid, None, size=0)
        return Draft(question, query, "gene_type", ctx.style)
    if kind == "by_type":
        question = ctx.say(
            [
                "Count {g} by type of gene.",
                "How many {g} are there of each gene type?",
                "Give me a breakdown of {g} by gene type.",
            ],
            ["{g} per gene type", "{g} by type"],
            g=ctx.genes_word(taxid),
        )
        query = query_text("_exists_:type_of_gene", taxid, None, size=0, facets="type_of_gene")
        return Draft(question, query, "counts_facets", ctx.style)
    if kind == "by_species":
        question = ctx.say(
            ["How many {t} does each species have?", "Break down the {t} by species."],
            ["{t} per species", "{t} by species"],
            t=words,
        )
        query = query_text(f"type_of_gene:{gtype}", None, None, size=0, facets="taxid")
        return Draft(question, query, "counts_facets", ctx.style)
    doc = ctx.sampler.gene(taxid, ("genomic_pos",), ctx.rng)
    if doc is None:
        return None
    chrom = str(first(doc["genomic_pos"]).get("chr", ""))
    if not re.fullmatch(r"[0-9A-Za-z]{1,4}", chrom):
        return None
    question = ctx.say(
        [
            "What types of genes are on chromosome {c} {i}? Give counts per type.",
            "Break down the {g} on chromosome {c} by gene type.",
        ],
        ["chr{c} {g} by type", "gene types on chromosome {c} {i}"],
        c=chrom, i=ctx.in_species(taxid).strip(), g=ctx.genes_word(taxid),
    )  # fmt: skip
    query = query_text(f"genomic_pos.chr:{chrom}", taxid, None, size=0, facets="type_of_gene")
    return Draft(question, query, "counts_facets", ctx.style)


def symbol_species(ctx: Ctx) -> Draft | None:
    """ "In which species is there a gene called CDK2, and how many?" → q=symbol:CDK2&facets=taxid&size=0."""
    taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(taxid, ("homologene",), ctx.rng)
    if doc is None:
        return None
    question = ctx.say(
        [
            "In which species is there a gene with the symbol {s}? Count them per species.",
            "How many genes named {s} exist in each species?",
            "Break down genes with symbol {s} by species.",
        ],
        ["{s} per species", "species with a {s} gene"],
        s=doc["symbol"],
    )
    query = query_text(f"symbol:{doc['symbol']}", None, None, size=0, facets="taxid")
    return Draft(question, query, "counts_facets", ctx.style)


def _prefix(ctx: Ctx, taxid: int) -> str | None:
    doc = ctx.sampler.gene(taxid, ("symbol",), ctx.rng)
    if doc is None:
        return None
    m = re.match(r"[A-Za-z]{3,6}", doc["symbol"])
    return m.group()[: ctx.rng.randint(3, min(5, len(m.group())))] if m else None


SORTS = {
    "symbol": ["sorted by symbol", "in alphabetical order of symbol", "ordered by gene symbol"],
    "entrezgene": ["sorted by Entrez id", "ordered by increasing Entrez gene id"],
    "-entrezgene": ["with the highest Entrez id first", "sorted by Entrez id, descending"],
    "-symbol": ["in reverse alphabetical order of symbol", "sorted by symbol, descending"],
}


def wildcard(ctx: Ctx) -> Draft | None:
    """ "List human genes whose symbol starts with CDK" → q=symbol:CDK*&species=human&fields=
    symbol,name; with paging/sorting: "sorted by symbol, results 21 to 40" → sort=symbol&from=20&size=20."""
    taxid = ctx.sampler.species(ctx.rng)
    prefix = _prefix(ctx, taxid)
    if prefix is None:
        return None
    with_sp = ctx.chance(0.75)
    genes = ctx.genes_word(taxid if with_sp else None)
    cond = ctx.choice(
        [
            "whose symbol starts with {p}",
            "with symbols beginning with {p}",
            "matching the symbol pattern {p}*",
            "named {p}-something",
        ]
    ).format(p=prefix)
    extra, params, intent = _paging(ctx)
    n = _n(ctx) if "size" not in params and ctx.chance(0.3) else None
    if n:
        params["size"] = n
        question = ctx.say(
            ["List {n} {g} {c}{e}.", "Show {n} {g} {c}{e}."],
            ["{n} {g} {c}{e}"],
            n=n, g=genes, c=cond, e=extra,
        )  # fmt: skip
    else:
        question = ctx.say(
            ["List the {g} {c}{e}.", "Which {g} have symbols starting with {p}{e}?", "Find {g} {c}{e}."],
            ["{g} {c}{e}", "{p}* {g}{e}"],
            g=genes, c=cond, e=extra, p=prefix,
        )  # fmt: skip
    query = query_text(f"symbol:{prefix}*", taxid if with_sp else None, LIST_FIELDS, **params)
    return Draft(question, query, intent or "wildcard", ctx.style, min_total=2)


def _paging(ctx: Ctx) -> tuple[str, dict, str | None]:
    """Optional paging/sorting words and parameters for a list question."""
    if not ctx.chance(0.35):
        return "", {}, None
    params: dict = {}
    parts = []
    if ctx.chance(0.6):
        key = ctx.choice(list(SORTS))
        params["sort"] = key
        parts.append(ctx.choice(SORTS[key]))
    if not params or ctx.chance(0.5):
        per = ctx.choice([10, 20, 25, 50])
        page = ctx.rng.randint(2, 4)
        form = ctx.choice(["page", "range", "skip"])
        if form == "page":
            params.update(size=per, **{"from": per * (page - 1)})
            parts.append(f"page {page} with {per} per page")
        elif form == "range":
            params.update(size=per, **{"from": per * (page - 1)})
            parts.append(f"results {per * (page - 1) + 1} to {per * page}")
        else:
            params["from"] = per
            parts.append(f"skipping the first {per}")
    return ", " + ", ".join(parts), params, "paging_sorting"


NAME_WORD_RE = re.compile(r"^[a-z]{6,15}$")
STOP = {"protein", "family", "member", "containing", "domain", "subunit", "putative", "like",
        "uncharacterized", "predicted", "associated", "related", "homolog", "open", "reading",
        "frame", "novel", "transcript", "isoform", "chromosome", "pseudogene"}  # fmt: skip


def boolean(ctx: Ctx) -> Draft | None:
    """AND/OR/NOT: "human kinases on chromosome 12" → q=name:kinase AND genomic_pos.chr:12;
    "CDK* genes that are not pseudogenes" → q=symbol:CDK* NOT type_of_gene:pseudo; "genes with
    symbol or alias p33" → q=symbol:p33 OR alias:p33; GO term AND pathway."""
    taxid = ctx.sampler.species(ctx.rng)
    kind = ctx.choice(
        ["name_chr", "name_chr", "type_chr", "not_pseudo", "symbol_or_alias", "go_and_pathway"]
    )
    genes = ctx.genes_word(taxid)
    if kind == "name_chr":
        doc = ctx.sampler.gene(taxid, ("genomic_pos",), ctx.rng)
        words = [
            w
            for w in str((doc or {}).get("name", "")).split()
            if NAME_WORD_RE.match(w) and w not in STOP
        ]
        if doc is None or not words:
            return None
        word, chrom = ctx.choice(words), str(first(doc["genomic_pos"]).get("chr", ""))
        if not re.fullmatch(r"[0-9A-Za-z]{1,4}", chrom):
            return None
        question = ctx.say(
            [
                "Which {g} on chromosome {c} have '{w}' in their name?",
                "Find {g} with {w} in the name located on chromosome {c}.",
                "List {w} {g} on chromosome {c}.",
            ],
            ["{w} {g} chr{c}", "{g} named *{w}* on chromosome {c}"],
            g=genes, c=chrom, w=word,
        )  # fmt: skip
        q = f"name:{word} AND genomic_pos.chr:{chrom}"
        return Draft(
            question, query_text(q, taxid, LIST_FIELDS), "boolean", ctx.style, expect=[doc["_id"]]
        )
    if kind == "type_chr":
        doc = ctx.sampler.gene(taxid, ("genomic_pos",), ctx.rng)
        if doc is None:
            return None
        gtype = str(doc.get("type_of_gene", ""))
        chrom = str(first(doc["genomic_pos"]).get("chr", ""))
        if gtype not in TYPE_WORDS or not re.fullmatch(r"[0-9A-Za-z]{1,4}", chrom):
            return None
        t = ctx.choice(TYPE_WORDS[gtype])
        count = ctx.chance(0.4)
        i = ctx.in_species(taxid).strip()
        if count:
            question = ctx.say(
                ["How many {t} are on chromosome {c} {i}?", "Count the {t} on chromosome {c} {i}."],
                ["how many {t} chr{c} {i}"],
                t=t, c=chrom, i=i,
            )  # fmt: skip
        else:
            question = ctx.say(
                ["List the {t} on chromosome {c} {i}.", "Which {t} are on chromosome {c} {i}?"],
                ["{t} on chr{c} {i}"],
                t=t, c=chrom, i=i,
            )  # fmt: skip
        q = f"type_of_gene:{gtype} AND genomic_pos.chr:{chrom}"
        query = query_text(q, taxid, None, size=0) if count else query_text(q, taxid, LIST_FIELDS)
        return Draft(question, query, "boolean", ctx.style)
    if kind == "not_pseudo":
        prefix = _prefix(ctx, taxid)
        if prefix is None:
            return None
        question = ctx.say(
            [
                "Which {g} with symbols starting with {p} are not pseudogenes?",
                "List {p}* {g}, excluding pseudogenes.",
                "Find {g} whose symbol begins with {p} but leave out the pseudogenes.",
            ],
            ["{p}* {g} not pseudo", "{p}* {g} minus pseudogenes"],
            g=genes, p=prefix,
        )  # fmt: skip
        q = f"symbol:{prefix}* NOT type_of_gene:pseudo"
        return Draft(question, query_text(q, taxid, LIST_FIELDS), "boolean", ctx.style)
    if kind == "symbol_or_alias":
        doc = ctx.sampler.gene(taxid, ("alias",), ctx.rng)
        if doc is None:
            return None
        names = [
            a
            for a in _as_list(doc.get("alias"))
            if re.fullmatch(r"[A-Za-z][A-Za-z0-9\-]{1,12}", str(a))
        ]
        if not names:
            return None
        x = ctx.choice(names)
        with_sp = ctx.chance(0.6)
        sp = ctx.in_species(taxid if with_sp else None)
        question = ctx.say(
            [
                "Find genes that have {x} as their symbol or as an alias{s}.",
                "Which genes use {x} either as official symbol or as alias{s}?",
            ],
            ["{x} as symbol or alias{s}", "symbol or alias = {x}{s}"],
            x=x, s=sp,
        )  # fmt: skip
        q = f"symbol:{x} OR alias:{x}"
        fields = ("symbol", "name", "alias")
        return Draft(
            question, query_text(q, taxid if with_sp else None, fields), "boolean", ctx.style,
            expect=[doc["_id"]],
        )  # fmt: skip
    doc = ctx.sampler.gene(taxid, ("go.BP", "pathway.reactome"), ctx.rng)
    if doc is None:
        return None
    gos = [t["term"] for t in _as_list(doc["go"]["BP"]) if PHRASE_RE.match(t.get("term", ""))]
    pws = [
        p["name"]
        for p in _as_list(doc["pathway"]["reactome"])
        if PHRASE_RE.match(p.get("name", ""))
    ]
    if not gos or not pws:
        return None
    t, p = ctx.choice(gos), ctx.choice(pws)
    question = ctx.say(
        [
            "Which {g} are involved in {t} and also in the Reactome pathway {p}?",
            "Find {g} annotated with the process {t} that are part of Reactome's {p}.",
        ],
        ["{g}: process {t} AND Reactome {p}"],
        g=genes, t=t, p=p,
    )  # fmt: skip
    q = f'go.BP.term:"{t}" AND pathway.reactome.name:"{p}"'
    return Draft(
        question, query_text(q, taxid, LIST_FIELDS), "boolean", ctx.style, expect=[doc["_id"]]
    )


TEXT_PHRASES = [
    "tumor suppressor", "zinc finger", "heat shock", "ribosomal protein", "olfactory receptor",
    "solute carrier", "cell adhesion", "DNA repair", "ion channel", "growth factor",
    "transcription factor", "ubiquitin ligase", "potassium channel", "cytochrome P450",
    "tyrosine kinase", "G protein-coupled receptor", "histone deacetylase", "insulin receptor",
    "cyclin dependent kinase", "homeobox", "collagen", "keratin", "interleukin", "kinesin",
    "myosin", "actin", "tubulin", "mitochondrial", "apoptosis", "autophagy",
]  # fmt: skip


def text_search(ctx: Ctx) -> Draft | None:
    """Free text: "find tumor suppressor genes in mouse" → q="tumor suppressor"&species=mouse&fields=
    symbol,name; "genes whose name contains X" → q=name:"X"; "whose summary mentions insulin" →
    q=summary:insulin."""
    taxid = ctx.sampler.species(ctx.rng)
    phrase = ctx.choice(TEXT_PHRASES)
    with_sp = ctx.chance(0.7)
    genes = ctx.genes_word(taxid if with_sp else None)
    kind = ctx.choice(["any", "any", "name", "summary"])
    one = " " not in phrase
    qp = phrase if one else f'"{phrase}"'
    if kind == "any":
        question = ctx.say(
            ["Find {p} {g}.", "Search for {g} related to {p}.", "Which {g} have anything to do with {p}?"],
            ["{p} {g}", "{g} {p}"],
            p=phrase, g=genes,
        )  # fmt: skip
        q = qp
    elif kind == "name":
        question = ctx.say(
            ["Find {g} whose name contains '{p}'.", "Which {g} have {p} in their name?"],
            ["{g} named {p}", "name contains {p}, {g}"],
            p=phrase, g=genes,
        )  # fmt: skip
        q = f"name:{qp}"
    else:
        question = ctx.say(
            ["Which {g} have a summary that mentions {p}?", "Find {g} whose description talks about {p}."],
            ["{g} summary mentions {p}"],
            p=phrase, g=genes,
        )  # fmt: skip
        q = f"summary:{qp}"
    return Draft(
        question, query_text(q, taxid if with_sp else None, LIST_FIELDS), "text_search", ctx.style
    )


def _adj(taxid: int) -> list[str]:
    from .vocab import SPECIES_WORDS

    return SPECIES_WORDS[taxid]["adj"]


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


BUILDERS = {
    "genes_by_go": (genes_by_go, 9),
    "genes_by_pathway": (genes_by_pathway, 7),
    "interval": (interval, 6),
    "type_counts": (type_counts, 5),
    "symbol_species": (symbol_species, 2),
    "wildcard": (wildcard, 6),
    "boolean": (boolean, 6),
    "text_search": (text_search, 4),
}
"""Builders of this module and their relative weights."""
