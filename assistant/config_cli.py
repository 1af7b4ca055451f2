"""``python -m assistant config``: show the effective settings or the README table."""

from __future__ import annotations

import json

from .config import Settings, markdown_table


def add_commands(sub) -> None:
    p = sub.add_parser("config", help="Show the effective settings (or --markdown for the README).")
    p.add_argument("--markdown", action="store_true", help="Print the configuration table.")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.markdown:
        print(markdown_table())
    else:
        print(json.dumps(Settings().model_dump(mode="json"), indent=2))
    return 0
