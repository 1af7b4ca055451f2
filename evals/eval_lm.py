"""Evaluate query generation: zero-shot, RAG, in-context and fine-tuned settings on one test set.

    python evals/eval_lm.py --mode icl --limit 20 --out evals/results/smoke-icl
    python evals/eval_lm.py --mode zero --no-grammar --model qwen2.5-coder-1.5b
    python evals/eval_lm.py --mode ft --model models/weights/ft-qwen0.5b.gguf --split test
    python evals/eval_lm.py --mode rag --pairs data/docs/example_pairs.jsonl
    python evals/eval_lm.py --mode ft --devset evals/devset/real_phrasing.jsonl   # or --split real
    python evals/eval_lm.py --mode ft --split holdout   # evals/devset/real_phrasing_holdout.jsonl
    python evals/eval_lm.py --compare evals/results/*
    python evals/eval_lm.py --compare evals/results/*-test/ --write README.md

Every test question goes through the assistant's own pipeline (:class:`assistant.pipeline.Assistant`:
the same retrieval, prompts, grammar, retry and execution as the page), the model's query is
scored against the reference with :mod:`assistant.metrics`, and both queries are run on the
embedded store (``--store-path``) for execution accuracy.

``--devset FILE`` (``--split real``: evals/devset/real_phrasing.jsonl; ``--split holdout``: its
held-out companion real_phrasing_holdout.jsonl) evaluates the hand-written
real-phrasing development set instead: each question goes through the same pipeline, and the
answer is scored by **answer accuracy** (:func:`assistant.metrics.answer_score`): the hits the
pipeline returned satisfy the item's gold (top gene, genes among the hits, hit count) and the
query that ran returns every field family the question asks for (a query without ``fields``
returns the endpoint's default set: the gene's identity for /query, everything for /gene; the
symbol, name and taxid the pipeline adds to every query count, as the answer shows them).
``answer`` scores what the user gets (a query the pipeline corrected after it found nothing
included); ``answer_own`` the model's own query. summary.md and summary.json add a table per
item kind. The gold was judged from the hits of each item's ``reference_query`` (see
evals/devset/README.md); the reference is never compared as text.

A run folder (``--out``, default ``evals/results/<model>-<mode>-<grammar>-<split>``) holds:

- ``run.json``: the exact command(s), model, mode, grammar, split, n, git commit, machine;
- ``responses.jsonl``: one JSON object per item, written and flushed as each completes —
  question, reference, raw output, parsed canonical query, scores, timings, token counts;
- ``summary.json`` / ``summary.md``: the metrics summarized (also per intent);
- ``summary.png``: accuracy and latency of the run.

Re-running with the same ``--out`` skips the items already in ``responses.jsonl`` (resume);
``--restart`` starts the folder over. ``--rescore DIR ...`` scores stored responses again
without the model (after a change to the metrics or the store). ``--compare DIR ...`` prints
one markdown table across run folders and writes ``comparison.md`` and ``comparison.png``
beside them; with
``--write README.md`` it also replaces the README's evaluation table (between
``<!-- eval:start -->`` and ``<!-- eval:end -->``): one row per run with the command that made it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python evals/eval_lm.py` from a checkout
    sys.path.insert(0, str(ROOT))


from assistant import metrics  # noqa: E402
from assistant.cli import run_edge  # noqa: E402
from assistant.config import Settings, add_settings_arguments, settings_from_args  # noqa: E402
from assistant.errors import AssistantError, ConfigError, QueryError  # noqa: E402
from assistant.markers import write_block  # noqa: E402

MODE_NAMES = {"zero": "zero-shot"}
MODE_CHOICES = ("zero", "zero-shot", "rag", "icl", "rag+icl", "ft", "ft+rag")
RESPONSES = "responses.jsonl"
RUN_FILE = "run.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
SUMMARY_PNG = "summary.png"
DEVSET_PATH = ROOT / "evals" / "devset" / "real_phrasing.jsonl"
"""The real-phrasing development set (``--split real``)."""
HOLDOUT_PATH = ROOT / "evals" / "devset" / "real_phrasing_holdout.jsonl"
"""Its held-out companion (``--split holdout``), written after the first set was tuned against."""
HOLDOUT2_PATH = ROOT / "evals" / "devset" / "real_phrasing_holdout2.jsonl"
"""A second held-out set (``--split holdout2``), written last, for the final check."""
HOLDOUT3_PATH = ROOT / "evals" / "devset" / "real_phrasing_holdout3.jsonl"
"""A third held-out set (``--split holdout3``), written before the v3 training data; never
used for tuning."""
HOLDOUT4_PATH = ROOT / "evals" / "devset" / "real_phrasing_holdout4.jsonl"
"""A fourth held-out set (``--split holdout4``), written blind in session 8 before the critic's
rules for the v3 adapter's misses were judged on it; never used for tuning."""
DEVSET_SPLITS = {
    "real": DEVSET_PATH,
    "holdout": HOLDOUT_PATH,
    "holdout2": HOLDOUT2_PATH,
    "holdout3": HOLDOUT3_PATH,
    "holdout4": HOLDOUT4_PATH,
}
IDENTITY = ("model", "mode", "grammar", "retry", "split", "source", "k_pairs", "k_fields", "k_docs")
"""What a resumed run must share with the responses already in its folder."""

