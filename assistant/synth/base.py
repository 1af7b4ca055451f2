"""What every intent builder shares: the draft it returns and the context it writes with.

A builder picks real genes, chooses a wording in the pair's style and writes the one query the
wording determines. Rules that keep pairs learnable:

- species only when the question names one (``species=`` then, in its canonical name);
- ``fields`` fixed per thing asked for (:data:`ATTRS`): the Entrez id is always
  ``symbol,name,entrezgene``, GO processes always ``symbol,go.BP`` — as in
  data/docs/example_pairs.jsonl and the zero-shot prompt;
- ``size`` only when the question says how many ("list 20 ..."), ``size=0`` for "how many".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..schema import load_api
from . import vocab


@dataclass
class Draft:
    """A question and its query, before validation, execution and canonicalisation.

    ``expect`` lists gene ids (``_id``) that must be among the hits (the question is about
    them); ``expect_fields`` are fields the expected hit must hold (so the answer is not empty).
    """

    question: str
    query: str
    intent: str
    style: str
    expect: list[str] = field(default_factory=list)
    expect_fields: list[str] = field(default_factory=list)
    min_total: int = 1
    voice: str = ""
    """The persona or wording of :mod:`.voice_intents` (empty for the template builders)."""


@dataclass(frozen=True)
class Attr:
    """One thing a question can ask about a gene: the fields that answer it, the fields the
    gene must hold for the question to make sense, the intent and how people name it."""

    fields: tuple[str, ...]
    need: tuple[str, ...]
    intent: str
    words: tuple[str, ...]
    taxa: tuple[int, ...] = ()


def _ids(kind: str) -> tuple[str, ...]:
    return tuple(vocab.ID_WORDS[kind])


ATTRS: dict[str, Attr] = {
    "entrez": Attr(
        ("symbol", "name", "entrezgene"), ("entrezgene",), "id_conversion", _ids("entrez")
    ),
    "ensembl": Attr(
        ("symbol", "ensembl.gene"), ("ensembl.gene",), "id_conversion", _ids("ensembl")
    ),
    "uniprot": Attr(("symbol", "uniprot"), ("uniprot",), "id_conversion", _ids("uniprot")),
    "swissprot": Attr(
        ("symbol", "uniprot.Swiss-Prot"),
        ("uniprot.Swiss-Prot",),
        "id_conversion",
        _ids("swissprot"),
    ),
    "refseq_rna": Attr(
        ("symbol", "refseq.rna"), ("refseq.rna",), "id_conversion", _ids("refseq_rna")
    ),
    "refseq": Attr(("symbol", "refseq"), ("refseq.rna",), "id_conversion", _ids("refseq")),
    "hgnc": Attr(("symbol", "HGNC"), ("HGNC",), "id_conversion", _ids("hgnc"), (9606,)),
    "mgi": Attr(("symbol", "MGI"), ("MGI",), "id_conversion", _ids("mgi"), (10090,)),
    "rgd": Attr(("symbol", "RGD"), ("RGD",), "id_conversion", _ids("rgd"), (10116,)),
    "zfin": Attr(("symbol", "ZFIN"), ("ZFIN",), "id_conversion", _ids("zfin"), (7955,)),
    "flybase": Attr(("symbol", "FLYBASE"), ("FLYBASE",), "id_conversion", _ids("flybase"), (7227,)),
    "wormbase": Attr(
        ("symbol", "WormBase"), ("WormBase",), "id_conversion", _ids("wormbase"), (6239,)
    ),
    "omim": Attr(("symbol", "MIM"), ("MIM",), "id_conversion", _ids("omim"), (9606,)),
    "location": Attr(
        ("symbol", "genomic_pos", "map_location"),
        ("genomic_pos",),
        "position",
        ("genomic location", "location", "genomic coordinates", "position in the genome"),
    ),
    "chromosome": Attr(
        ("symbol", "genomic_pos.chr"), ("genomic_pos",), "position", ("chromosome",)
    ),
    "hg19": Attr(
        ("symbol", "genomic_pos_hg19"),
        ("genomic_pos_hg19",),
        "position",
        ("hg19 coordinates", "GRCh37 position", "hg19 location"),
        (9606,),
    ),
    "cytoband": Attr(
        ("symbol", "map_location"),
        ("map_location",),
        "position",
        ("cytogenetic band", "map location", "cytoband"),
        (9606, 10090, 7227),
    ),
    "type": Attr(
        ("symbol", "type_of_gene"), (), "gene_type", ("gene type", "type of gene", "biotype")
    ),
    "name": Attr(
        ("symbol", "name"), (), "symbol_lookup", ("full name", "official full name", "gene name")
    ),
    "aliases": Attr(
        ("symbol", "alias"), ("alias",), "aliases", ("aliases", "synonyms", "alias symbols")
    ),
    "summary": Attr(
        ("symbol", "name", "summary"),
        ("summary",),
        "summary",
        ("summary", "gene summary", "functional summary", "RefSeq summary"),
    ),
    "go_bp": Attr(
        ("symbol", "go.BP"),
        ("go.BP",),
        "go",
        ("biological processes", "GO biological process terms", "GO BP annotations"),
    ),
    "go_mf": Attr(
        ("symbol", "go.MF"),
        ("go.MF",),
        "go",
        ("molecular functions", "GO molecular function terms", "GO MF annotations"),
    ),
    "go_cc": Attr(
        ("symbol", "go.CC"),
        ("go.CC",),
        "go",
        ("cellular components", "GO cellular component terms", "GO CC annotations"),
    ),
    "go": Attr(
        ("symbol", "go"), ("go.BP",), "go", ("GO annotations", "Gene Ontology terms", "GO terms")
    ),
    "reactome": Attr(
        ("symbol", "pathway.reactome"),
        ("pathway.reactome",),
        "pathway",
        ("Reactome pathways", "Reactome pathway annotations"),
    ),
    "wikipathways": Attr(
        ("symbol", "pathway.wikipathways"),
        ("pathway.wikipathways",),
        "pathway",
        ("WikiPathways pathways", "WikiPathways entries"),
    ),
    "pathways": Attr(
        ("symbol", "pathway"), ("pathway.reactome",), "pathway", ("pathways", "pathway annotations")
    ),
    "homologene": Attr(("symbol", "homologene"), ("homologene",), "ortholog", _ids("homologene")),
}
"""Every attribute a question may ask for, keyed by a short name."""

WHICH_GENE_FIELDS = ("symbol", "name", "taxid")
"""Fields of "which gene is <id>?" questions (as in data/docs/example_pairs.jsonl)."""

LIST_FIELDS = ("symbol", "name")
"""Fields of "list/find genes ..." questions."""


class Ctx:
    """One pair being written: the random generator, the style and the species words."""

    def __init__(self, rng: random.Random, style: str, sampler):
        self.rng = rng
        self.style = style
        self.sampler = sampler
        self.api = load_api()

    # wording -----------------------------------------------------------------------------
    def pick(self, full: list[str], terse: list[str] | None = None) -> str:
        """A template for the style (terse templates for the terse style when given)."""
        options = terse if self.style == "terse" and terse else full
        template = self.rng.choice(options)
        if self.style == "misspelled":
            template = vocab.misspell(template, self.rng)
        return template

    def say(self, full: list[str], terse: list[str] | None = None, **slots) -> str:
        """The finished question: a template in the style, filled, wrapped."""
        text = self.pick(full, terse).format(**slots)
        text = text[:1].upper() + text[1:] if text[:1].islower() and self.style != "terse" else text
        return vocab.wrap(text, self.style, self.rng)

    def choice(self, items):
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # species -----------------------------------------------------------------------------
    def sp(self, taxid: int) -> str:
        """The canonical species name of a query (``human``, ``fruitfly``)."""
        return self.api.species_name(taxid) or str(taxid)

    def gene_ref(self, doc: dict, with_species: bool) -> str:
        """How the question names one gene: ``human CDK2``, ``CDK2 in mice``, ``the CDK2 gene``."""
        sym = doc["symbol"]
        if not with_species:
            return self.choice([sym, sym, f"the {sym} gene", f"gene {sym}"])
        taxid = int(doc["taxid"])
        adj, inn = vocab.species_word(taxid, self.rng), vocab.species_word(taxid, self.rng, "in")
        return self.choice(
            [f"{adj} {sym}", f"{adj} {sym}", f"{sym} {inn}", f"the {adj} gene {sym}"]
        )

    def genes_word(self, taxid: int | None) -> str:
        """``human genes``, ``genes in mice`` or plain ``genes``."""
        return vocab.species_word(taxid, self.rng, "genes") if taxid else "genes"

    def in_species(self, taxid: int | None) -> str:
        return (" " + vocab.species_word(taxid, self.rng, "in")) if taxid else ""

    def id_word(self, kind: str, taxid: int | None = None) -> str:
        words = list(vocab.ID_WORDS[kind])
        if kind == "ensembl" and taxid != 9606:
            words = [w for w in words if "ENSG" not in w]
        return self.choice(words)


def query_text(
    q: str | None = None,
    species: int | str | None = None,
    fields: tuple[str, ...] | list[str] | None = None,
    api=None,
    **params,
) -> str:
    """A GET /v3/query line from its parts (species as taxid or name).

    >>> query_text("symbol:CDK2", 9606, ("symbol", "name", "entrezgene"))
    '/v3/query?q=symbol:CDK2&species=human&fields=symbol,name,entrezgene'
    """
    api = api or load_api()
    parts = [f"q={q}"]
    if species is not None:
        name = api.species_name(species) if isinstance(species, int) else species
        parts.append(f"species={name or species}")
    if fields:
        parts.append("fields=" + ",".join(fields))
    parts += [f"{k}={v}" for k, v in params.items() if v is not None]
    return "/v3/query?" + "&".join(parts)


def fields_of(*attrs: str) -> tuple[str, ...]:
    """The union of the fields of some attributes, in first-seen order."""
    out: list[str] = []
    for a in attrs:
        for f in ATTRS[a].fields:
            if f not in out:
                out.append(f)
    return tuple(out)
