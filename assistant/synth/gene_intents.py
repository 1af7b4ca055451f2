"""Questions about one gene or a few named genes: look-ups, attributes, id conversion both ways,
official symbols of aliases, /v3/gene records, orthologs and POST batches.

Each builder takes a :class:`~assistant.synth.base.Ctx` and returns a
:class:`~assistant.synth.base.Draft` (or None when the store has no suitable gene).
"""

from __future__ import annotations

import re

from .base import ATTRS, WHICH_GENE_FIELDS, Ctx, Draft, fields_of, query_text
from .genes import first, get

ATTR_FULL = [
    "What {be} the {a} of {g}?",
    "What's the {a} for {g}?",
    "Give me the {a} of {g}.",
    "Show me the {a} of {g}.",
    "I need the {a} for {g}.",
    "Can you find the {a} of {g}?",
    "Look up the {a} of {g}.",
    "{g}: what {be} its {a}?",
]
ATTR_TERSE = ["{g} {a}", "{a} of {g}", "{a} {g}?", "{g} -> {a}", "{g}, {a}"]
ATTR_SPECIAL = {
    "chromosome": ["Which chromosome is {g} on?", "On what chromosome is {g} located?"],
    "location": ["Where is {g} located?", "Where is {g} in the genome?"],
    "type": ["What kind of gene is {g}?", "What type of gene is {g}?"],
    "summary": ["What does {g} do?", "Summarize what is known about {g}."],
    "go_bp": [
        "Which biological processes is {g} involved in?",
        "What processes does {g} take part in?",
    ],
    "go_mf": ["What molecular functions does {g} have?", "What is the molecular function of {g}?"],
    "go_cc": [
        "Where in the cell is the product of {g} found?",
        "Which cellular components is {g} annotated to?",
    ],
    "name": ["What does the symbol {g} stand for?", "What is the full name of {g}?"],
    "aliases": ["What other names does {g} go by?", "What are the aliases of {g}?"],
    "reactome": ["What Reactome pathways is {g} part of?", "Which Reactome pathways involve {g}?"],
    "wikipathways": ["Which WikiPathways pathways include {g}?"],
    "pathways": ["Which pathways is {g} in?"],
}
MULTI_FULL = [
    "What are the {a} and the {b} of {g}?",
    "Give me the {a} and {b} for {g}.",
    "I need both the {a} and the {b} of {g}.",
]
MULTI_TERSE = ["{g} {a} and {b}", "{a} + {b} for {g}"]

# Which attributes a single-gene question asks about, and how often.
ATTR_WEIGHTS = {
    "entrez": 8, "ensembl": 8, "uniprot": 5, "swissprot": 2, "refseq_rna": 3, "refseq": 1,
    "hgnc": 3, "mgi": 3, "rgd": 2, "zfin": 2, "flybase": 2, "wormbase": 2, "omim": 2,
    "location": 6, "chromosome": 3, "hg19": 2, "cytoband": 2, "type": 4, "name": 3,
    "aliases": 4, "summary": 6, "go_bp": 5, "go_mf": 4, "go_cc": 4, "go": 2,
    "reactome": 4, "wikipathways": 3, "pathways": 2, "homologene": 2,
}  # fmt: skip


def _species_flag(ctx: Ctx, taxid: int) -> bool:
    """Whether the question names the species: usually for non-human genes, often for human."""
    return ctx.chance(0.55 if taxid == 9606 else 0.85)


def _attr_choices(ctx: Ctx, taxid: int, exclude: tuple[str, ...] = ()) -> str:
    names = [
        a
        for a, w in ATTR_WEIGHTS.items()
        if a not in exclude
        and (not ATTRS[a].taxa or taxid in ATTRS[a].taxa)
        and ctx.sampler.has(taxid, ATTRS[a].need)
    ]
    return ctx.rng.choices(names, weights=[ATTR_WEIGHTS[a] for a in names])[0]


