"""``python -m assistant <command> ...``: the command line.

Each command group lives beside the code it drives and registers itself through an
``add_commands(subparsers)`` function; this module only dispatches and turns the project's
errors into one-line messages (the only place besides the HTTP service and the page that does).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

from .errors import AssistantError

# Modules that contribute commands; each defines add_commands(subparsers).
COMMAND_MODULES = [
    "assistant.store.cli",
    "assistant.config_cli",
    "assistant.grammar",
    "assistant.model_cli",
    "assistant.retrieval",
    "assistant.ask_cli",
    "assistant.synth",
    "assistant.datagen.cli",
    "assistant.annotate",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant",
        description="Query Assistant: questions about genes answered with MyGene.info queries.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Log debug messages.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_edge(args.func, args)


def run_edge(func: Callable[..., int | None], *args: Any, interrupted: str = "interrupted") -> int:
    """Run a command's ``func(*args)``: the project's errors become a one-line message and exit
    status 2, Ctrl-C the ``interrupted`` hint and 130 (shared by every command-line entry)."""
    try:
        return func(*args) or 0
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
