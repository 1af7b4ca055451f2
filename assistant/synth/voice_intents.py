"""Questions the way people write them to a colleague: the ask inside a sentence about their work.

The other builders write a question and nothing else. People wrap it: a clinician's note ("PSA is
raised in my patient's bloods; which gene is behind PSA?"), a lab aside ("We're running qPCR next week.
..."), a student's apology, a bioinformatician's pipeline comment, a non-native speaker's word
order. A model trained on bare questions then searches the wrapping (``name:"herg blockade and qt
prolongation"``, ``q=psa.elevated``) instead of the gene it is about. This module writes:

- :func:`voiced`: a question of another builder inside a persona's frame. The frames carry no
  species, number, field or gene word, so the other builder's query stays the right one; they do
  carry the distractions real messages do (assay names, disease abbreviations).
- :func:`alias_in_context`: an alias with what it stands for around it ("SERT, the solute carrier
  family 6 member 4", "ntl (no tail)"), or inside a clinical or lab sentence → ``alias:x``.
- :func:`product_name`: "which gene makes the androgen receptor" → ``name:"androgen receptor"``.
- :func:`phrase_on_chromosome`: "solute carrier genes on human chromosome 11" →
  ``name:"solute carrier" AND genomic_pos.chr:11`` (the words of a family are kept, not dropped).
- :func:`interval_units`: regions in Mb and kb as people round them ("between 12.5 and 13 Mb",
  "chrX:31.0-33.5Mb", "2L:7,300-7,320 kb") → the base-pair interval.

Every pair is checked on the store like the rest (:class:`assistant.synth.Checker`); these are
added to the train split only (:func:`assistant.synth.generate`), so the validation and test
splits stay the template questions they were.
"""

from __future__ import annotations

import math
import re

from . import gene_intents, set_intents, text_intents, vocab
from .base import LIST_FIELDS, Ctx, Draft, query_text
from .gene_intents import _species_flag, pick_alias
from .genes import first

ASSAYS = [
    "qPCR", "RNA-seq", "ChIP-seq", "CRISPR", "ELISA", "IHC", "FISH", "a western blot",
    "scRNA-seq", "ATAC-seq", "FACS", "a knockdown", "a pull-down", "Co-IP", "a luciferase assay",
    "WGS", "a GWAS follow-up", "an eQTL analysis", "a proteomics screen", "morpholinos",
]  # fmt: skip
"""Things people say they are doing; none is a gene or a field of one."""

CONDITIONS = [
    "long QT syndrome", "Lynch syndrome", "cardiomyopathy", "epilepsy", "breast cancer", "CKD",
    "AML", "diabetes", "lysosomal storage disorder", "retinitis pigmentosa", "ALS", "NSCLC",
    "developmental delay", "IBD", "hearing loss",
]  # fmt: skip
"""Conditions a clinician's question may mention around the gene."""

FRAMES: dict[str, list[str]] = {
    "clinician": [
        "Work-up for suspected {dx}. {s}",
        "From a genetics consult ({dx} work-up): {s}",
        "Our {dx} panel report came back and I want to double-check something. {s}",
        "Clinic question, not urgent: {s_lc}",
        "I'm a clinician, not a bioinformatician. {s}",
        "Family history of {dx}; before the counselling session: {s_lc}",
        "{s} (for a {dx} case)",
    ],
    "lab": [
        "We're running {assay} on our samples next week. {s}",
        "My {assay} results look odd, so a quick check: {s_lc}",
        "Before I order primers: {s_lc}",
        "Postdoc here, planning {assay}. {s}",
        "{s} We need it for {assay}.",
        "Stuck on the bench and the database confuses me. {s}",
        "In our {assay} hit list this one keeps coming up. {s}",
    ],
    "bioinformatician": [
        "For a pipeline I'm writing: {s_lc}",
        "Annotating an {assay} result table. {s}",
        "{s} (I need it for a join in R)",
        "Writing a Snakemake rule and need this from MyGene: {s_lc}",
        "Sanity check for my script: {s_lc}",
        "{s} Just the query result, please.",
        "Programmatic question: {s_lc}",
    ],
    "student": [
        "hi, homework question - {s_lc}",
        "I'm a student and a bit confused. {s}",
        "{s} I'm studying for an exam.",
        "Sorry if this is basic: {s_lc}",
        "For my thesis: {s_lc}",
        "Our professor asked us this. {s}",
    ],
    "non_native": [
        "Hello, please I want know: {s_lc}",
        "Please can you say me: {s_lc}",
        "Good day. I search this information: {s_lc}",
        "Excuse for my English. {s}",
        "Kindly help, {s_lc}",
    ],
    "chat": [
        "quick one: {s_lc}",
        "{s_lc} pls",
        "q: {s_lc}",
        "{s_lc}?? thx",
        "ok so {s_lc}",
        "hey - {s_lc}",
        "{s} ty",
    ],
}
"""Persona frames around another builder's question (``{s}``, or ``{s_lc}`` lower-cased)."""

