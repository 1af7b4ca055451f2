"""The work file of a ``datagen`` run: an append-only JSONL journal of finished steps, so that a
rerun (after a crash, a dead server or ``--limit``) continues where the last run stopped and
never writes a pair twice.

Lines are ``{"step": "executed", "key": <canonical query>, "backend": "embedded", "total": 3}``
(or ``"reason": "no_hits"``), ``{"step": "instructed", "key": ..., "instructions": {...},
"problems": {...}}``, ``{"step": "paraphrased", "key": ..., "writer": "paraphrase:<model>",
"paraphrases": {...}}`` and ``{"step": "round_trip", "key": ..., "question": ..., "model": ...,
"passed": true}`` (:mod:`.roundtrip`). Each line is flushed and synced as it is written; a torn last line (the
process was killed mid-write) is skipped on reading.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "work.jsonl"
>>> w = WorkFile(path)
>>> w.add({"step": "executed", "key": "/v3/gene/1017", "backend": "embedded", "total": 1})
>>> _ = open(path, "a").write('{"step": "instr')  # a torn line
>>> w2 = WorkFile(path)
>>> w2.executed[("embedded", "/v3/gene/1017")]["total"], w2.torn
(1, 1)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class WorkFile:
    """Finished steps by key: ``executed[(backend, key)]``, ``instructed[key]``,
    ``paraphrased[(writer, key)]`` and ``round_trips[(model, key, question)]``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.executed: dict[tuple[str, str], dict[str, Any]] = {}
        self.instructed: dict[str, dict[str, Any]] = {}
        self.paraphrased: dict[tuple[str, str], dict[str, Any]] = {}
        self.round_trips: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.torn = 0
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                    self._index(row)
                except (json.JSONDecodeError, KeyError, TypeError):
                    self.torn += 1

    def _index(self, row: dict[str, Any]) -> None:
        if row["step"] == "executed":
            self.executed[(row["backend"], row["key"])] = row
        elif row["step"] == "instructed":
            self.instructed[row["key"]] = row
        elif row["step"] == "paraphrased":
            self.paraphrased[(row["writer"], row["key"])] = row
        elif row["step"] == "round_trip":
            self.round_trips[(row["model"], row["key"], row["question"])] = row

    def add(self, row: dict[str, Any]) -> None:
        """Append one finished step (durably) and index it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        needs_newline = (
            self.path.is_file()
            and self.path.stat().st_size > 0
            and not _ends_with_newline(self.path)
        )
        with open(self.path, "a", encoding="utf-8") as fh:
            if needs_newline:
                fh.write("\n")  # after a torn line, start a fresh one
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._index(row)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
