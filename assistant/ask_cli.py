"""``python -m assistant ask``: answer questions from the command line.

    python -m assistant ask "what is the official symbol of LMP10?"
    python -m assistant ask "where is human BRCA1?" --mode rag --model smollm2-135m --json
    python -m assistant ask --batch questions.jsonl --out answers.jsonl   # {"question": ...} lines

The model loads once; a batch reuses it for every line. With ``--json`` (and in the batch
output) each answer is one JSON object: question, query, valid, errors, total, hits, answer,
mode, model, timings (retrieve, generate, execute, summarize, total; seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import add_settings_arguments, settings_from_args
from .errors import ConfigError
from .prompts import MODES

SETTING_FLAGS = ["store_path", "live_url", "max_size", "n_threads", "k_pairs", "k_fields"]


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "ask",
        help="Answer a question about genes (writes, runs and summarizes a MyGene query).",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("question", nargs="?", help='e.g. "what is the official symbol of LMP10?"')
    p.add_argument("--mode", choices=MODES, default=None, help="Prompt mode (default QA_MODE).")
    p.add_argument(
        "--model", default=None, help="Registry name, .gguf path or openai:<model> (QA_MODEL)."
    )
    p.add_argument(
        "--backend", choices=["embedded", "live"], default=None, help="Where queries run."
    )
    p.add_argument("--json", action="store_true", help="Print one JSON object per answer.")
    p.add_argument("--trace", action="store_true", help="With --json: include the full trace.")
    p.add_argument("--batch", type=Path, help='A JSONL file of {"question": ...} lines.')
    p.add_argument("--out", type=Path, help="Where --batch writes its answers (default stdout).")
    p.add_argument("--llm-summary", action="store_true", help="Add a checked model summary.")
    add_settings_arguments(p, SETTING_FLAGS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .pipeline import Assistant

    overrides = {
        k: v
        for k, v in {"mode": args.mode, "model": args.model, "backend": args.backend}.items()
        if v is not None
    }
    if args.llm_summary:
        overrides["llm_summary"] = True
    settings = settings_from_args(args, **overrides)
    if args.batch is None and args.question is None:
        raise ConfigError('give a question (ask "what is CDK2?") or --batch questions.jsonl')
    bot = Assistant(settings)
    if args.batch is not None:
        return _batch(bot, args)
    answer = bot.answer(args.question)
    if args.json:
        print(json.dumps(answer.to_json(trace=args.trace), ensure_ascii=False, default=str))
    else:
        print(render(answer))
    return 0 if answer.status in ("ok", "no_hits", "ambiguous") else 1


def _batch(bot, args: argparse.Namespace) -> int:
    try:
        lines = args.batch.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"batch file not found at {args.batch}") from None
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    done = 0
    try:
        bot.load()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                question = row["question"] if isinstance(row, dict) else row
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ConfigError(
                    f'{args.batch}:{n} is not a JSON line with a "question" key'
                ) from None
            answer = bot.answer(question)
            out.write(
                json.dumps(answer.to_json(trace=args.trace), ensure_ascii=False, default=str) + "\n"
            )
            out.flush()
            done += 1
            if args.out:
                print(
                    f"[{done}] {answer.status:9} {answer.timings['total']:.2f}s  "
                    f"{answer.question[:60]}",
                    file=sys.stderr,
                )
    finally:
        if args.out:
            out.close()
    if args.out:
        print(f"wrote {done} answers to {args.out}", file=sys.stderr)
    return 0


def render(answer) -> str:
    """The answer for a terminal: query, answer, table, notes and timings."""
    lines = []
    if answer.query:
        lines.append(f"query:  {answer.query}" + ("" if answer.valid else "  (invalid)"))
    if answer.url:
        lines.append(f"link:   {answer.url}")
    lines.append(f"answer: {answer.answer}")
    if answer.llm_summary:
        lines.append(f"model:  {answer.llm_summary}")
    if answer.rows:
        lines += ["", _text_table(answer.columns, answer.rows)]
        if answer.total > len(answer.rows):
            lines.append(f"({len(answer.rows)} of {answer.total} hits)")
    for note in answer.notes:
        lines.append(f"note:   {note}")
    t = answer.timings
    lines.append(
        f"[{answer.mode}, {answer.model}, {answer.backend or '-'}] "
        + " ".join(f"{k} {t[k]:.2f}s" for k in ("retrieve", "generate", "execute", "summarize"))
        + f" total {t['total']:.2f}s"
    )
    return "\n".join(lines)


def _text_table(columns: list[str], rows: list[list[str]], width: int = 48) -> str:
    cells = [[c if len(c) <= width else c[: width - 1] + "…" for c in row] for row in rows]
    sizes = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(columns)]
    fmt = "  ".join(f"{{:<{n}}}" for n in sizes)
    out = [fmt.format(*columns), fmt.format(*("-" * n for n in sizes))]
    out += [fmt.format(*row) for row in cells]
    return "\n".join(line.rstrip() for line in out)
