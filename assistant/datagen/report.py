"""The rejection and skip report of a ``datagen`` or ``annotate`` run.

Every record that does not become a pair is counted under a stage and a reason, with a few
examples, so that a run over a year of logs says exactly what it threw away and why:

>>> r = Report()
>>> r.reject("extract", "non_api_path", "/favicon.ico")
>>> r.reject("extract", "non_api_path", "/wp-login.php")
>>> r.count("read", "combined")
>>> r.counts["extract"]["non_api_path"], r.examples["extract/non_api_path"]
(2, ['/favicon.ico', '/wp-login.php'])
>>> print(r.text().splitlines()[0])
extract
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

MAX_EXAMPLES = 3
EXAMPLE_CHARS = 160


class Report:
    """Counters per stage (``read``, ``extract``, ``select``, ``execute``, ``instruct``, ...)
    and reason, a few examples per reason, and free-form notes (timings, totals)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.info: dict[str, Any] = {}

    def count(self, stage: str, reason: str, n: int = 1) -> None:
        """Add ``n`` to ``stage/reason`` (no example)."""
        self.counts[stage][reason] += n

    def reject(self, stage: str, reason: str, example: str | None = None, n: int = 1) -> None:
        """Count one rejection and keep its example (the first few per reason)."""
        self.counts[stage][reason] += n
        key = f"{stage}/{reason}"
        if example is not None and len(self.examples[key]) < MAX_EXAMPLES:
            text = " ".join(str(example).split())
            if len(text) > EXAMPLE_CHARS:
                text = text[: EXAMPLE_CHARS - 1] + "…"
            if text not in self.examples[key]:
                self.examples[key].append(text)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"counts": {stage: {reason: n}}, "examples": {...}, **info}``."""
        return {
            **self.info,
            "counts": {
                stage: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
                for stage, c in self.counts.items()
            },
            "examples": dict(self.examples),
        }

    def save(self, path: Path) -> Path:
        """Write :meth:`to_dict` as indented JSON (atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(path)
        return path

    def text(self) -> str:
        """The report as indented lines: one block per stage, reasons by count."""
        lines = []
        for stage, counter in self.counts.items():
            lines.append(stage)
            for reason, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
                example = self.examples.get(f"{stage}/{reason}")
                hint = f"   e.g. {example[0]}" if example else ""
                lines.append(f"  {reason:<32} {n:>8}{hint}")
        return "\n".join(lines)
