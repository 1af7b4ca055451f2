"""How each document field is indexed, following MyGene.info's Elasticsearch mapping.

* keyword fields (symbol, alias, ids): exact, case-insensitive → table ``kw``
* text fields (name, summary, GO terms, pathway names): words → FTS5 table ``fts``
* numbers (entrezgene, taxid, positions): ranges and sorting → table ``num``
* every path present in a document → table ``present`` (for ``_exists_`` and ``exists=``)

>>> list(flatten({"go": {"BP": [{"id": "GO:0000082"}]}, "taxid": 9606}))
[('go.BP.id', 'GO:0000082'), ('taxid', 9606)]
"""

from __future__ import annotations

from collections.abc import Iterator

# text field path → FTS5 column
TEXT_COLUMNS = {
    "name": "name",
    "other_names": "other_names",
    "summary": "summary",
    "go.BP.term": "go_bp",
    "go.MF.term": "go_mf",
    "go.CC.term": "go_cc",
    "pathway.reactome.name": "reactome",
    "pathway.wikipathways.name": "wikipathways",
    "interpro.desc": "interpro",
}
FTS_COLUMNS = list(dict.fromkeys(TEXT_COLUMNS.values())) + ["alltext"]

# Text copied into the `all` field besides the keyword values below.
ALL_TEXT_FIELDS = ("symbol", "alias", "name", "other_names", "summary")

NUMERIC_FIELDS = {
    "entrezgene",
    "taxid",
    "genomic_pos.start",
    "genomic_pos.end",
    "genomic_pos_hg19.start",
    "genomic_pos_hg19.end",
    "homologene.id",
    "retired",
    "exac.bp",
}

# Present in documents, returned with fields=, but not searchable (index: false in MyGene).
NOT_INDEXED = {
    "genomic_pos.strand",
    "genomic_pos_hg19.strand",
    "homologene.genes",
    "go.BP.evidence",
    "go.MF.evidence",
    "go.CC.evidence",
    "go.BP.category",
    "go.MF.category",
    "go.CC.category",
    "go.BP.pubmed",
    "go.MF.pubmed",
    "go.CC.pubmed",
    "go.BP.qualifier",
    "go.MF.qualifier",
    "go.CC.qualifier",
    "ensembl.translation.rna",
    "ensembl.translation.protein",
}

# Keyword fields copied into MyGene's `all` field (the default field of Lucene queries).
ALL_KEYWORD_FIELDS = (
    "_id",
    "symbol",
    "alias",
    "entrezgene",
    "ensembl.gene",
    "ensembl.transcript",
    "ensembl.protein",
    "refseq.rna",
    "refseq.protein",
    "accession.rna",
    "accession.protein",
    "uniprot.Swiss-Prot",
    "uniprot.TrEMBL",
    "go.BP.id",
    "go.MF.id",
    "go.CC.id",
    "pathway.reactome.id",
    "pathway.wikipathways.id",
    "interpro.id",
    "retired",
)

# Fields whose values also match without their version suffix (NM_001798.5 ↔ NM_001798).
VERSIONED_FIELDS = {
    "refseq.rna",
    "refseq.protein",
    "refseq.genomic",
    "accession.rna",
    "accession.protein",
}

# Top-level keys kept in the compressed `extra` column: only read when asked for.
BIG_KEYS = {"go", "pathway", "ensembl", "refseq", "homologene", "accession", "interpro", "exons"}


def flatten(doc, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dot path, scalar) pairs of a document, lists flattened away (the ``_id`` key excluded)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key.startswith("_"):
                continue
            yield from flatten(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    elif isinstance(doc, list):
        for item in doc:
            yield from flatten(item, prefix)
    elif doc is not None and prefix:
        yield prefix, doc


def parents(path: str) -> list[str]:
    """``go.BP.id`` → ``["go", "go.BP", "go.BP.id"]``."""
    parts = path.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def kind(path: str) -> str:
    """``keyword``, ``text``, ``number`` or ``none`` for a leaf path."""
    if path in TEXT_COLUMNS:
        return "text"
    if path in NOT_INDEXED:
        return "none"
    if path in NUMERIC_FIELDS:
        return "number"
    return "keyword"


def keyword_values(path: str, value) -> list[str]:
    """The normalized (lowercase) keys a keyword value is found under."""
    v = str(value).strip().lower()
    if not v:
        return []
    if path in VERSIONED_FIELDS and "." in v:
        return [v, v.rsplit(".", 1)[0]]
    return [v]
