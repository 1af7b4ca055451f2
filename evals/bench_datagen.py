"""Logs → pairs on the seed query log, written as a log in each format ``datagen`` reads, with
the round trip: the figures of issue 18.

    python evals/bench_datagen.py [--formats combined,csv,jsonl] [--round-trip-model NAME]
        [--no-round-trip] [--paraphrase [--limit N]] [--out evals/results/datagen_seed.json]

For each format: log lines read per second, distinct queries and those with hits, the template
writer's time per query, the round-trip rate (per writer and per intent) and its time per pair,
and the bar: the share of distinct queries with hits that get two or more instructions passing
every check and the round trip. The seed query log is held out of data/pairs (the model never
trained on its queries), so the round trip measures instructions the model has not seen.
Nothing leaves the machine: the embedded store answers, the model runs in process.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import Settings  # noqa: E402
from assistant.datagen.logs import WRITE_FORMATS, write_log  # noqa: E402
from assistant.datagen.run import Options, run_datagen  # noqa: E402
from assistant.pairs import load_pairs  # noqa: E402
from assistant.synth.seeds import SEED_LOG  # noqa: E402


def seed_requests(settings: Settings) -> list[tuple]:
    """The seed query log's requests as ``(method, target, body, api)``."""
    path = settings.seed_dir / SEED_LOG
    if not path.is_file():
        raise SystemExit(f"{path} is missing: set QA_SEED_DIR to the folder holding {SEED_LOG}")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            target = (
                row["query"]
                if row["query"].startswith(("/", "http"))
                else "/v3/query?" + row["query"]
            )
            out.append(("GET", target, None, row.get("api", "mygene")))
    return out


def measure(settings: Settings, fmt: str, folder: Path, args) -> dict:
    log = write_log(folder / fmt, fmt, seed_requests(settings))
    out = folder / f"out-{fmt}"
    options = Options(
        [log], out, per_signature=args.per_signature, progress=False,
        round_trip=not args.no_round_trip, round_trip_model=args.round_trip_model,
        paraphrase=args.paraphrase, limit=args.limit,
    )  # fmt: skip
    t0 = time.perf_counter()
    result = run_datagen(settings, options)
    wall = time.perf_counter() - t0
    info = result.report.info
    sec = info["seconds"]
    queries = [json.loads(x)["query"] for x in (out / "queries.jsonl").read_text().splitlines()]
    queries = queries[: args.limit] if args.limit else queries
    per_query: Counter = Counter()
    writers: Counter = Counter()
    for split in ("train", "validation", "test"):
        for p in load_pairs(out, split):
            per_query[p.query] += 1
            writers[p.extra.get("writer", "?")] += 1
    good = [q for q in queries if per_query[q] >= 2]
    lines = sum(1 for _ in open(log, encoding="utf-8"))
    trip = info.get("round_trip", {})
    return {
        "format": fmt,
        "log_lines": lines,
        "lines_per_s": round(lines / max(sec["read_extract"], 1e-6)),
        "distinct_queries": info["distinct_queries"],
        "with_hits": len(queries),
        "two_or_more": len(good),
        "bar_share": round(len(good) / max(1, len(queries)), 4),
        "failing": sorted(set(queries) - set(good)),
        "pairs_per_query": round(sum(per_query.values()) / max(1, len(queries)), 2),
        "pairs_by_writer": dict(writers),
        "writer_ms_per_query": round(1000 * sec["instruct"] / max(1, len(queries)), 1),
        "paraphrase_s_per_query": round(sec.get("paraphrase", 0) / max(1, len(queries)), 2),
        "round_trip": {
            k: trip.get(k)
            for k in (
                "rate",
                "checked",
                "passed",
                "by_writer",
                "by_intent",
                "reasons",
                "model",
                "seconds_per_pair",
                "skipped",
            )
            if k in trip
        },  # fmt: skip
        "round_trip_s_per_query": round(sec.get("round_trip", 0) / max(1, len(queries)), 2),
        "wall_s": round(wall, 1),
        "wall_s_per_query": round(wall / max(1, len(queries)), 2),
        "uncovered": result.report.counts.get("uncovered", {}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--formats", default=",".join(WRITE_FORMATS))
    ap.add_argument("--round-trip-model", help="Model of the round trip (default: QA_MODEL).")
    ap.add_argument("--no-round-trip", action="store_true")
    ap.add_argument("--paraphrase", action="store_true", help="Also rephrase with the base model.")
    ap.add_argument("--per-signature", type=int, default=5)
    ap.add_argument(
        "--limit", type=int, help="Instruct only the first N queries (paraphrase runs)."
    )
    ap.add_argument("--out", type=Path, help="Write the figures as JSON here.")
    args = ap.parse_args(argv)
    settings = Settings()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-datagen-") as tmp:
        for fmt in args.formats.split(","):
            row = measure(settings, fmt.strip(), Path(tmp), args)
            rows.append(row)
            rt = row["round_trip"]
            print(
                f"{row['format']:9} lines {row['log_lines']} ({row['lines_per_s']}/s)  distinct "
                f"{row['distinct_queries']}  with hits {row['with_hits']}  ≥2 passing "
                f"{row['two_or_more']} ({100 * row['bar_share']:.0f} %)  pairs/query "
                f"{row['pairs_per_query']}  writer {row['writer_ms_per_query']} ms/query  round "
                f"trip {rt.get('rate', '-')} ({rt.get('passed', 0)}/{rt.get('checked', 0)}, "
                f"{row['round_trip_s_per_query']} s/query)  wall {row['wall_s_per_query']} s/query",
                flush=True,
            )
            for q in row["failing"]:
                print(f"          short of 2: {q}")
    if rows and rows[0]["round_trip"].get("by_intent"):
        print("round trip by intent (first format):")
        for intent, r in sorted(rows[0]["round_trip"]["by_intent"].items()):
            print(f"  {intent:18} {r['passed']}/{r['checked']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"command": "python evals/bench_datagen.py " + " ".join(argv or sys.argv[1:]),
                "model": settings.model, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
        args.out.write_text(json.dumps({**meta, "formats": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
