"""Faults, end to end with real broken parts: a live API (a real local HTTP server) that times
out, answers 5xx or broken JSON, or is not there; model, store and retrieval-index files that
are missing, truncated or hold the wrong bytes; a disk that fills up under the interaction log;
a logging process killed mid-write. Each is detected, said in words that tell how to repair it
(never a traceback), and — for the live API — answered from the embedded store instead."""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_server import fault_server
from scripted import ScriptedModel

from assistant import cli
from assistant.backends import LiveBackend, get_backend
from assistant.config import ROOT, Settings
from assistant.errors import (
    LiveUnavailable,
    ModelCorrupt,
    ModelError,
    ModelNotFetched,
    QueryError,
    RetrievalError,
    StoreCorrupt,
    StoreNotBuilt,
)
from assistant.llm import Generation, GenerationStream, get_model
from assistant.logstore import AccessLog, InteractionLog, LogError, PartlyLogged
from assistant.page import PageService
from assistant.pipeline import Answer, Assistant
from assistant.query import parse_query
from assistant.retrieval import Embedder, Retriever
from assistant.store.build import build
from assistant.store.engine import GeneStore

QUESTION = "what is the entrez id of human CDK2?"
CDK2_QUERY = "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"


# --- the live API --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with fault_server() as s:
        yield s


def fast(url: str, **overrides) -> Settings:
    """Settings that fail fast: 0.3 s per try, 2 retries 0.05 s and 0.1 s apart, 3 s cap."""
    values = dict(
        live_url=url,
        live_timeout_s=0.3,
        live_retries=2,
        live_backoff_s=0.05,
        live_max_s=3.0,
        live_fallback=False,
    )
    return Settings(**{**values, **overrides})


