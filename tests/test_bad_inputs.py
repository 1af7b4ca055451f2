"""Every hostile or broken input of ``tests/data/bad_inputs.jsonl`` against every surface that
takes it: the store's HTTP API (a real uvicorn server on 127.0.0.1), the store engine
in-process, the query parser, validator and canonical form, the pipeline's ``run_query`` on the
embedded store and on the live backend (pointed at the same local server, with every socket
the process opens recorded), the page's handlers, and — for the rows marked ``ask`` — the
pipeline with SmolLM2-135M, the page's ask and ``python -m assistant ask --batch``.

Each input must get a clear typed error (HTTP 4xx with MyGene's JSON error, a
:class:`~assistant.errors.QueryError` in-process, an ``invalid``/``error``/``rejected`` answer)
or a correct answer: no 5xx, no other exception, no hang (every call is bounded), and no
connection to any host but the configured API.

The corpus, one JSON object a line::

    {"id": "q-interval-end-21", "kind": "huge_number", "surface": "query",
     "q": "chr1:1-999999999999999999999", "params": {}}

- ``id``: unique; ``kind``: the kind of hostility (empty, huge, binary, control, unicode,
  sql_injection, lucene_injection, unbalanced, deep_nesting, huge_number, extremes,
  unknown_field, path_traversal, other_host, prompt_injection, type_confusion);
- ``surface`` and its fields:

  ``query``      GET /v3/query: ``q`` (null: left out) and ``params``
  ``querymany``  POST /v3/query: ``q`` (a comma list, or any JSON value with ``json``) and
                 ``params``; ``json: true`` sends a JSON body, otherwise a form
  ``gene``       GET /v3/gene/{id}: ``gene_id`` and ``params``
  ``genes``      POST /v3/gene: ``ids`` and ``params``
  ``body``       a raw POST to ``path`` with ``content_type`` and ``body`` (text, sent as UTF-8)
                 or ``body_b64`` (bytes)
  ``path``       a raw GET of ``path`` under /v3, sent byte for byte
  ``text``       one query line as a model or a person writes it (``text``)
  ``question``   a question (``question``) for ask, the batch and the page

- ``ask: true`` puts a row in the subset that also runs through the language model.

Any string may be written ``{"repeat": "9", "times": 5000, "before": "chr1:1-", "after": ""}``
(``before``/``after`` may themselves be such objects) to keep huge inputs small in the file.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from test_service import serving

from assistant.config import ROOT, Settings
from assistant.errors import QueryError
from assistant.logstore import InteractionLog
from assistant.page import DONE, PageService
from assistant.pipeline import Answer, Assistant
from assistant.query import Query, canonical, parse_query, validate
from assistant.store.service import create_app

CORPUS = Path(__file__).parent / "data" / "bad_inputs.jsonl"
SURFACES = ("query", "querymany", "gene", "genes", "body", "path", "text", "question")
STATUSES = ("ok", "no_hits", "ambiguous", "invalid", "error", "rejected")
SECONDS = 30
"""The most one input may take on any surface (the store's own budget stops far sooner)."""
MODEL_SECONDS = 300
"""The most one question through the model may take (about a second on an idle machine)."""


def expand(value):
    """A corpus value with its ``{"repeat": ...}`` objects written out."""
    if isinstance(value, dict) and "repeat" in value:
        return (
            expand(value.get("before", ""))
            + value["repeat"] * value["times"]
            + expand(value.get("after", ""))
        )
    if isinstance(value, dict):
        return {expand(k): expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def load_corpus() -> list[dict]:
    rows = [expand(json.loads(line)) for line in CORPUS.read_text().splitlines() if line.strip()]
    for row in rows:
        row.setdefault("params", {})
        if "body_b64" in row:
            row["body"] = base64.b64decode(row.pop("body_b64"))
        elif "body" in row:
            row["body"] = row["body"].encode("utf-8")
    return rows


ROWS = load_corpus()


def rows(*surfaces: str, ask: bool | None = None) -> list:
    return [
        pytest.param(r, id=r["id"])
        for r in ROWS
        if r["surface"] in surfaces and (ask is None or r.get("ask", False) == ask)
    ]


def all_text(row: dict) -> bool:
    """Whether every parameter is a string (the rows a query line can be written from)."""
    values = [row.get("q"), *row["params"].values()]
    return all(v is None or isinstance(v, str) for v in values)


def as_text(row: dict) -> str | None:
    """The row as one query line (what the model or the page's editor would hold)."""
    surface = row["surface"]
    if surface == "text":
        return row["text"]
    if not all_text(row):
        return None
    params = dict(row["params"])
    if surface == "query":
        return Query("query", "GET", row.get("q"), None, params).to_text()
    if surface == "querymany":
        return Query("query", "POST", row.get("q"), None, params).to_text()
    if surface == "gene":
        return Query("gene", "GET", None, row["gene_id"], params).to_text()
    if surface == "genes" and isinstance(row["ids"], str):
        return Query("gene", "POST", None, None, {"ids": row["ids"], **params}).to_text()
    return None


_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bounded")


def bounded(fn, *args, seconds: float = SECONDS, **kwargs):
    """``fn(*args, **kwargs)`` in a worker thread, failing the test when it does not return
    within ``seconds`` (a hang); its exceptions are re-raised here."""
    future = _POOL.submit(fn, *args, **kwargs)
    try:
        return future.result(timeout=seconds)
    except TimeoutError:
        pytest.fail(f"no answer within {seconds} s")


def test_the_corpus_is_large_and_well_formed():
    ids = [r["id"] for r in ROWS]
    assert len(ids) >= 200 and len(set(ids)) == len(ids)
    assert {r["surface"] for r in ROWS} == set(SURFACES)
    kinds = {r["kind"] for r in ROWS}
    for kind in ("empty", "huge", "binary", "control", "unicode", "sql_injection"):
        assert kind in kinds
    for kind in ("lucene_injection", "unbalanced", "deep_nesting", "huge_number", "extremes"):
        assert kind in kinds
    for kind in ("unknown_field", "path_traversal", "other_host", "prompt_injection"):
        assert kind in kinds
    fields = {
        "query": {"q"},
        "querymany": {"q"},
        "gene": {"gene_id"},
        "genes": {"ids"},
        "body": {"path", "content_type", "body"},
        "path": {"path"},
        "text": {"text"},
        "question": {"question"},
    }
    for row in ROWS:
        assert fields[row["surface"]] <= set(row), row["id"]
    assert len([r for r in ROWS if r.get("ask")]) >= 10


# --- the store's HTTP API -----------------------------------------------------------------------


class Recording:
    """An ASGI wrapper that records the path of every request the server receives."""

    def __init__(self, app):
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server(tiny_store):
    app = Recording(create_app(tiny_store))
    with serving(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def base_url(server):
    return server[0]


@pytest.fixture(scope="module")
def web():
    with httpx.Client(timeout=SECONDS) as client:
        yield client


def check_response(status: int, body: bytes, row: dict) -> object:
    """A 2xx with a JSON result or a 4xx with MyGene's JSON error; nothing else."""
    assert status < 500, (row["id"], status, body[:300])
    data = json.loads(body)
    if status >= 400:
        assert status in (400, 404, 405, 413), (row["id"], status)
        assert data["code"] == status and data["success"] is False, data
        assert isinstance(data["error"], str) and data["error"].strip()
        assert "Traceback" not in data["error"]
    return data


def send(web: httpx.Client, base: str, row: dict) -> httpx.Response:
    surface, params = row["surface"], dict(row["params"])
    if surface == "query":
        if row.get("q") is not None:
            params["q"] = row["q"]
        return web.get(f"{base}/query", params=params)
    if surface == "querymany":
        body = {"q": row["q"], **params}
        if row.get("json"):
            return web.post(f"{base}/query", json=body)
        return web.post(f"{base}/query", data=body)
    if surface == "gene":
        return web.get(f"{base}/gene/{quote(row['gene_id'], safe='')}", params=params)
    if surface == "genes":
        return web.post(f"{base}/gene", data={"ids": row["ids"], **params})
    headers = {"content-type": row["content_type"]} if row["content_type"] else {}
    return web.post(base + row["path"], content=row["body"], headers=headers)


@pytest.mark.parametrize("row", rows("query", "querymany", "gene", "genes", "body"))
def test_http_api(web, base_url, row):
    r = bounded(send, web, base_url, row)
    data = check_response(r.status_code, r.content, row)
    if r.status_code == 200 and row["surface"] == "query":
        assert isinstance(data["hits"], list) or "_scroll_id" in data
        assert data["total"] >= len(data.get("hits", []))
    elif r.status_code == 200 and row["surface"] in ("querymany", "genes"):
        assert isinstance(data, list)


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """A GET of ``path`` sent byte for byte (no client-side normalization of ``..``)."""
    url = urlsplit(base)
    con = http.client.HTTPConnection(url.hostname, url.port, timeout=SECONDS)
    try:
        con.putrequest("GET", url.path + path, skip_accept_encoding=True)
        con.endheaders()
        response = con.getresponse()
        return response.status, response.read()
    finally:
        con.close()


@pytest.mark.parametrize("row", rows("path"))
def test_http_raw_paths(base_url, row):
    status, body = bounded(raw_get, base_url, row["path"])
    check_response(status, body, row)


def test_http_api_surfaces_every_input_with_a_query_line(web, base_url):
    """The text rows too: each line that parses is sent to the service as written."""
    for row in ROWS:
        if row["surface"] != "text":
            continue
        try:
            query = parse_query(row["text"])
        except QueryError:
            continue
        method, path, params = query.to_request()
        if method == "GET":
            r = bounded(web.get, base_url + path, params=params)
        else:
            r = bounded(web.post, base_url + path, data=params)
        check_response(r.status_code, r.content, row)


# --- the store engine in-process ----------------------------------------------------------------


def run_store(store, row: dict):
    surface, params = row["surface"], dict(row["params"])
    if surface == "query":
        return store.query(row.get("q"), **params)
    if surface == "querymany":
        scopes = params.pop("scopes", None)
        return store.querymany(row["q"], scopes, **params)
    if surface == "gene":
        return store.getgene(row["gene_id"], **params)
    return store.getgenes(row["ids"], **params)


@pytest.mark.parametrize("row", rows("query", "querymany", "gene", "genes"))
def test_store_engine(tiny_store, row):
    try:
        out = bounded(run_store, tiny_store, row)
    except QueryError as exc:
        assert str(exc).strip() and 400 <= exc.status < 500
        return
    json.dumps(out)
    if row["surface"] == "query":
        assert out["total"] >= len(out.get("hits", []))


# --- the parser, the validator and the canonical form -------------------------------------------


def parse_and_check(text: str) -> tuple[Query | None, list[str]]:
    """parse → validate → canonical; a valid query's canonical form parses back to itself."""
    try:
        query = parse_query(text)
    except QueryError as exc:
        assert str(exc).strip()
        return None, [str(exc)]
    errors = validate(query)
    assert all(isinstance(e, str) and e.strip() for e in errors)
    key = canonical(query)
    if not errors:
        again = parse_query(key)
        assert canonical(again) == key and not validate(again), (text[:200], key[:200])
    return query, errors


@pytest.mark.parametrize("row", rows("query", "querymany", "gene", "genes", "text"))
def test_parser_validator_and_canonical_form(row):
    text = as_text(row)
    if text is None:
        pytest.skip("not a query line (JSON values that are not strings)")
    bounded(parse_and_check, text)


@pytest.mark.parametrize("row", rows("query"))
def test_validator_on_the_raw_query(row):
    """The validator on the Query as it arrives (control characters and all, no text round
    trip), as the service's callers build it."""
    if not all_text(row):
        pytest.skip("JSON values that are not strings")
    query = Query("query", "GET", row.get("q"), None, dict(row["params"]))
    errors = bounded(validate, query)
    assert all(isinstance(e, str) and e.strip() for e in errors)
    bounded(canonical, query)


# --- the pipeline without the model: run_query on the embedded and the live backend ------------


@pytest.fixture(scope="module")
def settings(tiny_store_path, tmp_path_factory) -> Settings:
    logs = tmp_path_factory.mktemp("logs")
    return Settings(
        model="smollm2-135m",
        mode="ft",
        store_path=tiny_store_path,
        index_dir=tmp_path_factory.mktemp("index"),
        query_max_tokens=48,
        retry_invalid=False,
        n_threads=1,  # llama.cpp's two threads wait on each other when the cores are shared
        log_dir=logs,
        interaction_db=logs / "interactions.sqlite",
        access_log=logs / "access.jsonl",
        live_url="http://127.0.0.1:9/v3",  # a closed port: the live backend is re-pointed below
    )


@pytest.fixture(scope="module")
def embedded_bot(settings, tiny_store) -> Assistant:
    return Assistant(settings, store=tiny_store)


@pytest.fixture(scope="module")
def live_bot(settings, base_url) -> Assistant:
    return Assistant(settings.model_copy(update={"backend": "live", "live_url": base_url}))


class Connections:
    """Every host name looked up and every address connected to while installed."""

    def __init__(self, monkeypatch):
        self.lookups: list[str] = []
        self.connects: list[tuple] = []
        getaddrinfo, connect = socket.getaddrinfo, socket.socket.connect

        def recording_getaddrinfo(host, *args, **kwargs):
            self.lookups.append(host if isinstance(host, str) else repr(host))
            return getaddrinfo(host, *args, **kwargs)

        def recording_connect(sock, address):
            self.connects.append(address)
            return connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", recording_connect)

    def assert_only(self, base_url: str) -> None:
        url = urlsplit(base_url)
        assert set(self.lookups) <= {url.hostname}, self.lookups
        assert all(a[:2] == (url.hostname, url.port) for a in self.connects), self.connects


def check_answer(answer: Answer, settings: Settings) -> None:
    assert isinstance(answer, Answer)
    assert answer.status in STATUSES, answer.status
    assert answer.answer.strip() and "Traceback" not in answer.answer
    if answer.status in ("invalid", "error", "rejected"):
        assert not answer.hits
    if answer.url:
        assert answer.url.startswith(settings.live_url.rstrip("/") + "/"), answer.url
    json.dumps(answer.to_json(trace=True), default=str)


RUN_QUERY_ROWS = [p for p in rows("query", "querymany", "gene", "genes", "text")]


@pytest.mark.parametrize("row", RUN_QUERY_ROWS)
def test_run_query_on_the_embedded_store(embedded_bot, row):
    text = as_text(row)
    if text is None:
        pytest.skip("not a query line")
    answer = bounded(embedded_bot.run_query, text, question="a hostile input")
    check_answer(answer, embedded_bot.settings)
    assert answer.backend in ("", "embedded")


@pytest.mark.parametrize("row", RUN_QUERY_ROWS)
def test_run_query_on_the_live_backend_reaches_only_the_configured_api(
    live_bot, server, monkeypatch, row
):
    base_url, app = server
    text = as_text(row)
    if text is None:
        pytest.skip("not a query line")
    connections = Connections(monkeypatch)
    before = len(app.paths)
    answer = bounded(live_bot.run_query, text, question="a hostile input")
    check_answer(answer, live_bot.settings)
    connections.assert_only(base_url)
    prefix = urlsplit(base_url).path
    for path in app.paths[before:]:  # biothings-client posts to /query/ and /gene/
        assert path.rstrip("/") in (f"{prefix}/query", f"{prefix}/gene") or path.startswith(
            f"{prefix}/gene/"
        ), path
    if answer.status == "error":  # the server's 4xx, passed on as a typed error
        assert "could not run the query" in answer.answer


# --- the page's handlers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(embedded_bot, settings) -> PageService:
    return PageService(embedded_bot, InteractionLog.from_settings(settings), ["smollm2-135m"])


def check_view(view: dict) -> None:
    assert any(view["status"].startswith(done) for done in DONE.values()), view["status"]
    assert view["answer"].strip() and "Traceback" not in view["answer"]
    assert "Something went wrong" not in view["answer"], view["answer"]
    json.dumps({k: v for k, v in view.items() if k not in ("chart", "ideogram")}, default=str)


@pytest.mark.parametrize("row", rows("text"))
def test_page_run_query(page, row):
    view = bounded(page.run_query, row["text"], "ft", "smollm2-135m", "embedded", None)
    check_view(view)


@pytest.mark.parametrize("row", rows("question", ask=False))
def test_page_and_pipeline_refuse_or_take_questions_without_the_model(page, row):
    """Questions the page or the cleaner refuses never reach the model; the rest are cleaned
    to printable text within the length limit."""
    from assistant.pipeline import clean_question

    text, problem, _ = clean_question(row["question"], page.settings.max_question_chars)
    assert problem or (text and text.isprintable() and len(text) <= 1000)


# --- the language model: ask, the page's ask and the batch (the ask subset) ---------------------


@pytest.fixture(scope="module")
def model(settings):
    from assistant.llm import get_model
    from assistant.registry import fetch, load_registry

    fetch(load_registry().get("smollm2-135m"), settings, echo=lambda s: None)
    m = get_model("smollm2-135m", settings)
    m.load()
    return m


@pytest.mark.parametrize("row", rows("question", ask=True))
def test_ask_with_the_model_on_the_live_backend(settings, model, server, monkeypatch, row):
    base_url, _ = server
    bot = Assistant(
        settings.model_copy(update={"backend": "live", "live_url": base_url}), model=model
    )
    connections = Connections(monkeypatch)
    answer = bounded(bot.answer, row["question"], seconds=MODEL_SECONDS)
    check_answer(answer, bot.settings)
    connections.assert_only(base_url)
    if row["kind"] in ("empty", "binary"):
        assert answer.status == "rejected"


@pytest.mark.parametrize("row", rows("question", ask=True))
def test_page_ask_with_the_model(page, model, row):
    page.bot._model = model
    *_, view = bounded(
        lambda: list(page.ask(row["question"], "ft", "smollm2-135m", "embedded", None)),
        seconds=MODEL_SECONDS,
    )
    check_view(view)
    if not view["status"].startswith(DONE["rejected"]):
        assert view["state"]["history"][-1]["role"] == "assistant"


def test_batch_mode_answers_every_line(settings, tmp_path):
    """``python -m assistant ask --batch`` in a subprocess, one question of each kind of the
    ask subset: one answer per line, no traceback, exit 0, within a time bound."""
    first_of_kind = {}
    for r in ROWS:
        if r["surface"] == "question" and r.get("ask"):
            first_of_kind.setdefault(r["kind"], r["question"])
    questions = list(first_of_kind.values())
    batch = tmp_path / "questions.jsonl"
    batch.write_text(
        "".join(json.dumps({"question": q}) + "\n" for q in questions), encoding="utf-8"
    )
    out = tmp_path / "answers.jsonl"
    env = {
        **os.environ,
        "QA_STORE_PATH": str(settings.store_path),
        "QA_INDEX_DIR": str(settings.index_dir),
        "QA_LOG_DIR": str(tmp_path / "logs"),
        "QA_INTERACTION_DB": str(tmp_path / "logs" / "interactions.sqlite"),
        "QA_ACCESS_LOG": str(tmp_path / "logs" / "access.jsonl"),
        "QA_QUERY_MAX_TOKENS": "48",
        "QA_RETRY_INVALID": "false",
        "QA_N_THREADS": "1",
    }
    command = [sys.executable, "-m", "assistant", "ask", "--model", "smollm2-135m"]
    command += ["--mode", "ft", "--batch", str(batch), "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(answers) == len(questions)
    for answer in answers:
        assert answer["status"] in STATUSES and answer["answer"].strip()
        assert not answer["url"] or answer["url"].startswith("https://mygene.info/v3/")