SETTING_FLAGS = [
    "store_path",
    "data_dir",
    "seed_dir",
    "pairs_dir",
    "index_dir",
    "results_dir",
    "lora_path",
    "n_threads",
    "n_ctx",
    "k_pairs",
    "k_fields",
    "k_docs",
    "query_max_tokens",
]


# --- the test items --------------------------------------------------------------------------


def load_items(settings: Settings, split: str, pairs_file: Path | None) -> tuple[list, str]:
    """The pairs to evaluate and where they came from: ``--pairs FILE`` (any JSONL of
    question/query lines) or the ``split`` of the pairs folder. Pairs without an id get
    ``<file stem>-<line>``."""
    from assistant.pairs import load_pairs, read_pairs_file

    if pairs_file is None:
        pairs = load_pairs(settings.pairs_dir, split)
        source = str(Path(settings.pairs_dir) / f"{split}.jsonl")
    else:
        if not pairs_file.is_file():
            raise ConfigError(f"pairs file not found at {pairs_file}")
        pairs, source = read_pairs_file(pairs_file), str(pairs_file)
    seen: set[str] = set()
    for n, pair in enumerate(pairs, 1):
        pair.id = pair.id or f"{split}-{n:05d}"
        if pair.id in seen:
            raise ConfigError(f"{source}: the id {pair.id!r} occurs twice; ids must be unique")
        seen.add(pair.id)
    return pairs, _relative(source)


