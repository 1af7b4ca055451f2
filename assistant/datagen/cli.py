"""``python -m assistant datagen LOG... [--out DIR]``: access logs → training pairs."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from ..config import add_settings_arguments, settings_from_args
from ..errors import ConfigError
from ..pairs import SPLITS
from .endpoint import add_endpoint_arguments

SETTINGS = ["backend", "store_path", "live_url"]
"""Settings of the backend the queries are checked on (the endpoint's come from
:func:`~assistant.datagen.endpoint.add_endpoint_arguments`)."""

EPILOG = """\
Reads nginx/Apache combined logs, CSV exports with a log.path column, JSONL of query strings and
the assistant's own access log (plain or .gz, detected per file or line). Keeps GET/POST
/v3/query and /v3/gene/{id} requests, normalizes them, keeps up to --per-signature diverse
queries per structural signature that return hits, and writes instructions for each query.

--writer template (the default, offline, no model): --per-query instructions per query written
from its structure (entities, species, fields, size, paging) in several people's styles, all
checked; shapes the synthetic generator does not cover are reported under "uncovered".
--writer model: a model writes an imperative and a question per query (checked; failures
regenerated or dropped). The model is OpenAI (or any OpenAI-compatible server) when
QA_OPENAI_API_KEY is set (e.g. in .env), otherwise a llama_cpp.server started on
127.0.0.1:--server-port with --model (a fine-tuned query adapter such as the default is
replaced by its base instruct model) and stopped afterwards.

--paraphrase: a base instruct model (--paraphrase-model, default --model; a fine-tuned query
adapter is replaced by its base model; OpenAI-compatible with QA_OPENAI_API_KEY) also rephrases
each template sentence the way a biologist would; paraphrases pass the same checks.

--round-trip (the default when the model can run here): the assistant's model
(--round-trip-model, default --model: the fine-tuned adapter in mode ft) writes a query from each
pair's instruction alone; a pair is kept only when that query finds the same genes and returns the
same field families as the logged one (the execution metric of evals/eval_lm.py). Failures go to
roundtrip_failed.jsonl with the reason; corrections (trusted) stay, marked. report.json gives the
pass rate per writer and per intent.

Writes to --out: train/validation/test.jsonl, hf/, stats.json, queries.jsonl, report.json
(every rejection and skip, counted), roundtrip_failed.jsonl and work.jsonl (rerun the same
command to resume).

examples: python -m assistant datagen ../shared/data/seed/query_log_sample.jsonl \\
              --out data/logs/pairs-sample
          python -m assistant datagen access.log --out data/logs/pairs-access \\
              --writer model --model qwen2.5-coder-0.5b --limit 10
