"""``python -m assistant config``: show the effective settings or the README table."""

from __future__ import annotations

import json
from pathlib import Path

from .config import Settings, markdown_table


def add_commands(sub) -> None:
    p = sub.add_parser("config", help="Show the effective settings (or --markdown for the README).")
    p.add_argument("--markdown", action="store_true", help="Print the configuration table.")
    p.add_argument(
        "--write", metavar="README", help="Replace the table between the config markers in README."
    )
    p.set_defaults(func=run)


START, END = "<!-- config:start -->", "<!-- config:end -->"


def with_table(readme: str) -> str:
    """README text with the configuration table between its markers replaced."""
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{markdown_table()}\n{END}{tail}"


def run(args) -> int:
    if args.write:
        path = Path(args.write)
        path.write_text(with_table(path.read_text()))
        print(f"updated the configuration table in {path}")
    elif args.markdown:
        print(markdown_table())
    else:
        print(json.dumps(Settings().model_dump(mode="json"), indent=2))
    return 0