def _relative(path: str | Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# --- one item --------------------------------------------------------------------------------


def execute(backend, text: str | None) -> dict[str, Any]:
    """Run a query text on ``backend``: ``{"total", "ids", "seconds"}``, or ``{"error"}`` when
    it does not parse or the backend refuses it."""
    from assistant.backends import BackendError
    from assistant.query import parse_query

    t0 = time.perf_counter()
    try:
        result = backend.query(parse_query(text or ""))
    except (QueryError, BackendError) as exc:
        return {"error": str(exc), "seconds": round(time.perf_counter() - t0, 4)}
    return {
        "total": result.total,
        "ids": metrics.hit_ids(result.hits),
        "seconds": round(time.perf_counter() - t0, 4),
    }


def evaluate_item(bot, pair, mode: str) -> dict[str, Any]:
    """Answer one pair's question with the pipeline and score the query it wrote. A model
    failure on this item (e.g. a prompt longer than the context) scores as a wrong answer with
    status ``failed``; it does not stop the run."""
    from assistant.pipeline import Answer

    try:
        ans = bot.answer(pair.question, mode=mode)
    except AssistantError as exc:
        ans = Answer(question=pair.question, mode=mode, model=bot.settings.model)
        ans.status, ans.errors, ans.answer = "failed", [str(exc)], str(exc)
    output = metrics.first_line(ans.raw_output)
    row: dict[str, Any] = {
        "id": pair.id,
        "question": pair.question,
        "reference": pair.query,
        "intent": pair.intent or None,
        "output": output,
        "raw_output": ans.raw_output,
        "raw_first": ans.attempts[0]["raw"] if ans.attempts else None,
        "attempts": len(ans.attempts),
        "valid_first": bool(ans.attempts) and not ans.attempts[0]["errors"],
        "errors": ans.errors,
        "status": ans.status,
        "timings": {k: round(v, 4) for k, v in ans.timings.items()},
        "tokens": dict(ans.tokens),
    }
    if ans.recovered_from or ans.model_query or ans.status not in ("ok", "no_hits", "ambiguous"):
        pred = None  # scored on the model's own query, not its repair (see score_row)
    else:
        pred = {"total": ans.total, "ids": metrics.hit_ids(ans.hits)}
    if ans.recovered_from:
        row["recovered"] = ans.sent
    score_row(bot.backend, row, pred)
    if "error" in row:
        return row
    own = pair.question.strip().lower()
    ref_canon = row["reference_canonical"]
    pairs = ans.retrieved.get("pairs", [])
    row["leak"] = {
        "question": any((p.get("text") or "").strip().lower() == own for p in pairs),
        "query": any(_canonical_or_none(p.get("query")) == ref_canon for p in pairs),
    }
    return row


def score_row(backend, row: dict[str, Any], pred: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score a response row in place from its ``output`` and ``reference``: the metrics, both
    canonical forms and execution accuracy on ``backend``.

    ``pred``: the prediction's execution when the pipeline ran it (total and top hit ids, with
    symbol, name and taxid added to its fields, which changes no hit). Without it the model's
    own query runs here — if it is valid and the pipeline got as far as running it; a widened
    query (``recovered``) is never what is scored."""
    from assistant.query import canonical

    row.pop("error", None)
    try:
        row["scores"] = metrics.score(row.get("output"), row["reference"])
        row["reference_canonical"] = canonical(metrics.reference(row["reference"]))
    except QueryError as exc:
        row["error"] = str(exc)
        return row
    query, _ = metrics.read(row.get("output"))
    row["canonical"] = canonical(query) if query is not None else None
    ref = execute(backend, row["reference"])
    if pred is None:
        status = row.get("status")
        if row["scores"]["valid"] and status in ("ok", "no_hits", "ambiguous", "error"):
            pred = execute(backend, row.get("output"))
            pred.pop("seconds", None)
        else:
            pred = {"error": f"not run: {status or 'invalid'}"}
    row["execution"] = {"pred": pred, "ref": ref}
    row["scores"]["execution"] = metrics.execution_match(
        pred.get("total"), pred.get("ids"), ref.get("total"), ref.get("ids")
    )
    row.setdefault("timings", {}).setdefault("ref_execute", ref["seconds"])
    return row


def rescore(run_dir: Path, backend) -> dict[str, Any]:
    """Score a run folder's stored responses again — after a change to the metrics, the store
    or the reference queries — without the model; rewrites ``responses.jsonl`` (atomically) and
    the summary, and records the rescoring in ``run.json``."""
    run_dir = Path(run_dir)
    path = run_dir / RESPONSES
    if not (run_dir / RUN_FILE).is_file() or not path.is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no {RUN_FILE} and {RESPONSES})")
    info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    if info.get("devset"):  # score against the development set's current gold
        items = {i.id: i for i in load_devset(ROOT / info["source"])}
        rows = [
            score_dev_row(backend, r, items[r["id"]])
            for r in read_responses(path)
            if r["id"] in items
        ]
    else:
        rows = [score_row(backend, r) for r in read_responses(path)]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    tmp.replace(path)
    info["rescored"] = {"at": _now(), "git": git_commit(), "n": len(rows)}
    _write_run(run_dir, info)
    return summarize_run(run_dir)


def _canonical_or_none(text: str | None) -> str | None:
    from assistant.query import canonical, parse_query

    try:
        return canonical(parse_query(text or ""))
    except QueryError:
        return None


# --- the real-phrasing development set ------------------------------------------------------


@dataclass
class DevItem:
    """One development-set question: its gold (``gold``: the :data:`metrics.GOLD_KEYS` it
    names), the field specs the answer must return (``fields``), its ``kinds``, and the
    hand-written ``query`` (its ``reference_query``: how the gold was judged, never scored)."""

    id: str
    question: str
    query: str
    kinds: list[str]
    gold: dict[str, Any]
    fields: list[str]

    @property
    def intent(self) -> str:
        return self.kinds[0]

    def as_gold(self) -> dict[str, Any]:
        return {**self.gold, "fields": self.fields}


def load_devset(path: Path | str) -> list[DevItem]:
    """The items of a development-set JSONL file; a line without an id, a question, a
    reference query, kinds or any gold key raises :class:`ConfigError` naming the line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"development set not found at {path}")
    items, seen = [], set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = DevItem(
                id=str(row["id"]),
                question=row["question"],
                query=row["reference_query"],
                kinds=list(row["kinds"]),
                gold={k: row[k] for k in metrics.GOLD_KEYS if k in row},
                fields=list(row.get("fields") or []),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{n} is not a development-set item ({exc})") from None
        if not item.gold or not item.kinds or not item.question.strip():
            raise ConfigError(f"{path}:{n} needs a question, kinds and one of {metrics.GOLD_KEYS}")
        if item.id in seen:
            raise ConfigError(f"{path}:{n}: the id {item.id!r} occurs twice; ids must be unique")
        seen.add(item.id)
        items.append(item)
    return items


def run_all_hits(backend, query) -> dict[str, Any]:
    """Run a parsed query on ``backend``: ``{"total", "ids"}`` (every returned hit, in order)
    or ``{"error"}``."""
    from assistant.backends import BackendError

    try:
        result = backend.query(query)
    except (QueryError, BackendError) as exc:
        return {"error": str(exc)}
    return {"total": result.total, "ids": metrics.hit_ids(result.hits, k=len(result.hits))}


def evaluate_dev_item(bot, item: DevItem, mode: str) -> dict[str, Any]:
    """Answer one development-set question with the pipeline and score its answer
    (:func:`score_dev_row`)."""
    from assistant.pipeline import Answer

    try:
        ans = bot.answer(item.question, mode=mode)
    except AssistantError as exc:
        ans = Answer(question=item.question, mode=mode, model=bot.settings.model)
        ans.status, ans.errors, ans.answer = "failed", [str(exc)], str(exc)
    row: dict[str, Any] = {
        "id": item.id,
        "question": item.question,
        "reference": item.query,
        "kinds": item.kinds,
        "intent": item.intent,
        "output": metrics.first_line(ans.raw_output),
        "raw_output": ans.raw_output,
        "attempts": len(ans.attempts),
        "valid_first": bool(ans.attempts) and not ans.attempts[0]["errors"],
        "errors": ans.errors,
        "status": ans.status,
        "query": ans.query,
        "sent": ans.sent,
        "recovered_from": ans.recovered_from,
        "model_query": ans.model_query,
        "critic": ans.critic,
        "answer": ans.answer,
        "timings": {k: round(v, 4) for k, v in ans.timings.items()},
        "tokens": dict(ans.tokens),
    }
    final = None
    if ans.sent and ans.status in ("ok", "no_hits", "ambiguous"):
        final = {"total": ans.total, "ids": metrics.hit_ids(ans.hits, k=len(ans.hits))}
    return score_dev_row(bot.backend, row, item, final)


def score_dev_row(
    backend, row: dict[str, Any], item: DevItem, final: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Score a development-set row in place: ``scores.answer`` on the query the pipeline ran
    (``sent``; its execution ``final`` when the pipeline gives it, else it runs here),
    ``scores.answer_own`` on the model's own query (``model_query`` when the critic repaired
    it, else ``recovered_from`` when the pipeline corrected it, else the same), ``gold`` and ``fields`` of the answer, and ``why`` it missed."""
    from assistant.pipeline import with_answer_fields
    from assistant.query import parse_query

    answered = row.get("status") in ("ok", "no_hits", "ambiguous") and row.get("sent")
    sent = parse_query(row["sent"]) if answered else None
    if sent is not None and final is None:
        final = run_all_hits(backend, sent)
    own_text = row.get("model_query") or row.get("recovered_from")
    own, own_run = sent, final
    if own_text:
        own = with_answer_fields(parse_query(own_text))[0]
        own_run = run_all_hits(backend, own)
    scores = {"valid": metrics.is_valid(row.get("output"))}
    for name, query, run in (("answer", sent, final), ("answer_own", own, own_run)):
        if run is not None and "error" in run:
            query = None
        s = metrics.answer_score(
            item.as_gold(), query, (run or {}).get("total"), (run or {}).get("ids", [])
        )
        scores[name] = s["answer"]
        if name == "answer":
            scores["gold"], scores["fields"], row["why"] = s["gold"], s["fields"], s["why"]
    row["scores"] = scores
    row["execution"] = {"answer": final, "own": own_run if own_text else None}
    return row


def answer_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Answer accuracy over development-set rows: overall and ``by_kind`` (an item counts in
    each of its kinds).

    >>> rows = [{"kinds": ["alias", "typo"], "scores": {"answer": True, "answer_own": False}},
    ...         {"kinds": ["alias"], "scores": {"answer": False, "answer_own": False}}]
    >>> s = answer_summary(rows)
    >>> s["accuracy"], s["own"], s["by_kind"]["alias"]["n"], s["by_kind"]["typo"]["accuracy"]
    (0.5, 0.0, 2, 1.0)
    """

    def block(group: list[dict[str, Any]]) -> dict[str, Any]:
        def rate(name: str) -> float | None:
            return metrics.mean([float(bool(r["scores"].get(name))) for r in group])

        return {
            "n": len(group),
            "accuracy": rate("answer"),
            "own": rate("answer_own"),
            "gold": rate("gold"),
            "fields": rate("fields"),
        }

    scored = [r for r in rows if r.get("scores") and "answer" in r["scores"]]
    by_kind: dict[str, list] = defaultdict(list)
    for r in scored:
        for kind in r.get("kinds") or ["?"]:
            by_kind[kind].append(r)
    return {**block(scored), "by_kind": {k: block(v) for k, v in sorted(by_kind.items())}}


def answer_markdown(s: dict[str, Any]) -> list[str]:
    """summary.md lines of a development-set run: the headline and the per-kind table."""
    pct = metrics.as_percent
    lines = [
        "## Answer accuracy (real-phrasing development set)",
        "",
        f"**answer accuracy: {pct(s['accuracy'])}** of {s['n']} questions "
        f"(the model's own query, before any correction: {pct(s['own'])}; gold genes right: "
        f"{pct(s['gold'])}; asked-for fields returned: {pct(s['fields'])})",
        "",
        "| kind | n | answer | own query | gold | fields |",
        "|---|---|---|---|---|---|",
    ]
    for kind, v in s["by_kind"].items():
        cells = [pct(v[m]) for m in ("accuracy", "own", "gold", "fields")]
        lines.append(f"| {kind} | {v['n']} | " + " | ".join(cells) + " |")
    return lines


# --- the run folder --------------------------------------------------------------------------


def read_responses(path: Path) -> list[dict[str, Any]]:
    """The rows of ``responses.jsonl``; a line cut off by a crash is dropped (and the file
    rewritten without it, through ``responses.jsonl.tmp``)."""
    if not path.is_file():
        return []
    rows, broken = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            broken += 1
            continue
        if isinstance(row, dict) and "id" in row:
            rows.append(row)
        else:
            broken += 1
    if broken:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        tmp.replace(path)
        print(f"dropped {broken} unreadable line(s) from {path}", file=sys.stderr)
    return rows


def drop_stale(path: Path, pairs: list) -> list[dict[str, Any]]:
    """The rows of ``responses.jsonl`` that still belong to the test set; rows whose id is no
    longer in ``pairs``, or whose question or reference changed since (the split was rebuilt),
    are removed from the file so that their items run again."""
    rows = read_responses(path)
    current = {p.id: (p.question, p.query) for p in pairs}
    keep = [r for r in rows if current.get(r["id"]) == (r.get("question"), r.get("reference"))]
    if len(keep) < len(rows):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keep), "utf-8")
        tmp.replace(path)
        print(
            f"dropped {len(rows) - len(keep)} response(s) whose item changed or left the pairs "
            "file (the split was rebuilt); they run again",
            file=sys.stderr,
        )
    return keep


