"""Generated blocks inside hand-written files (the README's configuration and evaluation tables).

A block sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` lines; the commands that own
a block (``python -m assistant config --write README.md``, ``python evals/eval_lm.py --compare …
--write README.md``) replace what is between the markers and leave the rest of the file alone.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def markers(name: str) -> tuple[str, str]:
    """The start and end marker of block ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` holding ``body``.

    >>> replace_block("a\\n<!-- t:start -->\\nold\\n<!-- t:end -->\\nb", "t", "new")
    'a\\n<!-- t:start -->\\nnew\\n<!-- t:end -->\\nb'
    """
    start, end = markers(name)
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found_start and found_end):
        raise ConfigError(f"no {start} … {end} block to replace")
    return f"{head}{start}\n{body.strip()}\n{end}{tail}"


def write_block(path: Path | str, name: str, body: str) -> bool:
    """Replace block ``name`` in the file at ``path``; True when the file changed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    new = replace_block(text, name, body)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text
