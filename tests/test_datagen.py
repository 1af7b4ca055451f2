"""``datagen`` end to end: logs in every format (with junk, gene lookups, duplicates and a
truncated .gz) → queries with hits on the tiny store → instructions from a real
llama_cpp.server running SmolLM2-135M → split pairs; plus resuming and a server killed mid-run.

SmolLM2-135M writes poor instructions, so many are rejected: the tests check that every
rejection is counted and that every accepted instruction passes the checks, not how many pass.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.datagen.endpoint import LocalServer, free_port
from assistant.datagen.extract import entities
from assistant.datagen.instructions import check_instruction, explain
from assistant.datagen.report import Report
from assistant.datagen.run import Options, collect, run_datagen
from assistant.datagen.work import WorkFile
from assistant.models import is_fetched, load_registry
from assistant.pairs import leaks, load_pairs, signature
from assistant.query import parse_query

MODEL = "smollm2-135m"

COMBINED = [
    '10.0.0.1 - - [21/Nov/2025:05:55:29 +0000] "GET /v3/query?q=symbol:CDK2&species=human&fields=entrezgene HTTP/1.1" 200 512 "-" "curl/8.5"',
    # the same query written differently: a duplicate after normalization
    '10.0.0.2 - - [21/Nov/2025:05:55:30 +0000] "GET /v3/query?fields=entrezgene&species=9606&q=symbol%3Acdk2&size=10 HTTP/1.1" 200 512 "-" "python-httpx/0.28"',
    '10.0.0.1 - - [21/Nov/2025:05:56:00 +0000] "GET /v3/gene/1017?fields=symbol,name HTTP/1.1" 200 300 "-" "curl/8.5"',
    '10.0.0.1 - - [21/Nov/2025:05:56:01 +0000] "GET /v3/gene/7157 HTTP/1.1" 200 9000 "-" "R/4.4"',
    '10.0.0.3 - - [21/Nov/2025:05:57:00 +0000] "GET /favicon.ico HTTP/1.1" 404 0 "-" "Mozilla/5.0"',
    '10.0.0.4 - - [21/Nov/2025:05:57:01 +0000] "GET /v3/query?q=tp53 HTTP/1.1" 200 100 "-" "Mozilla/5.0 (compatible; Googlebot/2.1)"',
    '10.0.0.5 - - [21/Nov/2025:05:57:02 +0000] "GET /v3/query?q=symbol:BRCA1&format=html HTTP/1.1" 200 100 "-" "Mozilla/5.0"',
    '10.0.0.5 - - [21/Nov/2025:05:57:03 +0000] "POST /v3/query HTTP/1.1" 200 100 "-" "biothings_client/0.4"',
    '10.0.0.5 - - [21/Nov/2025:05:57:04 +0000] "GET /v3/query?q=symbol:NOSUCHGENE HTTP/1.1" 200 50 "-" "curl/8.5"',
    '10.0.0.6 - - [21/Nov/2025:05:57:05 +0000] "GET /v3/query?q=symbol:MYC HTTP/1.1" 500 0 "-" "curl/8.5"',
    '10.0.0.6 - - [21/Nov/2025:05:57:06 +0000] "GET /v3/metadata HTTP/1.1" 200 100 "-" "curl/8.5"',
    '10.0.0.9 - - [21/Nov/2025:05:57:06 +0000] "GET /wp-login.php HTTP/1.1" 200 10 "-" "Mozilla/5.0"',
    '10.0.0.7 - - [21/Nov/2025:05:57:07 +0000] "\\x16\\x03\\x01\\x02" 400 0 "-" "-"',
    "this line is not a log line at all",
    '10.0.0.8 - - [21/Nov/2025:05:58:00 +0000] "GET /v3/query?q=symbol:PTEN&fields=unipro HTTP/1.1" 200 50 "-" "curl/8.5"',
]  # fmt: skip

CSV_ROWS = [
    "@timestamp,log.path,log.method,log.status",
    "2025-11-21T05:55:29Z,/v3/query?q=symbol%3AEGFR&species=human&fields=genomic_pos,GET,200",
    "2025-11-21T05:55:30Z,/v3/query?q=symbol%3AINS&species=human&fields=genomic_pos,GET,200",
    "2025-11-21T05:55:31Z,%2Fv3%2Fgene%2F4609%3Ffields%3Dsummary,GET,200",
    "2025-11-21T05:55:32Z,/v3/query?q=alias%3ALMP10&fields=symbol%2Cname,GET,200",
    "2025-11-21T05:55:33Z,only-two,columns",
]

JSONL = [
    {"query": "/v3/query?q=symbol:CDK4&fields=go.BP&species=human", "api": "mygene"},
    {"query": "/v1/query?q=aspirin", "api": "mychem"},
    "/v3/query?q=symbol:PSMB9&species=human&fields=alias",
    {"query": "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene", "api": "mygene"},
]

TRUNCATED = [
    {"query": "/v3/query?q=symbol:IL2RA&fields=name&species=human", "api": "mygene"},
    {"query": "/v3/query?q=symbol:INSR&fields=name&species=human", "api": "mygene"},
]


def _assistant_lines() -> list[dict]:
    base = {"time": "2026-11-21T05:55:29Z", "source": "assistant", "mode": "zero-shot",
            "model": MODEL, "backend": "embedded", "generated": None, "verdict": None}  # fmt: skip
    return [
        {**base, "event": "executed", "session": "s1", "total": 1,
         "question": "What is the official symbol of LMP10?",
         "query": "/v3/query?q=alias:LMP10&fields=symbol,name,alias"},
        {**base, "event": "executed", "session": "s1", "total": 0,
         "question": "Where is NOSUCHGENE?", "query": "/v3/query?q=symbol:NOSUCHGENE"},
        {**base, "event": "executed", "session": "s2", "total": 1,
         "question": "Summary of TP53?", "query": "/v3/query?q=symbol:TP53&fields=genomic_pos"},
        {**base, "event": "verdict", "session": "s2", "question": "Summary of TP53?",
         "query": "/v3/query?q=symbol:TP53&fields=genomic_pos", "verdict": "wrong", "total": None},
        {**base, "event": "correction", "session": "s2", "question": "Summary of TP53?",
         "query": "/v3/query?q=symbol:TP53&species=human&fields=summary", "total": None},
    ]  # fmt: skip


def write_logs(folder: Path) -> list[Path]:
    """Every format the command reads, with the junk real logs have."""
    folder.mkdir(parents=True, exist_ok=True)
    combined = folder / "access.log"
    combined.write_bytes(
        ("\n".join(COMBINED) + "\n").encode() + b"\xff\xfe broken bytes \xc3\x28\n" + b"\n"
    )
    (folder / "export.csv").write_text("\n".join(CSV_ROWS) + "\n")
    lines = [json.dumps(x) for x in JSONL] + ["{not json", "[1, 2]"]
    with gzip.open(folder / "queries.jsonl.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    rows = [  # distinct bytes (an email the service ignores), so the cut falls mid-stream
        {**q, "query": q["query"] + f"&email=u{hashlib.sha1(str(i).encode()).hexdigest()}@x.org"}
        for i in range(200)
        for q in TRUNCATED
    ]
    data = gzip.compress(("\n".join(json.dumps(x) for x in rows) + "\n").encode())
    (folder / "cut.jsonl.gz").write_bytes(data[: len(data) * 2 // 3])  # a truncated download
    (folder / "assistant.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in _assistant_lines())
    )
    return [combined, folder / "export.csv", folder / "queries.jsonl.gz", folder / "cut.jsonl.gz",
            folder / "assistant.jsonl"]  # fmt: skip


@pytest.fixture(scope="module")
def smollm(tiny_settings):
    spec = load_registry().get(MODEL)
    if not is_fetched(spec, tiny_settings):
        pytest.skip(f"run `python -m assistant model fetch {MODEL}` first")
    return MODEL


def settings_for(tiny_settings, tiny_store_path, **kw):
    return tiny_settings.model_copy(
        update={
            "store_path": tiny_store_path,
            "openai_api_key": None,
            "model": MODEL,
            "server_port": free_port(),
            "temperature": 0.0,
            **kw,
        }
    )


# --- reading and selecting (no model) -------------------------------------------------------------


def test_collect_reads_every_format_and_counts_junk(tmp_path, tiny_settings):
    report = Report()
    pool, corrections = collect(write_logs(tmp_path / "logs"), report, tiny_settings)
    read, extract = report.counts["read"], report.counts["extract"]
    assert read["files"] == 5
    assert read["combined"] == 13 and read["csv"] == 4 and read["assistant"] == 5
    assert read["jsonl"] >= 4 + 1  # the gz file and what the truncated one held before the cut
    assert read["truncated_gzip"] == 1 and read["undecodable_line"] == 1
    assert read["unrecognized_line"] == 1 and read["bad_json"] == 1
    assert read["unrecognized_json"] == 1 and read["bad_csv_row"] == 1
    assert read["bad_request_line"] == 1
    assert extract["non_api_path"] == 2  # /wp-login.php, /v3/metadata
    assert extract["bot_user_agent"] == 1 and extract["html_format"] == 1
    assert extract["post_without_body"] == 1
    assert extract["http_error_status"] == 2  # /favicon.ico (404), symbol:MYC (500)
    assert extract["other_api"] == 1 and extract["invalid_query"] == 1  # fields=unipro
    assert extract["assistant_marked_wrong"] == 1 and extract["assistant_no_hits"] == 1
    assert report.counts["dedup"]["duplicates_merged"] >= 2  # CDK2 three ways, the cut file
    cdk2 = pool["/v3/query?q=symbol:cdk2&fields=entrezgene&species=human"]
    assert cdk2.count == 3 and cdk2.formats == {"combined", "jsonl"}
    assert "/v3/gene/1017?fields=name,symbol" in pool and "/v3/gene/7157" in pool
    assert "/v3/gene/4609?fields=summary" in pool  # a CSV path encoded whole
    lmp10 = pool["/v3/query?q=alias:lmp10&fields=alias,name,symbol"]
    assert lmp10.questions == [("What is the official symbol of LMP10?", "log")]
    assert [q for q, _ in corrections] == ["Summary of TP53?"]
    assert all(c.signature == signature(c.query) for c in pool.values())
    for rejected in ("symbol:nosuchgene", "symbol:myc", "symbol:tp53&fields=genomic_pos"):
        assert not any(rejected in k and "assistant" in c.formats for k, c in pool.items())


def test_select_caps_signatures_keeps_hits_and_real_pairs(tmp_path, tiny_settings, tiny_store_path):
    settings = settings_for(tiny_settings, tiny_store_path)
    out = tmp_path / "out"
    result = run_datagen(
        settings,
        Options(
            write_logs(tmp_path / "logs"), out, per_signature=1, llm=False, progress=False
        ),  # fmt: skip
    )
    counts = result.report.counts
    assert counts["execute"]["no_hits"] >= 1  # symbol:NOSUCHGENE
    assert counts["select"]["over_signature_cap"] >= 1  # EGFR and INS share a signature
    kept = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    sigs = [k["signature"] for k in kept if not k["questions"]]
    assert len(sigs) == len(set(sigs)) and all(k["hits"] > 0 for k in kept)
    assert any(k["query"].startswith("/v3/gene/") for k in kept)  # gene lookups are kept
    assert counts["instruct"]["skipped_no_llm"] == len({k["signature"] for k in kept})
    # the real question and the correction are pairs without any model
    pairs = {p.question: p for s in ("train", "validation", "test") for p in load_pairs(out, s)}
    assert pairs["What is the official symbol of LMP10?"].source == "log"
    assert pairs["Summary of TP53?"].source == "correction"
    assert pairs["Summary of TP53?"].query == "/v3/query?q=symbol:tp53&fields=summary&species=human"
    saved = json.loads((out / "report.json").read_text())
    assert saved["counts"]["read"]["truncated_gzip"] == 1 and saved["complete"] is True
    assert (out / "hf" / "dataset_dict.json").is_file()


def test_refuses_the_curated_pairs_folder(tmp_path, tiny_settings):
    code = main(["datagen", str(tmp_path), "--out", str(tiny_settings.pairs_dir), "--no-llm"])
    assert code == 2


# --- with a real local model server ---------------------------------------------------------------


def _llm_pairs(out: Path):
    return [
        p
        for s in ("train", "validation", "test")
        for p in load_pairs(out, s)
        if p.style in ("imperative", "question")
    ]


def _check_accepted(out: Path) -> int:
    pairs = _llm_pairs(out)
    for p in pairs:
        query = parse_query(p.query)
        work = WorkFile(out / "work.jsonl").instructed[p.query]
        assert p.question == work["instructions"][p.style]
        queries = [json.loads(x) for x in (out / "queries.jsonl").read_text().splitlines()]
        shown = next(q["display"] for q in queries if q["query"] == p.query)
        what = explain(query)  # the prompt's "What it does" line
        assert (
            check_instruction(p.question, p.style, entities(parse_query(shown)), shown, what) == []
        )
        assert p.signature == signature(query) and p.source == "log"
    return len(pairs)


def test_end_to_end_with_local_server_and_resume(tmp_path, tiny_settings, tiny_store_path, smollm):
    settings = settings_for(tiny_settings, tiny_store_path)
    logs = write_logs(tmp_path / "logs")
    out = tmp_path / "pairs-test"
    args = ["datagen", *map(str, logs), "--out", str(out), "--store-path", str(tiny_store_path),
            "--model", MODEL, "--server-port", str(settings.server_port), "--retries", "1",
            "--temperature", "0", "--no-progress"]  # fmt: skip
    t0 = time.perf_counter()
    assert main([*args, "--limit", "2"]) == 0
    first = time.perf_counter() - t0
    report = json.loads((out / "report.json").read_text())
    instruct, checks = report["counts"]["instruct"], report["counts"].get("checks", {})
    assert instruct["queries_done"] == 2 and instruct["left_for_next_run"] >= 1
    assert instruct.get("instructions_kept", 0) + instruct.get("instructions_dropped", 0) == 4
    if instruct.get("instructions_dropped"):
        assert sum(checks.values()) >= instruct["instructions_dropped"]
    assert (
        report["llm"]["calls"] >= 2
        and report["pairs"]
        and report["leaks"]
        == {
            "query": 0,
            "signature": 0,
        }
    )
    kept_first = _check_accepted(out)
    done_first = set(WorkFile(out / "work.jsonl").instructed)
    assert len(done_first) == 2
    assert LocalServer(settings).port and _port_free(settings.server_port)  # server stopped

    # a rerun resumes: the two finished queries are not asked again, one new one is
    assert main([*args, "--limit", "1", "--retries", "0"]) == 0
    rows = [json.loads(x) for x in (out / "work.jsonl").read_text().splitlines()]
    instructed = [r["key"] for r in rows if r["step"] == "instructed"]
    executed = [r["key"] for r in rows if r["step"] == "executed"]
    assert len(instructed) == len(set(instructed)) == 3 and set(instructed) > done_first
    assert len(executed) == len(set(executed))  # nothing executed twice either
    assert _check_accepted(out) >= kept_first
    ids = [p.id for s in ("train", "validation", "test") for p in load_pairs(out, s)]
    assert len(ids) == len(set(ids))
    splits = {s: load_pairs(out, s) for s in ("train", "validation", "test")}
    assert leaks(splits) == {"query": [], "signature": []}
    print(f"\nfirst run (2 queries, server start included): {first:.1f} s")


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_server_killed_mid_run_is_reported_and_resumed(
    tmp_path, tiny_settings, tiny_store_path, smollm
):
    settings = settings_for(tiny_settings, tiny_store_path)
    logs = write_logs(tmp_path / "logs")
    out = tmp_path / "pairs-kill"
    with LocalServer(settings, log_path=tmp_path / "server.log") as server:

        def kill_after_first(cand, outcome):  # the server dies between two queries
            if server.alive():
                server.proc.kill()
                server.proc.wait()

        options = Options(logs, out, limit=3, retries=0, progress=False, on_query=kill_after_first)
        result = run_datagen(settings, options, endpoint=server.endpoint)
    work = out / "work.jsonl"
    counts = result.report.counts["instruct"]
    assert result.complete is False and "rerun" in result.report.info["stopped"]
    assert counts["server_unavailable"] >= 1 and counts["not_attempted_server_down"] >= 1
    saved = json.loads((out / "report.json").read_text())
    assert saved["complete"] is False and saved["counts"]["instruct"]["server_unavailable"] >= 1
    done = set(WorkFile(work).instructed)
    assert 1 <= len(done) < 3

    # a rerun (a fresh server, started by the run itself) finishes without duplicates
    rerun = run_datagen(
        settings, Options(logs, out, limit=3 - len(done), retries=0, progress=False)
    )
    assert rerun.complete
    instructed = [
        json.loads(x)["key"] for x in work.read_text().splitlines() if '"instructed"' in x
    ]
    assert len(instructed) == len(set(instructed)) == 3 and set(instructed) > done
    _check_accepted(out)
