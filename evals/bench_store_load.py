"""Load on the store's HTTP API: 50 clients on 127.0.0.1, copies of the old code and the new
serving setup in the same run, bounded in count and time.

    python evals/bench_store_load.py                        # original, then served: 60 s each
    python evals/bench_store_load.py --setups original,baseline,nocache,served
    python evals/bench_store_load.py --seconds 20 --setups served --cold
    python evals/bench_store_load.py --mix hand             # the hand-written mix of the first run

Each setup is a real server in its own process on a free 127.0.0.1 port:

* ``original`` — a copy of the code before work-bounded queries (``git archive`` of commit
  624bf2f's ``assistant/`` and ``data/schema/`` into a temporary folder), served as it was then:
  one uvicorn process, the pure-Python HTTP parser (h11) and asyncio loop (httptools and uvloop
  were not installed). Issue 17 recorded 47 requests/s, p95 3.7 s for it; that figure is
  printed too.
* ``baseline`` — the same for commit 5c34b31 (work-bounded queries, the first load figures:
  55.5 answered/s).
* ``nocache`` — today's ``python -m assistant store serve`` with ``QA_STORE_CACHE_MB=0``.
* ``served`` — what ``make serve`` runs (``python -m assistant store serve``, the settings'
  defaults: ``QA_STORE_WORKERS`` processes, httptools/uvloop, the result cache).

The mix (``--mix log``, the default) is every /v3 request of the real query log sample
(``../shared/data/seed/query_log_sample.jsonl``: API-log requests and documentation examples,
typos and all; the MyChem /v1 lines are left out). The sample holds 87 distinct /v3 strings, each
once, so it carries no repetition distribution of its own: each client walks all of them in its
own random order (fixed seed), again and again, so every request is equally frequent. ``--cold``
adds a distinct ``_bench=<n>`` parameter (ignored by the store, as mygene.info ignores unknown
parameters) to every request, so that no answer can come from the cache: the uncached cost of the
same mix. ``--mix hand`` is the first run's eight hand-written requests.

Before the load each setup answers every request once, on its own, with a distinct ``_bench``
(so the cache starts empty); that status is the expected one. Under load an error is an answer
with another status (a 400 for a valid query, a 404 for a gene that exists, a dropped
connection) or any 5xx but the service's 503 "busy" with Retry-After, which is counted apart.
The client is a minimal keep-alive HTTP/1.1 client on asyncio streams, so that the load
generator's own cost (it shares the cores) stays small. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.store.search import INTERVAL  # noqa: E402

ORIGINAL = {"answered/s": 47.0, "p95 ms": 3700}
"""The original code path (before work-bounded queries), as recorded in issue 17."""

REVISIONS = {"original": "624bf2f", "baseline": "5c34b31"}
"""Setups served from a copy of the code at a commit (see the module's docstring)."""

OLD_SERVE = """
import sys, uvicorn
run = uvicorn.run
uvicorn.run = lambda app, **kw: run(app, **{**kw, "http": "h11", "loop": "asyncio"})
from assistant.config import Settings
from assistant.store.service import serve
serve(Settings(host="127.0.0.1", port=int(sys.argv[1])))
"""
"""Serves an old copy as it ran then: its own ``serve``, on h11 and the asyncio loop."""
SETUPS = ("original", "baseline", "nocache", "served")

HAND_MIX = [
    ("GET", "/v3/query", {"q": "symbol:CDK2", "species": "human"}),
    ("GET", "/v3/query", {"q": "kinase AND taxid:9606", "fields": "symbol,name"}),
    ("GET", "/v3/query", {"q": "insulin receptor", "fields": "symbol,name,taxid"}),
    ("GET", "/v3/query", {"q": "go.BP.id:GO\\:0000082", "species": "human", "fields": "symbol"}),
    ("GET", "/v3/query", {"q": "chr12:55,900,000-56,000,000", "species": "human"}),
    ("GET", "/v3/query", {"q": "cdk*", "species": "human,mouse", "fields": "symbol"}),
    ("GET", "/v3/query", {"q": "pathway.reactome.name:signaling", "size": "20"}),
    ("POST", "/v3/query", {"q": "CDK2,TP53,BRCA1,EGFR,INS,MYC", "scopes": "symbol"}),
]


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> str:
        return kind_of(self)

    def encode(self, host: str, extra: dict | None = None) -> bytes:
        params = list(self.params) + list((extra or {}).items())
        form = urlencode(params, quote_via=quote)
        if self.method == "GET":
            target = self.path + ("?" + form if form else "")
            return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        body = form.encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body


def kind_of(req: Req) -> str:
    """The row of the table a request counts in."""
    if req.method == "POST":
        return "POST batch"
    if "/gene/" in req.path:
        return "gene by id"
    if "/metadata" in req.path:
        return "metadata"
    q = dict(req.params).get("q")
    if not q:
        return "no q / other"
    if INTERVAL.match(q):
        return "interval"
    if "go" in q.lower().split(":")[0]:
        return "GO"
    if " AND " in q or " OR " in q or "NOT " in q:
        return "boolean"
    if ":" in q:
        return "fielded"
    if "*" in q or "?" in q:
        return "wildcard"
    return "free text"


def log_mix(path: Path) -> list[Req]:
    """The /v3 requests of the query log sample, in its order (README of ../shared/data)."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)["query"]
        if raw.startswith("q="):  # a documentation example: the query string only
            raw = "/v3/query?" + raw
        parts = urlsplit(raw)
        if not parts.path.startswith("/v3"):
            continue  # MyChem (/v1) lines
        out.append(Req("GET", parts.path, tuple(parse_qsl(parts.query, keep_blank_values=True))))
    return out


def hand_mix() -> list[Req]:
    return [Req(m, p, tuple(params.items())) for m, p, params in HAND_MIX]


# --- the client ---------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None

    async def send(self, request: bytes) -> tuple[int, dict, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Answer:
    req: Req
    status: int | str
    seconds: float
    cached: bool


async def client(
    port: int, mix: list[Req], seed: int, stop: float, budget: list[int], cold: bool, out: list
) -> None:
    rng = random.Random(seed)
    order = list(mix)
    con = Connection(port)
    n = 0
    try:
        while True:
            rng.shuffle(order)
            for req in order:
                if time.perf_counter() >= stop or budget[0] <= 0:
                    return
                budget[0] -= 1
                n += 1
                extra = {"_bench": f"{seed}-{n}"} if cold else None
                t0 = time.perf_counter()
                try:
                    status, headers, _ = await con.send(req.encode("127.0.0.1", extra))
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    con.close()
                    out.append(Answer(req, type(exc).__name__, time.perf_counter() - t0, False))
                    continue
                cached = headers.get("x-cache", "") == "hit"
                out.append(Answer(req, status, time.perf_counter() - t0, cached))
                if status == 503:
                    await asyncio.sleep(float(headers.get("retry-after", "1")))
    finally:
        con.close()


# --- the servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def code_copy(rev: str, folder: Path) -> Path:
    """``assistant/`` and ``data/schema/`` as they were at commit ``rev``, under ``folder``."""
    out = folder / rev
    if not out.exists():
        out.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", rev, "assistant", "data/schema"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def start(
    setup: str, port: int, settings: Settings, concurrency: int | None, tmp: Path
) -> subprocess.Popen:
    env = dict(os.environ, QA_STORE_PATH=str(settings.store_path), QA_PORT=str(port))
    env["QA_HOST"] = "127.0.0.1"
    if concurrency:
        env["QA_STORE_CONCURRENCY"] = str(concurrency)
    cwd = ROOT
    if setup in REVISIONS:
        cwd = code_copy(REVISIONS[setup], tmp)
        cmd = [sys.executable, "-c", OLD_SERVE, str(port)]
    else:
        if setup == "nocache":
            env["QA_STORE_CACHE_MB"] = "0"
        cmd = [sys.executable, "-m", "assistant", "store", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{setup} server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /v3/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"{setup} server did not answer within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGINT to the server's own process group (uvicorn's workers stop with it)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- one run ------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


async def expected_statuses(port: int, mix: list[Req]) -> dict[Req, int]:
    con = Connection(port)
    out = {}
    try:
        for i, req in enumerate(dict.fromkeys(mix)):
            status, _, _ = await con.send(req.encode("127.0.0.1", {"_bench": f"idle-{i}"}))
            out[req] = status
    finally:
        con.close()
    return out


def run_setup(setup: str, mix: list[Req], args, settings: Settings, tmp: Path) -> dict:
    port = free_port()
    proc = start(setup, port, settings, args.concurrency, tmp)
    try:
        expected = asyncio.run(expected_statuses(port, mix))

        async def load() -> list[Answer]:
            out: list[Answer] = []
            stop = time.perf_counter() + args.seconds
            budget = [args.max_requests]
            await asyncio.gather(
                *(client(port, mix, n, stop, budget, args.cold, out) for n in range(args.clients))
            )
            return out

        t0 = time.perf_counter()
        answers = asyncio.run(load())
        wall = time.perf_counter() - t0
    finally:
        stop_server(proc)
    return {"setup": setup, "wall": wall, "answers": answers, "expected": expected}


def is_error(a: Answer, expected: dict[Req, int]) -> bool:
    if a.status == 503:
        return False
    return not isinstance(a.status, int) or a.status >= 500 or a.status != expected[a.req]


def rows(result: dict) -> list[tuple]:
    answers, wall, expected = result["answers"], result["wall"], result["expected"]
    groups: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        groups[a.req.kind].append(a)
    out = []
    for kind, group in [("all", answers), *sorted(groups.items())]:
        done = [a.seconds for a in group if a.status != 503 and not is_error(a, expected)]
        out.append(
            (
                result["setup"],
                kind,
                len(group),
                len(done) / wall,
                pct(done, 50) * 1000,
                pct(done, 99) * 1000,
                sum(is_error(a, expected) for a in group),
                sum(a.status == 503 for a in group),
                sum(a.cached for a in group) / max(len(group), 1),
            )
        )
    return out


def table(results: list[dict]) -> str:
    head = "| setup | kind | requests | answered/s | p50 ms | p99 ms | errors | 503 busy | cache hits |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        for setup, kind, n, rate, p50, p99, errors, busy, hits in rows(result):
            lines.append(
                f"| {setup} | {kind} | {n:,} | {rate:,.1f} | {p50:,.0f} | {p99:,.0f} | "
                f"{errors} | {busy} | {hits:.0%} |"
            )
    lines.append(
        f"| original (recorded) | all | | {ORIGINAL['answered/s']:.0f} | | "
        f"(p95 {ORIGINAL['p95 ms']:,}) | | | |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0, help="load per setup")
    ap.add_argument("--max-requests", type=int, default=200_000, help="per setup")
    ap.add_argument("--concurrency", type=int, default=None, help="QA_STORE_CONCURRENCY")
    ap.add_argument(
        "--setups", default="original,served", help="comma list of " + ", ".join(SETUPS)
    )
    ap.add_argument("--mix", choices=["log", "hand"], default="log")
    ap.add_argument("--cold", action="store_true", help="a distinct request each time: no cache")
    ap.add_argument("--log", type=Path, default=None, help="query log JSONL (default: the seed's)")
    args = ap.parse_args()

    settings = Settings()
    load_before = os.getloadavg()[0]
    if args.mix == "log":
        mix = log_mix(args.log or settings.seed_dir / "query_log_sample.jsonl")
    else:
        mix = hand_mix()
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    for setup in setups:
        if setup not in SETUPS:
            ap.error(f"unknown setup {setup!r}: use {', '.join(SETUPS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-store-load-") as tmp:
        for setup in setups:
            results.append(run_setup(setup, mix, args, settings, Path(tmp)))
            r = results[-1]
            print(f"{setup}: {len(r['answers']):,} requests in {r['wall']:.1f} s", flush=True)
    print(
        f"\n{args.clients} clients, {args.seconds:.0f} s per setup, mix {args.mix} "
        f"({len(set(mix))} distinct requests{', each made distinct: --cold' if args.cold else ''}), "
        f"{os.cpu_count()} CPUs, load average before the run {load_before:.1f}\n"
    )
    print(table(results))
    for result in results:
        bad = Counter(
            (str(a.status), result["expected"].get(a.req), a.req.path, dict(a.req.params).get("q"))
            for a in result["answers"]
            if is_error(a, result["expected"])
        )
        for (status, want, path, q), n in bad.most_common(5):
            print(f"  {result['setup']}: {n}× {status} (idle: {want}) {path} q={q!r}")
    rate = {r["setup"]: rows(r)[0][3] for r in results}
    for new in ("served", "nocache"):
        if new in rate:
            ratios = [f"{rate[new] / rate[old]:.1f}× {old}" for old in rate if old in REVISIONS]
            ratios.append(f"{rate[new] / ORIGINAL['answered/s']:.1f}× the recorded 47/s")
            print(f"{new}: answered/s = " + ", ".join(ratios))


if __name__ == "__main__":
    main()
