"""The OpenAI key never shows: a distinctive fake key, read from a .env file (and from the
environment), is used for real requests to a local OpenAI-compatible server on 127.0.0.1 — one
that answers, one that refuses the key and quotes it back as some servers do — through the CLI
(`ask --json --trace`, `config`), the page's handlers and the pipeline's trace, with the
interaction log and the access log written under tmp_path. Then every file under tmp_path (but
the .env), the captured stdout/stderr, every log record (DEBUG and up) and everything the page
returned are searched for the key."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.logstore import InteractionLog
from assistant.page import PageService
from assistant.pipeline import Assistant

KEY = "sk-qa-LEAKCHECK-7f3a9c1e5b2d4086"
QUERY = "/v3/query?q=symbol:CDK2&species=human&fields=symbol,entrezgene"


@contextlib.contextmanager
def openai_server(refuse: bool) -> Iterator[tuple[str, list[str]]]:
    """A chat-completions server that answers QUERY, or (``refuse``) a 401 that quotes the key
    it was sent; yields its base URL and the Authorization headers it received."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            auth = self.headers.get("Authorization", "")
            seen.append(auth)
            if refuse:
                status = 401
                reply = {
                    "error": {
                        "message": f"Incorrect API key provided: {auth.removeprefix('Bearer ')}",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                }
            else:
                status = 200
                reply = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": QUERY}}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
                }  # fmt: skip
            ctype = "application/json"
            data = json.dumps(reply).encode()
            if status == 200 and body.get("stream"):  # the page streams: server-sent events
                ctype = "text/event-stream"
                delta = {"role": "assistant", "content": QUERY}
                chunk = {
                    **reply,
                    "object": "chat.completion.chunk",
                    "usage": None,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": "stop"}],
                }
                last = {**chunk, "choices": [], "usage": reply["usage"]}
                data = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in (chunk, last))
                data += b"data: [DONE]\n\n"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def workdir(tmp_path, monkeypatch, tiny_store_path):
    """tmp_path as the working directory, its .env holding the key and every log path."""
    for name in ("QA_OPENAI_API_KEY", "QA_OPENAI_BASE_URL", "QA_LOG_DIR"):
        monkeypatch.delenv(name, raising=False)
    logs = tmp_path / "logs"
    (tmp_path / ".env").write_text(
        f"QA_OPENAI_API_KEY={KEY}\n"
        f"QA_STORE_PATH={tiny_store_path}\n"
        f"QA_LOG_DIR={logs}\n"
        f"QA_INTERACTION_DB={logs / 'interactions.sqlite'}\n"
        f"QA_ACCESS_LOG={logs / 'access.jsonl'}\n"
        f"QA_INDEX_DIR={tmp_path / 'index'}\n"
        f"QA_RESULTS_DIR={tmp_path / 'results'}\n"
        "QA_MODEL=openai:qa-test\nQA_MODE=zero-shot\nQA_RETRY_INVALID=false\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def written_under(folder) -> dict[str, bytes]:
    """Every file under ``folder`` but the .env (which holds the key on purpose)."""
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != ".env"}


def assert_no_key(**places) -> None:
    for where, text in places.items():
        if isinstance(text, bytes):
            assert KEY.encode() not in text, where
        else:
            assert KEY not in text, where


def page_views(settings: Settings, question: str) -> dict[str, dict]:
    """The page's handlers in turn: ask (every partial view), re-run a query, mark the answer
    wrong, save a correction (writing both logs)."""
    service = PageService(Assistant(settings), InteractionLog.from_settings(settings))
    *partial, asked = service.ask(question, "zero-shot", settings.model, "embedded", None)
    state = asked["state"]
    rerun = service.run_query(QUERY, "zero-shot", settings.model, "embedded", state)
    verdict = service.verdict("wrong", state)
    message, table = service.save_correction(QUERY, state)
    return {
        "partial": {"views": partial},
        "ask": asked,
        "rerun": rerun,
        "marks": {"verdict": verdict, "correction": message, "table": table},
    }


@pytest.mark.parametrize("source", ["dotenv", "environment"])
def test_the_key_never_appears(workdir, monkeypatch, capsys, caplog, source):
    caplog.set_level(logging.DEBUG)
    if source == "environment":  # the environment wins over .env: the same key either way
        monkeypatch.setenv("QA_OPENAI_API_KEY", KEY)
    settings = Settings()
    assert settings.openai_api_key == KEY and settings.log_dir == workdir / "logs"
    assert_no_key(repr=repr(settings), str=str(settings))

    outputs: dict[str, str] = {}
    with openai_server(refuse=False) as (url, seen):
        monkeypatch.setenv("QA_OPENAI_BASE_URL", url)
        settings = Settings()
        # the CLI: ask with the full trace, and the effective settings
        assert main(["-v", "ask", "what is the entrez id of human CDK2?", "--json", "--trace"]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["query"] == QUERY and answer["status"] == "ok" and answer["hits"]
        assert main(["config"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["openai_api_key"] == "***"
        outputs["cli ask"] = json.dumps(answer)
        outputs["config"] = json.dumps(shown)
        # the page: ask, run an edited query, a verdict and a correction (both logs written)
        views = page_views(settings, "what is the entrez id of human CDK2?")
        assert views["ask"]["query"] == QUERY, views["ask"]["answer"]
        assert "1017" in views["rerun"]["answer"]
        outputs["page"] = json.dumps(views, default=str)
        # the pipeline's own trace
        trace = Assistant(settings).answer("where is CDK2?").to_json(trace=True)
        outputs["trace"] = json.dumps(trace, default=str)
        assert seen and all(auth == f"Bearer {KEY}" for auth in seen)  # the key was used

    with openai_server(refuse=True) as (url, seen):
        monkeypatch.setenv("QA_OPENAI_BASE_URL", url)
        settings = Settings()
        # the error paths: the CLI's one-line error, the page's message
        assert main(["ask", "what is CDK2?", "--json"]) == 2
        captured = capsys.readouterr()
        assert "401" in captured.err and "***" in captured.err
        outputs["cli error"] = captured.out + captured.err
        views = page_views(settings, "what is CDK2?")
        assert "401" in views["ask"]["answer"] and views["ask"]["status"].startswith("⚠")
        outputs["page error"] = json.dumps(views, default=str)
        assert seen and KEY in seen[0]  # the server did quote the key back

    logs = written_under(workdir)
    assert any(p.endswith("access.jsonl") for p in logs)
    assert any(p.endswith("interactions.sqlite") for p in logs)
    captured = capsys.readouterr()
    assert_no_key(
        **outputs,
        **logs,
        stdout=captured.out,
        stderr=captured.err,
        log_records=caplog.text,
        log_args=repr([(r.getMessage(), r.args) for r in caplog.records]),
    )
