"""The ``datagen`` pipeline: access logs → distinct queries with hits → two instructions each →
train / validation / test pairs.

Stages (each counted in the :class:`~.report.Report`, saved as ``report.json``):

1. **read** every log file (:mod:`.logs`: combined, CSV, JSONL, the assistant's log, plain);
2. **extract** the MyGene requests and normalize them (:mod:`.extract`), merging duplicates by
   canonical form; from the assistant's log, executed queries with hits bring their real
   question, corrections are trusted pairs (``trusted: true``; their corrected query is also
   instructed like any other) and a query marked ``wrong`` is dropped;
3. **select** up to ``per_signature`` diverse queries per structural signature that return hits
   on the configured backend (:mod:`.select`; embedded store or ``--backend live``);
4. **instruct**: the writer (:data:`WRITERS`) writes instructions for each kept query. The
   default, ``template`` (:mod:`.templates`), writes them from the query's structure in several
   personas' styles, without a model, and reports shapes the synthetic generator does not cover
   (stage ``uncovered``); ``model`` asks an OpenAI-compatible model for an imperative and a
   question (never the fine-tuned query adapter: :func:`writer_model`). Either way
   :mod:`.instructions` checks them; the model's failures are regenerated or dropped;
   with ``paraphrase`` a base instruct model rephrases each template sentence
   (:mod:`.paraphrase`, the same checks);
5. **round trip** (``round_trip``; :mod:`.roundtrip`): the assistant's model writes a query
   from each pair's instruction alone; pairs whose query finds other genes or returns other
   field families go to ``roundtrip_failed.jsonl`` with the reason (trusted corrections stay,
   marked), and the report gives the pass rate per writer and per intent. A template query
   with fewer than two passing pairs first gets every persona's sentence (``topped_up``);
6. **save**: :func:`assistant.pairs.split_pairs` (no query or signature in two splits) and
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
from ..registry import load_registry, registry_path, resolve
from ..synth.seeds import guess_intent
from .endpoint import Endpoint, EndpointUnavailable, JsonClient, open_endpoint
from .extract import Candidate, extract
from .instructions import Outcome, write_instructions
from .logs import LogRecord, read_logs
from .paraphrase import local_client, paraphrase
from .report import Report
from .roundtrip import FAILED_FILE, RoundTrip, Trip, available, rates
from .select import by_signature, execute, select
from .templates import DEFAULT_PER_QUERY, PERSONAS, TemplateWriter
from .work import WorkFile

WORK_FILE = "work.jsonl"
REPORT_FILE = "report.json"
QUERIES_FILE = "queries.jsonl"
SERVER_LOG = "server.log"
MAX_SERVER_FAILURES = 3
"""Consecutive failed requests after which a server that still runs is given up on."""

WRITERS = {
    "template": "instructions from the query's structure in several personas' styles (no model)",
    "model": "an OpenAI-compatible model (QA_OPENAI_API_KEY) or a local llama_cpp.server "
    "writes an imperative and a question",
}
"""The instruction writers of ``datagen --writer``."""


def check_writer(name: str) -> str:
    """``name`` when it is a writer of :data:`WRITERS`, else a :class:`ConfigError` listing them."""
    if name not in WRITERS:
        raise ConfigError(
            f"unknown instruction writer {name!r}; known writers: {', '.join(WRITERS)}"
        )
    return name


def writer_model(settings: Settings) -> tuple[str, str | None]:
    """``(model, note)``: the local model that writes instructions. A fine-tuned query adapter
    (a registry entry with a LoRA or ``prompt_mode = "ft"``, such as the default
    ``qwen2.5-coder-0.5b-mygene``) writes query lines, not instructions, so its base instruct
    model is used instead (the registry entry with the same weights file and no adapter), and
    ``note`` says so.

    >>> writer_model(Settings(model="qwen2.5-coder-0.5b-mygene", lora_path=None))
    ('qwen2.5-coder-0.5b', 'qwen2.5-coder-0.5b-mygene is a fine-tuned query adapter; instructions are written by its base model qwen2.5-coder-0.5b')
    """
    name = settings.model
    if name.startswith("openai:"):
        return name, None
    spec = resolve(name, settings)
    if not (spec.lora or spec.prompt_mode == "ft" or settings.lora_path is not None):
        return spec.name, None
    registry = load_registry(registry_path(settings))
    bases = [
        m
        for m in registry.models.values()
        if m.file == spec.file and not m.lora and m.prompt_mode != "ft" and m.path == spec.path
    ]
    if not bases:
        raise ConfigError(
            f"{spec.name} is a fine-tuned query adapter and no registry entry holds its base "
            "model; pass an instruct model, e.g. --model qwen2.5-coder-0.5b"
        )
    base = bases[0].name
    return (
        base,
        f"{spec.name} is a fine-tuned query adapter; instructions are written by its base model {base}",
    )


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
    writer: str = "template"
    """Which of :data:`WRITERS` writes the instructions."""
    per_query: int = DEFAULT_PER_QUERY
    """Instructions the ``template`` writer keeps per query (each in another persona's style)."""
    paraphrase: bool = False
    """Also ask a base instruct model to rephrase every template sentence (:mod:`.paraphrase`)."""
    paraphrase_model: str | None = None
    """The model that rephrases (default: the ``model`` setting; an adapter is replaced by its
    base model, :func:`writer_model`); with ``openai_api_key`` the OpenAI-compatible endpoint."""
    round_trip: bool | None = False
    """Check every pair by the round trip (:mod:`.roundtrip`); None: when the round-trip model
    can run here (the command's default)."""
    round_trip_model: str | None = None
    """The model of the round trip (default: the ``model`` setting, the fine-tuned adapter)."""
    progress: bool = True
    on_query: Callable[[Candidate, Outcome], None] | None = None
    """Called after each query's instructions are written (progress display, tests)."""


@dataclass
class RunResult:
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


def _pair(
    question: str, cand_key: str, sig: str, style: str, source: str, salt: str = "", **extra
) -> Pair:
    prefix = {"correction": "cor"}.get(source, "par" if salt else "log")
    ident = f"{prefix}-{_hash(cand_key, salt or (question if style == 'user' else style))}"
    intent = guess_intent(cand_key)  # the intent vocabulary of data/pairs
    return Pair(question, cand_key, ident, intent, sig, style, source, extra=extra)


def build_pairs(
    work: WorkFile,
    kept: list[tuple[Candidate, int]],
    corrections: list[tuple[str, Candidate]],
) -> list[Pair]:
    """Every pair of the out folder: written instructions and paraphrases (from the work file,
    so earlier runs count), real questions of kept queries, and corrections (``trusted``: a
    person wrote the question and the query); one pair per question and query, a correction
    first."""
    pairs: list[Pair] = []
    for question, cand in corrections:
        pairs.append(_pair(question, cand.key, cand.signature, "user", "correction", trusted=True))
    for key, row in work.instructed.items():
        for style, text in row.get("instructions", {}).items():
            if text:
                extra = {"writer": row.get("writer", "")}
                if style in PERSONAS:
                    extra["form"] = PERSONAS[style]
                pairs.append(_pair(text, key, row.get("signature", ""), style, "log", **extra))
    for (writer, key), row in work.paraphrased.items():
        source = row.get("sources") or work.instructed.get(key, {}).get("instructions", {})
        for style, text in row.get("paraphrases", {}).items():
            extra = {"writer": writer, "form": PERSONAS.get(style, ""),
                     "paraphrase_of": source.get(style, "")}  # fmt: skip
            sig = row.get("signature", "")
            pairs.append(_pair(text, key, sig, style, "log", salt=f"{writer}/{style}", **extra))
    for cand, _ in kept:
        for question, source in cand.questions:
            pairs.append(_pair(question, cand.key, cand.signature, "user", source))
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
) -> RunResult:
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
    report.count("select", "kept_with_hits", len(kept))
    have = {c.key for c, _ in kept}
    for _question, cand in corrections:  # trusted: kept with or without hits, but must run
        total = execute(cand, backend, work, report)
        if total is None:
            report.count("select", "correction_without_hits_kept")
        elif cand.key not in have:  # its query is instructed like the logs' queries
            have.add(cand.key)
            kept.append((cand, total))
            report.count("select", "corrected_queries_instructed")
    seconds["execute"] = round(time.perf_counter() - t0, 3)
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
    if todo and check_writer(options.writer) == "template":
        _instruct_templates(options, todo, work, report)
    elif todo:
        complete = _instruct(settings, options, todo, work, report, out, endpoint)
    seconds["instruct"] = round(time.perf_counter() - t0, 3)

    if options.paraphrase and options.llm and complete:
        t0 = time.perf_counter()
        complete = _paraphrase(settings, options, kept, work, report, out, endpoint)
        seconds["paraphrase"] = round(time.perf_counter() - t0, 3)

    pairs = build_pairs(work, kept, corrections)
    trip_model = options.round_trip_model or settings.model
    round_trip = options.round_trip
    if round_trip is None:
        why = available(settings, trip_model)
        round_trip = why is None
        if why:
            report.info["round_trip"] = {"skipped": why}
    if round_trip and pairs:
        t0 = time.perf_counter()
        trip = RoundTrip(settings.model_copy(update={"model": trip_model}), backend)
        before = set(work.round_trips)
        if options.llm and options.writer == "template":  # a query short of 2 passing pairs
            passed = _round_trip(trip, options, pairs, work, Report(), out, before)
            if _top_up(kept, passed, work, report):  # gets every persona's sentence
                pairs = build_pairs(work, kept, corrections)
        pairs = _round_trip(trip, options, pairs, work, report, out, before)
        seconds["round_trip"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
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
    return RunResult(out, report, stats, complete)


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


def _instruct_templates(
    options: Options, todo: list[Candidate], work: WorkFile, report: Report
) -> None:
    """Write instructions for ``todo`` with the deterministic writer (:mod:`.templates`)."""
    writer = TemplateWriter(per_query=options.per_query)
    report.info["writer"] = f"{writer.name} (deterministic, {options.per_query} per query)"
    for cand in _bar(todo, desc="instruct", enabled=options.progress, unit="q"):
        outcome = writer.write(cand, report)
        _record(work, report, options, cand, outcome, writer.name)
        if outcome.uncovered:
            report.count("instruct", "queries_with_uncovered_shapes")
        if len(outcome.accepted) < 2:
            report.reject("instruct", "queries_with_fewer_than_2", cand.display)


def _record(work, report, options, cand, outcome: Outcome, writer: str) -> None:
    """One finished query in the work file and the report."""
    row = {
        "step": "instructed",
        "key": cand.key,
        "signature": cand.signature,
        "instructions": outcome.accepted,
        "problems": {s: list(dict.fromkeys(c for c, _ in p)) for s, p in outcome.problems.items()},
        "attempts": outcome.attempts,
        "writer": writer,
    }
    if outcome.uncovered:
        row["uncovered"] = outcome.uncovered
    work.add(row)
    report.count("instruct", "queries_done")
    if options.on_query is not None:
        options.on_query(cand, outcome)
    report.count("instruct", "instructions_kept", len(outcome.accepted))
    if outcome.problems:
        report.count("instruct", "instructions_dropped", len(outcome.problems))


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
    if endpoint is None and not settings.openai_api_key:
        model, note = writer_model(settings)
        if note:
            report.info["writer_model_note"] = note
        settings = settings.model_copy(update={"model": model, "lora_path": None})
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
        _record(work, report, options, cand, outcome, ep.model)
    return True


def _paraphrase(settings, options, kept, work, report, out, endpoint) -> bool:
    """Rephrase the template sentences of the kept queries not yet paraphrased; False when the
    endpoint went away before the end."""
    chosen = settings.model_copy(
        update={"model": options.paraphrase_model or settings.model, "lora_path": None}
    )
    if endpoint is None and not settings.openai_api_key:
        model, note = writer_model(chosen)
        if note:
            report.info["paraphrase_model_note"] = note
        return _paraphrase_with(local_client(model, chosen), f"paraphrase:{model}", options,
                                kept, work, report)  # fmt: skip
    opener = (
        nullcontext(endpoint)
        if endpoint is not None
        else open_endpoint(chosen, log_path=out / SERVER_LOG, start_timeout=options.start_timeout)
    )
    with opener as ep:
        client = JsonClient(ep, timeout=options.timeout, max_tokens=options.max_tokens,
                            temperature=settings.temperature, seed=settings.seed)  # fmt: skip
        return _paraphrase_with(client, f"paraphrase:{ep.model}", options, kept, work, report)


def _paraphrase_with(client, writer, options, kept, work, report) -> bool:
    todo = [
        c
        for c, _ in kept
        if work.instructed.get(c.key, {}).get("writer") == TemplateWriter.name
        and work.instructed[c.key].get("instructions")
        and (writer, c.key) not in work.paraphrased
    ]
    if options.limit is not None and len(todo) > options.limit:
        report.count("paraphrase", "left_for_next_run", len(todo) - options.limit)
        todo = todo[: options.limit]
    report.info["paraphrase_writer"] = writer
    for cand in _bar(todo, desc="paraphrase", enabled=options.progress, unit="q"):
        sources = work.instructed[cand.key]["instructions"]
        try:
            outcome = paraphrase(client, cand, sources, report, retries=min(options.retries, 1))
        except EndpointUnavailable as exc:
            report.reject("paraphrase", "server_unavailable", f"{cand.key}: {exc}")
            report.info["stopped"] = "the paraphrase server stopped answering; rerun to resume"
            return False
        work.add(
            {
                "step": "paraphrased",
                "key": cand.key,
                "signature": cand.signature,
                "writer": writer,
                "sources": sources,
                "paraphrases": outcome.accepted,
                "problems": {
                    s: list(dict.fromkeys(c for c, _ in p)) for s, p in outcome.problems.items()
                },
                "attempts": outcome.attempts,
            }
        )
        report.count("paraphrase", "queries_done")
    report.info["paraphrase_llm"] = {
        "calls": client.calls,
        "seconds": round(client.seconds, 2),
        "completion_tokens": client.tokens,
    }
    return True


def _top_up(kept, passed: list[Pair], work: WorkFile, report: Report) -> int:
    """Template queries with fewer than 2 pairs that passed the round trip get the sentences of
    every persona (the round trip then keeps those that pass); returns how many queries."""
    ok: dict[str, int] = {}
    for p in passed:
        ok[p.query] = ok.get(p.query, 0) + bool(p.extra.get("round_trip"))
    writer = TemplateWriter(per_query=len(PERSONAS))
    topped = 0
    for cand, _ in kept:
        row = work.instructed.get(cand.key)
        if not row or row.get("writer") != writer.name or ok.get(cand.key, 0) >= 2:
            continue
        if row.get("topped_up") or len(row.get("instructions", {})) >= len(PERSONAS):
            continue
        outcome = writer.write(cand, Report())  # its checks were counted the first time
        if len(outcome.accepted) <= len(row.get("instructions", {})):
            continue
        work.add({**row, "instructions": outcome.accepted, "topped_up": True})
        topped += 1
    if topped:
        report.count("instruct", "topped_up_after_round_trip", topped)
    return topped


def _round_trip(trip, options, pairs, work, report, out, before=frozenset()) -> list[Pair]:
    """The pairs that pass the round trip (and trusted ones, marked when they fail); the others
    go to :data:`FAILED_FILE` with the reason. Each result is journaled in the work file;
    ``before``: the checks journaled before this run (counted as ``already_checked``)."""
    report.info["round_trip_model"] = trip.name
    kept: list[Pair] = []
    rows: list[tuple[Pair, Trip]] = []
    failed: list[dict[str, Any]] = []
    loaded = False
    for pair in _bar(pairs, desc="round trip", enabled=options.progress, unit="pair"):
        done = work.round_trips.get((trip.name, pair.query, pair.question))
        if done is None:
            if not loaded:
                trip.load()
                loaded = True
            result = trip.check(pair.question, pair.query)
            work.add({"step": "round_trip", "key": pair.query, "question": pair.question,
                      "model": trip.name, **result.to_dict()})  # fmt: skip
        else:
            if (trip.name, pair.query, pair.question) in before:
                report.count("round_trip", "already_checked")
            result = Trip(done["passed"], done["reason"], done["detail"], done["model_query"],
                          done.get("seconds", 0.0))  # fmt: skip
        rows.append((pair, result))
        pair.extra["round_trip"] = result.passed
        if result.passed:
            report.count("round_trip", "passed")
            kept.append(pair)
            continue
        report.reject("round_trip", result.reason, f"{pair.question!r} → {result.model_query} "
                      f"({result.detail})")  # fmt: skip
        if pair.extra.get("trusted"):
            pair.extra["round_trip_reason"] = result.reason
            report.count("round_trip", "trusted_kept_despite_failure")
            kept.append(pair)
        else:
            row = {k: v for k, v in pair.to_dict().items() if k != "split"}
            failed.append({**row, "model": trip.name, **result.to_dict()})
    _write_jsonl(out / FAILED_FILE, failed)
    seconds = [t.seconds for _, t in rows if t.seconds]
    report.info["round_trip"] = {
        **rates(rows),
        "model": trip.name,
        "failed_file": FAILED_FILE,
        "seconds_per_pair": round(sum(seconds) / len(seconds), 3) if seconds else None,
    }
    return kept


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)
