"""Benchmark of the embedded gene store: build time, size, and in-process query latency.

    python evals/bench_store.py [--store data/store/genes.sqlite] [--rebuild] [--n 300]

Query terms are drawn from the store itself (fixed seed), so the figures are reproducible on the
same build. Targets on 2 cores: fielded lookup p50 ≤ 5 ms, free text p50 ≤ 25 ms, a POST batch of
1000 ids ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import Settings  # noqa: E402
from assistant.store.engine import GeneStore  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1000)
    return out


def sample_terms(store: GeneStore, n: int, seed: int = 7) -> dict[str, list]:
    con = store._con()
    rng = random.Random(seed)

    def pick(sql: str, k: int) -> list:
        rows = [r[0] if len(r) == 1 else r for r in con.execute(sql).fetchall()]
        return rng.sample(rows, min(k, len(rows)))

    symbols = pick(
        "SELECT symbol FROM genes WHERE symbol IS NOT NULL AND taxid IN (9606, 10090)", 4000
    )
    text_words = [
        "kinase", "receptor", "tumor suppressor", "zinc finger", "ion channel", "transcription factor",
        "cell cycle", "apoptosis", "insulin", "interleukin", "DNA repair", "ubiquitin ligase",
        "mitochondrial", "histone", "collagen", "potassium channel", "growth factor", "heat shock",
    ]  # fmt: skip
    positions = pick("SELECT chr, start FROM pos WHERE assembly='current' AND length(chr) <= 2", n)
    return {
        "fielded": [f"symbol:{s}" for s in symbols[: n // 2]]
        + [
            f"entrezgene:{e}"
            for e in pick("SELECT entrezgene FROM genes WHERE entrezgene IS NOT NULL", n // 4)
        ]
        + [
            f"ensembl.gene:{e}"
            for e in pick("SELECT value FROM kw WHERE field='ensembl.gene' LIMIT 200000", n // 4)
        ],
        "bare": symbols[n // 2 : n],
        "text": [rng.choice(text_words) for _ in range(n)],
        "interval": [f"chr{c}:{s}-{s + 200_000}" for c, s in positions],
        "batch": [symbols[i : i + 1000] for i in range(1000, 4000, 1000)],
        "entrez_batch": [
            [
                str(e)
                for e in pick("SELECT entrezgene FROM genes WHERE entrezgene IS NOT NULL", 1000)
            ]
            for _ in range(3)
        ],
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--store", type=Path, default=None, help="store file (default: settings)")
    ap.add_argument(
        "--rebuild", action="store_true", help="time a fresh build into a temporary file"
    )
    ap.add_argument("--n", type=int, default=300, help="queries per kind")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    settings = Settings(**({"store_path": args.store} if args.store else {}))
    figures: dict = {"machine": f"{os.cpu_count()} cores", "store": str(settings.store_path)}
    if args.rebuild:
        from assistant.store.build import build

        tmp = settings.store_path.with_name("bench-build.sqlite")
        t = time.perf_counter()
        report = build(
            settings.model_copy(update={"store_path": tmp}), force=True, show_progress=False
        )
        figures["build_s"] = round(time.perf_counter() - t, 1)
        figures["genes"] = report.genes
        figures["store_mb"] = round(tmp.stat().st_size / 1e6, 1)
        tmp.unlink()
    t = time.perf_counter()
    store = GeneStore.open(settings.store_path)
    figures["open_ms"] = round((time.perf_counter() - t) * 1000, 1)
    figures.setdefault("genes", store.n_genes)
    figures.setdefault("store_mb", round(settings.store_path.stat().st_size / 1e6, 1))
    if "build_s" not in figures and store.counts.get("build_seconds"):
        figures["build_s"] = store.counts["build_seconds"]
    terms = sample_terms(store, args.n)
    # warm the page cache once so the figures are steady-state, as in a running service
    for q in terms["fielded"][:20] + terms["text"][:5]:
        store.query(q)
    kinds = {
        "fielded lookup": (lambda q: store.query(q, fields="symbol,name,taxid"), terms["fielded"]),
        "bare term": (lambda q: store.query(q), terms["bare"]),
        "free text": (lambda q: store.query(q), terms["text"]),
        "free text, human": (lambda q: store.query(q, species="human"), terms["text"]),
        "interval": (lambda q: store.query(q), terms["interval"]),
        "gene by id": (
            lambda q: store.getgene(q.split(":")[1]),
            terms["fielded"][args.n // 2 : 3 * args.n // 4],
        ),
        "POST 1000 symbols": (
            lambda b: store.querymany(b, scopes="symbol", species="human,mouse"),
            terms["batch"],
        ),
        "POST 1000 entrez ids": (
            lambda b: store.querymany(b, scopes="entrezgene"),
            terms["entrez_batch"],
        ),
    }
    print(
        f"store {figures['store']}: {figures['genes']:,} genes, {figures['store_mb']} MB, "
        f"build {figures.get('build_s', '?')} s, open {figures['open_ms']} ms ({figures['machine']})"
    )
    print(f"{'kind':<22}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, (fn, items) in kinds.items():
        lat = timed(fn, items)
        figures[name] = {
            "n": len(lat),
            "p50_ms": round(statistics.median(lat), 2),
            "p95_ms": round(pct(lat, 95), 2),
        }
        print(
            f"{name:<22}{len(lat):>5}{statistics.median(lat):>10.2f}{pct(lat, 95):>10.2f}{max(lat):>10.2f}"
        )
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
