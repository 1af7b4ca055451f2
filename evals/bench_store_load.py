"""Load on the store's HTTP API: concurrent clients on 127.0.0.1, bounded in count and time.

    python evals/bench_store_load.py                       # 50 clients, 60 s, full store
    python evals/bench_store_load.py --clients 20 --seconds 20 --concurrency 4

Starts the MyGene-compatible service (assistant/store/service.py) on a free 127.0.0.1 port in
this process, then runs ``--clients`` asyncio clients that each send a realistic mix (fielded,
free text, GO, interval, wildcard, ``kinase AND taxid:9606``, a POST batch) until ``--seconds``
have passed or ``--max-requests`` were sent. Prints throughput, p50/p99 latency and the answers
by status: a 400 for a valid query under load, or any 5xx but the service's 503 "busy" with
Retry-After, is an error. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from assistant.config import Settings  # noqa: E402
from assistant.store.engine import GeneStore  # noqa: E402
from assistant.store.service import create_app  # noqa: E402

MIX = [
    ("GET", {"q": "symbol:CDK2", "species": "human"}),
    ("GET", {"q": "kinase AND taxid:9606", "fields": "symbol,name"}),
    ("GET", {"q": "insulin receptor", "fields": "symbol,name,taxid"}),
    ("GET", {"q": "go.BP.id:GO\\:0000082", "species": "human", "fields": "symbol"}),
    ("GET", {"q": "chr12:55,900,000-56,000,000", "species": "human"}),
    ("GET", {"q": "cdk*", "species": "human,mouse", "fields": "symbol"}),
    ("GET", {"q": "pathway.reactome.name:signaling", "size": "20"}),
    ("POST", {"q": "CDK2,TP53,BRCA1,EGFR,INS,MYC", "scopes": "symbol", "species": "human"}),
]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


async def client(url: str, n: int, stop: float, budget: list[int], out: list) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        i = n
        while time.perf_counter() < stop and budget[0] > 0:
            budget[0] -= 1
            method, params = MIX[i % len(MIX)]
            i += 1
            t0 = time.perf_counter()
            try:
                if method == "GET":
                    r = await http.get(f"{url}/query", params=params)
                else:
                    r = await http.post(f"{url}/query", data=params)
                out.append((r.status_code, time.perf_counter() - t0, params["q"]))
                if r.status_code == 503:
                    await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            except httpx.HTTPError as exc:
                out.append((type(exc).__name__, time.perf_counter() - t0, params["q"]))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--concurrency", type=int, default=None, help="QA_STORE_CONCURRENCY")
    args = ap.parse_args()

    settings = Settings()
    concurrency = args.concurrency or settings.store_concurrency
    store = GeneStore.open(settings.store_path, settings.query_timeout_ms, settings.query_max_steps)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(store, concurrency, settings.store_queue_wait_s)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/v3"

    async def run() -> list:
        out: list = []
        stop = time.perf_counter() + args.seconds
        budget = [args.max_requests]
        await asyncio.gather(*(client(url, n, stop, budget, out) for n in range(args.clients)))
        return out

    t0 = time.perf_counter()
    out = asyncio.run(run())
    wall = time.perf_counter() - t0
    server.should_exit = True
    thread.join(timeout=10)

    status = Counter(str(s) for s, _, _ in out)
    ok = [t for s, t, _ in out if s == 200]
    errors = [(s, q) for s, _, q in out if s != 200 and s != 503]
    print(
        f"{args.clients} clients, {wall:.1f} s, {concurrency} store slots, {store.n_genes:,} genes: "
        f"{len(out)} requests, {len(ok) / wall:.1f} answered/s"
    )
    print(
        f"latency of answered requests: p50 {pct(ok, 50) * 1000:.0f} ms, p99 {pct(ok, 99) * 1000:.0f} ms, "
        f"mean {statistics.mean(ok) * 1000 if ok else 0:.0f} ms"
    )
    print(f"by status: {dict(status)}; errors (not 200, not 503 busy): {len(errors)}")
    for s, q in Counter(errors).most_common(5):
        print(f"  {s}: {q}")


if __name__ == "__main__":
    main()
