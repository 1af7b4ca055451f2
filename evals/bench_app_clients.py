"""Many people at once: N simultaneous gradio_client clients ask the launched page questions.

    python evals/bench_app_clients.py                          # 20 clients, smollm2-135m, ft
    python evals/bench_app_clients.py --model qwen2.5-coder-0.5b --mode zero-shot --clients 10

Starts ``python app.py`` as a subprocess on a free port (the configured store; a fresh
interaction log in a temp folder), waits until the model is loaded and the page answers, then
starts every client at the same moment, each asking one question through the ``/ask`` endpoint
(each client is its own conversation). Generation runs one request at a time, so the others
queue: the script records each client's wall time, the highest queue position it was told and
its answer, then checks that every client got an answer and that the log lost no row (one
interaction row per question, one ``executed`` access-log line per query that ran).

Prints counts and p50/p95/max durations; everything is bounded (``--timeout`` for the whole run,
``--start-timeout`` for the app to start). ``--out`` also writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from gradio_client import Client
from gradio_client.utils import Status

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.page import DONE, OUTPUTS  # noqa: E402

QUESTIONS = [
    "What is the official symbol of LMP10?",
    "Where is human BRCA1 located?",
    "What is the Entrez gene id of human CDK2?",
    "Which GO biological processes is human CDK2 involved in?",
    "Which Reactome pathways is human TP53 part of?",
    "What is the Ensembl gene id of human EGFR?",
    "Which gene has the UniProt accession P24941?",
    "Look up CDK2, BRCA1 and TP53 by symbol.",
    "Which human genes lie in chr12:55,900,000-56,000,000?",
    "How many genes matching CDK* are there, by species?",
    "What is the symbol of mouse Trp53?",
    "What are the aliases of human CDKN1A?",
    "Give me a summary of the human INS gene.",
    "What is the full name of human PTEN?",
    "Where is the mouse Egfr gene located?",
    "Which GO terms does rat Cdk2 have?",
    "What is gene 1017?",
    "List human genes annotated with apoptotic process.",
    "Convert ENSG00000123374 to an Entrez gene id",
    "What molecular functions does human TP53 have?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def start_app(args, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "app.py", "--port", str(port), "--model", args.model]
    cmd += ["--mode", args.mode, "--query-max-tokens", str(args.max_tokens)]
    cmd += ["--interaction-db", str(folder / "interactions.sqlite")]
    cmd += ["--access-log", str(folder / "access.jsonl")]
    if args.store_path:
        cmd += ["--store-path", args.store_path]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "QA_RETRY_INVALID": "false"}
    log = open(folder / "app.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited:\n{(folder / 'app.log').read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"app.py did not start within {args.start_timeout}s")


def run_clients(url: str, n: int, timeout: float, model: str, mode: str) -> list[dict]:
    """``n`` clients, started together; one question each."""
    clients = [Client(url, verbose=False, analytics_enabled=False) for _ in range(n)]
    barrier = threading.Barrier(n)
    deadline = time.monotonic() + timeout
    results: list[dict] = [{} for _ in range(n)]

    def ask(i: int) -> None:
        question = QUESTIONS[i % len(QUESTIONS)]
        row = results[i]
        row.update(question=question, ok=False, rank=None)
        barrier.wait()
        t0 = time.perf_counter()
        job = clients[i].submit(question, mode, model, "embedded", api_name="/ask")
        try:
            while not job.done():
                status = job.status()
                if status.code == Status.IN_QUEUE and status.rank is not None:
                    row["rank"] = max(row["rank"] or 0, status.rank)
                if time.monotonic() > deadline:
                    job.cancel()
                    raise TimeoutError("no answer before the deadline")
                time.sleep(0.05)
            values = dict(zip(OUTPUTS, job.result(timeout=5), strict=True))
            row.update(
                ok=bool(values["answer"]) and values["status"].startswith(tuple(DONE.values())),
                status=values["status"],
                query=values["query"],
                generate=(values["timings"] or {}).get("generate"),
            )
        except Exception as exc:  # counted as a failure and reported
            row["error"] = f"{type(exc).__name__}: {exc}"
        row["seconds"] = time.perf_counter() - t0

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic() + 10))
    return results


def check_log(folder: Path) -> dict:
    con = sqlite3.connect(folder / "interactions.sqlite")
    try:
        rows = con.execute("SELECT question, total FROM interactions WHERE kind = 'ask'").fetchall()
        sessions = con.execute("SELECT COUNT(DISTINCT session) FROM interactions").fetchone()[0]
    finally:
        con.close()
    access = folder / "access.jsonl"
    lines = [json.loads(x) for x in access.read_text().splitlines()] if access.exists() else []
    return {
        "interaction_rows": len(rows),
        "sessions": sessions,
        "executed_rows": sum(1 for _, total in rows if total is not None),
        "access_lines": sum(1 for x in lines if x["event"] == "executed"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="smollm2-135m", help="Registry name (default smollm2-135m).")
    p.add_argument("--mode", default="ft", help="Prompt mode (default ft: the shortest prompt).")
    p.add_argument("--clients", type=int, default=20, help="Simultaneous clients (default 20).")
    p.add_argument("--max-tokens", type=int, default=32, help="Most tokens per query line.")
    p.add_argument("--store-path", default=None, help="Store file (default: the configured one).")
    p.add_argument("--timeout", type=float, default=900, help="Bound on the whole run (s).")
    p.add_argument("--start-timeout", type=float, default=300, help="Bound on app start (s).")
    p.add_argument("--out", type=Path, help="Also write the figures to this JSON file.")
    args = p.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="bench-app-"))
    t0 = time.perf_counter()
    proc, url = start_app(args, folder)
    started = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        results = run_clients(url, args.clients, args.timeout, args.model, args.mode)
        wall = time.perf_counter() - t1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    logged = check_log(folder)
    ok = [r for r in results if r.get("ok")]
    seconds = [r["seconds"] for r in results if "seconds" in r]
    gens = [r["generate"] for r in ok if r.get("generate") is not None]
    figures = {
        "model": args.model,
        "mode": args.mode,
        "clients": args.clients,
        "answered": len(ok),
        "failed": [r for r in results if not r.get("ok")],
        "app_start_s": round(started, 1),
        "wall_s": round(wall, 2),
        "p50_s": round(statistics.median(seconds), 2) if seconds else None,
        "p95_s": round(percentile(seconds, 95), 2) if seconds else None,
        "max_s": round(max(seconds), 2) if seconds else None,
        "generate_p50_s": round(statistics.median(gens), 2) if gens else None,
        "max_queue_position": max((r["rank"] or 0) for r in results),
        "statuses": {s: sum(1 for r in ok if r["status"].startswith(s)) for s in DONE.values()},
        **logged,
        "rows_lost": args.clients - logged["interaction_rows"],
        "access_lines_lost": logged["executed_rows"] - logged["access_lines"],
    }
    print(
        f"{args.clients} clients, model {args.model}, mode {args.mode} (app start {started:.1f}s)"
    )
    print(f"answered {len(ok)}/{args.clients} in {wall:.1f}s wall")
    print(
        f"per client: p50 {figures['p50_s']}s  p95 {figures['p95_s']}s  max {figures['max_s']}s"
        f"  (generation p50 {figures['generate_p50_s']}s; highest queue position "
        f"{figures['max_queue_position']})"
    )
    print(
        f"log: {logged['interaction_rows']} interaction rows in {logged['sessions']} sessions, "
        f"{logged['access_lines']} executed access lines for {logged['executed_rows']} executed "
        f"queries; rows lost {figures['rows_lost']}, access lines lost "
        f"{figures['access_lines_lost']}"
    )
    for r in figures["failed"]:
        print(f"FAILED {r.get('question')!r}: {r.get('error') or r.get('status')}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    good = len(ok) == args.clients and figures["rows_lost"] == 0
    return 0 if good and figures["access_lines_lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