def gene_attribute(ctx: Ctx) -> Draft | None:
    """ "What's the Entrez id of human CDK2?" → q=symbol:CDK2&species=human&fields=symbol,name,entrezgene."""
    taxid = ctx.sampler.species(ctx.rng)
    attr = _attr_choices(ctx, taxid)
    second = None
    if ctx.chance(0.15):
        second = _attr_choices(ctx, taxid, exclude=(attr,))
    need = ATTRS[attr].need + (ATTRS[second].need if second else ())
    doc = ctx.sampler.gene(taxid, need, ctx.rng)
    if doc is None:
        return None
    with_sp = _species_flag(ctx, taxid)
    g = ctx.gene_ref(doc, with_sp)
    word = _attr_word(ctx, attr, taxid)
    if second:
        question = ctx.say(MULTI_FULL, MULTI_TERSE, g=g, a=word, b=_attr_word(ctx, second, taxid))
        fields = fields_of(attr, second)
    else:
        special = ATTR_SPECIAL.get(attr, [])
        full = special + ATTR_FULL if special and ctx.chance(0.5) else ATTR_FULL
        full = [t for t in full if "{a}" in t or t in special]
        be = "are" if word.endswith(("s", "ids")) and not word.endswith("ss") else "is"
        question = ctx.say(full, ATTR_TERSE, g=g, a=word, be=be)
        fields = fields_of(attr)
    query = query_text(f"symbol:{doc['symbol']}", taxid if with_sp else None, fields)
    return Draft(
        question,
        query,
        ATTRS[attr].intent,
        ctx.style,
        expect=[doc["_id"]] if with_sp else [],
        expect_fields=[f for f in need],
    )


def _attr_word(ctx: Ctx, attr: str, taxid: int) -> str:
    if attr == "ensembl":
        return ctx.id_word("ensembl", taxid)
    return ctx.choice(list(ATTRS[attr].words))


LOOKUP_FULL = [
    "Tell me about {g}.",
    "Look up {g}.",
    "Find {g}.",
    "What is {g}?",
    "Search MyGene for {g}.",
    "Can you pull up {g}?",
]
LOOKUP_TERSE = ["{g}", "{g} gene", "gene {g}", "info on {g}"]


def symbol_lookup(ctx: Ctx) -> Draft | None:
    """ "Tell me about mouse Cdk2" → q=symbol:Cdk2&species=mouse (default fields)."""
    taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(taxid, (), ctx.rng)
    if doc is None:
        return None
    with_sp = _species_flag(ctx, taxid)
    question = ctx.say(LOOKUP_FULL, LOOKUP_TERSE, g=ctx.gene_ref(doc, with_sp))
    query = query_text(f"symbol:{doc['symbol']}", taxid if with_sp else None)
    return Draft(
        question, query, "symbol_lookup", ctx.style, expect=[doc["_id"]] if with_sp else []
    )


NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9 \-]{6,60}$")


def name_lookup(ctx: Ctx) -> Draft | None:
    """ "Which gene is called cyclin dependent kinase 2?" → q=name:"cyclin dependent kinase 2"&fields=symbol,name."""
    taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(taxid, (), ctx.rng)
    if doc is None or not NAME_RE.match(str(doc.get("name", ""))) or " " not in doc["name"]:
        return None
    name = doc["name"]
    with_sp = _species_flag(ctx, taxid)
    sp = ctx.in_species(taxid if with_sp else None)
    question = ctx.say(
        [
            'Which gene is called "{n}"{sp}?',
            "What is the symbol of the gene named {n}{sp}?",
            "Find the gene whose name is {n}{sp}.",
            "I only know the full name, {n}. What's the gene symbol{sp}?",
        ],
        ["gene named {n}{sp}", "symbol for {n}{sp}?", '"{n}"{sp} symbol'],
        n=name,
        sp=sp,
    )
    query = query_text(f'name:"{name}"', taxid if with_sp else None, ("symbol", "name"))
    return Draft(question, query, "symbol_lookup", ctx.style, expect=[doc["_id"]])


ALIAS_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-.]{1,14}$")


def plain_aliases(doc: dict) -> list[str]:
    """The gene's aliases a question can name as they are (no spaces, not its own symbol)."""
    symbol = str(doc["symbol"]).lower()
    return [a for a in _list(doc.get("alias")) if ALIAS_RE.match(a) and a.lower() != symbol]


def pick_alias(ctx: Ctx) -> tuple[int, dict, str] | None:
    """``(taxid, gene, one of its plain aliases)`` drawn for an alias question, or None."""
    taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(taxid, ("alias",), ctx.rng)
    if doc is None:
        return None
    aliases = plain_aliases(doc)
    if not aliases:
        return None
    return taxid, doc, ctx.choice(aliases)


