"""Words for synthetic questions: species names, identifier names, and the styles people write in.

Everything here only changes the wording of a question, never what it asks: a style wrapper
adds no species, number or field, so the query stays determined by the question.

>>> import random
>>> rng = random.Random(0)
>>> species_word(9606, rng) in SPECIES_WORDS[9606]["adj"]
True
>>> typo("chromosome", random.Random(1)) != "chromosome"
True
"""

from __future__ import annotations

import random
import re

SPECIES_WORDS: dict[int, dict[str, list[str]]] = {
    9606: {
        "adj": ["human", "human", "human", "Homo sapiens", "H. sapiens"],
        "in": [
            "in human",
            "in humans",
            "in Homo sapiens",
            "in people",
            "for taxid 9606",
            "in H. sapiens",
        ],
        "genes": [
            "human genes",
            "human genes",
            "Homo sapiens genes",
            "genes in people",
            "genes of taxid 9606",
        ],
    },
    10090: {
        "adj": ["mouse", "mouse", "murine", "Mus musculus", "M. musculus"],
        "in": ["in mouse", "in mice", "in Mus musculus", "for taxid 10090"],
        "genes": ["mouse genes", "murine genes", "Mus musculus genes", "genes in mice"],
    },
    10116: {
        "adj": ["rat", "rat", "Rattus norvegicus", "R. norvegicus"],
        "in": ["in rat", "in rats", "in Rattus norvegicus", "for taxid 10116"],
        "genes": ["rat genes", "Rattus norvegicus genes", "genes in rats"],
    },
    7955: {
        "adj": ["zebrafish", "zebrafish", "Danio rerio", "D. rerio"],
        "in": ["in zebrafish", "in Danio rerio", "for taxid 7955"],
        "genes": ["zebrafish genes", "Danio rerio genes", "genes in zebrafish"],
    },
    7227: {
        "adj": ["fruit fly", "Drosophila", "Drosophila melanogaster", "D. melanogaster", "fly"],
        "in": ["in the fruit fly", "in Drosophila", "in Drosophila melanogaster", "in flies"],
        "genes": ["fruit fly genes", "Drosophila genes", "fly genes", "D. melanogaster genes"],
    },
    6239: {
        "adj": ["C. elegans", "Caenorhabditis elegans", "worm", "nematode"],
        "in": ["in C. elegans", "in Caenorhabditis elegans", "in the worm", "in nematodes"],
        "genes": ["C. elegans genes", "worm genes", "nematode genes"],
    },
    9823: {
        "adj": ["pig", "pig", "Sus scrofa", "porcine", "swine"],
        "in": ["in pig", "in pigs", "in Sus scrofa", "for taxid 9823"],
        "genes": ["pig genes", "porcine genes", "Sus scrofa genes", "swine genes"],
    },
}
"""Ways to name each species the store holds: before a symbol, after it, and for gene lists."""

ID_WORDS: dict[str, list[str]] = {
    "entrez": [
        "Entrez id",
        "Entrez gene id",
        "NCBI gene id",
        "GeneID",
        "NCBI Gene ID",
        "entrez ID",
    ],
    "ensembl": ["Ensembl id", "Ensembl gene id", "Ensembl gene", "ENSG id", "Ensembl identifier"],
    "uniprot": ["UniProt accession", "UniProt id", "UniProtKB accession", "uniprot ID"],
    "swissprot": [
        "Swiss-Prot accession",
        "Swiss-Prot id",
        "reviewed UniProt (Swiss-Prot) accession",
    ],
    "refseq_rna": ["RefSeq transcript ids", "RefSeq mRNA accessions", "NM_ accessions"],
    "refseq": ["RefSeq ids", "RefSeq accessions", "RefSeq annotations"],
    "hgnc": ["HGNC id", "HGNC number", "HGNC identifier"],
    "mgi": ["MGI id", "MGI accession", "MGI identifier"],
    "rgd": ["RGD id", "RGD identifier"],
    "zfin": ["ZFIN id", "ZFIN identifier"],
    "flybase": ["FlyBase id", "FlyBase identifier", "FBgn id"],
    "wormbase": ["WormBase id", "WormBase identifier", "WBGene id"],
    "omim": ["OMIM number", "MIM id", "OMIM id"],
    "homologene": ["HomoloGene group", "HomoloGene id", "homologene cluster"],
}
"""Ways to name each identifier a question can ask for or give."""

STYLES = ("neutral", "terse", "polite", "wordy", "misspelled", "lowercase")
STYLE_WEIGHTS = (30, 20, 14, 12, 12, 12)

POLITE = [
    "Hi! {s} Thanks.",
    "Please help: {s}",
    "{s} Thank you!",
    "Could you help me with this? {s}",
    "Hello, {s_lc} Many thanks.",
    "Sorry to bother you, {s_lc}",
]
WORDY = [
    "I'm putting together some notes for my lab meeting and I'm stuck on one thing. {s}",
    "I've been going through a gene list from an experiment and I need to check something. {s}",
    "Quick background: I'm new to gene databases and not sure where to look. {s}",
    "For a review I'm writing I need accurate annotations, so let me ask this. {s} "
    "I'd like the answer straight from the database.",
    "My supervisor asked me to double-check a few annotations. {s} Thanks in advance for any help.",
    "I want to use MyGene.info for this but I don't know how to write the query. {s}",
]

_PROTECTED = re.compile(r"[A-Z0-9_:.\-*\"'/]")


def species_word(taxid: int, rng: random.Random, kind: str = "adj") -> str:
    """One way of naming a species (``kind``: adj, in or genes)."""
    return rng.choice(SPECIES_WORDS[taxid][kind])


def id_word(kind: str, rng: random.Random) -> str:
    """One way of naming an identifier kind (``entrez`` → "NCBI gene id", ...)."""
    return rng.choice(ID_WORDS[kind])


def pick_style(rng: random.Random) -> str:
    return rng.choices(STYLES, weights=STYLE_WEIGHTS)[0]


def typo(word: str, rng: random.Random) -> str:
    """One typing slip in a word: a swap, a dropped or a doubled letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def misspell(template: str, rng: random.Random, n: int = 2) -> str:
    """``template`` with up to ``n`` plain lowercase words mistyped; slots (``{g}``),
    identifiers, numbers and capitalised words are left alone."""
    parts = re.split(r"(\{[^}]*\}|\s+)", template)
    candidates = [
        i
        for i, p in enumerate(parts)
        if p and p.isalpha() and p.islower() and len(p) >= 5 and not _PROTECTED.search(p)
    ]
    for i in rng.sample(candidates, min(n, len(candidates))):
        parts[i] = typo(parts[i], rng)
    return "".join(parts)


def _lc_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s


def wrap(sentence: str, style: str, rng: random.Random) -> str:
    """The finished question in a style (the template was already chosen for it)."""
    if style == "polite":
        return rng.choice(POLITE).format(s=sentence, s_lc=_lc_first(sentence))
    if style == "wordy":
        return rng.choice(WORDY).format(s=sentence)
    if style == "lowercase":
        return sentence.lower().rstrip("?.!")
    return sentence


def number_words(n: int) -> str:
    """How a count is written in a question (always digits, so the size is unambiguous)."""
    return str(n)