"""


def add_commands(sub) -> None:
    p = sub.add_parser(
        "datagen",
        help="Turn API access logs into question→query training pairs.",
        description="Turn API access logs into question→query training pairs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("logs", nargs="+", type=Path, help="Log files or folders (.gz read as such).")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Output folder (default: <log_dir>/pairs-<name>; never data/pairs).",
    )
    p.add_argument("--name", default=None, help="Name of the default output folder.")
    p.add_argument("--per-signature", type=int, default=5, help="Queries kept per signature.")
    p.add_argument(
        "--limit", type=int, default=None, help="Write instructions for at most N new queries."
    )
    p.add_argument(
        "--writer",
        default="template",
        help="Who writes the instructions: template (default, deterministic, no model) or model.",
    )
    p.add_argument(
        "--per-query",
        type=int,
        default=None,
        help="Instructions per query of the template writer (default 3).",
    )
    p.add_argument(
        "--paraphrase",
        action="store_true",
        help="Also have a base instruct model rephrase each template sentence (checked too).",
    )
    p.add_argument(
        "--paraphrase-model",
        default=None,
        help="Model that rephrases (default: --model; an adapter is replaced by its base).",
    )
    p.add_argument(
        "--round-trip",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Keep only pairs whose instruction makes the assistant's model write a query that "
        "finds the same genes and field families (default: on when the model can run here).",
    )
    p.add_argument(
        "--round-trip-model",
        default=None,
        help="Model of the round trip (default: --model, i.e. the fine-tuned adapter).",
    )
    p.add_argument(
        "--retries", type=int, default=2, help="Regenerations of failed model instructions."
    )
    p.add_argument(
        "--no-llm", action="store_true", help="Stop after selecting queries (no instructions)."
    )
    p.add_argument(
        "--split",
        default=None,
        help="Split fractions train,validation,test (default 0.9,0.05,0.05).",
    )
    p.add_argument("--split-seed", type=int, default=0, help="Seed of the split.")
    p.add_argument("--no-progress", action="store_true", help="No progress bars.")
    add_settings_arguments(p, SETTINGS)
    add_endpoint_arguments(p)
    p.set_defaults(func=_cmd_datagen)


def _fractions(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if len(values) != len(SPLITS) or any(v < 0 for v in values) or sum(values) <= 0:
        raise ConfigError(f"--split takes three fractions such as 0.9,0.05,0.05, got {text!r}")
    return dict(zip(SPLITS, values))


def default_out(settings, logs: list[Path], name: str | None) -> Path:
    """``<log_dir>/pairs-<name>``, the name defaulting to the first log's stem.

    >>> from assistant.config import Settings
    >>> default_out(Settings(log_dir="data/logs"), [Path("access-2025.log.gz")], None)
    PosixPath('data/logs/pairs-access-2025')
    """
    stem = name or re.sub(r"(\.(gz|log|jsonl|json|csv|tsv|txt))+$", "", logs[0].name) or "logs"
    return Path(settings.log_dir) / f"pairs-{stem}"


def quiet_http_logs() -> None:
    """No INFO line per model request (httpx logs each one)."""
    for name in ("httpx", "httpx2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _cmd_datagen(args) -> int:
    from .run import Options, check_writer, run_datagen

    quiet_http_logs()
    settings = settings_from_args(args)
    if args.per_signature < 1:
        raise ConfigError("--per-signature must be at least 1")
    if args.per_query is not None and args.per_query < 1:
        raise ConfigError("--per-query must be at least 1")
    options = Options(
        inputs=args.logs,
        out=args.out or default_out(settings, args.logs, args.name),
        per_signature=args.per_signature,
        limit=args.limit,
        retries=max(0, args.retries),
        llm=not args.no_llm,
        writer=check_writer(args.writer),
        split_seed=args.split_seed,
        timeout=args.timeout,
        start_timeout=args.start_timeout,
        progress=not args.no_progress and sys.stderr.isatty(),
        paraphrase=args.paraphrase,
        paraphrase_model=args.paraphrase_model,
        round_trip=args.round_trip,
        round_trip_model=args.round_trip_model,
    )
    if args.per_query is not None:
        options.per_query = args.per_query
    fractions = _fractions(args.split)
    if fractions:
        options.fractions = fractions
    result = run_datagen(settings, options)
    print(result.report.text())
    info = result.report.info
    print(
        f"\n{info.get('distinct_queries', 0)} distinct queries in {info.get('signatures', 0)} "
        f"signatures; pairs {result.stats['splits']} (leaks {result.stats['leaks']})"
    )
    print(
        f"timings (s): {info.get('seconds')}" + (f"; model {info['llm']}" if "llm" in info else "")
    )
    trip = info.get("round_trip")
    if trip and "skipped" in trip:
        print(f"round trip skipped: {trip['skipped']}")
    elif trip:
        print(f"round trip ({trip['model']}): {trip['passed']}/{trip['checked']} passed")
        for group in ("by_writer", "by_intent"):
            rates = ", ".join(f"{k} {v['passed']}/{v['checked']}" for k, v in trip[group].items())
            print(f"  {group.replace('_', ' ')}: {rates}")
    print(f"wrote {result.out} (report.json has every rejection and skip)")
    if not result.complete:
        print(f"incomplete: {info.get('stopped', '')}", file=sys.stderr)
        return 1
    return 0