INNER_STYLES = ("neutral", "neutral", "terse", "misspelled", "lowercase")

VOICED = [
    (gene_intents.gene_attribute, 10),
    (gene_intents.symbol_lookup, 2),
    (gene_intents.alias_to_symbol, 4),
    (gene_intents.id_to_gene, 3),
    (gene_intents.batch, 2),
    (gene_intents.ortholog, 1),
    (set_intents.genes_by_go, 2),
    (set_intents.genes_by_pathway, 1),
    (set_intents.interval, 2),
    (set_intents.boolean, 2),
    (set_intents.wildcard, 1),
    (set_intents.text_search, 1),
    (text_intents.free_text_gene, 1),
]
"""Which builders' questions get a persona frame, and how often."""


def _lc_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s


def frame(ctx: Ctx, question: str, persona: str | None = None) -> tuple[str, str]:
    """``(framed question, persona)``: ``question`` inside one of a persona's frames."""
    persona = persona or ctx.choice(list(FRAMES))
    template = ctx.choice(FRAMES[persona])
    text = template.format(
        s=question, s_lc=_lc_first(question), dx=ctx.choice(CONDITIONS), assay=ctx.choice(ASSAYS)
    )
    return text, persona


def voiced(ctx: Ctx) -> Draft | None:
    """Another builder's question in a persona's frame; the query is that builder's."""
    builders, weights = zip(*VOICED, strict=True)
    build = ctx.rng.choices(builders, weights=weights)[0]
    ctx.style = ctx.choice(INNER_STYLES)
    draft = build(ctx)
    if draft is None:
        return None
    draft.question, draft.voice = frame(ctx, draft.question)
    return draft


ALIAS_CONTEXT = [
    "Approved symbol for {x} ({d}){sp}?",
    "{x} - the {d} - goes by which symbol today{sp}?",
    "Which official gene does {x} refer to{sp}?",
    "The paper only ever says {x}. Which gene is that{sp}?",
    "what gene is {x}{sp}",
    "Which gene encodes {x}{sp}?",
    "I keep seeing {x} in old figures{sp}; what is it called now?",
    "{x}, i.e. the {d}: approved symbol{sp}?",
    "Is {x} an official symbol or just a nickname{sp}? What's the real one?",
]
ALIAS_CLINICAL = [
    "{x} is raised in my patient's bloods; which gene is behind {x}?",
    "The report mentions {x} in the context of {dx}. Which gene does {x} mean?",
    "A drug interaction note mentions {x} and {dx}; what's {x}'s gene symbol?",
    "Our {dx} panel lists {x}. What's the official symbol?",
    "It came up in a patient with {dx}: {x}. Official gene, please.",
    "My patient's report flags {x}. Which gene is that?",
]
ALIAS_LAB = [
    "We're doing {assay} on {x} in {sp_adj} tissue - what's the current symbol for it?",
    "We work with the {sp_adj} {x} mutant line. Official symbol of that gene?",
    "Our {assay} flagged {x}; which {sp_adj} gene is that officially?",
    "{x} ({sp_adj}), old name from a 90s paper. Current symbol?",
]