def alias_to_symbol(ctx: Ctx) -> Draft | None:
    """ "What is the official symbol of LMP10?" → q=alias:LMP10&fields=symbol,name,alias."""
    picked = pick_alias(ctx)
    if picked is None:
        return None
    taxid, doc, alias = picked
    with_sp = _species_flag(ctx, taxid)
    sp = ctx.in_species(taxid if with_sp else None)
    question = ctx.say(
        [
            "What is the official symbol of {x}{sp}?",
            "{x} is an old name. What's the current gene symbol{sp}?",
            "Which gene is also known as {x}{sp}?",
            "What's the approved symbol for the alias {x}{sp}?",
            "I have a gene called {x}{sp} in an old paper; what is it called now?",
        ],
        ["{x} official symbol{sp}", "official symbol of {x}{sp}?", "alias {x}{sp} -> symbol"],
        x=alias,
        sp=sp,
    )
    query = query_text(f"alias:{alias}", taxid if with_sp else None, ("symbol", "name", "alias"))
    return Draft(question, query, "alias_to_symbol", ctx.style, expect=[doc["_id"]])


# --- id → gene / other ids ----------------------------------------------------------------------

# kind: (field path holding the value, q field, how to write the value in q, taxa)
ID_SOURCES = {
    "ensembl": ("ensembl.gene", "ensembl.gene", "{v}", ()),
    "uniprot": ("uniprot.Swiss-Prot", "uniprot", "{v}", ()),
    "refseq_rna": ("refseq.rna", "refseq", "{v}", ()),
    "hgnc": ("HGNC", "HGNC", "{v}", (9606,)),
    "mgi": ("MGI", "MGI", '"{v}"', (10090,)),
    "rgd": ("RGD", "RGD", "{v}", (10116,)),
    "zfin": ("ZFIN", "ZFIN", "{v}", (7955,)),
    "flybase": ("FLYBASE", "FLYBASE", "{v}", (7227,)),
    "wormbase": ("WormBase", "WormBase", "{v}", (6239,)),
    "omim": ("MIM", "MIM", "{v}", (9606,)),
    "ensembl_transcript": ("ensembl.transcript", "ensembl.transcript", "{v}", (9606,)),
    "ensembl_protein": ("ensembl.protein", "ensembl.protein", "{v}", (9606,)),
}
SOURCE_WORDS = {
    "ensembl_transcript": ["Ensembl transcript", "transcript", "Ensembl transcript id"],
    "ensembl_protein": ["Ensembl protein", "Ensembl protein id"],
    "refseq_rna": ["RefSeq transcript", "RefSeq accession", "RefSeq mRNA"],
    "uniprot": ["UniProt accession", "UniProt id", "Swiss-Prot accession", "UniProt entry"],
}
ID_TARGETS = [
    "gene",
    "gene",
    "gene",
    "symbol",
    "entrez",
    "ensembl",
    "uniprot",
    "refseq_rna",
    "summary",
    "location",
]
TO_GENE_FULL = [
    "Which gene has the {s} {v}?",
    "What gene does the {s} {v} belong to?",
    "What gene is {s} {v}?",
    "Identify the gene for {s} {v}.",
]
TO_GENE_TERSE = ["{s} {v}?", "{v} gene?", "gene for {v}"]
CONVERT_FULL = [
    "Convert the {s} {v} to the {t}.",
    "What's the {t} for {s} {v}?",
    "Map {s} {v} to its {t}.",
    "I have the {s} {v}. What is the {t}?",
]
CONVERT_TERSE = ["{s} {v} to {t}", "{v} -> {t}", "{t} for {v}"]


