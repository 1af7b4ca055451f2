"""The ``datagen`` pipeline: access logs → distinct queries with hits → two instructions each →
train / validation / test pairs.

Stages (each counted in the :class:`~.report.Report`, saved as ``report.json``):

1. **read** every log file (:mod:`.logs`: combined, CSV, JSONL, the assistant's log, plain);
2. **extract** the MyGene requests and normalize them (:mod:`.extract`), merging duplicates by
   canonical form; from the assistant's log, executed queries with hits bring their real
   question, corrections are trusted pairs and a query marked ``wrong`` is dropped;
3. **select** up to ``per_signature`` diverse queries per structural signature that return hits
   on the configured backend (:mod:`.select`; embedded store or ``--backend live``);
4. **instruct**: an OpenAI-compatible model writes an imperative and a question for each kept
   query; :mod:`.instructions` checks them and regenerates or drops the failures;
5. **save**: :func:`assistant.pairs.split_pairs` (no query or signature in two splits) and
   :func:`assistant.pairs.save_pairs` (JSONL per split, ``hf/`` datasets folder, stats.json),
   plus ``queries.jsonl`` (the kept queries) and ``report.json``.

Finished steps go to ``work.jsonl`` (:mod:`.work`), so a rerun of the same command resumes:
nothing is executed or written twice, and a run cut short (``--limit``, a dead server, Ctrl-C)
continues where it stopped.

>>> result = run_datagen(Settings(), Options(["access.log.gz"], "data/logs/pairs-2025"))  # doctest: +SKIP
>>> result.complete, result.stats["splits"]                                              # doctest: +SKIP
(True, {'train': 812, 'validation': 45, 'test': 47})
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import get_backend
from ..config import Settings
from ..errors import ConfigError, ModelError
from ..pairs import DEFAULT_FRACTIONS, Pair, save_pairs, split_pairs
from ..synth.seeds import guess_intent
from .endpoint import Endpoint, EndpointUnavailable, JsonClient, open_endpoint
from .extract import Candidate, extract
from .instructions import STYLES, Outcome, write_instructions
from .logs import LogRecord, read_logs
from .report import Report
from .select import by_signature, execute, select
from .work import WorkFile

WORK_FILE = "work.jsonl"
REPORT_FILE = "report.json"
QUERIES_FILE = "queries.jsonl"
SERVER_LOG = "server.log"
MAX_SERVER_FAILURES = 3
"""Consecutive failed requests after which a server that still runs is given up on."""


@dataclass
class Options:
    """What one ``datagen`` run reads, writes and how much it does."""

    inputs: list[Path | str]
    out: Path | str
    per_signature: int = 5
    limit: int | None = None
    retries: int = 2
    llm: bool = True
    fractions: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FRACTIONS))
    split_seed: int = 0
    timeout: float = 120.0
    start_timeout: float = 180.0
    max_tokens: int = 160
    progress: bool = True
    on_query: Callable[[Candidate, Outcome], None] | None = None
    """Called after each query's instructions are written (progress display, tests)."""


@dataclass
class Result:
    """What a run did: the report, the pair stats, and whether every step finished."""

    out: Path
    report: Report
    stats: dict[str, Any]
    complete: bool


def _bar(iterable=None, total=None, desc="", enabled=True, unit="it"):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, unit=unit, leave=False)


def _merge(pool: dict[str, Candidate], cand: Candidate, report: Report) -> Candidate:
    have = pool.get(cand.key)
    if have is None:
        pool[cand.key] = cand
        return cand
    have.count += 1
    have.formats |= cand.formats
    report.count("dedup", "duplicates_merged")
    return have