def alias_in_context(ctx: Ctx) -> Draft | None:
    """An alias with its meaning or a sentence around it → ``q=alias:x&fields=symbol,name,alias``."""
    picked = pick_alias(ctx)
    if picked is None:
        return None
    taxid, doc, alias = picked
    kind = ctx.choice(["context"] * 3 + ["clinical" if taxid == 9606 else "lab", "lab"])
    if kind == "lab":
        with_sp = True
        template = ctx.choice(ALIAS_LAB)
    else:
        with_sp = _species_flag(ctx, taxid)
        template = ctx.choice(ALIAS_CLINICAL if kind == "clinical" else ALIAS_CONTEXT)
    if kind == "clinical":
        with_sp = False  # a patient is human (species=human), other clinical words say nothing
    sp = ctx.in_species(taxid) if with_sp else ""
    name = str(doc.get("name") or "")
    if "{d}" in template and not name:
        return None
    question = template.format(
        x=alias,
        d=_lc_first(name),
        sp=sp,
        sp_adj=vocab.species_word(taxid, ctx.rng),
        dx=ctx.choice(CONDITIONS),
        assay=ctx.choice(ASSAYS),
    )
    question = question[:1].upper() + question[1:]
    species = taxid if with_sp else (9606 if "patient" in question.lower() else None)
    query = query_text(f"alias:{alias}", species, ("symbol", "name", "alias"))
    draft = Draft(question, query, "alias_to_symbol", "neutral", expect=[doc["_id"]])
    draft.voice = kind
    return draft


PRODUCT = [
    "what gene is responsible for the {n}{sp}?",
    "What gene codes for the {n}{sp}?",
    "The {n} - which gene is that{sp}?",
    "gene encoding {n}{sp}?",
    "Which gene gives the {n}{sp}?",
    "I only know the protein, the {n}. What's the gene{sp}?",
]
PRODUCT_NAME_RE = re.compile(r"^[a-z][a-z\- ]{5,40}[a-z]$")
NOT_PLAIN = {"family", "member", "subunit", "putative", "like", "pseudogene", "uncharacterized"}


def _plain_name(name: str) -> bool:
    """A protein's plain name ("androgen receptor"): no numbers, members or subunits."""
    words = name.split()
    return bool(PRODUCT_NAME_RE.match(name)) and len(words) > 1 and not NOT_PLAIN & set(words)


def product_name(ctx: Ctx) -> Draft | None:
    """ "Which gene makes the androgen receptor?" → q=name:"androgen receptor"&fields=symbol,name."""
    taxid = ctx.sampler.species(ctx.rng)
    for _ in range(20):  # plain names ("androgen receptor") are a small share of the genes
        doc = ctx.sampler.gene(taxid, (), ctx.rng)
        name = str((doc or {}).get("name") or "")
        if doc is not None and _plain_name(name):
            break
    else:
        return None
    with_sp = _species_flag(ctx, taxid)
    sp = ctx.in_species(taxid) if with_sp else ""
    question = ctx.choice(PRODUCT).format(n=name, sp=sp)
    query = query_text(f'name:"{name}"', taxid if with_sp else None, ("symbol", "name"))
    draft = Draft(question, query, "symbol_lookup", "neutral", expect=[doc["_id"]])
    draft.voice = "product"
    return draft


PHRASE_CHR = [
    "Give me every {p} gene on chromosome {c}{sp}.",
    "Which {p} genes sit on {g_adj} chr{c}?",
    "{g_adj} chr{c}: {p} genes?",
    "list the {p} genes of chromosome {c}{sp}",
    "{p} family members on chr{c}{sp}?",
    "Are there {p} genes on {g_adj} chromosome {c}? Which?",
]
PHRASE_CHR_COUNT = [
    "How many {p} genes are on {g_adj} chromosome {c}?",
    "count {p} genes chr{c}{sp}",
]
PHRASE_RE = re.compile(r"^[a-z][a-z\-]{2,}$")
PHRASE_END_STOP = {
    "for", "of", "and", "to", "with", "in", "by", "on", "the", "light", "heavy", "long", "antisense",
    "independently", "intergenic", "divergent", "overlapping",
}  # fmt: skip
"""Words a family's phrase does not end on ("exportin for", "dynein light" are cut short)."""


