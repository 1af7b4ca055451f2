"""The page's API through gradio_client: the real app (app.build_page) launched in this process
on a free port, with SmolLM2-135M, the tiny store and a real SQLite log in a temp folder."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.utils import Status

import app
from assistant.config import Settings
from assistant.logstore import InteractionLog
from assistant.page import DONE, EXAMPLES, OUTPUTS, STAGES, PageService
from assistant.pipeline import Assistant
from assistant.registry import fetch, load_registry

ENDPOINTS = {
    "/ask",
    "/run_query",
    "/mark_right",
    "/mark_wrong",
    "/save_correction",
    "/corrections",
    "/export_corrections",
    "/new_conversation",
}
CDK2_QUERY = "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"
DONE_RE = "|".join(DONE.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def out(values) -> dict:
    """The /ask or /run_query outputs by name."""
    return dict(zip(OUTPUTS, values, strict=True))


@pytest.fixture(scope="module")
def settings(tiny_store_path, tmp_path_factory) -> Settings:
    logs = tmp_path_factory.mktemp("logs")
    return Settings(
        model="smollm2-135m",
        mode="ft",
        store_path=tiny_store_path,
        index_dir=tmp_path_factory.mktemp("index"),
        query_max_tokens=32,
        retry_invalid=False,
        interaction_db=logs / "interactions.sqlite",
        access_log=logs / "access.jsonl",
        live_url="http://127.0.0.1:9/v3",  # "live" points at a closed port: errors, no network
        live_backoff_s=0.01,
        app_port=free_port(),
    )


@pytest.fixture(scope="module")
def service(settings) -> PageService:
    for name in ("smollm2-135m", "tinycoder"):
        fetch(load_registry().get(name), settings, echo=lambda s: None)
    bot = Assistant(settings).load()
    return PageService(bot, InteractionLog.from_settings(settings), ["smollm2-135m", "tinycoder"])


@pytest.fixture(scope="module")
def demo(service):
    demo = app.build_page(service)
    app.launch(demo, service.settings, block=False)
    yield demo
    demo.close()


@pytest.fixture(scope="module")
def url(demo, settings) -> str:
    return f"http://127.0.0.1:{settings.app_port}/"


def client(url: str, tmp_path: Path, **kw) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp_path), **kw)


def db_rows(settings: Settings, sql: str, *args) -> list[tuple]:
    con = sqlite3.connect(settings.interaction_db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def access_lines(settings: Settings) -> list[dict]:
    return [json.loads(x) for x in settings.access_log.read_text().splitlines() if x.strip()]


def test_named_endpoints_and_one_generation_at_a_time(demo, url, tmp_path):
    api = client(url, tmp_path).view_api(print_info=False, return_format="dict")
    assert ENDPOINTS <= set(api["named_endpoints"])
    ask_inputs = [p["label"] for p in api["named_endpoints"]["/ask"]["parameters"]]
    assert ask_inputs == ["Question", "Mode", "Model", "Backend"]
    limits = {fn.api_name: fn.concurrency_limit for fn in demo.fns.values()}
    assert limits["ask"] == 1  # the model serves one request at a time
    assert limits["run_query"] != 1  # the store serves concurrently


def test_ask_streams_the_stages_and_the_query(url, settings, tmp_path):
    before = db_rows(settings, "SELECT COUNT(*) FROM interactions")[0][0]
    c = client(url, tmp_path)
    question = "What is the Entrez gene id of human CDK2?"
    job = c.submit(question, "ft", "smollm2-135m", "embedded", api_name="/ask")
    final = out(job.result(timeout=300))
    partial = [out(values) for values in job.outputs()]
    statuses = [p["status"] for p in partial if isinstance(p["status"], str)]
    assert statuses[0] == STAGES["start"] and STAGES["generated"] in statuses
    written = [p["query"] for p in partial if isinstance(p["query"], str) and p["query"]]
    assert len(written) >= 3 and written[-1].startswith(written[0])  # token by token
    assert final["query"] and final["answer"]
    assert any(final["status"].startswith(s) for s in DONE.values()), final["status"]
    assert final["raw"]["question"] == question and final["raw"]["model"] == "smollm2-135m"
    assert final["timings"]["total"] >= final["timings"]["generate"] > 0
    assert final["context"]["prompt"][-1]["content"].endswith(question)
    assert final["chat"][0]["content"][0]["text"] == question
    rows = db_rows(
        settings, "SELECT kind, question, generated, mode FROM interactions WHERE id > ?", before
    )
    assert rows == [("ask", question, final["query"], "ft")]


def test_edit_and_rerun_then_a_follow_up_uses_it(url, settings, tmp_path):
    c = client(url, tmp_path)
    first = out(
        c.predict("Where is human CDK2?", "ft", "smollm2-135m", "embedded", api_name="/ask")
    )
    before = len(access_lines(settings))
    rerun = out(c.predict(CDK2_QUERY, "ft", "smollm2-135m", "embedded", api_name="/run_query"))
    assert rerun["total"] == 1 and rerun["query"] == CDK2_QUERY
    assert "entrezgene" in rerun["table"]["headers"]
    cells = rerun["table"]["data"][0]
    assert cells[rerun["table"]["headers"].index("entrezgene")] == "1017"
    assert "1017" in rerun["answer"]
    assert f"]({settings.live_url}/query?q=symbol%3ACDK2&species=human" in rerun["link"]
    assert rerun["raw"]["hits"][0]["_id"] == "1017"
    assert rerun["timings"]["generate"] == 0  # no model
    assert rerun["ideogram"] is not None  # CDK2 has a position on chr12
    line = access_lines(settings)[before]
    assert line["event"] == "executed" and line["query"] == CDK2_QUERY and line["total"] == 1
    assert line["question"] == "Where is human CDK2?" and line["generated"] == first["query"]
    follow = out(c.predict("and in mouse?", "ft", "smollm2-135m", "embedded", api_name="/ask"))
    assert CDK2_QUERY in follow["context"]["prompt"][-1]["content"]
    assert len(follow["chat"]) == 5  # question, answer, edited answer, question, answer


def test_verdicts_and_corrections_reach_the_log_and_the_export(url, settings, tmp_path):
    c = client(url, tmp_path)
    assert "Ask a question first" in c.predict(api_name="/mark_wrong")
    question = "What is the official symbol of LMP10?"
    c.predict(question, "ft", "smollm2-135m", "embedded", api_name="/ask")
    assert "as wrong" in c.predict(api_name="/mark_wrong")
    message, _ = c.predict("/v3/query?q=alias:LMP10&species=humna", api_name="/save_correction")
    assert message.startswith("⚠ Not saved") and "did you mean 'human'" in message
    message, _ = c.predict("", api_name="/save_correction")
    assert message.startswith("⚠ Not saved")
    fixed = "/v3/query?q=alias:LMP10&fields=symbol"
    message, table = c.predict(fixed, api_name="/save_correction")
    assert message.startswith("Saved")
    assert table["data"][0][1:] == [question, fixed]
    rows = db_rows(
        settings,
        "SELECT c.question, c.query, v.verdict FROM corrections c "
        "JOIN verdicts v ON v.interaction_id = c.interaction_id WHERE c.query = ?",
        fixed,
    )
    assert rows == [(question, fixed, "wrong")]
    events = [(x["event"], x["verdict"], x["query"]) for x in access_lines(settings)[-2:]]
    assert events[0][:2] == ("verdict", "wrong") and events[1] == ("correction", None, fixed)
    assert c.predict(api_name="/corrections")["data"][0][2] == fixed
    exported = Path(c.predict(api_name="/export_corrections"))
    pairs = [json.loads(x) for x in exported.read_text().splitlines()]
    assert {"question": question, "query": fixed} in [
        {"question": p["question"], "query": p["query"]} for p in pairs
    ]


@pytest.mark.parametrize(
    "question,message",
    [
        ("", "Empty question"),
        ("   \n ", "Empty question"),
        ("what is CDK2? " * 1500, "21,000 characters long"),
        ("\x00\x01\x02\x03\x04\x05\x06\x07" * 20, "binary"),
    ],
)
def test_bad_questions_get_a_clear_message(url, settings, tmp_path, question, message):
    result = out(
        client(url, tmp_path).predict(question, "ft", "smollm2-135m", "embedded", api_name="/ask")
    )
    assert result["status"].startswith("⚠ Not asked")
    assert message in result["answer"] and "Traceback" not in result["answer"]
    assert result["query"] == "" and result["total"] is None


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty query"),
        ("select * from genes", "not a MyGene query"),
        ("/v3/query?q=symbol:CDK2&species=humna", "did you mean 'human'"),
        ("/v3/query?q=" + "x" * 5000, "at most 4,000"),
        ("/v3/metadata", "not a query endpoint"),
    ],
)
def test_bad_edited_queries_get_a_clear_message(url, tmp_path, text, message):
    result = out(
        client(url, tmp_path).predict(text, "ft", "smollm2-135m", "embedded", api_name="/run_query")
    )
    assert result["status"].startswith("⚠ No valid query")
    assert message in result["answer"].replace("\\", "")


def test_backend_failures_are_messages_not_tracebacks(url, tmp_path):
    live = out(
        client(url, tmp_path).predict(
            CDK2_QUERY, "ft", "smollm2-135m", "live", api_name="/run_query"
        )
    )
    # the live API is not there: the embedded store answers, and the page says why
    assert live["status"].startswith("✔ Answered")
    assert "from the embedded store: the live API did not answer" in live["status"]
    text = live["answer"].replace("\\", "")
    assert "the live API at 127.0.0.1:9 did not answer: [Errno 111] Connection refused" in text
    assert "answered from the embedded store" in text and live["raw"]["fallback"]


def test_unknown_names_from_outside_the_page_are_refused(service):
    *_, view = service.ask("where is CDK2?", "ft", "../../etc/passwd", "embedded", None)
    assert view["status"].startswith("⚠") and "unknown model '../../etc/passwd'" in view["answer"]
    *_, view = service.ask("where is CDK2?", "sideways", "smollm2-135m", "embedded", None)
    assert "unknown mode 'sideways'" in view["answer"]
    view = service.run_query(CDK2_QUERY, "ft", "smollm2-135m", "ftp", None)
    assert "unknown backend 'ftp'" in view["answer"]


def test_another_model_and_many_hits_chart(url, tmp_path):
    c = client(url, tmp_path)
    asked = out(c.predict("Where is human CDK2?", "ft", "tinycoder", "embedded", api_name="/ask"))
    assert asked["raw"]["model"] == "tinycoder"
    many = out(c.predict("/v3/query?q=cdk*", "ft", "tinycoder", "embedded", api_name="/run_query"))
    assert many["total"] >= 10 and many["chart"] is not None  # hits by species / gene type
    assert many["chart"]["type"] == "matplotlib"
    one = out(c.predict(CDK2_QUERY, "ft", "tinycoder", "embedded", api_name="/run_query"))
    assert one["chart"] is None  # one gene: no chart


def test_waiting_clients_see_their_queue_position(url, settings, tmp_path):
    clients = [client(url, tmp_path) for _ in range(3)]
    seen: list[int] = []
    jobs = [
        c.submit(q, "ft", "smollm2-135m", "embedded", api_name="/ask")
        for c, q in zip(clients, ["Where is human BRCA1?", "Where is mouse Cdk2?", "What is MYC?"])
    ]
    done = threading.Event()

    def watch():
        while not done.is_set():
            for job in jobs:
                status = job.status()
                if status.code == Status.IN_QUEUE and status.rank is not None:
                    seen.append(status.rank)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = [out(job.result(timeout=300)) for job in jobs]
    finally:
        done.set()
        watcher.join()
    assert all(r["answer"] for r in results)
    assert seen and max(seen) >= 1  # someone waited behind another generation
    sessions = db_rows(
        settings,
        "SELECT DISTINCT session FROM interactions WHERE question IN (?, ?, ?)",
        "Where is human BRCA1?",
        "Where is mouse Cdk2?",
        "What is MYC?",
    )
    assert len(sessions) == 3


def test_new_conversation_forgets_the_previous_query(url, tmp_path):
    c = client(url, tmp_path)
    c.predict(CDK2_QUERY, "ft", "smollm2-135m", "embedded", api_name="/run_query")
    values = c.predict(api_name="/new_conversation")
    assert values[OUTPUTS.index("chat")] == [] and values[OUTPUTS.index("query")] == ""
    follow = out(c.predict("and in mouse?", "ft", "smollm2-135m", "embedded", api_name="/ask"))
    assert CDK2_QUERY not in follow["context"]["prompt"][-1]["content"]


def test_basic_auth(service, tmp_path):
    settings = service.settings.model_copy(update={"auth": "ann:s3cret", "app_port": free_port()})
    demo = app.build_page(service)
    app.launch(demo, settings, block=False)
    try:
        base = f"http://127.0.0.1:{settings.app_port}/"
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own error types
            client(base, tmp_path)
        with pytest.raises(ValueError):
            client(base, tmp_path, auth=("ann", "wrong"))
        authed = client(base, tmp_path, auth=("ann", "s3cret"))
        assert authed.predict(api_name="/corrections")["headers"] == ["time", "question", "query"]
    finally:
        demo.close()


def test_main_reads_host_port_and_auth_flags(capsys):
    args = app.build_parser().parse_args(
        ["--host", "0.0.0.0", "--port", "8123", "--model", "smollm2-135m", "--mode", "rag"]
    )
    from assistant.config import settings_from_args

    s = settings_from_args(args)
    assert (s.host, s.app_port, s.model, s.mode) == ("0.0.0.0", 8123, "smollm2-135m", "rag")
    assert Settings().host == "127.0.0.1" and Settings().app_port == 7860
    assert app.main(["--auth", "no-colon", "--no-warm-up"]) == 2
    assert "auth must be user:password" in capsys.readouterr().err
    assert app.main(["--port", "99999", "--no-warm-up"]) == 2
    assert "invalid setting" in capsys.readouterr().err


def test_examples_cover_the_kinds_of_question():
    text = " ".join(EXAMPLES).lower()
    for word in (
        "symbol",
        "entrez",
        "go ",
        "pathways",
        "where",
        "genes 1017",
        "chr12:",
        "how many",
    ):
        assert word in text


def test_pipeline_run_query_runs_a_query_without_the_model(service):
    bot = service.bot
    a = bot.run_query(CDK2_QUERY, question="what's the entrez id of human CDK2?", mode="ft")
    assert (a.status, a.total, a.valid, a.backend) == ("ok", 1, True, "embedded")
    assert a.rows[0][a.columns.index("entrezgene")] == "1017"
    assert a.tokens == {"prompt": 0, "completion": 0} and a.timings["generate"] == 0
    assert (
        a.url
        == f"{service.settings.live_url}/query?q=symbol%3ACDK2&species=human&fields=entrezgene"
    )
    assert a.sent.endswith("fields=entrezgene,symbol,name,taxid")  # answer fields added
    post = bot.run_query("POST /v3/gene ids=1017,672&fields=symbol")
    assert post.total == 2 and {h["symbol"] for h in post.hits} == {"CDK2", "BRCA1"}
    for bad, message in [(b"\x00\xff", "must be text"), (None, "must be text"), ("   ", "empty")]:
        a = bot.run_query(bad)
        assert a.status == "invalid" and not a.valid and message in a.answer
