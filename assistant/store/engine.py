"""The query engine of the embedded store: MyGene.info's /v3 semantics over SQLite, in-process.

>>> store = GeneStore.open("data/store/genes.sqlite")          # doctest: +SKIP
>>> store.query("symbol:CDK2", species="human")["hits"][0]["_id"]  # doctest: +SKIP
'1017'
>>> store.getgene(1017, fields="symbol")                        # doctest: +SKIP
{'_id': '1017', '_version': 1, 'symbol': 'CDK2'}

One :class:`GeneStore` serves many threads: each thread gets its own read-only (immutable)
SQLite connection, and every query runs under a work budget (``max_steps`` SQLite
virtual-machine steps, counted by SQLite's progress handler) that does not depend on how busy
the machine is: a query over it is a 400 "too expensive" on an idle and on a loaded machine
alike. A wall-clock backstop (``timeout_ms``) that only a saturated server reaches answers 503
(:class:`StoreBusy`).
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import threading
import time
import uuid
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from ..errors import NotFound, QueryError, StoreBusy, StoreCorrupt, StoreNotBuilt
from ..schema import load_api
from .build import FLAG_ENSEMBL, FLAG_ENTREZ
from .fields import BIG_KEYS, TEXT_COLUMNS, flatten
from .params import Params, parse_params, split_terms
from .search import SPECIAL_FIELDS, Searcher, normalize_value

SCROLL_TTL_S = 300
SCROLL_MAX = 64
CHUNK = 900


PROGRESS_EVERY = 20_000
"""SQLite virtual-machine steps between two calls of the progress handler."""

STORE_TABLES = ("meta", "genes", "kw", "num", "present", "pos", "fts")
"""The tables :mod:`assistant.store.build` writes, every one of which queries need."""

SQLITE_MAGIC = b"SQLite format 3\x00"
REBUILD = (
    "rebuild it with `python -m assistant store build --force` (or set QA_STORE_PATH to "
    "another store)"
)


def check_store_file(path: Path) -> None:
    """Cheap checks of a store file's SQLite header before it is opened: :class:`StoreCorrupt`
    when it is not a SQLite file, or is shorter than the pages its header counts (truncated).

    >>> check_store_file(Path("README.md"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    assistant.errors.StoreCorrupt: README.md is not a SQLite file (it starts with b'# Query Assi'): ...
    """
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
        size = path.stat().st_size
    except OSError as exc:
        raise StoreCorrupt(f"cannot read the gene store {path} ({exc}): {REBUILD}") from None
    if not header.startswith(SQLITE_MAGIC):
        what = "an empty file" if not header else f"it starts with {header[:12]!r}"
        raise StoreCorrupt(f"{path} is not a SQLite file ({what}): {REBUILD}")
    if len(header) < 100:
        raise StoreCorrupt(f"{path} is truncated ({size:,} bytes, no whole header): {REBUILD}")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_counts = header[24:28] == header[92:96]  # the page count is valid
    if header_counts and pages and size < pages * page_size:
        raise StoreCorrupt(
            f"{path} is truncated: {size:,} bytes, its header counts {pages:,} pages of "
            f"{page_size:,} ({pages * page_size:,} bytes): {REBUILD}"
        )


class Budget:
    """The work one query may do, counted in SQLite steps by the progress handler (and checked
    between query stages), with a wall-clock backstop for a saturated machine.

    >>> b = Budget(max_steps=40_000, ms=60_000)
    >>> [b.tick() for _ in range(3)]      # two calls = 40,000 steps allowed, the third stops
    [0, 0, 1]
    """

    def __init__(self, max_steps: int, ms: int, every: int = PROGRESS_EVERY):
        self.max_steps = max_steps
        self.every = every
        self.ms = ms
        self.steps = 0
        self.deadline = time.perf_counter() + ms / 1000

    def tick(self) -> int:
        """The progress handler: non-zero interrupts SQLite."""
        self.steps += self.every
        return int(self.steps > self.max_steps or time.perf_counter() > self.deadline)

    def check(self) -> None:
        if self.steps > self.max_steps:
            raise QueryError(
                f"query too expensive: it needs more than {self.max_steps:,} SQLite steps; "
                "narrow it (species, fields, terms)"
            )
        if time.perf_counter() > self.deadline:
            raise StoreBusy(
                f"the gene store is saturated: this query waited more than {self.ms:,} ms; "
                "try again in a moment"
            )


class GeneStore:
    """MyGene-compatible queries over the SQLite store built by :mod:`assistant.store.build`."""

    def __init__(
        self,
        path: Path,
        timeout_ms: int = 30_000,
        scroll_batch: int | None = None,
        max_steps: int = 20_000_000,
        progress_every: int = PROGRESS_EVERY,
    ):
        self.path = Path(path)
        if not self.path.exists():
            raise StoreNotBuilt(
                f"no gene store at {self.path}: run `python -m assistant store build` "
                "(`make store`) or set QA_STORE_PATH"
            )
        check_store_file(self.path)
        self.timeout_ms = timeout_ms
        self.max_steps = max_steps
        self.progress_every = progress_every
        self.api = load_api()
        self.scroll_batch = scroll_batch or self.api.limits["scroll_batch"]
        self._local = threading.local()
        self._scrolls: dict[str, dict] = {}
        self._scroll_lock = threading.Lock()
        con = self._con()
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            missing = [t for t in STORE_TABLES if t not in tables]
            if missing:
                raise StoreCorrupt(
                    f"{self.path} lacks the table{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)} (an unfinished build or another program's file): "
                    f"{REBUILD}"
                )
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise StoreCorrupt(
                f"{self.path} is not a usable gene store ({exc}): {REBUILD}"
            ) from None
        lacking = [k for k in ("meta", "fields", "all_keyword_fields", "arrays") if k not in meta]
        if lacking:
            raise StoreCorrupt(
                f"{self.path} lacks the store metadata {', '.join(lacking)} (an unfinished build "
                f"or an older version): {REBUILD}"
            )
        self.meta = json.loads(meta["meta"])
        self.counts = json.loads(meta.get("counts", "{}"))
        self.field_kinds: dict[str, str] = json.loads(meta["fields"])
        self.all_keyword_fields = json.loads(meta["all_keyword_fields"])
        blob = meta["arrays"]
        n = int(np.frombuffer(blob[:4], dtype=np.int32)[0])
        self.taxid = np.frombuffer(blob[4 : 4 + 4 * n], dtype=np.int32)
        self.flags = np.frombuffer(blob[4 + 4 * n : 4 + 5 * n], dtype=np.uint8)
        pseudo = np.frombuffer(blob[4 + 5 * n : 4 + 6 * n], dtype=np.uint8)
        self.n_genes = n - 1
        boost = np.ones(n, dtype=np.float64)
        for taxid, factor in self.api.species_boost.items():
            boost[self.taxid == taxid] = factor
        boost[pseudo == 1] *= 0.5
        self.boost = boost

    @classmethod
    def open(cls, path, timeout_ms: int = 30_000, max_steps: int = 20_000_000) -> GeneStore:
        return cls(Path(path), timeout_ms, max_steps=max_steps)

    def reopen(self) -> GeneStore:
        """A new store on the same path with the same budgets: the file there was replaced (a
        rebuild renames a new file into place; connections already open still read the old)."""
        return GeneStore(
            self.path, self.timeout_ms, self.scroll_batch, self.max_steps, self.progress_every
        )

    # --- connections and budgets ---------------------------------------------------------------
    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            # immutable: the served file is never written (a build writes a new file and renames
            # it into place), so SQLite may skip locking and change checks: half the cost of a
            # statement
            con = sqlite3.connect(
                f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            con.execute("PRAGMA cache_size=-65536")
            con.execute("PRAGMA mmap_size=1073741824")
            self._local.con = con
        return con

    def _run(self, fn, *args):
        """Run ``fn(con, budget, *args)`` under the work budget; SQLite work is interrupted."""
        con = self._con()
        budget = Budget(self.max_steps, self.timeout_ms, self.progress_every)
        con.set_progress_handler(budget.tick, self.progress_every)
        try:
            return fn(con, budget, *args)
        except sqlite3.OperationalError as exc:
            if "interrupt" in str(exc):
                budget.check()
            raise QueryError(f"the store could not run this query: {exc}") from None
        except UnicodeEncodeError:  # SQLite takes UTF-8 only; JSON can carry lone surrogates
            raise QueryError(
                "the query holds text that is not valid Unicode (a lone surrogate such as \\udcff)"
            ) from None
        except sqlite3.DatabaseError as exc:  # "database disk image is malformed"
            raise StoreCorrupt(
                f"the gene store {self.path} is damaged ({exc}): {REBUILD}"
            ) from None
        finally:
            con.set_progress_handler(None, 0)

    def _searcher(self, con) -> Searcher:
        return Searcher(
            con, self.field_kinds, self.n_genes, self.taxid, self.meta.get("max_gene_length")
        )

    # --- GET /v3/query -------------------------------------------------------------------------------
    def query(self, q: str | None = None, **raw) -> dict:
        """A GET /v3/query: ``store.query("cdk2", species="human", fields="symbol,name")``."""
        t0 = time.perf_counter()
        params = parse_params(raw)
        if params.scroll_id:
            return self._scroll(params.scroll_id)
        if q is None or not str(q).strip():
            raise QueryError("Missing required parameter: q")
        if len(str(q)) > 10_000:
            raise QueryError("q is too long (more than 10,000 characters)")
        return self._run(self._query, str(q), params, t0)

    def _query(self, con, budget: Budget, q: str, params: Params, t0: float) -> dict:
        scores = self._searcher(con).search(q)
        budget.check()
        ids, score = self._filter(con, scores, params, params.species)
        budget.check()
        result: dict = {}
        if params.facets:
            result["facets"] = self._facets(con, ids, params)
            if params.species_facet_filter:
                keep = np.isin(self.taxid[ids], params.species_facet_filter)
                ids, score = ids[keep], score[keep]
        order = self._order(con, ids, score, params.sort)
        ids, score = ids[order], score[order]
        budget.check()
        total = int(len(ids))
        max_score = float(score.max()) if total and not params.sort else None
        if params.fetch_all:
            hits = self._start_scroll(con, ids, score, params)
            return {"took": _ms(t0), "total": total, "max_score": max_score, **hits}
        page_ids = ids[params.from_ : params.from_ + params.size]
        page_scores = score[params.from_ : params.from_ + params.size]
        hits = self._hits(con, page_ids, page_scores, params.fields, params.dotfield)
        return {"took": _ms(t0), "total": total, "max_score": max_score, "hits": hits, **result}

    def _filter(
        self, con, scores: dict[int, float], params: Params, species
    ) -> tuple[np.ndarray, np.ndarray]:
        if not scores:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        ids = np.fromiter(scores.keys(), dtype=np.int64, count=len(scores))
        score = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
        keep = np.ones(len(ids), dtype=bool)
        if species:
            keep &= np.isin(self.taxid[ids], species)
        if params.entrezonly:
            keep &= (self.flags[ids] & FLAG_ENTREZ) > 0
        if params.ensemblonly:
            keep &= (self.flags[ids] & FLAG_ENSEMBL) > 0
        ids, score = ids[keep], score[keep]
        for field in params.exists:
            has = self._present(con, field)
            keep = np.isin(ids, has)
            ids, score = ids[keep], score[keep]
        for field in params.missing:
            has = self._present(con, field)
            keep = ~np.isin(ids, has)
            ids, score = ids[keep], score[keep]
        return ids, score * self.boost[ids]

    def _present(self, con, field: str) -> np.ndarray:
        rows = con.execute("SELECT gene FROM present WHERE field=?", (field,)).fetchall()
        return np.array([g for (g,) in rows], dtype=np.int64)

    def _order(self, con, ids: np.ndarray, score: np.ndarray, sort: list[str]) -> np.ndarray:
        """Indexes of ids in result order: by score (ties: smaller row id = older Entrez id first)."""
        if not sort:
            return np.lexsort((ids, -score))
        keys = []
        for spec in reversed(sort):
            desc = spec.startswith("-")
            field = spec.lstrip("-+")
            if field == "_score":
                keys.append(score if desc else -score)
                continue
            values = self._sort_values(con, ids, field)
            if values.dtype.kind == "f":
                missing = np.isnan(values)
                v = np.where(missing, 0.0, -values if desc else values)
                keys.extend([v, missing])
            else:
                ranks = np.unique(values, return_inverse=True)[1].astype(np.int64)
                missing = values == ""
                keys.extend([-ranks if desc else ranks, missing])
        return np.lexsort([ids, *keys]) if keys else np.lexsort((ids, -score))

    def _field_values(self, con, ids: np.ndarray, field: str) -> list[list]:
        """The values of ``field`` for each id: from the documents for few ids, else one table scan."""
        kind = self.field_kinds.get(field)
        if kind is None:
            raise QueryError(f"unknown field {field!r}; see /v3/metadata/fields")
        numeric = kind == "number"
        if len(ids) <= 5000:
            docs = self._docs(con, [int(g) for g in ids], [field])
            out = []
            for g in ids:
                vals = [v for p, v in flatten(docs[int(g)]) if p == field]
                out.append([float(v) if numeric else str(v).lower() for v in vals])
            return out
        by_gene: dict[int, list] = {}
        table = "num" if numeric else "kw"
        for g, v in con.execute(f"SELECT gene, value FROM {table} WHERE field=?", (field,)):
            by_gene.setdefault(g, []).append(v)
        return [by_gene.get(int(g), []) for g in ids]

    def _sort_values(self, con, ids: np.ndarray, field: str) -> np.ndarray:
        values = self._field_values(con, ids, field)
        if self.field_kinds.get(field) == "number":
            return np.array([min(v) if v else np.nan for v in values], dtype=np.float64)
        return np.array([min(v) if v else "" for v in values], dtype=object).astype(str)

    # --- facets -----------------------------------------------------------------------------------------
    def _facets(self, con, ids: np.ndarray, params: Params) -> dict:
        out = {}
        for field in params.facets:
            kind = self.field_kinds.get(field)
            if kind is None or kind in ("text", "none", "object"):
                raise QueryError(
                    f"cannot facet on {field!r}: use a keyword or numeric field such as taxid or type_of_gene"
                )
            counts: Counter = Counter()
            if field == "taxid":
                counts.update(
                    {
                        int(k): int(c)
                        for k, c in zip(*np.unique(self.taxid[ids], return_counts=True))
                    }
                )
                with_field = len(ids)
            else:
                values = self._field_values(con, ids, field)
                with_field = sum(1 for v in values if v)
                for vals in values:
                    counts.update(set(vals))
            top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[: params.facet_size]
            terms = [{"term": _term(v, kind), "count": int(c)} for v, c in top]
            shown = sum(t["count"] for t in terms)
            out[field] = {
                "_type": "terms",
                "terms": terms,
                "other": int(sum(counts.values()) - shown),
                "missing": int(len(ids) - with_field),
                "total": int(sum(counts.values())),
            }
        return out

    # --- documents and projection -------------------------------------------------------------------------
    def _docs(self, con, ids, fields: list[str] | None) -> dict[int, dict]:
        need_extra = (
            fields is None
            or fields == ["all"]
            or any(f.split(".")[0] in BIG_KEYS or "*" in f for f in fields)
        )
        out = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            cols = "id, core, extra" if need_extra else "id, core, NULL"
            for gid, core, extra in con.execute(
                f"SELECT {cols} FROM genes WHERE id IN ({marks})", chunk
            ):
                doc = orjson.loads(core)
                if extra:
                    doc.update(orjson.loads(zlib.decompress(extra)))
                out[gid] = doc
        return out

    def _hits(self, con, ids, scores, fields, dotfield: bool) -> list[dict]:
        wanted = fields if fields else self.api.default_fields
        docs = self._docs(con, [int(g) for g in ids], wanted)
        hits = []
        for gid, s in zip(ids, scores):
            doc = docs[int(gid)]
            hit = {"_id": doc["_id"], "_score": round(float(s), 4)}
            hit.update(project(doc, wanted))
            hits.append(dotted(hit) if dotfield else hit)
        return hits

    # --- fetch_all scrolls ----------------------------------------------------------------------------------
    def _start_scroll(self, con, ids, score, params: Params) -> dict:
        batch = self.scroll_batch
        now = time.time()
        with self._scroll_lock:
            for sid in [s for s, v in self._scrolls.items() if v["expires"] < now]:
                del self._scrolls[sid]
            if len(self._scrolls) >= SCROLL_MAX:
                oldest = min(self._scrolls, key=lambda s: self._scrolls[s]["expires"])
                del self._scrolls[oldest]
            sid = uuid.uuid4().hex
            self._scrolls[sid] = {
                "ids": ids,
                "score": score,
                "pos": batch,
                "params": params,
                "expires": now + SCROLL_TTL_S,
            }
        hits = self._hits(con, ids[:batch], score[:batch], params.fields, params.dotfield)
        return {"hits": hits, "_scroll_id": sid}

    def _scroll(self, sid: str) -> dict:
        t0 = time.perf_counter()
        batch = self.scroll_batch
        with self._scroll_lock:
            state = self._scrolls.get(sid)
            if state is None or state["expires"] < time.time():
                self._scrolls.pop(sid, None)
                raise QueryError("Invalid or stale scroll_id.")
            start = state["pos"]
            if start >= len(state["ids"]):
                del self._scrolls[sid]
                return {"success": False, "error": "No more results to return."}
            state["pos"] = start + batch
            state["expires"] = time.time() + SCROLL_TTL_S
        p = state["params"]
        ids, score = state["ids"][start : start + batch], state["score"][start : start + batch]
        hits = self._run(lambda con, _b: self._hits(con, ids, score, p.fields, p.dotfield))
        return {
            "took": _ms(t0),
            "total": int(len(state["ids"])),
            "max_score": None,
            "hits": hits,
            "_scroll_id": sid,
        }

    # --- POST /v3/query (querymany) -----------------------------------------------------------------------------
    def querymany(self, q, scopes=None, **raw) -> list[dict]:
        """POST /v3/query: one entry per matching gene per term, ``notfound`` for terms with none."""
        terms = split_terms(q)
        if not terms:
            raise QueryError("Missing required parameter: q (a comma-separated list of terms)")
        limit = self.api.limits["max_post_terms"]
        if len(terms) > limit:
            raise QueryError(f"too many terms in one POST: {len(terms)} (max {limit})")
        raw = dict(raw)
        raw["scopes"] = scopes if scopes else self.api.parameters["scopes"]["default"]
        params = parse_params(raw)
        return self._run(self._querymany, terms, params)

    def _querymany(self, con, budget: Budget, terms: list[str], params: Params) -> list[dict]:
        per_term: dict[str, dict[int, float]] = {t: {} for t in terms}
        searcher = self._searcher(con)
        n_scopes = len(params.scopes)
        for rank, scope in enumerate(params.scopes):
            weight = 1.0 + (n_scopes - rank) / (n_scopes + 1)  # earlier scopes rank first
            targets = searcher.resolve(scope) if scope != "_id" else [("_id", "keyword")]
            for path, kind in targets:
                if kind == "text":
                    for t in terms:
                        for g, s in searcher.fts(
                            TEXT_COLUMNS[path], [w.lower() for w in t.split()], phrase=True
                        ).items():
                            per_term[t][g] = max(per_term[t].get(g, 0.0), weight * s / 2)
                    continue
                wanted: dict[str, list[str]] = {}
                for t in terms:
                    wanted.setdefault(normalize_value(path, t), []).append(t)
                values = list(wanted)
                for chunk in _chunks(values):
                    marks = ",".join("?" * len(chunk))
                    rows = con.execute(
                        f"SELECT value, gene FROM kw WHERE field=? AND value IN ({marks})",
                        (path, *chunk),
                    )
                    for value, g in rows:
                        for t in wanted[value]:
                            per_term[t][g] = max(per_term[t].get(g, 0.0), weight)
                budget.check()
        out: list[dict] = []
        wanted_fields = params.fields or self.api.default_fields
        matched: list[tuple[str, np.ndarray, np.ndarray]] = []
        all_ids: set[int] = set()
        for t in terms:
            ids, score = self._filter(con, per_term[t], params, params.species)
            order = np.lexsort((ids, -score))[: params.size]
            matched.append((t, ids[order], score[order]))
            all_ids.update(int(g) for g in ids[order])
        docs = self._docs(con, sorted(all_ids), wanted_fields)
        for t, ids, score in matched:
            if not len(ids):
                out.append({"query": t, "notfound": True})
                continue
            for g, s in zip(ids, score):
                doc = docs[int(g)]
                hit = {
                    "query": t,
                    "_id": doc["_id"],
                    "_score": round(float(s), 4),
                    **project(doc, wanted_fields),
                }
                out.append(dotted(hit) if params.dotfield else hit)
        return out

    # --- /v3/gene --------------------------------------------------------------------------------------------------
    def getgene(self, gene_id, fields=None, dotfield=False, **_ignored) -> dict:
        """GET /v3/gene/{id}: by Entrez id, Ensembl gene id or retired Entrez id; NotFound otherwise."""
        params = parse_params({"fields": fields, "dotfield": dotfield})
        gid = str(gene_id).strip()
        if not gid:
            raise QueryError("Missing required parameter: id")
        if len(gid) > 200:
            raise NotFound()
        return self._run(self._getgene, gid, params)

    def _resolve_id(self, con, gid: str) -> int | None:
        key = gid.lower()
        for field in ("_id", "ensembl.gene", "retired"):
            row = con.execute(
                "SELECT gene FROM kw WHERE field=? AND value=? ORDER BY gene LIMIT 1", (field, key)
            ).fetchone()
            if row:
                return row[0]
        return None

    def _getgene(self, con, budget, gid: str, params: Params) -> dict:
        row = self._resolve_id(con, gid)
        if row is None:
            raise NotFound()
        fields = params.fields or ["all"]
        doc = self._docs(con, [row], fields)[row]
        out = {"_id": doc["_id"], "_version": 1, **project(doc, fields)}
        return dotted(out) if params.dotfield else out

    def getgenes(self, ids, fields=None, dotfield=False, **_ignored) -> list[dict]:
        """POST /v3/gene: a list with one document (``query`` set) or ``notfound`` entry per id."""
        terms = split_terms(ids)
        if not terms:
            raise QueryError("Missing required parameter: ids")
        if len(terms) > self.api.limits["max_post_terms"]:
            raise QueryError(
                f"too many ids in one POST: {len(terms)} (max {self.api.limits['max_post_terms']})"
            )
        params = parse_params({"fields": fields, "dotfield": dotfield})

        def run(con, budget):
            rows = {t: self._resolve_id(con, t) for t in terms}
            docs = self._docs(
                con, sorted({r for r in rows.values() if r}), params.fields or ["all"]
            )
            out = []
            for t in terms:
                if rows[t] is None:
                    out.append({"query": t, "notfound": True})
                    continue
                doc = docs[rows[t]]
                hit = {
                    "query": t,
                    "_id": doc["_id"],
                    "_version": 1,
                    **project(doc, params.fields or ["all"]),
                }
                out.append(dotted(hit) if params.dotfield else hit)
            return out

        return self._run(run)

    # --- metadata ------------------------------------------------------------------------------------------------
    def metadata(self) -> dict:
        per_species = {int(k): v for k, v in self.counts.get("per_species", {}).items()}
        stats = {"total_genes": self.n_genes, "total_species": len(per_species)}
        for taxid, n in per_species.items():
            stats[self.api.species_name(taxid) or str(taxid)] = n
        return {
            "biothing_type": "gene",
            "app_revision": "assistant.store",
            "build_date": self.meta.get("build_date"),
            "build_version": self.meta.get("fingerprint"),
            "src": {
                name: {"version": version or "unknown"}
                for name, version in {
                    **self.meta.get("packages", {}),
                    **{k: ",".join(v) for k, v in self.meta.get("source_files", {}).items()},
                }.items()
            },
            "stats": stats,
            "taxonomy": dict(self.api.species),
            "genome_assembly": {
                "human": "hg38",
                "mouse": "mm39",
                "rat": "mRatBN7.2",
                "fruitfly": "dm6",
                "nematode": "ce11",
                "zebrafish": "danRer11",
                "pig": "susScr11",
            },
        }

    def metadata_fields(self, search: str | None = None) -> dict:
        types = {
            "keyword": "keyword",
            "text": "text",
            "number": "long",
            "none": "keyword",
            "object": "object",
        }
        out = {}
        for path, kind in sorted(self.field_kinds.items()):
            if search and search.lower() not in path.lower():
                continue
            entry = {"type": types.get(kind, "keyword"), "index": kind not in ("none", "object")}
            if path == "taxid":
                entry["type"] = "integer"
            out[path] = entry
        return out


# --- helpers ---------------------------------------------------------------------------------------------


def _ms(t0: float) -> int:
    return int((time.perf_counter() - t0) * 1000)


def _chunks(seq, n: int = CHUNK):
    seq = [int(x) if isinstance(x, np.integer) else x for x in seq]
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _term(value, kind: str) -> object:
    """A facet term as MyGene shows it: numbers as numbers."""
    if kind == "number":
        f = float(value)
        return int(f) if f.is_integer() else f
    return value


def project(doc: dict, fields: list[str]) -> dict:
    """Keep the requested (dot-notation, ``*`` allowed) fields of a document, MyGene style.

    >>> project({"go": {"BP": [{"id": "GO:1", "term": "x"}]}, "symbol": "A"}, ["go.BP.id"])
    {'go': {'BP': [{'id': 'GO:1'}]}}
    """
    if not fields or fields == ["all"]:
        return {k: v for k, v in doc.items() if k != "_id"}
    out: dict = {}
    for f in fields:
        part = _pick(doc, f.split("."))
        if part is not None:
            _merge(out, part)
    return out


def _pick(value, path: list[str]):
    """The part of ``value`` under ``path``; a segment with ``*`` matches any key (``go.*``,
    ``*.id``), ``_id`` excepted."""
    if not path:
        return value
    if isinstance(value, list):
        picked = [p for p in (_pick(v, path) for v in value) if p is not None]
        return picked or None
    if not isinstance(value, dict):
        return None
    if "*" in path[0]:
        keys = [k for k in value if k != "_id" and fnmatch.fnmatch(k, path[0])]
    else:
        keys = [path[0]] if path[0] in value else []
    out = {}
    for key in keys:
        inner = _pick(value[key], path[1:])
        if inner is not None:
            out[key] = inner
    return out or None


def _merge(into: dict, part: dict) -> None:
    for k, v in part.items():
        if k in into and isinstance(into[k], dict) and isinstance(v, dict):
            _merge(into[k], v)
        elif (
            k in into
            and isinstance(into[k], list)
            and isinstance(v, list)
            and len(into[k]) == len(v)
        ):
            into[k] = [_merge_item(a, b) for a, b in zip(into[k], v)]
        else:
            into[k] = v


def _merge_item(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        _merge(merged, b)
        return merged
    return b


def dotted(doc: dict) -> dict:
    """Flatten nested keys to dot notation (``dotfield=true``): lists of objects gather values.

    >>> dotted({"_id": "1", "refseq": {"rna": ["NM_1"]}, "go": {"BP": [{"id": "a"}, {"id": "b"}]}})
    {'_id': '1', 'refseq.rna': ['NM_1'], 'go.BP.id': ['a', 'b']}
    """
    out: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for v in value:
                for k, inner in v.items():
                    key = f"{prefix}.{k}"
                    existing = out.get(key)
                    items = inner if isinstance(inner, list) else [inner]
                    if existing is None:
                        out[key] = items if len(items) > 1 else inner
                    else:
                        out[key] = (existing if isinstance(existing, list) else [existing]) + items
        else:
            out[prefix] = value

    walk("", doc)
    return out


__all__ = ["GeneStore", "project", "dotted", "SPECIAL_FIELDS"]
