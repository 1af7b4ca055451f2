"""``datagen`` end to end: logs in every format (with junk, gene lookups, duplicates and a
truncated .gz) → queries with hits on the tiny store → instructions → split pairs.

The default writer is deterministic (:mod:`assistant.datagen.templates`): its tests run the
whole path offline on logs built from the seed query sample in each log format and check that
every query with hits gets instructions that name its entities, species, fields and numbers and
pass every check. The model writer runs a real llama_cpp.server with SmolLM2-135M (plus resuming
and a server killed mid-run); SmolLM2-135M writes poor instructions, so many are rejected: those
tests check that every rejection is counted and that every accepted instruction passes the
checks, not how many pass.

The round trip and the paraphrases run SmolLM2-135M in process on a few queries: its queries are
mostly wrong, so those tests check that every failure is kept apart with a reason that holds
(the comparison run again gives it), that every kept pair passed, and that the report's rates
add up; the comparison itself is checked on hand-written queries without a model.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path

import pytest

from assistant.backends import get_backend
from assistant.cli import main
from assistant.config import Settings
from assistant.datagen.endpoint import LocalServer, free_port
from assistant.datagen.extract import entities
from assistant.datagen.instructions import check_instruction, explain
from assistant.datagen.logs import write_log
from assistant.datagen.report import Report
from assistant.datagen.roundtrip import FAILED_FILE, RoundTrip
from assistant.datagen.run import Options, check_writer, collect, run_datagen, writer_model
from assistant.datagen.templates import PERSONAS, Uncovered, check_mentions, describe, write
from assistant.datagen.work import WorkFile
from assistant.errors import ConfigError
from assistant.logstore import InteractionLog
from assistant.pairs import leaks, load_pairs, signature
from assistant.pipeline import Assistant
from assistant.query import parse_query
from assistant.registry import is_fetched, load_registry

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


# --- the deterministic writer (no model) ----------------------------------------------------------

SEED_QUERIES = [
    # lines of shared/data/seed/query_log_sample.jsonl, verbatim
    "/v3/query?q=symbol:CDK1+AND+taxid:9606&fields=go.BP&species=human&size=1",
    "/v3/query?q=p53&species=human&fields=symbol,name,entrezgene,pantherdb&size=1",
    "/v3/query/?scopes=symbol&fields=name,symbol,entrezgene,ensembl.gene,go,interpro,pathway,uniprot&species=human&q=TP53",
    "/v3/query?q=apoptosis&species=human&fields=entrezgene,go.BP&size=100",
    "/v3/gene/1017?fields=symbol,name,entrezgene,refseq",
    "/v3/gene/4609?fields=summary,symbol",
    "/v3/query?q=symbol:DAND5",
    "q=cdk*&size=50&from=50",
    'q="tumor suppressor" NOT receptor',
    "q=(interleukin OR insulin) AND receptor",
    "q=hgnc:1771",
    "q=ensembl.transcript:ENST00000266970",
    "q=symbol:CDK?",
    "q=summary:insulin",
    "q=chrX:151,073,054-151,383,976&species:human",
]  # fmt: skip
EXTRA_REQUESTS = [
    # (method, target, body): a POST batch, a POST /gene lookup, a gene record, a parameter
    # the writer has no words for
    ("POST", "/v3/query", "q=CDK2,TP53,BRCA1&scopes=symbol&fields=entrezgene,ensembl.gene&species=human"),
    ("POST", "/v3/gene", "ids=1017,7157&fields=symbol,name"),
    ("GET", "/v3/gene/7157", None),
    ("GET", "/v3/query?q=cdk2&facets=taxid&species_facet_filter=human", None),
]  # fmt: skip
OTHER_API = "/v1/metadata"
"""A mychem line of the seed sample (another BioThings API)."""


def _path(query: str) -> str:
    return query if query.startswith("/") else "/v3/query?" + query


def write_seed_log(folder: Path, fmt: str, queries: list[str], extra=EXTRA_REQUESTS) -> Path:
    """The queries (and ``extra`` requests, a request to another API and a junk line) as an
    nginx access log, a CSV export with a ``log.path`` column, or JSONL."""
    requests = [("GET", _path(q), None) for q in queries] + list(extra)
    return write_log(folder, fmt, requests + [("GET", OTHER_API, None, "mychem")])


def _template_pairs(out: Path) -> dict[str, list]:
    """The template writer's pairs by query, each checked again: every check of the model
    writer (entities, no query syntax, no filler, one sentence, its persona's form) and
    :func:`check_mentions` (fields and numbers)."""
    queries = {
        q["query"]: q for q in map(json.loads, (out / "queries.jsonl").read_text().splitlines())
    }
    by_query: dict[str, list] = {}
    for split in ("train", "validation", "test"):
        for p in load_pairs(out, split):
            if p.extra.get("writer") != "template":
                continue
            shown = queries[p.query]["display"]
            form = PERSONAS[p.style]
            assert p.extra["form"] == form and p.source == "log"
            ents = entities(parse_query(shown))
            assert check_instruction(p.question, form, ents, shown, explain(p.parsed())) == []
            assert check_mentions(p.question, describe(parse_query(shown))) == []
            by_query.setdefault(p.query, []).append(p)
    return by_query


def _mentions(text: str, *words: str) -> bool:
    return all(w.lower() in text.lower() for w in words)


def _any(text: str, *words: str) -> bool:
    return any(w.lower() in text.lower() for w in words)


@pytest.mark.parametrize("fmt", ["combined", "csv", "jsonl"])
def test_template_writer_on_each_log_format(tmp_path, tiny_settings, tiny_store_path, fmt):
    settings = settings_for(tiny_settings, tiny_store_path)
    log = write_seed_log(tmp_path / "logs", fmt, SEED_QUERIES)
    out = tmp_path / "out"
    result = run_datagen(settings, Options([log], out, progress=False))
    counts = result.report.counts
    assert result.complete and result.report.info["writer"].startswith("template")
    assert counts["read"][fmt] >= len(SEED_QUERIES) + len(EXTRA_REQUESTS)
    assert counts["execute"]["no_hits"] >= 1  # symbol:DAND5 is not in the tiny store
    kept = [json.loads(x) for x in (out / "queries.jsonl").read_text().splitlines()]
    by_query = _template_pairs(out)
    uncovered = {"/v3/query?q=cdk2&facets=taxid&species_facet_filter=human"}
    for k in kept:  # every query with hits but the uncovered one: three personas' instructions
        if k["query"] in uncovered:
            assert k["query"] not in by_query
            continue
        pairs = by_query[k["query"]]
        assert len(pairs) == 3 and len({p.style for p in pairs}) == 3, k["query"]
        assert {PERSONAS[p.style] for p in pairs} == {"imperative", "question"}
        assert len({p.question for p in pairs}) == 3
    assert counts["instruct"]["queries_done"] == len(kept)
    assert counts["instruct"].get("queries_with_fewer_than_2", 0) == 1  # the uncovered one

    texts = {q: [p.question for p in ps] for q, ps in by_query.items()}
    tp53 = texts["/v3/query?q=tp53&fields=ensembl.gene,entrezgene,go,interpro,name,pathway,"
                 "symbol,uniprot&species=human"]  # fmt: skip
    assert all(_mentions(t, "TP53", "human", "Ensembl", "InterPro", "pathway") for t in tp53)
    assert all(_any(t, "Entrez", "NCBI") and _any(t, "UniProt") and _any(t, "GO ", "Gene Ontology")
               for t in tp53)  # fmt: skip
    assert all(_mentions(t, "apoptosis", "human", "100") for t in
               texts["/v3/query?q=apoptosis&fields=entrezgene,go.BP&species=human&size=100"])  # fmt: skip
    assert all(_mentions(t, "cdk", "50") for t in texts["/v3/query?q=cdk*&size=50&from=50"])
    assert all(_mentions(t, "CDK1", "human", "1 result")
               for t in texts["/v3/query?q=symbol:cdk1 AND taxid:9606&fields=go.BP&species=human&size=1"])  # fmt: skip
    # POST batches and /gene lookups are covered like /query
    batch = texts["POST /v3/query q=CDK2,TP53,BRCA1&fields=ensembl.gene,entrezgene"
                  "&species=human&scopes=symbol"]  # fmt: skip
    assert all(_mentions(t, "CDK2", "TP53", "BRCA1", "human", "symbol", "Ensembl")
               and _any(t, "Entrez", "NCBI") for t in batch)  # fmt: skip
    assert all(_mentions(t, "1017", "7157") and _any(t, "full name", "gene name") for t in
               texts["POST /v3/gene ids=1017,7157&fields=name,symbol"])  # fmt: skip
    assert all(_mentions(t, "7157") for t in texts["/v3/gene/7157"])
    assert any(t.startswith("Retrieve the symbol, full name, Entrez gene ID, and RefSeq")
               for t in texts["/v3/gene/1017?fields=entrezgene,name,refseq,symbol"])  # fmt: skip

    # shapes the synthetic generator does not cover are reported, not dropped silently
    assert counts["uncovered"]["unusual_field pantherdb"] == 1
    assert counts["uncovered"]["unusual_field interpro"] == 1
    assert counts["uncovered"]["unusual_q_field taxid"] == 1
    assert counts["uncovered"]["unknown_parameter species_facet_filter"] == 1
    assert counts["instruct"]["uncovered_shape"] == 1
    work = WorkFile(out / "work.jsonl").instructed
    row = work["/v3/query?q=cdk2&facets=taxid&species_facet_filter=human"]
    assert row["instructions"] == {} and row["uncovered"] == [
        "unknown_parameter species_facet_filter"
    ]
    assert work["/v3/query?q=p53&fields=entrezgene,name,pantherdb,symbol&species=human&size=1"][
        "uncovered"
    ] == ["unusual_field pantherdb"]
    assert all(r["writer"] == "template" for r in work.values())
    saved = json.loads((out / "report.json").read_text())
    assert saved["counts"]["uncovered"] == dict(counts["uncovered"])
    assert saved["leaks"] == {"query": 0, "signature": 0}
    assert result.report.info["seconds"]["instruct"] < 2 * len(kept)

    # a rerun writes nothing twice
    again = run_datagen(settings, Options([log], out, progress=False))
    assert again.report.counts["resume"]["queries_already_instructed"] == len(kept)
    assert "queries_done" not in again.report.counts["instruct"]


def test_template_writer_describes_shapes_or_says_why_not():
    lines = write(
        parse_query("/v3/query?q=TP53&species=human&fields=symbol,entrezgene,ensembl.gene")
    )
    assert lines[0] == (
        "retrieve",
        "Retrieve the symbol, Entrez gene ID, and Ensembl gene ID for human genes that have "
        "anything to do with TP53.",  # a bare term is a search of every field, not one symbol
    )
    assert len(lines) == len(PERSONAS)
    counted = write(
        parse_query("/v3/query?q=type_of_gene:pseudo&species=mouse&size=0&facets=taxid")
    )
    assert all(_mentions(t, "pseudo", "mouse", "species") for _, t in counted)
    region = write(parse_query("q=chrX:151,073,054-151,383,976&species=human"))
    assert all(_mentions(t, "chromosome X", "151,073,054", "151,383,976", "human")
               for _, t in region)  # fmt: skip
    species = write(parse_query("/v3/query?q=symbol:ens*&species=47969&fields=symbol,ensembl.gene"))
    assert all(_mentions(t, "taxid 47969", "starting with ens") for _, t in species)
    # a gene's full name and a list of POST terms are named, not "copied from the prompt"
    for text in (
        '/v3/query?q=name:"tafa chemokine like family member 5"&fields=name,symbol',
        "POST /v3/query q=eakr-2,linc-112,srz-23,ZK265.10&scopes=symbol&species=nematode",
    ):
        assert len(write(parse_query(text), key=text)) == len(PERSONAS), text  # fmt: skip
    with pytest.raises(Uncovered, match="unsupported_q_syntax Regex"):
        describe(parse_query("/v3/query?q=symbol:/cdk[0-9]/"))
    with pytest.raises(Uncovered, match="unknown_parameter species_facet_filter"):
        describe(parse_query("/v3/query?q=cdk2&facets=taxid&species_facet_filter=human"))


def test_seed_sample_in_each_format_meets_the_bar(tmp_path, tiny_settings, tiny_store_path):
    """Issue 18's bar: ≥ 90% of the distinct queries with hits get two or more instructions
    that pass every check, offline, in under 2 s per query."""
    from query_examples import seed_log

    queries = seed_log()
    if queries is None:
        pytest.skip("shared/data/seed/query_log_sample.jsonl is not on this machine")
    settings = settings_for(tiny_settings, tiny_store_path)
    for fmt in ("combined", "csv", "jsonl"):
        log = write_seed_log(tmp_path / fmt, fmt, queries, extra=[])
        out = tmp_path / f"out-{fmt}"
        result = run_datagen(settings, Options([log], out, per_signature=100, progress=False))
        kept = [json.loads(x)["query"] for x in (out / "queries.jsonl").read_text().splitlines()]
        by_query = _template_pairs(out)
        good = [q for q in kept if len(by_query.get(q, [])) >= 2]
        assert len(kept) >= 20 and len(good) >= 0.9 * len(kept), (fmt, set(kept) - set(good))
        assert result.report.info["seconds"]["instruct"] < 2 * len(kept)


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
            "--writer", "model", "--model", MODEL, "--server-port", str(settings.server_port),
            "--retries", "1", "--temperature", "0", "--no-progress", "--no-round-trip"]  # fmt: skip
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

        options = Options(
            logs, out, limit=3, retries=0, progress=False, on_query=kill_after_first, writer="model"
        )
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
        settings,
        Options(logs, out, limit=3 - len(done), retries=0, progress=False, writer="model"),
    )
    assert rerun.complete
    instructed = [
        json.loads(x)["key"] for x in work.read_text().splitlines() if '"instructed"' in x
    ]
    assert len(instructed) == len(set(instructed)) == 3 and set(instructed) > done
    _check_accepted(out)


def test_model_writer_is_never_the_query_adapter(tmp_path, tiny_settings):
    adapter = Settings(model="qwen2.5-coder-0.5b-mygene", lora_path=None)
    model, note = writer_model(adapter)
    assert model == "qwen2.5-coder-0.5b" and "fine-tuned query adapter" in note
    assert writer_model(Settings(model=MODEL, lora_path=None)) == (MODEL, None)
    with pytest.raises(ConfigError, match="known writers: template, model"):
        check_writer("adapter")
    code = main(["datagen", str(tmp_path), "--out", str(tmp_path / "out"), "--writer", "nope"])
    assert code == 2


# --- the round trip, paraphrases and corrections --------------------------------------------------

ROUND_TRIP_REASONS = {"different_genes", "different_fields", "invalid_query", "query_failed"}
PROBLEM_CODES = {"missing_entity", "missing_field", "missing_number", "copies_query",
                 "copies_prompt", "filler", "too_short", "too_long", "not_one_sentence",
                 "wrong_form", "unchanged", "duplicate", "bad_json"}  # fmt: skip


def _all_pairs(out: Path) -> list:
    return [p for s in ("train", "validation", "test") for p in load_pairs(out, s)]


def test_round_trip_compares_genes_and_field_families(tiny_settings, tiny_store_path):
    settings = settings_for(tiny_settings, tiny_store_path)
    trip = RoundTrip(settings, get_backend(settings))  # compare() runs queries, no model
    log = "/v3/query?q=symbol:cdk2&fields=entrezgene&species=human"
    same = trip.compare(parse_query("/v3/query?q=entrezgene:1017&fields=entrezgene,symbol"), log)
    assert same.passed and same.reason == ""  # symbol is an answer field the pipeline adds
    fields = trip.compare(
        parse_query("/v3/query?q=symbol:CDK2&species=9606&fields=ensembl.gene"), log
    )
    assert (fields.passed, fields.reason, fields.detail) == (
        False, "different_fields", "model ensembl; log entrezgene")  # fmt: skip
    genes = trip.compare(parse_query("/v3/query?q=symbol:cdk2&fields=entrezgene"), log)
    assert genes.reason == "different_genes" and genes.detail.endswith("log 1 hits [1017]")
    # a logged query that names no fields asks for none: only its genes are compared
    default = "/v3/query?q=symbol:cdk2&species=human"
    assert trip.compare(parse_query("/v3/gene/1017?fields=name,symbol,taxid"), default).passed
    assert trip.compare(parse_query("/v3/gene/1017"), default).passed
    go = trip.compare(parse_query("/v3/query?q=symbol:cdk2&species=human&fields=go"), default)
    assert go.passed and go.reason == ""
    other = trip.compare(parse_query("/v3/query?q=symbol:cdk1&species=human"), default)
    assert other.reason == "different_genes"


@pytest.fixture(scope="module")
def smol_run(tmp_path_factory, tiny_settings, tiny_store_path, smollm):
    """One run with paraphrases and the round trip, both by SmolLM2, on two logged queries,
    a real question and a correction."""
    # the short prompt of mode ft and no retry: SmolLM2's guesses cost a second or two each
    settings = settings_for(
        tiny_settings, tiny_store_path, mode="ft", retry_invalid=False, query_max_tokens=48
    )
    folder = tmp_path_factory.mktemp("roundtrip")
    queries = [
        "/v3/gene/4609?fields=summary",
        "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene",
    ]
    log = write_seed_log(folder / "logs", "jsonl", queries, extra=[])
    page = folder / "logs" / "assistant.jsonl"
    page.write_text("".join(json.dumps(x) + "\n" for x in _assistant_lines()))
    options = Options([log, page], folder / "out", per_query=2, paraphrase=True,
                      paraphrase_model=MODEL, round_trip=True, round_trip_model=MODEL,
                      retries=0, progress=False)  # fmt: skip
    t0 = time.perf_counter()
    result = run_datagen(settings, options)
    return settings, options, result, time.perf_counter() - t0


def test_round_trip_failures_are_kept_apart_with_their_reason(smol_run, tiny_store_path):
    settings, options, result, seconds = smol_run
    out = Path(options.out)
    trip = result.report.info["round_trip"]
    assert trip["model"] == f"{MODEL}/ft" and trip["checked"] >= 8
    failed = [json.loads(x) for x in (out / FAILED_FILE).read_text().splitlines()]
    pairs = _all_pairs(out)
    kept = {(p.question, p.query) for p in pairs}
    trusted_failed = [p for p in pairs if p.extra.get("trusted") and not p.extra["round_trip"]]
    assert trip["checked"] == trip["passed"] + len(failed) + len(trusted_failed)
    again = RoundTrip(settings, get_backend(settings))
    for row in failed:
        assert row["reason"] in ROUND_TRIP_REASONS and row["detail"] and row["round_trip"] is False
        assert (row["question"], row["query"]) not in kept and row["model"] == trip["model"]
        if row["reason"].startswith("different_"):  # the reason holds when compared again
            assert (
                again.compare(parse_query(row["model_query"]), row["query"]).reason == row["reason"]
            )
    for p in pairs:  # every pair kept passed, or is a person's correction (kept, marked)
        assert p.extra["round_trip"] is True or p.extra.get("round_trip_reason")
        assert p.extra["round_trip"] is True or p.extra.get("trusted")
    # the rates per writer and per intent add up to the whole
    for group in ("by_writer", "by_intent"):
        rates = trip[group]
        assert sum(r["checked"] for r in rates.values()) == trip["checked"]
        assert sum(r["passed"] for r in rates.values()) == trip["passed"]
        assert all(r["rate"] == round(r["passed"] / r["checked"], 4) for r in rates.values())
    assert {"template", f"paraphrase:{MODEL}", "user", "correction"} >= set(trip["by_writer"])
    assert {"template", "user", "correction"} <= set(trip["by_writer"])
    assert sum(trip["reasons"].values()) == trip["checked"] - trip["passed"]
    saved = json.loads((out / "report.json").read_text())
    assert saved["round_trip"]["by_intent"] == trip["by_intent"]
    # template queries short of two passing pairs were given every persona's sentence first
    topped = [r for r in WorkFile(out / "work.jsonl").instructed.values() if r.get("topped_up")]
    assert topped and result.report.counts["instruct"]["topped_up_after_round_trip"] == len(topped)
    assert all(len(r["instructions"]) > 2 for r in topped)
    print(
        f"\nround trip: {trip['passed']}/{trip['checked']} in {seconds:.1f} s",
        result.report.info["seconds"],
    )

    # a rerun checks nothing twice
    rerun = run_datagen(settings, options)
    assert rerun.report.counts["round_trip"]["already_checked"] == trip["checked"]
    assert rerun.report.info["round_trip"]["passed"] == trip["passed"]


def test_paraphrases_pass_the_checks_or_are_rejected_with_a_reason(smol_run):
    _settings, options, result, _ = smol_run
    out = Path(options.out)
    work = WorkFile(out / "work.jsonl")
    shown = {
        q["query"]: q["display"]
        for q in map(json.loads, (out / "queries.jsonl").read_text().splitlines())
    }
    rows = list(work.paraphrased.values())
    assert rows and all(r["writer"] == f"paraphrase:{MODEL}" for r in rows)
    kept = 0
    for row in rows:
        sources = row["sources"]  # the template's sentences of the query when it was rephrased
        assert sources.items() <= work.instructed[row["key"]]["instructions"].items()
        assert set(row["paraphrases"]) | set(row["problems"]) == set(sources)
        for persona, codes in row["problems"].items():
            assert codes and set(codes) <= PROBLEM_CODES, (persona, codes)
        query = parse_query(shown[row["key"]])
        for persona, text in row["paraphrases"].items():
            kept += 1
            assert text.lower() != sources[persona].lower()
            form = PERSONAS[persona]
            assert check_instruction(text, form, entities(query), shown[row["key"]],
                                     explain(query)) == []  # fmt: skip
            assert check_mentions(text, describe(query)) == []
    counts = result.report.counts["paraphrase"]
    assert counts["queries_done"] == len(rows) and counts["kept"] == kept
    rejected = sum(len(r["problems"]) for r in rows)
    assert sum(n for c, n in counts.items() if c in PROBLEM_CODES) >= rejected
    for p in _all_pairs(out):  # a paraphrase pair says what it rephrases
        if p.extra.get("writer", "").startswith("paraphrase:"):
            sources = next(r["sources"] for r in rows if r["key"] == p.query)
            assert p.extra["paraphrase_of"] == sources[p.style]
            assert p.id.startswith("par-")


def test_corrections_from_the_page_come_out_trusted(tmp_path, tiny_settings, tiny_store_path):
    settings = settings_for(tiny_settings, tiny_store_path)
    log = InteractionLog(
        tmp_path / "logs" / "interactions.sqlite", tmp_path / "logs" / "access.jsonl"
    )
    bot = Assistant(settings)  # run_query needs no model
    asked = bot.run_query("/v3/query?q=symbol:TP53&fields=genomic_pos", question="Summary of TP53?")
    logged = log.record_answer(asked, session="s1")
    log.record_verdict(logged, "wrong")
    corrected = "/v3/query?q=symbol:TP53&species=human&fields=summary"
    log.record_correction(logged, corrected)
    export = tmp_path / "corrections.jsonl"
    assert log.export_corrections(export) == 1
    key = "/v3/query?q=symbol:tp53&fields=summary&species=human"
    for source in (tmp_path / "logs" / "access.jsonl", export):  # the page's log, its export
        out = tmp_path / f"out-{source.stem}"
        result = run_datagen(settings, Options([source], out, round_trip=False, progress=False))
        pairs = _all_pairs(out)
        person = [p for p in pairs if p.source == "correction"]
        assert [(p.question, p.query, p.extra.get("trusted")) for p in person] == [
            ("Summary of TP53?", key, True)]  # fmt: skip
        written = [p for p in pairs if p.query == key and p.extra.get("writer") == "template"]
        assert len(written) >= 2 and all(not p.extra.get("trusted") for p in written)
        assert all("genomic_pos" not in p.query for p in pairs)  # the query marked wrong
        assert result.report.counts["select"]["corrected_queries_instructed"] == 1
