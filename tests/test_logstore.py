"""The interaction log: a real SQLite file (WAL, named migrations), the JSONL access log in the
format datagen reads, and writers in several threads and processes that lose no row."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.logstore import (
    ACCESS_KEYS,
    MIGRATIONS,
    AccessLog,
    InteractionLog,
    LogError,
    Logged,
    migrate,
)
from assistant.pipeline import Answer

ROOT = Path(__file__).resolve().parent.parent
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def cdk2_answer(question="what's the entrez id of human CDK2?", status="ok", total=1) -> Answer:
    query = "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"
    return Answer(
        question=question,
        mode="zero-shot",
        model="smollm2-135m",
        query=query,
        valid=status != "invalid",
        total=total,
        hits=[{"_id": "1017", "entrezgene": 1017}] if total else [],
        answer="The Entrez gene id of CDK2 is 1017.",
        status=status,
        backend="embedded",
        attempts=[{"raw": query, "errors": []}],
    )


@pytest.fixture
def log(tmp_path) -> InteractionLog:
    return InteractionLog(tmp_path / "logs" / "interactions.sqlite", tmp_path / "logs" / "a.jsonl")


def check_access_line(line: dict) -> None:
    """One access-log line as the formats notes define it."""
    assert tuple(line) == ACCESS_KEYS
    assert TIME_RE.match(line["time"])
    assert line["source"] == "assistant"
    assert line["event"] in ("executed", "correction", "verdict")
    assert isinstance(line["session"], str) and line["session"]
    assert isinstance(line["question"], str)
    assert line["generated"] is None or isinstance(line["generated"], str)
    assert isinstance(line["query"], str) and line["query"]
    if line["event"] == "executed":
        assert isinstance(line["total"], int) and line["verdict"] is None
    else:
        assert line["total"] is None
    if line["event"] == "verdict":
        assert line["verdict"] in ("right", "wrong")
    else:
        assert line["verdict"] is None
    for key in ("mode", "model", "backend"):
        assert isinstance(line[key], str) and line[key]


def test_migrations_are_named_applied_once_and_in_wal_mode(log):
    assert log.setup() == [name for name, _ in MIGRATIONS]
    assert log.setup() == []  # once per process
    con = sqlite3.connect(log.db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [r[0] for r in con.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [name for name, _ in MIGRATIONS]
    assert migrate(con) == []  # a second process finds nothing to do
    columns = {r[1] for r in con.execute("PRAGMA table_info(interactions)")}
    assert {"question", "generated", "query", "total", "seconds", "trace"} <= columns


def test_an_old_database_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    assert migrate(con, MIGRATIONS[:1]) == ["m001_interactions"]
    con.execute(
        "INSERT INTO interactions (time, session, kind, question, status) "
        "VALUES ('2026-01-01T00:00:00Z', 's1', 'ask', 'where is CDK2?', 'ok')"
    )
    con.close()
    log = InteractionLog(path, tmp_path / "a.jsonl")
    assert log.setup() == [name for name, _ in MIGRATIONS[1:]]
    rows = log.interactions()
    assert [r["question"] for r in rows] == ["where is CDK2?"] and rows[0]["trace"] is None


def test_a_failing_migration_leaves_nothing_half_done(tmp_path):
    con = sqlite3.connect(tmp_path / "x.sqlite", isolation_level=None)
    bad = MIGRATIONS[:1] + [("m002_broken", "CREATE TABLE t (a INT); CREATE TABLE t (b INT);")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(con, bad)
    assert [r[0] for r in con.execute("SELECT name FROM _migrations")] == ["m001_interactions"]
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 't'").fetchone() is None


def test_an_answer_a_verdict_and_a_correction(log):
    logged = log.record_answer(cdk2_answer(), session="c0ffee", kind="ask")
    assert logged.id == 1 and logged.total == 1 and logged.generated == logged.query
    log.record_verdict(logged, "wrong")
    log.record_correction(logged, "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene,HGNC")
    assert log.counts() == {"interactions": 1, "corrections": 1, "verdicts": 1}
    row = log.interactions(session="c0ffee")[0]
    assert row["status"] == "ok" and row["kind"] == "ask" and row["backend"] == "embedded"
    assert json.loads(row["trace"])["timings"]["total"] == 0.0
    lines = log.access.read()
    assert [x["event"] for x in lines] == ["executed", "verdict", "correction"]
    for line in lines:
        check_access_line(line)
    assert lines[0]["total"] == 1 and lines[1]["verdict"] == "wrong"
    assert lines[2]["query"].endswith("fields=entrezgene,HGNC")
    assert lines[2]["generated"] == cdk2_answer().query
    assert log.corrections()[0]["question"] == "what's the entrez id of human CDK2?"


def test_questions_that_ran_no_query_are_in_the_database_only(log):
    rejected = Answer(question="", mode="zero-shot", model="smollm2-135m", status="rejected")
    invalid = cdk2_answer(status="invalid", total=0)
    for answer in (rejected, invalid):
        logged = log.record_answer(answer, session="s", kind="ask")
        assert logged.total is None
    assert log.counts()["interactions"] == 2
    assert log.access.read() == []


def test_an_edited_query_keeps_the_generated_one(log):
    first = log.record_answer(cdk2_answer(total=0, status="no_hits"), session="s")
    rerun = cdk2_answer()
    rerun.query = "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene,ensembl.gene"
    second = log.record_answer(rerun, session="s", kind="rerun", generated=first.generated)
    assert second.generated == first.query != second.query
    lines = log.access.read()
    assert [line["total"] for line in lines] == [0, 1]
    assert lines[1]["generated"] == first.query and lines[1]["query"] == rerun.query


def test_bad_verdicts_and_paths_are_clear_errors(log, tmp_path):
    logged = log.record_answer(cdk2_answer(), session="s")
    with pytest.raises(LogError, match="'right' or 'wrong'"):
        log.record_verdict(logged, "maybe")
    not_a_db = tmp_path / "notes.sqlite"
    not_a_db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LogError, match="not a usable interaction log"):
        InteractionLog(not_a_db, tmp_path / "a.jsonl").setup()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LogError, match="QA_INTERACTION_DB"):
        InteractionLog(blocker / "sub" / "x.sqlite", tmp_path / "a.jsonl").setup()
    with pytest.raises(LogError, match="QA_ACCESS_LOG"):
        AccessLog(blocker / "a.jsonl").append({"event": "executed"})
    with pytest.raises(ValueError, match="unknown access-log event"):
        AccessLog(tmp_path / "a.jsonl").append({"event": "deleted"})


def test_export_writes_question_query_pairs(log, tmp_path):
    logged = log.record_answer(cdk2_answer(), session="s")
    for n in range(3):
        log.record_correction(logged, f"/v3/query?q=symbol:CDK{n + 1}&fields=entrezgene")
    out = tmp_path / "export" / "corrections.jsonl"
    assert log.export_corrections(out) == 3
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["query"] for p in pairs] == [f"/v3/query?q=symbol:CDK{n}&fields=entrezgene" for n in (1, 2, 3)]  # fmt: skip
    assert all(p["question"] == logged.question and p["source"] == "correction" for p in pairs)
    assert [c["query"] for c in log.corrections(limit=2)] == [pairs[2]["query"], pairs[1]["query"]]


def test_logged_round_trips_through_a_dict(log):
    logged = log.record_answer(cdk2_answer(), session="s")
    assert Logged.from_dict(json.loads(json.dumps(logged.to_dict()))) == logged


WRITER = """
import sys
from assistant.logstore import InteractionLog
from assistant.pipeline import Answer
log = InteractionLog(sys.argv[1], sys.argv[2])
for i in range(int(sys.argv[4])):
    a = Answer(question=f"{sys.argv[3]} {i}", mode="ft", model="smollm2-135m",
               query=f"/v3/gene/{1000 + i}", status="ok", total=1, backend="embedded")
    logged = log.record_answer(a, session=sys.argv[3])
    if i % 5 == 0:
        log.record_correction(logged, f"/v3/gene/{1000 + i}?fields=symbol")