def id_to_gene(ctx: Ctx) -> Draft | None:
    """ "Which gene has the UniProt accession P24941?" → q=uniprot:P24941&fields=symbol,name,taxid;
    "Convert Entrez 1017 to Ensembl" → /v3/gene/1017?fields=symbol,ensembl.gene."""
    taxid = ctx.sampler.species(ctx.rng)
    kinds = ["entrez"] * 4 + [
        k for k, (path, _, _, taxa) in ID_SOURCES.items()
        if (not taxa or taxid in taxa) and ctx.sampler.has(taxid, (path,))
    ]  # fmt: skip
    kind = ctx.choice(kinds)
    path = "entrezgene" if kind == "entrez" else ID_SOURCES[kind][0]
    doc = ctx.sampler.gene(taxid, (path,), ctx.rng)
    if doc is None:
        return None
    value = str(first(get(doc, path)))
    if kind == "refseq_rna":
        value = value.split(".")[0]
    target = ctx.choice(ID_TARGETS)
    if target == kind or (target == "entrez" and kind == "entrez"):
        target = "gene"
    if target not in ("gene", "symbol") and get(doc, ATTRS[target].need[0]) in (None, [], ""):
        target = "gene"
    src = ctx.choice(SOURCE_WORDS.get(kind) or [w for w in _src_words(ctx, kind, taxid)])
    shown = value
    if kind == "hgnc" and ctx.chance(0.6):
        shown, src = f"HGNC:{value}", ctx.choice(["HGNC id", "HGNC identifier"])
    if target == "gene":
        question = ctx.say(TO_GENE_FULL, TO_GENE_TERSE, s=src, v=shown)
        fields = WHICH_GENE_FIELDS
        intent = "id_to_gene"
    else:
        t = "official symbol" if target == "symbol" else _attr_word(ctx, target, taxid)
        question = ctx.say(CONVERT_FULL, CONVERT_TERSE, s=src, v=shown, t=t)
        fields = ("symbol",) if target == "symbol" else fields_of(target)
        intent = "id_conversion"
    if kind == "entrez":
        query = f"/v3/gene/{value}?fields=" + ",".join(fields)
    else:
        _, qfield, fmt, _ = ID_SOURCES[kind]
        query = query_text(f"{qfield}:" + fmt.format(v=value), None, fields)
    need = [] if target in ("gene", "symbol") else list(ATTRS[target].need)
    return Draft(question, query, intent, ctx.style, expect=[doc["_id"]], expect_fields=need)


def _src_words(ctx: Ctx, kind: str, taxid: int) -> list[str]:
    if kind == "ensembl":
        return [w for w in ATTRS["ensembl"].words if taxid == 9606 or "ENSG" not in w]
    return list(ATTRS[kind].words)


def gene_record(ctx: Ctx) -> Draft | None:
    """ "Get the full MyGene record of gene 1017" → /v3/gene/1017 (Entrez or Ensembl id)."""
    taxid = ctx.sampler.species(ctx.rng)
    use_ensembl = ctx.chance(0.3)
    path = "ensembl.gene" if use_ensembl else "entrezgene"
    doc = ctx.sampler.gene(taxid, (path,), ctx.rng)
    if doc is None:
        return None
    value = str(first(get(doc, path)))
    kind = ctx.id_word("ensembl", taxid) if use_ensembl else ctx.id_word("entrez")
    question = ctx.say(
        [
            "Get the full record of the gene with {k} {v}.",
            "Show everything MyGene.info has on {k} {v}.",
            "Fetch the complete gene document for {v} ({k}).",
            "Retrieve all annotations of gene {v}.",
        ],
        ["full record {v}", "all annotations for gene {v}", "gene document {v}"],
        k=kind,
        v=value,
    )
    return Draft(question, f"/v3/gene/{value}", "gene_record", ctx.style, expect=[doc["_id"]])


def ortholog(ctx: Ctx) -> Draft | None:
    """ "What is the zebrafish ortholog of human SOX2?" → q=symbol:sox2&species=zebrafish&fields=
    symbol,name,entrezgene,homologene (only where the ortholog has the same symbol);
    "Which genes are in HomoloGene group 74409?" → q=homologene.id:74409&fields=symbol,name,taxid."""
    src_taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(src_taxid, ("homologene",), ctx.rng)
    if doc is None:
        return None
    group = doc["homologene"]
    if ctx.chance(0.3):
        question = ctx.say(
            [
                "Which genes are in HomoloGene group {i}?",
                "List the members of the homologene cluster {i}.",
                "Show all genes with HomoloGene id {i}.",
            ],
            ["homologene {i} members", "HomoloGene group {i} genes"],
            i=group["id"],
        )
        query = query_text(f"homologene.id:{group['id']}", None, WHICH_GENE_FIELDS)
        return Draft(question, query, "ortholog", ctx.style, expect=[doc["_id"]])
    members = {int(t): str(e) for t, e in group.get("genes", [])}
    targets = [t for t in members if t != src_taxid and ctx.sampler.has(t, ("symbol",))]
    ctx.rng.shuffle(targets)
    for t in targets:
        try:
            other = ctx.sampler.doc(members[t])
        except Exception:  # noqa: BLE001 — a member missing from the store
            continue
        if str(other.get("symbol", "")).lower() != doc["symbol"].lower():
            continue
        g = ctx.gene_ref(doc, True)
        adj = ctx.choice(list(_species_adj(t)))
        question = ctx.say(
            [
                "What is the {t} ortholog of {g}?",
                "Which {t} gene is the ortholog of {g}?",
                "Find the {t} counterpart of {g}.",
                "Is there a {t} version of {g}? Show its HomoloGene group.",
            ],
            ["{t} ortholog of {g}", "{g} ortholog in {t}"],
            t=adj,
            g=g,
        )
        query = query_text(
            f"symbol:{other['symbol']}", t, ("symbol", "name", "entrezgene", "homologene")
        )
        return Draft(question, query, "ortholog", ctx.style, expect=[other["_id"]])
    return None