def collect(
    paths: list[Path], report: Report, settings: Settings, progress: bool = False
) -> tuple[dict[str, Candidate], list[tuple[str, Candidate]]]:
    """The distinct candidate queries of the logs (by canonical key) and the corrections
    ``(question, candidate)`` from the assistant's log."""
    pool: dict[str, Candidate] = {}
    assistant: list[LogRecord] = []
    for rec in _bar(read_logs(paths, report), desc="read", enabled=progress, unit="rec"):
        if rec.fmt == "assistant":
            assistant.append(rec)
            continue
        cand = extract(rec, report, settings)
        if cand is not None:
            _merge(pool, cand, report)
    wrong = {
        (r.session, r.question) for r in assistant if r.event == "verdict" and r.verdict == "wrong"
    }
    corrections: list[tuple[str, Candidate]] = []
    for rec in assistant:
        if rec.event == "verdict":
            continue
        if rec.event == "executed" and (rec.session, rec.question) in wrong:
            report.reject("extract", "assistant_marked_wrong", f"{rec.where}: {rec.target}")
            continue
        if rec.event == "executed" and (rec.total is None or rec.total <= 0):
            report.reject("extract", "assistant_no_hits", f"{rec.where}: {rec.target}")
            continue
        if rec.event == "correction" and not rec.question:
            report.reject("extract", "correction_without_question", rec.where)
            continue
        cand = extract(rec, report, settings)
        if cand is None:
            continue
        if rec.event == "correction":
            corrections.append((rec.question or "", cand))
            continue
        have = _merge(pool, cand, report)
        if rec.question and rec.question not in [q for q, _ in have.questions]:
            have.questions.append((rec.question, "log"))
    return pool, corrections


def _hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]


def _pair(question: str, cand_key: str, sig: str, style: str, source: str, **extra) -> Pair:
    prefix = {"correction": "cor"}.get(source, "log")
    ident = f"{prefix}-{_hash(cand_key, question if style == 'user' else style)}"
    intent = guess_intent(cand_key)  # the intent vocabulary of data/pairs
    return Pair(question, cand_key, ident, intent, sig, style, source, extra=extra)


def build_pairs(
    work: WorkFile,
    kept: list[tuple[Candidate, int]],
    corrections: list[tuple[str, Candidate]],
) -> list[Pair]:
    """Every pair of the out folder: written instructions (from the work file, so earlier runs
    count), real questions of kept queries, and corrections; one pair per question and query."""
    pairs: list[Pair] = []
    for key, row in work.instructed.items():
        for style in STYLES:
            text = row.get("instructions", {}).get(style)
            if text:
                pairs.append(
                    _pair(
                        text,
                        key,
                        row.get("signature", ""),
                        style,
                        "log",
                        writer=row.get("writer", ""),
                    )
                )
    for cand, _ in kept:
        for question, source in cand.questions:
            pairs.append(_pair(question, cand.key, cand.signature, "user", source))
    for question, cand in corrections:
        pairs.append(_pair(question, cand.key, cand.signature, "user", "correction"))
    out, seen = [], set()
    for p in pairs:
        k = (" ".join(p.question.lower().split()), p.query)
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out


def check_out(out: Path, settings: Settings) -> Path:
    """The output folder, refusing the shipped curated pairs folder."""
    out = Path(out)
    if out.resolve() == Path(settings.pairs_dir).resolve():
        raise ConfigError(
            f"{out} is the curated pairs folder (pairs_dir); write log pairs elsewhere, "
            "e.g. --out data/logs/pairs-2025"
        )
    return out