"""


def test_concurrent_writers_in_threads_and_processes_lose_no_row(tmp_path):
    db, access = tmp_path / "i.sqlite", tmp_path / "a.jsonl"
    threads, per_thread, processes, per_process = 8, 30, 3, 30
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(access), f"proc{p}", str(per_process)],
            cwd=ROOT,
        )
        for p in range(processes)
    ]
    errors = []

    def write(t: int) -> None:
        log = InteractionLog(db, access)  # one per thread: separate connections and file handles
        try:
            for i in range(per_thread):
                a = cdk2_answer(question=f"thread{t} {i}")
                logged = log.record_answer(a, session=f"thread{t}")
                if i % 5 == 0:
                    log.record_correction(logged, "/v3/query?q=symbol:CDK2&fields=HGNC")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert [p.wait(timeout=120) for p in procs] == [0] * processes
    assert errors == []
    n = threads * per_thread + processes * per_process
    corrections = threads * len(range(0, per_thread, 5)) + processes * len(range(0, per_process, 5))
    log = InteractionLog(db, access)
    assert log.counts() == {"interactions": n, "corrections": corrections, "verdicts": 0}
    questions = {r["question"] for r in log.interactions(limit=10_000)}
    assert len(questions) == n
    lines = access.read_text(encoding="utf-8").splitlines()
    assert len(lines) == n + corrections
    parsed = [json.loads(line) for line in lines]  # no torn or interleaved line
    for line in parsed:
        check_access_line(line)
    assert sum(1 for x in parsed if x["event"] == "executed") == n


def test_datagen_reads_the_access_log(log):
    logs = pytest.importorskip("assistant.datagen.logs", reason="datagen is not in this checkout")
    from assistant.datagen.report import Report

    logged = log.record_answer(cdk2_answer(), session="c0ffee")
    log.record_verdict(logged, "wrong")
    log.record_correction(logged, "/v3/query?q=symbol:CDK2&species=human&fields=HGNC")
    report = Report()
    records = list(logs.read_logs([log.access.path], report))
    assert [(r.fmt, r.event, r.session, r.question) for r in records] == [
        ("assistant", e, "c0ffee", logged.question) for e in ("executed", "verdict", "correction")
    ]
    assert records[0].total == 1 and records[1].verdict == "wrong"
    assert records[2].target == "/v3/query?q=symbol:CDK2&species=human&fields=HGNC"