def _species_adj(taxid: int) -> list[str]:
    from .vocab import SPECIES_WORDS

    return SPECIES_WORDS[taxid]["adj"]


BATCH_TARGETS = ["", "", "entrez", "ensembl", "uniprot", "name", "location", "summary", "type"]


def batch(ctx: Ctx) -> Draft | None:
    """Several genes at once: "Entrez ids of CDK2, BRCA1 and TP53" → POST /v3/query
    q=CDK2,BRCA1,TP53&scopes=symbol&fields=symbol,name,entrezgene; ids → POST /v3/gene."""
    taxid = ctx.sampler.species(ctx.rng)
    by = ctx.choice(["symbol"] * 5 + ["alias_symbol", "ensembl", "entrez", "entrez", "uniprot"])
    path = {"symbol": "symbol", "alias_symbol": "symbol", "ensembl": "ensembl.gene",
            "entrez": "entrezgene", "uniprot": "uniprot.Swiss-Prot"}[by]  # fmt: skip
    target = ctx.choice(BATCH_TARGETS)
    if target in ("ensembl", "entrez") and target == by:
        target = ""
    need = (path,) + (ATTRS[target].need if target else ())
    docs = ctx.sampler.genes(taxid, ctx.rng.randint(2, 5), need, ctx.rng)
    if len(docs) < 2:
        return None
    values = [str(first(get(d, path))) for d in docs]
    listed = ", ".join(values[:-1]) + ctx.choice([" and ", ", ", " & "]) + values[-1]
    with_sp = by in ("symbol", "alias_symbol") and _species_flag(ctx, taxid)
    sp = ctx.in_species(taxid if with_sp else None)
    what = {"symbol": "genes", "alias_symbol": "gene symbols or aliases", "ensembl": "Ensembl ids",
            "entrez": "Entrez gene ids", "uniprot": "UniProt accessions"}[by]  # fmt: skip
    if target:
        t = _attr_word(ctx, target, taxid)
        question = ctx.say(
            [
                "Get the {t} for these {w} in one request: {l}{sp}.",
                "What are the {t} of the {w} {l}{sp}?",
                "For each of the {w} {l}{sp}, give me the {t}.",
                "I have a list of {w}: {l}. Show their {t}{sp}.",
            ],
            ["{t} for {l}{sp}", "{l}{sp}: {t}"] if by != "alias_symbol" else ["{l} ({w}){sp}: {t}"],
            t=t, w=what, l=listed, sp=sp,
        )  # fmt: skip
        fields = fields_of(target)
    else:
        question = ctx.say(
            [
                "Look up these {w} in one go: {l}{sp}.",
                "Batch query for the {w} {l}{sp}.",
                "Fetch the {w} {l}{sp} in a single request.",
            ],
            ["{l}{sp}", "batch {l}{sp}"] if by != "alias_symbol" else ["batch {w}: {l}{sp}"],
            w=what, l=listed, sp=sp,
        )  # fmt: skip
        fields = ()
    fpart = ("&fields=" + ",".join(fields)) if fields else ""
    if by == "entrez":
        query = f"POST /v3/gene ids={','.join(values)}{fpart}"
    else:
        scopes = {"symbol": "symbol", "alias_symbol": "symbol,alias", "ensembl": "ensembl.gene",
                  "uniprot": "uniprot"}[by]  # fmt: skip
        spp = f"&species={ctx.sp(taxid)}" if with_sp else ""
        query = f"POST /v3/query q={','.join(values)}&scopes={scopes}{fpart}{spp}"
    return Draft(
        question,
        query,
        "batch",
        ctx.style,
        expect=[d["_id"] for d in docs] if (with_sp or by != "symbol") else [],
        min_total=len(docs),
    )


def _list(value) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


BUILDERS = {
    "gene_attribute": (gene_attribute, 34),
    "symbol_lookup": (symbol_lookup, 5),
    "name_lookup": (name_lookup, 3),
    "alias_to_symbol": (alias_to_symbol, 6),
    "id_to_gene": (id_to_gene, 12),
    "gene_record": (gene_record, 3),
    "ortholog": (ortholog, 4),
    "batch": (batch, 6),
}
"""Builders of this module and their relative weights."""
