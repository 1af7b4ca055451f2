"""A real HTTP server on 127.0.0.1 that plays a MyGene.info /v3 API with faults on demand: each
request gets the next action of a plan (the last one repeats), so a test can make the live API
time out, answer 5xx, answer broken JSON or hang up, and then recover."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

CDK2 = {
    "_id": "1017",
    "_score": 20.5,
    "symbol": "CDK2",
    "name": "cyclin dependent kinase 2",
    "taxid": 9606,
    "entrezgene": "1017",
}

ACTIONS = (
    "ok",  # a MyGene answer about CDK2
    "timeout",  # answer only after the client gave up (or the server closes)
    "close",  # hang up without answering (a connection error)
    "garbage",  # 200 with JSON cut in the middle
    "html",  # 200 with an HTML error page (a proxy's)
    "list",  # 200 with JSON that is not what MyGene answers
    "400",
    "404",
    "500",
    "502",
    "503",
    "503-retry-after",  # 503 with Retry-After: 0.3
    "504",
)


@dataclass
class FaultServer:
    """The server's plan and what it saw: ``requests`` holds ``(time, method, path)`` tuples."""

    url: str = ""
    plan: list[str] = field(default_factory=lambda: ["ok"])
    requests: list[tuple[float, str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def play(self, *actions: str) -> FaultServer:
        """Answer the next requests with ``actions`` (the last one repeats); clears the log."""
        unknown = [a for a in actions if a not in ACTIONS]
        assert not unknown, f"unknown actions {unknown}; use {ACTIONS}"
        with self._lock:
            self.plan = list(actions)
            self.requests.clear()
        return self

    def next_action(self, method: str, path: str) -> str:
        with self._lock:
            self.requests.append((time.monotonic(), method, path))
            return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests (the client's backoff)."""
        times = [t for t, _, _ in self.requests]
        return [b - a for a, b in zip(times, times[1:], strict=False)]


def _answer(method: str, path: str, body: bytes) -> object:
    """What MyGene answers, about CDK2 only."""
    if path.endswith("/query") and method == "GET":
        return {"took": 1, "total": 1, "max_score": 20.5, "hits": [CDK2]}
    if path.endswith("/query") or path.endswith("/gene"):  # POST: one row per term
        text = body.decode()
        terms = [t for t in text.split("&") if t.startswith(("q=", "ids="))]
        values = terms[0].split("=", 1)[1].replace("%2C", ",").split(",") if terms else []
        return [{"query": v, **CDK2} for v in values]
    return CDK2  # GET /gene/<id>


@contextlib.contextmanager
def fault_server() -> Iterator[FaultServer]:
    """Serve on a free port; yields the :class:`FaultServer` (``url`` ends with ``/v3``)."""
    state = FaultServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path.rstrip("/")
            action = state.next_action(method, path)
            if action == "timeout":
                state.stop.wait(10)  # the client times out first
                action = "ok"
            if action == "close":
                self.close_connection = True
                return
            status, headers, data = 200, {"Content-Type": "application/json"}, b""
            if action == "ok":
                data = json.dumps(_answer(method, path, body)).encode()
            elif action == "garbage":
                data = b'{"took": 1, "total": 1, "hits": [{"_id": "1017", "sym'
            elif action == "html":
                headers["Content-Type"] = "text/html"
                data = b"<html><body><h1>Bad gateway</h1></body></html>"
            elif action == "list":
                data = b"[1, 2, 3]"
            else:
                status = int(action.split("-")[0])
                if action == "503-retry-after":
                    headers["Retry-After"] = "0.3"
                data = json.dumps({"success": False, "error": f"fault {action}"}).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            self._handle("GET")

        def do_POST(self):  # noqa: N802
            self._handle("POST")

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client that timed out and left: the late answer has nowhere to go

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/v3"
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