def git_commit() -> dict[str, Any]:
    """The checkout's commit and whether it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(dirty)}


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def check_identity(run_dir: Path, identity: dict[str, Any]) -> dict[str, Any]:
    """The folder's existing run.json (empty for a new folder); a :class:`ConfigError` when
    it was made with another model, mode, grammar, split or ks."""
    path = run_dir / RUN_FILE
    if not path.is_file():
        return {}
    old = json.loads(path.read_text(encoding="utf-8"))
    diff = [k for k in IDENTITY if k in old and old[k] != identity[k]]
    if diff:
        said = ", ".join(f"{k}={old[k]!r} (now {identity[k]!r})" for k in diff)
        raise ConfigError(
            f"{run_dir} holds a run with {said} — use another --out, or --restart to start over"
        )
    return old


def run_label(run: dict[str, Any]) -> str:
    """``qwen2.5-coder-0.5b · icl · grammar`` for tables and plots."""
    grammar = "grammar" if run.get("grammar", True) else "no grammar"
    return f"{run.get('model', '?')} · {run.get('mode', '?')} · {grammar}"


def summarize_run(run_dir: Path) -> dict[str, Any]:
    """Write summary.json, summary.md and summary.png of a run folder from its responses."""
    run_dir = Path(run_dir)
    run = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    rows = read_responses(run_dir / RESPONSES)
    summary = metrics.aggregate(rows)
    by_intent: dict[str, list] = defaultdict(list)
    for r in rows:
        by_intent[r.get("intent") or "?"].append(r)
    summary["by_intent"] = {
        k: {"n": len(v), **metrics.aggregate(v)["metrics"]} for k, v in sorted(by_intent.items())
    }
    summary["retried"] = sum(r.get("attempts", 1) > 1 for r in rows)
    summary["valid_first"] = metrics.mean([float(bool(r.get("valid_first"))) for r in rows])
    summary["leaks"] = {
        kind: sum(bool(r.get("leak", {}).get(kind)) for r in rows) for kind in ("question", "query")
    }
    if run.get("devset"):
        summary["answer"] = answer_summary(rows)
    (run_dir / SUMMARY_JSON).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    entry = {**run, "label": run_dir.name, "summary": summary}
    (run_dir / SUMMARY_MD).write_text(summary_markdown(entry), encoding="utf-8")
    plot_runs([entry], run_dir / SUMMARY_PNG, title=run_label(run))
    return summary


def summary_markdown(entry: dict[str, Any]) -> str:
    """summary.md: the table, the run's set-up, per-intent scores and latency."""
    s = entry["summary"]
    lines = [
        f"# {entry['label']}: {run_label(entry)}",
        "",
        metrics.summary_table([entry]),
        "",
        f"- items: {s['n']} ({s['errors']} not scored), split/pairs: {entry.get('source')}",
        f"- valid on the first attempt: {metrics.as_percent(s.get('valid_first'))}, "
        f"retried: {s.get('retried', 0)}",
        f"- execution scored on {s['execution_n']} items (the others' reference did not run)",
        f"- retrieved example pairs that are the test question itself: {s['leaks']['question']}; "
        f"that have the reference query: {s['leaks']['query']}",
        f"- status: {s['status']}",
        f"- command: `{entry.get('command')}` at {entry.get('git', {}).get('commit')}"
        + (" (uncommitted changes)" if entry.get("git", {}).get("dirty") else ""),
        f"- machine: {entry.get('machine', {}).get('cores')} cores, "
        f"{entry.get('n_threads')} llama.cpp threads",
        "",
        "## Latency (seconds) and tokens",
        "",
        "| stage | p50 | p95 |",
        "|---|---|---|",
    ]
    for stage, v in s["latency"].items():
        lines.append(f"| {stage} | {v['p50']:.3f} | {v['p95']:.3f} |")
    for kind, v in s["tokens"].items():
        lines.append(f"| {kind} tokens | {v['p50']:.0f} | max {v['max']} |")
    if s.get("answer"):
        lines[2:2] = [*answer_markdown(s["answer"]), ""]
    if s.get("by_intent"):
        names = metrics.TABLE_METRICS
        lines += ["", "## By intent", "", "| intent | n | " + " | ".join(names) + " |"]
        lines.append("|" + "---|" * (len(names) + 2))
        for intent, v in s["by_intent"].items():
            cells = [metrics.as_percent(v.get(m)) for m in names]
            lines.append(f"| {intent} | {v['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def examples_markdown(run_dir: Path, n: int = 5, wrong: bool = True) -> str:
    """A markdown table of ``n`` items of a run: those not exactly right (``wrong``) or all."""
    rows = read_responses(Path(run_dir) / RESPONSES)
    if wrong:
        rows = [r for r in rows if not r.get("scores", {}).get("exact")]
    lines = [
        "| id | question | reference | output | valid | execution |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows[:n]:
        scores = r.get("scores", {})
        cells = [r["id"], r.get("question", ""), r.get("reference", ""), r.get("output", "")]
        cells = [str(c).replace("|", "\\|")[:120] for c in cells]
        cells += [str(scores.get("valid", "")), str(scores.get("execution", ""))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else "(none)"


# --- plots -----------------------------------------------------------------------------------

PLOT_METRICS = ("valid", "exact", "ast", "execution", "q_terms", "fields")


def plot_runs(entries: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """A PNG with accuracy by run (model · mode · grammar) and p50 latency by stage."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = [e.get("label_long") or run_label(e) for e in entries]
    fig = Figure(figsize=(max(8, 1.6 * len(entries) + 6), 4.8), layout="constrained")
    ax_acc, ax_lat = fig.subplots(1, 2, width_ratios=[2, 1])
    width = 0.8 / len(PLOT_METRICS)
    for i, name in enumerate(PLOT_METRICS):
        values = [e["summary"]["metrics"].get(name) or 0.0 for e in entries]
        xs = [x + (i - (len(PLOT_METRICS) - 1) / 2) * width for x in range(len(entries))]
        ax_acc.bar(xs, values, width, label=name)
    ax_acc.set_xticks(range(len(entries)), labels, rotation=20, ha="right", fontsize=8)
    ax_acc.set_ylim(0, 1.3)  # room for the legend above the bars
    ax_acc.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax_acc.set_ylabel("share of items")
    ax_acc.set_title("accuracy")
    ax_acc.legend(fontsize=7, ncols=len(PLOT_METRICS), loc="upper center")
    stages = ("retrieve", "generate", "execute")
    width = 0.8 / len(stages)
    for i, stage in enumerate(stages):
        values = [e["summary"]["latency"].get(stage, {}).get("p50", 0.0) for e in entries]
        xs = [x + (i - (len(stages) - 1) / 2) * width for x in range(len(entries))]
        ax_lat.bar(xs, values, width, label=stage)
    ax_lat.set_xticks(range(len(entries)), labels, rotation=20, ha="right", fontsize=8)
    ax_lat.set_ylabel("seconds (p50)")
    ax_lat.set_title("latency by stage")
    ax_lat.set_ylim(0, 1.3 * max([ax_lat.get_ylim()[1], 0.01]))
    ax_lat.legend(fontsize=7, ncols=len(stages), loc="upper center")
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


# --- comparing runs --------------------------------------------------------------------------


def load_runs(paths: list[Path], recompute: bool = True) -> list[dict[str, Any]]:
    """The run folders among ``paths`` (others are skipped), each as run.json plus ``label``
    (the folder name) and ``summary`` (recomputed when summary.json is missing or, with
    ``recompute``, older than the responses)."""
    entries = []
    for path in sorted(Path(p) for p in paths):
        if not path.is_dir():
            continue
        if not (path / RUN_FILE).is_file():
            print(f"skipping {path}: no {RUN_FILE}", file=sys.stderr)
            continue
        summary_path, responses = path / SUMMARY_JSON, path / RESPONSES
        stale = not summary_path.is_file() or (
            recompute
            and responses.is_file()
            and responses.stat().st_mtime > summary_path.stat().st_mtime
        )
        summary = (
            summarize_run(path) if stale else json.loads(summary_path.read_text(encoding="utf-8"))
        )
        run = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
        entries.append({**run, "label": path.name, "summary": summary})
    return entries


def compare(paths: list[Path], out_dir: Path | None = None) -> str:
    """The markdown table across run folders; also writes comparison.md and comparison.png
    into ``out_dir`` (default: the folder holding the runs)."""
    entries = load_runs(paths)
    if not entries:
        raise ConfigError("no run folders among the paths given (a run folder has a run.json)")
    table = metrics.summary_table(entries)
    if out_dir is None:
        out_dir = Path(os.path.commonpath([Path(p).resolve() for p in paths]))
        if out_dir.joinpath(RUN_FILE).is_file():  # one run folder given
            out_dir = out_dir.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "comparison.md").write_text(table + "\n", encoding="utf-8")
    plot_runs(entries, out_dir / "comparison.png", title="query generation by run")
    return table


README_METRICS = ("valid", "exact", "ast", "execution", "q_terms", "fields", "species")
MODE_ORDER = ("ft", "ft+rag", "zero-shot", "rag", "icl", "rag+icl")
DISPLAY_ONLY_FLAGS = ("--no-progress",)


def run_command(entry: dict[str, Any]) -> str:
    """The command that produced a run's full item set: its last call (a resumed run's earlier
    calls only did a prefix of the same items), without flags that change only the display."""
    command = entry.get("command") or (entry.get("commands") or [""])[-1]
    words = [w for w in shlex.split(command) if w not in DISPLAY_ONLY_FLAGS]
    return shlex.join(words)


def readme_table(entries: list[dict[str, Any]], default_model: str | None = None) -> str:
    """The README's evaluation table: a row per run with its command, the ``default_model``'s
    runs first, then the model with most runs; modes in :data:`MODE_ORDER`, grammar on first.

    >>> from assistant.metrics import aggregate
    >>> s = aggregate([{"scores": {"valid": True, "exact": True}, "timings": {"generate": 0.5}}])
    >>> e = {"model": "m", "mode": "icl", "grammar": True, "summary": s,
    ...      "command": "python evals/eval_lm.py --mode icl --no-progress"}
    >>> print(readme_table([e]).splitlines()[2])
    | m | icl | on | 1 | 100% | 100% | – | – | – | – | – | 0.50 | – | – | `python evals/eval_lm.py --mode icl` |
    """
    runs_per_model: dict[str, int] = defaultdict(int)
    for e in entries:
        runs_per_model[e.get("model", "")] += 1

    def order(e: dict[str, Any]) -> tuple:
        model, mode = e.get("model", ""), e.get("mode", "")
        return (
            model != default_model,
            -runs_per_model[model],
            model,
            MODE_ORDER.index(mode) if mode in MODE_ORDER else len(MODE_ORDER),
            not e.get("grammar", True),
        )

    head = ["model", "mode", "grammar", "n", *README_METRICS]
    head += ["generate p50 s", "total p50 s", "prompt tok", "command"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in sorted(entries, key=order):
        s = e["summary"]
        lat, tokens = s.get("latency", {}), s.get("tokens", {})
        cells = [
            e.get("model", ""),
            e.get("mode", ""),
            "on" if e.get("grammar", True) else "off",
            str(s.get("scored", s.get("n", 0))),
            *(metrics.as_percent(s["metrics"].get(m)) for m in README_METRICS),
            metrics.seconds(lat.get("generate", {}).get("p50")),
            metrics.seconds(lat.get("total", {}).get("p50")),
            metrics.token_count(tokens.get("prompt", {}).get("mean")),
            f"`{run_command(e)}`",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_readme_table(paths: list[Path], readme: Path) -> bool:
    """Replace the evaluation table in ``readme`` with the runs among ``paths``."""
    entries = load_runs(paths)
    if not entries:
        raise ConfigError("no run folders among the paths given (a run folder has a run.json)")
    return write_block(readme, "eval", readme_table(entries, Settings().model))


# --- the command -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python evals/eval_lm.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--mode", choices=MODE_CHOICES, help="Prompt mode (zero = zero-shot).")
    ap.add_argument("--model", help="Registry name, .gguf path or openai:<model> (QA_MODEL).")
    ap.add_argument(
        "--grammar",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Constrain generation with the GBNF grammar (default on; QA_USE_GRAMMAR).",
    )
    ap.add_argument(
        "--retry",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Retry an invalid query once with its errors, as the page does (default on).",
    )
    ap.add_argument("--split", default="test", help="Split of the pairs folder (default test).")
    ap.add_argument("--pairs", type=Path, help="Evaluate this JSONL of question/query lines.")
    ap.add_argument(
        "--devset",
        type=Path,
        help="Evaluate this development set by answer accuracy (--split real: "
        "evals/devset/real_phrasing.jsonl; --split holdout, holdout2, holdout3: "
        "real_phrasing_holdout.jsonl, _holdout2.jsonl, _holdout3.jsonl).",
    )
    ap.add_argument("--limit", type=int, help="Evaluate only the first N items.")
    ap.add_argument("--out", type=Path, help="Run folder (default evals/results/<run name>).")
    ap.add_argument("--restart", action="store_true", help="Discard the run folder's responses.")
    ap.add_argument("--no-progress", action="store_true", help="No progress bar.")
    ap.add_argument(
        "--compare", nargs="+", type=Path, metavar="RUN", help="Compare run folders and exit."
    )
    ap.add_argument(
        "--rescore",
        nargs="+",
        type=Path,
        metavar="RUN",
        help="Score these run folders' stored responses again (no model) and exit.",
    )
    ap.add_argument("--compare-out", type=Path, help="Where --compare writes its md and png.")
    ap.add_argument(
        "--write",
        type=Path,
        metavar="README",
        help="With --compare: replace the table between the eval markers of this file.",
    )
    add_settings_arguments(ap, SETTING_FLAGS)
    return ap


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Evaluate (or resume) one run; returns its summary."""
    from tqdm import tqdm

    from assistant.pipeline import Assistant

    overrides: dict[str, Any] = {"backend": "embedded"}
    if args.model:
        overrides["model"] = args.model
    if args.grammar is not None:
        overrides["use_grammar"] = args.grammar
    if args.retry is not None:
        overrides["retry_invalid"] = args.retry
    if args.mode:
        overrides["mode"] = MODE_NAMES.get(args.mode, args.mode)
    settings = settings_from_args(args, **overrides)
    mode = settings.mode
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    devset = args.devset or DEVSET_SPLITS.get(args.split)
    if devset is not None and args.pairs is not None:
        raise ConfigError("--devset (or --split real/holdout) and --pairs exclude each other")
    if devset is not None:
        all_pairs, source = load_devset(devset), _relative(devset)
        split = Path(devset).stem
    else:
        all_pairs, source = load_items(settings, args.split, args.pairs)
        split = args.split if args.pairs is None else Path(args.pairs).stem
    pairs = all_pairs[: args.limit] if args.limit else all_pairs
    identity = {
        "model": settings.model,
        "mode": mode,
        "grammar": settings.use_grammar,
        "retry": settings.retry_invalid,
        "split": split,
        "source": source,
        "k_pairs": settings.k_pairs,
        "k_fields": settings.k_fields,
        "k_docs": settings.k_docs,
    }
    name = f"{settings.model}-{mode}-{'grammar' if settings.use_grammar else 'nogrammar'}-{split}"
    run_dir = args.out or settings.results_dir / metrics.slug(Path(name).name)
    run_dir.mkdir(parents=True, exist_ok=True)
    responses = run_dir / RESPONSES
    if args.restart:
        for f in (responses, run_dir / RUN_FILE, run_dir / SUMMARY_JSON):
            f.unlink(missing_ok=True)
    old = check_identity(run_dir, identity)
    done = {r["id"] for r in drop_stale(responses, all_pairs)}
    todo = [p for p in pairs if p.id not in done]
    command = shlex.join(["python", "evals/eval_lm.py", *argv])
    run_info = {
        **identity,
        "command": command,
        "commands": [*old.get("commands", []), command],
        "model_path": None,
        "lora_path": str(settings.lora_path) if settings.lora_path else None,
        "n_threads": settings.n_threads,
        "query_max_tokens": settings.query_max_tokens,
        "store_path": _relative(settings.store_path),
        "pairs_sha256": _sha256(ROOT / source),  # source is relative to ROOT or absolute
        "limit": args.limit,
        "devset": devset is not None,
        "git": git_commit(),
        "machine": machine(),
        "started": old.get("started") or _now(),
    }
    print(
        f"{run_dir}: {len(pairs)} items from {source}, {len(pairs) - len(todo)} already done, "
        f"{len(todo)} to run ({settings.model}, {mode}, grammar "
        f"{'on' if settings.use_grammar else 'off'})",
        file=sys.stderr,
    )
    t_run = time.perf_counter()
    if todo:
        bot = Assistant(settings)
        t0 = time.perf_counter()
        bot.load(mode)
        run_info["load_s"] = round(time.perf_counter() - t0, 2)
        run_info["model"] = settings.model
        run_info["model_name"] = bot.model.name
        model_path = getattr(bot.model, "model_path", None)
        run_info["model_path"] = _relative(model_path) if model_path else None
        _write_run(run_dir, run_info)  # before the first item: a crash leaves a resumable folder
        bar = tqdm(todo, desc=run_dir.name, unit="q", disable=args.no_progress, file=sys.stderr)
        counts = {"valid": 0, "exact": 0, "answer": 0, "n": 0}
        for pair in bar:
            if devset is not None:
                row = evaluate_dev_item(bot, pair, mode)
            else:
                row = evaluate_item(bot, pair, mode)
            # opened per item: a file replaced under a long run (a git checkout or stash, a
            # sync) gets the next rows instead of an unlinked inode that vanishes at exit
            with responses.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            scores = row.get("scores", {})
            counts["n"] += 1
            counts["valid"] += bool(scores.get("valid"))
            counts["exact"] += bool(scores.get("exact"))
            counts["answer"] += bool(scores.get("answer"))
            shown = ("valid", "answer") if devset is not None else ("valid", "exact")
            bar.set_postfix({k: f"{counts[k] / counts['n']:.0%}" for k in shown})
    rows = read_responses(responses)
    run_info.update(
        n=len(rows),
        seconds_this_call=round(time.perf_counter() - t_run, 1),
        finished=_now(),
    )
    _write_run(run_dir, run_info)
    summary = summarize_run(run_dir)
    return {"run_dir": str(run_dir), **summary}


def rescore_runs(args: argparse.Namespace) -> None:
    """``--rescore RUN ...``: :func:`rescore` each folder on the configured embedded store."""
    from assistant.backends import get_backend

    settings = settings_from_args(args, backend="embedded")
    backend = get_backend(settings)
    entries = []
    for run_dir in args.rescore:
        summary = rescore(run_dir, backend)
        run = json.loads((Path(run_dir) / RUN_FILE).read_text(encoding="utf-8"))
        entries.append({**run, "label": Path(run_dir).name, "summary": summary})
        print(f"rescored {run_dir}: {summary['n']} responses", file=sys.stderr)
    print(metrics.summary_table(entries))


def _write_run(run_dir: Path, info: dict[str, Any]) -> None:
    tmp = run_dir / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(run_dir / RUN_FILE)


def _sha256(path: Path | str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.write and not args.compare:
        parser.error("--write goes with --compare RUN ...")
    if args.rescore:
        return run_edge(lambda: rescore_runs(args))
    if args.compare:

        def compare_and_write() -> None:
            print(compare(args.compare, args.compare_out))
            if args.write:
                changed = write_readme_table(args.compare, args.write)
                print(
                    f"{'updated' if changed else 'unchanged'}: the evaluation table in {args.write}"
                )

        return run_edge(compare_and_write)
    result: dict[str, Any] = {}
    status = run_edge(
        lambda: result.update(run(args, argv)),
        interrupted="interrupted — rerun the same command to resume",
    )
    if status:
        return status
    summary = result
    entry = json.loads((Path(summary["run_dir"]) / RUN_FILE).read_text(encoding="utf-8"))
    print(
        metrics.summary_table(
            [{**entry, "label": Path(summary["run_dir"]).name, "summary": summary}]
        )
    )
    if summary.get("answer"):
        print("\n".join(answer_markdown(summary["answer"])[2:]))
    print(f"wrote {summary['run_dir']}/{{{RESPONSES},{SUMMARY_JSON},{SUMMARY_MD},{SUMMARY_PNG}}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