def free_url() -> str:
    """A local URL where nothing listens (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v3"


def target(server, fault: str) -> str:
    """The URL to point the live backend at: nowhere for "unreachable", else the fault server
    playing ``fault``."""
    if fault == "unreachable":
        return free_url()
    server.play(fault)
    return server.url


def test_retryable_faults_are_tried_again_with_backoff_until_an_answer(server):
    server.play("503", "close", "timeout", "ok")
    live = LiveBackend(fast(server.url, live_retries=3))
    result = live.query(parse_query(CDK2_QUERY))
    assert result.total == 1 and result.hits[0]["symbol"] == "CDK2"
    assert result.backend == "live" and result.fallback is None
    assert len(server.requests) == 4
    gaps = server.gaps()  # 0.05, 0.1, then 0.3 s of timeout + 0.2 s of backoff
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.3 + 0.2


@pytest.mark.parametrize(
    "fault, problem",
    [
        ("timeout", "timeout after 0.3 s"),
        ("502", "HTTP 502: fault 502"),
        ("503", "HTTP 503: fault 503"),
        ("504", "HTTP 504: fault 504"),
        ("close", "Server disconnected without sending a response"),
    ],
)
def test_a_live_api_that_keeps_failing_is_tried_three_times_then_a_clear_error(
    server, fault, problem
):
    server.play(fault)
    live = LiveBackend(fast(server.url))
    t0 = time.monotonic()
    with pytest.raises(LiveUnavailable) as info:
        live.query(parse_query(CDK2_QUERY))
    seconds = time.monotonic() - t0
    host = server.url.split("/")[2]
    assert info.value.problem.startswith(f"the live API at {host} did not answer: {problem}")
    assert re.search(r"\(3 tries in \d+\.\d s\)$", info.value.problem)
    assert "--backend embedded" in str(info.value)  # the fallback is offered
    assert len(server.requests) == 3
    assert seconds < 3.0


def test_an_unreachable_live_api_is_retried_then_a_clear_error():
    url = free_url()
    with pytest.raises(LiveUnavailable, match=r"did not answer: .*refused.*\(3 tries in"):
        LiveBackend(fast(url)).query(parse_query(CDK2_QUERY))


@pytest.mark.parametrize(
    "fault, error, message",
    [
        ("400", QueryError, "HTTP 400: fault 400"),
        ("404", QueryError, "HTTP 404"),
        ("500", LiveUnavailable, "failed: HTTP 500: fault 500"),
        ("garbage", LiveUnavailable, "answered something that is not MyGene JSON"),
        ("html", LiveUnavailable, "answered something that is not MyGene JSON"),
        ("list", LiveUnavailable, "expected an object with hits, got list"),
    ],
)
def test_faults_that_are_not_retried(server, fault, error, message):
    server.play(fault)
    with pytest.raises(error, match=message) as info:
        LiveBackend(fast(server.url)).query(parse_query(CDK2_QUERY))
    assert len(server.requests) == 1
    assert not isinstance(info.value, QueryError) or info.value.status == int(fault)


def test_retry_after_of_a_503_is_honoured(server):
    server.play("503-retry-after", "ok")
    assert LiveBackend(fast(server.url)).query(parse_query(CDK2_QUERY)).total == 1
    assert server.gaps()[0] >= 0.3


def test_the_total_time_is_capped(server):
    server.play("timeout")
    settings = fast(server.url, live_timeout_s=5, live_retries=10, live_max_s=0.8)
    t0 = time.monotonic()
    with pytest.raises(LiveUnavailable, match="timeout"):
        LiveBackend(settings).query(parse_query(CDK2_QUERY))
    assert time.monotonic() - t0 < 1.2  # no try runs past live_max_s, no retry starts after


@pytest.mark.parametrize("fault", ["timeout", "503", "garbage", "unreachable"])
def test_the_embedded_store_answers_when_the_live_api_does_not(server, tiny_store, fault):
    url = target(server, fault)
    backend = get_backend(fast(url, live_fallback=True), "live", store=tiny_store)
    assert "the embedded store answers" in backend.describe()
    result = backend.query(parse_query(CDK2_QUERY))
    assert result.backend == "embedded"
    assert [h["_id"] for h in result.hits] == ["1017"]
    assert result.fallback.startswith(f"the live API at {url.split('/')[2]} ")
    assert result.fallback.endswith("; answered from the embedded store")
    assert result.notes[0] == result.fallback


def test_a_query_error_is_never_answered_by_the_fallback(server, tiny_store):
    server.play("400")
    backend = get_backend(fast(server.url, live_fallback=True), "live", store=tiny_store)
    with pytest.raises(QueryError, match="HTTP 400"):
        backend.query(parse_query(CDK2_QUERY))


def test_no_fallback_without_a_store_says_both(server, tmp_path):
    server.play("503")
    settings = fast(server.url, live_fallback=True, store_path=tmp_path / "none.sqlite")
    with pytest.raises(LiveUnavailable) as info:
        get_backend(settings, "live").query(parse_query(CDK2_QUERY))
    assert "HTTP 503" in str(info.value)
    assert "the embedded store could not answer either (no gene store at" in str(info.value)


def _bot(settings, store, lines=(CDK2_QUERY,)):
    backend = get_backend(settings, "live", store=store)
    return Assistant(
        settings.model_copy(update={"backend": "live"}),
        model=ScriptedModel(list(lines)),
        backend=backend,
    )


@pytest.mark.parametrize("fault", ["timeout", "502", "close", "garbage", "unreachable"])
def test_ask_answers_from_the_embedded_store_and_says_why(server, tiny_store, fault):
    url = target(server, fault)
    bot = _bot(fast(url, live_fallback=True), tiny_store)
    answer = bot.answer(QUESTION, mode="zero-shot")
    assert answer.status == "ok" and "1017" in answer.answer
    assert answer.backend == "embedded"
    assert answer.fallback and answer.fallback.endswith("answered from the embedded store")
    assert answer.notes[0] == answer.fallback
    assert answer.to_json()["fallback"] == answer.fallback


@pytest.mark.parametrize("fault", ["timeout", "503", "garbage", "unreachable"])
def test_ask_without_the_fallback_is_an_error_that_offers_it(server, tiny_store, fault):
    url = target(server, fault)
    answer = _bot(fast(url), tiny_store).answer(QUESTION, mode="zero-shot")
    assert answer.status == "error" and answer.total == 0
    assert answer.answer.startswith(
        f"The live API could not run the query: the live API at {url.split('/')[2]}"
    )
    assert "--backend embedded" in answer.answer and "QA_LIVE_FALLBACK=true" in answer.answer


def test_ask_with_a_refused_query_is_an_error_not_a_fallback(server, tiny_store):
    server.play("400")
    answer = _bot(fast(server.url, live_fallback=True), tiny_store).answer(QUESTION, "zero-shot")
    assert answer.status == "error" and "HTTP 400" in answer.answer and not answer.fallback


def test_the_page_shows_the_answer_and_says_it_came_from_the_embedded_store(
    server, tiny_store, tmp_path
):
    server.play("timeout")
    bot = _bot(fast(server.url, live_fallback=True), tiny_store)
    log = InteractionLog(tmp_path / "i.sqlite", tmp_path / "a.jsonl")
    page = PageService(bot, log, models=[bot.settings.model])
    state = page.new_state()
    state["question"] = QUESTION
    view = page.run_query(CDK2_QUERY, "zero-shot", None, None, state)  # the page, no model
    assert "from the embedded store: the live API did not answer" in view["status"]
    assert "answered from the embedded store" in view["answer"]
    assert view["total"] == 1
    row = log.interactions()[0]
    assert row["backend"] == "embedded" and row["status"] == "ok"


# --- the model file ------------------------------------------------------------------------

TOY = ROOT / "models" / "weights" / "tinycoder-toy.gguf"
needs_toy = pytest.mark.skipif(
    not TOY.is_file(), reason="run `python -m assistant model fetch tinycoder`"
)


@pytest.fixture
def weights(tmp_path) -> Settings:
    """The real 3 MB tinycoder GGUF and its sha256 sidecar, copied as `model fetch` leaves them."""
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copyfile(TOY, folder / TOY.name)
    shutil.copyfile(TOY.with_name(TOY.name + ".sha256"), folder / (TOY.name + ".sha256"))
    old = time.time() - 60
    os.utime(folder / TOY.name, (old, old))  # fetched first, sidecar written after
    return Settings(weights_dir=folder, model="tinycoder")


def ask_cli(argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@needs_toy
def test_a_missing_model_file_says_how_to_fetch_it(weights, monkeypatch, capsys):
    (weights.weights_dir / TOY.name).unlink()
    with pytest.raises(
        ModelNotFetched,
        match=r"model file not found at .*`python -m assistant model fetch tinycoder`",
    ):
        get_model("tinycoder", weights)
    monkeypatch.setenv("QA_WEIGHTS_DIR", str(weights.weights_dir))
    code, err = ask_cli(["ask", QUESTION, "--model", "tinycoder"], capsys)
    assert code == 2 and err.startswith("error: model file not found at")


@needs_toy
@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate", r"has 1,000,000 bytes, not the 2,789,632 of tinycoder \(a truncated"),
        (
            "zero-head",
            r"is not a GGUF file \(it starts with b'\\x00\\x00\\x00\\x00', not b'GGUF'\)",
        ),
        ("flip-middle", r"changed since it was fetched: its sha256 is [0-9a-f]{12}…"),
    ],
)
def test_a_damaged_model_file_is_refused_before_llama_cpp_loads_it(
    weights, damage, message, monkeypatch, capsys
):
    path = weights.weights_dir / TOY.name
    with open(path, "r+b") as fh:
        if damage == "truncate":
            fh.truncate(1_000_000)
        elif damage == "zero-head":
            fh.write(b"\0\0\0\0")
        else:
            fh.seek(1_000_000)
            fh.write(bytes(64))
    with pytest.raises(
        ModelCorrupt, match=message + r".*`python -m assistant model fetch tinycoder --force`"
    ):
        get_model("tinycoder", weights)
    monkeypatch.setenv("QA_WEIGHTS_DIR", str(weights.weights_dir))
    code, err = ask_cli(["ask", QUESTION, "--model", "tinycoder"], capsys)
    assert code == 2 and "model fetch tinycoder --force" in err


@needs_toy
def test_a_good_model_file_that_was_touched_is_hashed_once(weights):
    path = weights.weights_dir / TOY.name
    sidecar = path.with_name(path.name + ".sha256")
    os.utime(path)  # newer than its sidecar: hashed, matches, the sidecar's time is refreshed
    assert get_model("tinycoder", weights).model_path == path
    assert sidecar.stat().st_mtime_ns >= path.stat().st_mtime_ns


@needs_toy
def test_a_truncated_local_gguf_path_is_a_model_error_not_a_crash(tmp_path, capsys):
    path = tmp_path / "my-model.gguf"
    path.write_bytes(TOY.read_bytes()[:1_000_000])
    model = get_model(str(path), Settings())  # a path: no registry size to compare
    with pytest.raises(ModelError, match="could not load .* a truncated or damaged GGUF file"):
        model.load()
    code, err = ask_cli(["ask", QUESTION, "--model", str(path)], capsys)
    assert code == 2 and "set QA_MODEL to a good .gguf file" in err


# --- the store file ------------------------------------------------------------------------


@pytest.fixture
def store_copy(tiny_store_path, tmp_path) -> Path:
    path = tmp_path / "genes.sqlite"
    shutil.copyfile(tiny_store_path, path)
    return path


def _damage_store(path: Path, damage: str) -> None:
    if damage == "text":
        path.write_text("gene\tsymbol\n1017\tCDK2\n")
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    elif damage == "drop-table":
        con = sqlite3.connect(path)
        con.execute("DROP TABLE kw")
        con.commit()
        con.close()
    elif damage == "drop-meta":
        con = sqlite3.connect(path)
        con.execute("DELETE FROM meta WHERE key = 'fields'")
        con.commit()
        con.close()
    elif damage == "garbage-pages":  # the same size, every page after the schema overwritten
        data = bytearray(path.read_bytes())
        page = int.from_bytes(data[16:18], "big")
        rng = random.Random(17)
        data[page:] = rng.randbytes(len(data) - page)
        path.write_bytes(bytes(data))


STORE_DAMAGE = [
    ("text", r"is not a SQLite file \(it starts with b'gene\\tsymbol\\n'\)"),
    ("empty", r"is not a SQLite file \(an empty file\)"),
    ("truncate", r"is truncated: [\d,]+ bytes, its header counts [\d,]+ pages"),
    ("drop-table", r"lacks the table kw \(an unfinished build"),
    ("drop-meta", r"lacks the store metadata fields"),
    ("garbage-pages", r"(is not a usable gene store|is damaged) \(.*malformed"),
]


@pytest.mark.parametrize("damage, message", STORE_DAMAGE)
def test_a_damaged_store_says_to_rebuild_it(store_copy, damage, message):
    _damage_store(store_copy, damage)
    with pytest.raises(
        StoreCorrupt, match=message + r".*`python -m assistant store build --force`"
    ):
        GeneStore.open(store_copy).query("symbol:CDK2")


def test_a_missing_store_says_how_to_build_it(tmp_path):
    with pytest.raises(
        StoreNotBuilt, match=r"no gene store at .*`python -m assistant store build`"
    ):
        GeneStore.open(tmp_path / "genes.sqlite")


@pytest.mark.parametrize("damage", ["missing", "text", "truncate", "drop-table"])
def test_the_page_and_the_cli_say_what_is_wrong_with_the_store(
    store_copy, tmp_path, damage, monkeypatch, capsys
):
    if damage == "missing":
        store_copy.unlink()
    else:
        _damage_store(store_copy, damage)
    settings = Settings(store_path=store_copy)
    bot = Assistant(settings, model=ScriptedModel([]))
    page = PageService(
        bot, InteractionLog(tmp_path / "i.sqlite", tmp_path / "a.jsonl"), models=[settings.model]
    )
    view = page.run_query(CDK2_QUERY, "zero-shot", None, None, page.new_state())
    assert view["status"].startswith("⚠ The query failed")
    assert view["answer"].startswith("⚠ ") and "store build" in view["answer"]
    code, err = ask_cli(["store", "info", "--store-path", str(store_copy)], capsys)
    assert code == 2 and err.startswith("error: ") and "store build" in err


def test_store_build_force_repairs_a_store_whose_inputs_did_not_change(tiny_settings, store_copy):
    _damage_store(store_copy, "drop-table")
    settings = tiny_settings.model_copy(update={"store_path": store_copy})
    assert build(settings, show_progress=False).skipped  # why the message says --force
    build(settings, force=True, show_progress=False)
    assert GeneStore.open(store_copy).query("symbol:CDK2")["hits"][0]["_id"] == "1017"


# --- the retrieval index -------------------------------------------------------------------


class StreamingScripted(ScriptedModel):
    """:class:`ScriptedModel` that also streams (the page asks with ``stream=True``)."""

    def generate(self, messages, grammar=None, max_tokens=None, stop=None, stream=False, **kw):
        gen = super().generate(messages, grammar, max_tokens, stop)
        if not stream:
            return gen
        return GenerationStream(iter([gen.text]), lambda text: Generation(text, 10, 5))


@pytest.fixture(scope="module")
def embedder():
    e = Embedder(Settings().embedding_model)
    e.load()
    return e


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, embedder) -> Retriever:
    """A small index built for real: two doc sections, two fields, two pairs."""
    root = tmp_path_factory.mktemp("retrieval")
    data = root / "data"
    for sub in ("docs", "schema", "pairs"):
        (data / sub).mkdir(parents=True)
    (data / "docs" / "mygene_query_syntax.md").write_text(
        "# Syntax\n\n## Fielded queries\n\nq=symbol:CDK2 matches the symbol field only.\n\n"
        "## Species\n\nspecies=human limits hits to taxid 9606.\n"
    )
    fields = {
        "symbol": {"type": "keyword", "description": "Official gene symbol."},
        "entrezgene": {"type": "keyword", "description": "NCBI Entrez gene id."},
    }
    (data / "schema" / "mygene_fields.json").write_text(json.dumps(fields))
    pairs = [
        {"question": "What is the Entrez id of human CDK2?", "query": CDK2_QUERY},
        {"question": "Where is BRCA1?", "query": "/v3/query?q=symbol:BRCA1&fields=genomic_pos"},
    ]
    (data / "pairs" / "train.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    settings = Settings(data_dir=data, seed_dir=root / "no-seed", index_dir=root / "index")
    r = Retriever(settings, embedder=embedder)
    r.build()
    return r


@pytest.fixture
def index(built_index) -> Retriever:
    """The small index; whatever a test breaks or rebuilds is put back afterwards."""
    files = [*built_index.index_dir.iterdir(), *built_index.sources.pairs[:1]]
    saved = {p: p.read_bytes() for p in files}
    yield built_index
    for p in built_index.index_dir.iterdir():
        if p not in saved:
            p.unlink()
    for p, data in saved.items():
        p.write_bytes(data)


def fresh(r: Retriever) -> Retriever:
    """Another process's view of the same index (nothing loaded yet)."""
    return Retriever(r.settings, embedder=r.embedder)