def run_datagen(
    settings: Settings,
    options: Options,
    endpoint: Endpoint | None = None,
    store=None,
) -> Result:
    """Run every stage; see the module docstring. ``endpoint`` (an already running server)
    skips starting one; ``store`` (an open GeneStore) is used by the embedded backend."""
    out = check_out(Path(options.out), settings)
    out.mkdir(parents=True, exist_ok=True)
    report = Report()
    seconds: dict[str, float] = {}
    report.info.update(
        inputs=[str(p) for p in options.inputs], backend=settings.backend, seconds=seconds
    )
    work = WorkFile(out / WORK_FILE)
    if work.torn:
        report.count("resume", "torn_work_lines", work.torn)
    report.count("resume", "queries_already_instructed", len(work.instructed))

    t0 = time.perf_counter()
    pool, corrections = collect(
        [Path(p) for p in options.inputs], report, settings, options.progress
    )
    seconds["read_extract"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    backend = get_backend(settings, store=store)
    groups = by_signature(pool)
    report.info.update(distinct_queries=len(pool), signatures=len(groups))
    with _bar(total=len(pool), desc="execute", enabled=options.progress, unit="q") as bar:
        kept = select(groups, backend, work, report, options.per_signature, progress=bar)
    for _question, cand in corrections:  # trusted: kept with or without hits, but must run
        if execute(cand, backend, work, report) is None:
            report.count("select", "correction_without_hits_kept")
    seconds["execute"] = round(time.perf_counter() - t0, 3)
    report.count("select", "kept_with_hits", len(kept))
    _write_queries(out / QUERIES_FILE, kept)

    todo = [c for c, _ in kept if c.instruct and c.key not in work.instructed]
    if options.limit is not None and len(todo) > options.limit:
        report.count("instruct", "left_for_next_run", len(todo) - options.limit)
        todo = todo[: options.limit]
    complete = True
    t0 = time.perf_counter()
    if todo and not options.llm:
        report.count("instruct", "skipped_no_llm", len(todo))
        todo = []
    if todo:
        complete = _instruct(settings, options, todo, work, report, out, endpoint)
    seconds["instruct"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    pairs = build_pairs(work, kept, corrections)
    splits = split_pairs(pairs, options.fractions, seed=options.split_seed)
    if not options.progress:
        import datasets

        datasets.disable_progress_bars()
    report.info["complete"] = complete
    stats = save_pairs(splits, out, extra_stats={"datagen": {"complete": complete}})
    seconds["save"] = round(time.perf_counter() - t0, 3)
    report.info["pairs"] = stats["splits"]
    report.info["leaks"] = stats["leaks"]
    report.save(out / REPORT_FILE)
    return Result(out, report, stats, complete)


def _write_queries(path: Path, kept: list[tuple[Candidate, int]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for cand, total in kept:
            row = {
                "query": cand.key,
                "display": cand.display,
                "signature": cand.signature,
                "hits": total,
                "count": cand.count,
                "formats": sorted(cand.formats),
                "entities": [e.label for e in cand.entities],
                "questions": [q for q, _ in cand.questions],
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def _instruct(
    settings: Settings,
    options: Options,
    todo: list[Candidate],
    work: WorkFile,
    report: Report,
    out: Path,
    endpoint: Endpoint | None,
) -> bool:
    """Write instructions for ``todo``; False when the server went away before the end."""
    opener = (
        nullcontext(endpoint)
        if endpoint is not None
        else open_endpoint(settings, log_path=out / SERVER_LOG, start_timeout=options.start_timeout)
    )
    try:
        with opener as ep:
            client = JsonClient(
                ep,
                timeout=options.timeout,
                max_tokens=options.max_tokens,
                temperature=settings.temperature,
                seed=settings.seed,
            )
            report.info["writer"] = ep.describe or ep.model
            try:
                return _instruct_loop(client, ep, options, todo, work, report)
            finally:
                report.info["llm"] = {
                    "calls": client.calls,
                    "seconds": round(client.seconds, 2),
                    "completion_tokens": client.tokens,
                }
    except ModelError as exc:
        if isinstance(exc, EndpointUnavailable):
            raise
        report.reject("instruct", "server_failed_to_start", str(exc))
        report.count("instruct", "not_attempted_server_down", len(todo))
        report.info["error"] = str(exc)
        report.save(out / REPORT_FILE)
        raise


def _instruct_loop(client, ep, options, todo, work, report) -> bool:
    failures = 0
    bar = _bar(todo, desc="instruct", enabled=options.progress, unit="q")
    for i, cand in enumerate(bar):
        try:
            outcome = write_instructions(client, cand, report, options.retries)
        except EndpointUnavailable as exc:
            failures += 1
            report.reject("instruct", "server_unavailable", f"{cand.key}: {exc}")
            dead = ep.alive is not None and not ep.alive()
            if dead or failures >= MAX_SERVER_FAILURES:
                report.count("instruct", "not_attempted_server_down", len(todo) - i)
                report.info["stopped"] = (
                    "the instruction server "
                    + ("died" if dead else "stopped answering")
                    + f" after {i} of {len(todo)} queries; rerun the same command to resume"
                )
                bar.close()
                return False
            continue
        failures = 0
        work.add(
            {
                "step": "instructed",
                "key": cand.key,
                "signature": cand.signature,
                "instructions": outcome.accepted,
                "problems": {
                    s: list(dict.fromkeys(c for c, _ in p)) for s, p in outcome.problems.items()
                },
                "attempts": outcome.attempts,
                "writer": ep.model,
            }
        )
        report.count("instruct", "queries_done")
        if options.on_query is not None:
            options.on_query(cand, outcome)
        report.count("instruct", "instructions_kept", len(outcome.accepted))
        if outcome.problems:
            report.count("instruct", "instructions_dropped", len(outcome.problems))
    return True
