"""``python -m assistant config``: show the effective settings or the README table."""

from __future__ import annotations

import json

from .config import Settings, markdown_table
from .markers import replace_block, write_block


def add_commands(sub) -> None:
    p = sub.add_parser("config", help="Show the effective settings (or --markdown for the README).")
    p.add_argument("--markdown", action="store_true", help="Print the configuration table.")
    p.add_argument(
        "--write", metavar="README", help="Replace the table between the config markers in README."
    )
    p.set_defaults(func=run)


def with_table(readme: str) -> str:
    """README text with the configuration table between its markers replaced."""
    return replace_block(readme, "config", markdown_table())


def run(args) -> int:
    if args.write:
        changed = write_block(args.write, "config", markdown_table())
        print(f"{'updated' if changed else 'unchanged'}: the configuration table in {args.write}")
    elif args.markdown:
        print(markdown_table())
    else:
        print(json.dumps(shown(Settings()), indent=2))
    return 0


def shown(settings: Settings) -> dict:
    """The settings as ``config`` prints them: secrets (fields with ``repr=False``, such as
    ``openai_api_key``) as ``***`` when set."""
    data = settings.model_dump(mode="json")
    for name, info in Settings.model_fields.items():
        if not info.repr and data.get(name) is not None:
            data[name] = "***"
    return data