def phrase_on_chromosome(ctx: Ctx) -> Draft | None:
    """ "solute carrier genes on human chromosome 11" → q=name:"solute carrier" AND
    genomic_pos.chr:11 (the family's words from a real gene's name, two or three of them)."""
    taxid = ctx.sampler.species(ctx.rng)
    doc = ctx.sampler.gene(taxid, ("genomic_pos",), ctx.rng)
    if doc is None:
        return None
    words = str(doc.get("name") or "").split()
    k = ctx.choice([2, 2, 3])
    if len(words) <= k or not all(PHRASE_RE.match(w) for w in words[:k]):
        return None
    if {words[0], words[k - 1]} & (set_intents.STOP | PHRASE_END_STOP):
        return None
    phrase = " ".join(words[:k])
    chrom = str(first(doc["genomic_pos"]).get("chr", ""))
    if not re.fullmatch(r"[0-9A-Za-z]{1,4}", chrom):
        return None
    adj = vocab.species_word(taxid, ctx.rng)
    count = ctx.chance(0.25)
    template = ctx.choice(PHRASE_CHR_COUNT if count else PHRASE_CHR)
    question = template.format(p=phrase, g_adj=adj, c=chrom, sp=ctx.in_species(taxid))
    question = question[:1].upper() + question[1:] if ctx.chance(0.5) else question
    q = f'name:"{phrase}" AND genomic_pos.chr:{chrom}'
    if count:
        query = query_text(q, taxid, None, size=0)
    else:
        query = query_text(q, taxid, LIST_FIELDS)
    draft = Draft(question, query, "boolean", "neutral", expect=[] if count else [doc["_id"]])
    draft.voice = "family"
    return draft


def _mb(bp: int, decimals: int) -> str:
    return f"{bp / 1e6:.{decimals}f}"


def interval_units(ctx: Ctx) -> Draft | None:
    """Regions as people round them: "between 12.5 and 13 Mb on chromosome 1", "chrX:31.0-33.5Mb",
    "2L:7,300-7,320 kb" → q=chr1:12500000-13000000 (the unit turned into base pairs)."""
    taxid = ctx.sampler.species(ctx.rng)
    found = set_intents.placed_gene(ctx, taxid)
    if found is None:
        return None
    doc, pos = found
    chrom, start, end = str(pos["chr"]), int(pos["start"]), int(pos["end"])
    unit = ctx.choice(["mb1", "mb1", "mb2", "mb2", "mb0", "kb", "kb"])
    step = {"mb0": 1_000_000, "mb1": 100_000, "mb2": 10_000, "kb": 10_000}[unit]
    lo = math.floor(start / step) * step
    hi = max(math.ceil(end / step) * step, lo + step)
    if hi - lo > 3_000_000:
        return None
    if unit == "kb":
        a, b = f"{lo // 1000:,}", f"{hi // 1000:,}"
        regions = [
            f"chr{chrom}:{a}-{b} kb",
            f"{chrom}:{a}-{b} kb",
            f"chromosome {chrom} from {a} kb to {b} kb",
            f"chromosome {chrom}, {a}-{b} kb",
        ]
    else:
        d = {"mb0": 0, "mb1": 1, "mb2": 2}[unit]
        a, b = _mb(lo, d), _mb(hi, d)
        if ctx.chance(0.3) and d:
            a, b = a.rstrip("0").rstrip("."), b.rstrip("0").rstrip(".")
        regions = [
            f"chromosome {chrom} between {a} and {b} Mb",
            f"chr{chrom}:{a}-{b}Mb",
            f"chr{chrom} from {a} to {b} Mb",
            f"chromosome {chrom}, {a} Mb to {b} Mb",
            f"the {a}-{b} Mb region of chromosome {chrom}",
        ]
    region = ctx.choice(regions)
    genes = ctx.genes_word(taxid)
    count = ctx.chance(0.2)
    ctx.style = ctx.choice(["neutral", "neutral", "terse", "lowercase"])
    if count:
        question = ctx.say(
            ["How many {g} are in {r}?", "Number of {g} in {r}?"],
            ["how many {g} {r}", "{g} count, {r}"],
            g=genes, r=region,
        )  # fmt: skip
    else:
        question = ctx.say(
            [
                "Which {g} lie in {r}?",
                "What {g} are found in {r}?",
                "Give me the {g} in {r}.",
                "{g} located in {r}?",
            ],
            ["{g} {r}", "{g} in {r}", "{r} {g}"],
            g=genes, r=region,
        )  # fmt: skip
    q = f"chr{chrom}:{lo}-{hi}"
    fields = ("symbol", "genomic_pos")
    query = query_text(q, taxid, None, size=0) if count else query_text(q, taxid, fields)
    draft = Draft(question, query, "interval", ctx.style, expect=[] if count else [doc["_id"]])
    draft.voice = "units"
    return draft


BUILDERS = {
    "voiced": (voiced, 12),
    "alias_in_context": (alias_in_context, 5),
    "product_name": (product_name, 2),
    "phrase_on_chromosome": (phrase_on_chromosome, 2),
    "interval_units": (interval_units, 3),
}
"""Builders of this module and their relative weights (used for the train-only voice pairs)."""