@pytest.mark.parametrize(
    "change, reason",
    [
        ("sources", "was built from other sources or another embedding model"),
        ("version", "is index version 0, not 1"),
        ("manifest", "manifest .* is not valid JSON"),
        ("lost-file", "lacks pairs.jsonl"),
    ],
)
def test_a_stale_index_is_noticed_said_and_rebuilt(index, change, reason, caplog):
    manifest = index.index_dir / "manifest.json"
    if change == "sources":
        with open(index.sources.pairs[0], "a") as fh:
            fh.write(
                json.dumps({"question": "Which genes are on chr12?", "query": "/v3/query?q=chr12"})
                + "\n"
            )
    elif change == "version":
        manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "0"}))
    elif change == "manifest":
        manifest.write_text('{"fingerprint": "')
    else:
        (index.index_dir / "pairs.jsonl").unlink()
    r = fresh(index)
    assert re.search(reason, r.stale_reason())
    with caplog.at_level("WARNING", logger="assistant.retrieval"):
        hits = r.search("entrez id of CDK2", 3, "pairs")
    assert re.search(
        reason + r".*building it now \(`python -m assistant index build`\)", caplog.text
    )
    assert hits and hits[0].meta["query"] == CDK2_QUERY
    assert r.is_current() and json.loads(manifest.read_text())["version"] == "1"
    assert len(hits) == (3 if change == "sources" else 2)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("garbage-faiss", r"pairs\.faiss is damaged"),
        ("truncate-faiss", r"pairs\.faiss is damaged"),
        ("garbage-jsonl", r"pairs\.jsonl is damaged"),
        ("short-jsonl", r"is inconsistent: pairs\.faiss holds 2 vectors, pairs\.jsonl 1 items"),
    ],
)
def test_a_damaged_index_says_to_rebuild_it(index, damage, message, tmp_path):
    folder = index.index_dir
    if damage == "garbage-faiss":
        (folder / "pairs.faiss").write_bytes(random.Random(3).randbytes(4096))
    elif damage == "truncate-faiss":
        data = (folder / "pairs.faiss").read_bytes()
        (folder / "pairs.faiss").write_bytes(data[: len(data) // 2])
    elif damage == "garbage-jsonl":
        (folder / "pairs.jsonl").write_text("{not json\n")
    else:
        lines = (folder / "pairs.jsonl").read_text().splitlines(keepends=True)
        (folder / "pairs.jsonl").write_text(lines[0])
    rebuild = r".*`python -m assistant index build --force`"
    with pytest.raises(RetrievalError, match=message + rebuild):
        fresh(index).search("entrez id of CDK2", 2, "pairs")
    # the page's edge: the answer says it, never a traceback
    r = fresh(index)
    bot = Assistant(r.settings, model=StreamingScripted([CDK2_QUERY]), retriever=r, store=None)
    page = PageService(
        bot,
        InteractionLog(tmp_path / "i.sqlite", tmp_path / "a.jsonl"),
        models=[bot.settings.model],
    )
    *_, view = page.ask(QUESTION, "icl", None, None, page.new_state())
    assert view["status"].startswith("⚠ The query failed")
    assert re.search(r"^⚠ .*" + message + rebuild, view["answer"].replace("\\", ""))


# --- the disk full under the interaction log -------------------------------------------------


def cdk2_answer(n: int) -> Answer:
    return Answer(
        question=f"{QUESTION} #{n}",
        mode="zero-shot",
        model="scripted",
        query=CDK2_QUERY,
        valid=True,
        total=1,
        answer="The Entrez gene id of CDK2 is 1017.",
        status="ok",
        backend="embedded",
        attempts=[{"raw": CDK2_QUERY, "errors": []}],
    )


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs (needs root and a kernel that lets this process mount)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Fill the disk under ``folder`` up to the last byte; returns the filler file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"x" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def check_db(path: Path, committed: list[int]) -> sqlite3.Connection:
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = {r[0] for r in con.execute("SELECT id FROM interactions")}
    assert set(committed) <= ids, f"lost committed rows {sorted(set(committed) - ids)}"
    return con


def test_a_full_disk_while_logging_loses_no_row_and_the_page_says_so(small_disk, tmp_path):
    db, access = small_disk / "interactions.sqlite", small_disk / "access.jsonl"
    log = InteractionLog(db, access)
    committed = [log.record_answer(cdk2_answer(n), session="s").id for n in range(5)]
    filler = fill(small_disk)
    failures = []
    for n in range(5, 40):  # the disk is full: every write fails, or fits in space left in a page
        try:
            committed.append(log.record_answer(cdk2_answer(n), session="s").id)
        except PartlyLogged as exc:
            committed.append(exc.logged.id)
            failures.append(exc)
        except LogError as exc:
            failures.append(exc)
    assert failures, "nothing failed on a full disk"
    assert all(
        re.search(
            r"the disk holding .* is full .*; what was logged before is kept — free space on",
            str(e),
        )
        for e in failures
    )
    # the page: the answer is shown, the note says the turn was not logged
    bot = Assistant(Settings(store_path=tmp_path / "unused.sqlite"), model=ScriptedModel([]))
    page = PageService(bot, log, models=[bot.settings.model])
    state = page.new_state()
    notes = page._record(cdk2_answer(99), state, "ask", "embedded")
    view = page.view(cdk2_answer(99), bot, notes)
    assert "1017" in view["answer"] and "is full" in view["answer"]
    assert re.search(r"this turn (was not logged|is in the interaction log)", view["answer"])
    filler.unlink()  # space again: logging goes on, nothing lost
    committed.append(log.record_answer(cdk2_answer(100), session="s").id)
    con = check_db(db, committed)
    assert con.execute("SELECT COUNT(*) FROM interactions").fetchone()[0] >= len(committed)
    lines = [json.loads(line) for line in access.read_text().splitlines()]  # no torn line
    assert len(lines) >= 6


def test_an_access_log_on_a_full_device_keeps_the_database_row(tmp_path):
    (tmp_path / "access.jsonl").symlink_to("/dev/full")  # every write: ENOSPC
    log = InteractionLog(tmp_path / "i.sqlite", tmp_path / "access.jsonl")
    with pytest.raises(
        PartlyLogged,
        match=r"row 1\) but its access-log line is not: the disk holding .*access\.jsonl is full",
    ) as info:
        log.record_answer(cdk2_answer(1), session="s")
    assert info.value.logged.id == 1 and log.counts()["interactions"] == 1
    with pytest.raises(PartlyLogged):
        log.record_verdict(info.value.logged, "right")
    assert log.counts()["verdicts"] == 1


SHORT_WRITE = """
import json, resource, signal, sys
from assistant.logstore import AccessLog, LogError
path = sys.argv[1]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails with EFBIG
size = len(open(path, "rb").read())
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 20, size + 20))  # room for 20 bytes only
try:
    AccessLog(path).append({"event": "executed", "question": "x" * 300, "query": "/v3/gene/1017"})
    print(json.dumps({"error": None}))
except LogError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def test_a_line_cut_short_by_a_full_disk_is_taken_back(tmp_path):
    path = tmp_path / "access.jsonl"
    AccessLog(path).append({"event": "executed", "question": "q", "query": "/v3/gene/1017"})
    before = path.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", SHORT_WRITE, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    error = json.loads(out.stdout)["error"]
    assert error and "is full" in error and "QA_ACCESS_LOG" in error
    assert path.read_bytes() == before  # the 20 bytes that fitted were cut off again


# --- a logging process killed mid-write ------------------------------------------------------

WRITER = """
import sys
from assistant.logstore import InteractionLog
from assistant.pipeline import Answer
log = InteractionLog(sys.argv[1], sys.argv[2])
start = int(sys.argv[3])
for i in range(start, start + 100_000):
    a = Answer(question=f"question {i}", mode="ft", model="scripted", query=f"/v3/gene/{i}",
               status="ok", total=1, backend="embedded", answer="x" * (i % 500))
    logged = log.record_answer(a, session="killed")
    if i % 3 == 0:
        log.record_correction(logged, f"/v3/gene/{i}?fields=symbol")
    print(logged.id, i, flush=True)  # reported only after the commit
"""


def test_a_logger_killed_mid_write_loses_no_committed_row(tmp_path):
    db, access = tmp_path / "i.sqlite", tmp_path / "a.jsonl"
    reported: dict[int, str] = {}
    start = 0
    for round_, after in enumerate((5, 40, 120)):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(access), str(start)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        seen = 0
        while seen < after:
            line = proc.stdout.readline()
            assert line, f"the writer died in round {round_}"
            row_id, i = map(int, line.split())
            reported[row_id] = f"question {i}"
            seen += 1
        proc.send_signal(signal.SIGKILL)  # mid-write: it never stops writing
        rest, _ = proc.communicate(timeout=30)
        for line in rest.splitlines():  # commits reported before the kill landed
            row_id, i = map(int, line.split())
            reported[row_id] = f"question {i}"
        assert proc.returncode == -signal.SIGKILL
        start = max(int(q.split()[1]) for q in reported.values()) + 1000
    con = check_db(db, list(reported))
    rows = dict(con.execute("SELECT id, question FROM interactions"))
    assert all(rows[i] == q for i, q in reported.items())
    log = InteractionLog(db, access)  # the log opens and writes again
    assert log.record_answer(cdk2_answer(1), session="after").id > max(reported)
    lines = [json.loads(line) for line in access.read_text().splitlines()]  # no torn line
    executed = {x["question"] for x in lines if x["event"] == "executed"}
    assert set(reported.values()) <= executed
