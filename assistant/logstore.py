"""The assistant's own log: every question, generated query, executed query, verdict and
correction the page sees, in a SQLite database (WAL mode, named migrations) and — for executed
queries, verdicts and corrections — as lines of the access log that ``datagen`` reads.

Access-log lines (JSONL, appended under a lock; the format is fixed in the project's formats
notes)::

    {"time": "2026-11-21T05:55:29Z", "source": "assistant", "event": "executed",
     "session": "c0ffee", "question": "what's the entrez id of human CDK2?",
     "generated": "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene",
     "query": "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene", "total": 1,
     "verdict": null, "mode": "zero-shot", "model": "qwen2.5-coder-0.5b", "backend": "embedded"}

>>> log = InteractionLog("data/logs/interactions.sqlite", "data/logs/access.jsonl")  # doctest: +SKIP
>>> row = log.record_answer(answer, session="c0ffee", kind="ask")                    # doctest: +SKIP
>>> log.record_correction(row, "/v3/query?q=symbol:CDK2&fields=entrezgene")          # doctest: +SKIP

The database is opened per operation (one short connection each, ``busy_timeout`` so that
writers from several threads or processes wait for each other instead of failing), so one
:class:`InteractionLog` can be shared by every request of the page.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AssistantError

ACCESS_KEYS = (
    "time",
    "source",
    "event",
    "session",
    "question",
    "generated",
    "query",
    "total",
    "verdict",
    "mode",
    "model",
    "backend",
)
"""The keys of every access-log line, in order."""

EVENTS = ("executed", "correction", "verdict")
VERDICTS = ("right", "wrong")
BUSY_TIMEOUT_MS = 30_000


class LogError(AssistantError):
    """The interaction log cannot be written or read (a path that is not writable, a file that
    is not a SQLite database, a full disk)."""


class PartlyLogged(LogError):
    """The turn's database row is committed but its access-log line could not be written (a
    full disk); ``logged`` is the committed row, for later verdicts and corrections."""

    def __init__(self, message: str, logged: Logged):
        super().__init__(message)
        self.logged = logged


FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
"""A full disk, a full quota, a file-size limit."""


LOW_SPACE = 64 << 10
"""Free bytes under which an I/O error of SQLite counts as a full disk (SQLite says "disk I/O
error", not "disk is full", when it cannot even size its -shm file)."""


def is_disk_full(exc: BaseException, path: Path | None = None) -> bool:
    """True for the errors of a full disk: ENOSPC/EDQUOT/EFBIG, SQLite's SQLITE_FULL, or a
    SQLite I/O error while the disk holding ``path`` has (almost) no space left."""
    if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
        return True
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return True
    if path is not None and (code is not None and code & 0xFF == sqlite3.SQLITE_IOERR):
        try:
            stat = os.statvfs(path.parent)
        except OSError:
            return False
        return stat.f_bavail * stat.f_frsize < LOW_SPACE
    return False


def disk_full_message(path: Path, exc: BaseException, setting: str) -> str:
    """What to say when ``path`` cannot be written because its disk is full."""
    return (
        f"the disk holding {path} is full ({exc}); what was logged before is kept — free "
        f"space on {path.parent} or set {setting} to a file on another disk"
    )


def utc_now() -> str:
    """The current time as the log writes it: ``2026-11-21T05:55:29Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- migrations ---------------------------------------------------------------------------------
# Named, applied once each, in order; a new column or table is a new entry at the end (never edit
# an applied one). The names applied so far are kept in the _migrations table.

MIGRATIONS: list[tuple[str, str]] = [
    (
        "m001_interactions",
        """
        CREATE TABLE interactions (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            session TEXT NOT NULL,
            kind TEXT NOT NULL,             -- ask (the model wrote the query) | rerun (edited)
            question TEXT NOT NULL,
            generated TEXT,                 -- the query the model wrote
            query TEXT,                     -- the query that was executed (or tried)
            status TEXT NOT NULL,           -- ok, no_hits, ambiguous, invalid, error, rejected
            total INTEGER,                  -- hits of the executed query
            answer TEXT,
            mode TEXT,
            model TEXT,
            backend TEXT
        );
        """,
    ),
    (
        "m002_corrections",
        """
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            session TEXT NOT NULL,
            interaction_id INTEGER REFERENCES interactions(id),
            question TEXT NOT NULL,
            generated TEXT,
            query TEXT NOT NULL             -- the corrected query
        );
        """,
    ),
    (
        "m003_verdicts",
        """
        CREATE TABLE verdicts (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            session TEXT NOT NULL,
            interaction_id INTEGER NOT NULL REFERENCES interactions(id),
            verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong'))
        );
        """,
    ),
    (
        "m004_trace",
        """
        ALTER TABLE interactions ADD COLUMN seconds REAL;
        ALTER TABLE interactions ADD COLUMN trace TEXT;   -- JSON: timings, errors, notes, tokens
        CREATE INDEX interactions_session ON interactions(session, id);
        CREATE INDEX corrections_time ON corrections(time);
        """,
    ),
]


def migrate(con: sqlite3.Connection, migrations: list[tuple[str, str]] = MIGRATIONS) -> list[str]:
    """Apply the migrations not applied yet (each in its own transaction); returns their names."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT name FROM _migrations")}
    applied = []
    for name, sql in migrations:
        if name in done:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                con.execute("ROLLBACK")  # another process applied it meanwhile
                continue
            for statement in _statements(sql):
                con.execute(statement)
            con.execute("INSERT INTO _migrations VALUES (?, ?)", (name, utc_now()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def _statements(sql: str) -> Iterator[str]:
    """The statements of a migration (``executescript`` would commit on its own)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            yield statement


# --- the access log -----------------------------------------------------------------------------


class AccessLog:
    """Appends lines to the JSONL access log: one ``os.write`` per line on an ``O_APPEND``
    descriptor, under a thread lock and an exclusive ``flock``, so lines from several threads
    or processes never interleave."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        line = {key: record.get(key) for key in ACCESS_KEYS}
        if line["event"] not in EVENTS:
            raise ValueError(f"unknown access-log event {line['event']!r}; use one of {EVENTS}")
        data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    _write_whole(fd, data)
                finally:
                    os.close(fd)  # closing releases the flock
        except OSError as exc:
            if is_disk_full(exc):
                raise LogError(disk_full_message(self.path, exc, "QA_ACCESS_LOG")) from None
            raise LogError(
                f"cannot append to the access log {self.path} ({exc}) — set QA_ACCESS_LOG "
                "to a writable file"
            ) from None
        return line

    def read(self) -> list[dict[str, Any]]:
        """Every line, parsed (for tests and the corrections panel)."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]


def _write_whole(fd: int, data: bytes) -> None:
    """Append ``data`` whole or not at all (the caller holds the flock): a write cut short by a
    full disk is cut off again, so the log never holds a torn line."""
    start = os.fstat(fd).st_size
    done = 0
    try:
        while done < len(data):
            n = os.write(fd, data[done:])
            if n == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += n
    except OSError:
        if done:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass  # nothing more can be done; the next reader skips a torn last line
        raise


# --- the interaction log ------------------------------------------------------------------------


@dataclass
class Logged:
    """What :meth:`InteractionLog.record_answer` wrote: the row id and what later verdicts and
    corrections of the same turn refer to."""

    id: int
    session: str
    question: str
    generated: str | None
    query: str | None
    total: int | None
    mode: str
    model: str
    backend: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Logged:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


class InteractionLog:
    """The SQLite interaction database plus the access log (both created on first use)."""

    def __init__(
        self,
        db_path: str | os.PathLike,
        access_path: str | os.PathLike,
        now: Callable[[], str] = utc_now,
    ):
        self.db_path = Path(db_path)
        self.access = AccessLog(access_path)
        self.now = now
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> InteractionLog:
        return cls(settings.interaction_db, settings.access_log)

    # --- connections --------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(
                self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            if is_disk_full(exc, self.db_path):
                raise LogError(disk_full_message(self.db_path, exc, "QA_INTERACTION_DB")) from None
            raise LogError(
                f"cannot open the interaction log {self.db_path} ({exc}) — set "
                "QA_INTERACTION_DB to a writable path"
            ) from None
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        con.execute("PRAGMA foreign_keys = ON")
        return con

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to the migrated database, closed afterwards."""
        self.setup()
        con = self._connect()
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc, self.db_path):
                raise LogError(disk_full_message(self.db_path, exc, "QA_INTERACTION_DB")) from None
            raise LogError(f"the interaction log {self.db_path} failed: {exc}") from None
        finally:
            con.close()

    def setup(self) -> list[str]:
        """Switch the database to WAL and apply pending migrations (once per process)."""
        if self._ready:
            return []
        with self._ready_lock:
            if self._ready:
                return []
            con = self._connect()
            try:
                con.execute("PRAGMA journal_mode = WAL")
                con.execute("PRAGMA synchronous = NORMAL")
                applied = migrate(con)
            except sqlite3.DatabaseError as exc:
                if is_disk_full(exc, self.db_path):
                    message = disk_full_message(self.db_path, exc, "QA_INTERACTION_DB")
                    raise LogError(message) from None
                raise LogError(
                    f"{self.db_path} is not a usable interaction log ({exc}) — move it away "
                    "or set QA_INTERACTION_DB"
                ) from None
            finally:
                con.close()
            self._ready = True
            return applied

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.connect() as con:
            cur = con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
            return int(cur.lastrowid)

    # --- writing ------------------------------------------------------------------------------
    def record_answer(
        self,
        answer,
        session: str,
        kind: str = "ask",
        generated: str | None = None,
        backend: str | None = None,
    ) -> Logged:
        """Log one :class:`~assistant.pipeline.Answer` (asked, or an edited query re-run):
        a database row always, and an ``executed`` access-log line when the query ran.

        ``generated`` is the query the model wrote (for ``kind="rerun"`` the one of the turn
        being edited; for ``ask`` it defaults to the model's query before the critic repaired it,
        else the answer's own query).
        """
        ran = answer.status in ("ok", "no_hits", "ambiguous")
        if kind == "ask" and generated is None and answer.attempts:
            generated = answer.model_query or answer.query  # before the critic's repairs
        backend = answer.backend or backend or ""
        total = int(answer.total) if ran else None
        trace = {
            "timings": {k: round(v, 4) for k, v in answer.timings.items()},
            "errors": answer.errors,
            "notes": answer.notes,
            "tokens": answer.tokens,
            "sent": answer.sent,
        }
        row_id = self._insert(
            "interactions",
            {
                "time": self.now(),
                "session": session,
                "kind": kind,
                "question": answer.question,
                "generated": generated,
                "query": answer.query,
                "status": answer.status,
                "total": total,
                "answer": answer.answer,
                "mode": answer.mode,
                "model": answer.model,
                "backend": backend,
                "seconds": round(answer.timings.get("total", 0.0), 4),
                "trace": json.dumps(trace, ensure_ascii=False, default=str),
            },
        )
        logged = Logged(
            row_id,
            session,
            answer.question,
            generated,
            answer.query,
            total,
            answer.mode,
            answer.model,
            backend,
        )
        if ran:
            self._append(logged, self._access(logged, "executed", logged.query, total=total))
        return logged

    def _append(self, logged: Logged, record: dict[str, Any]) -> None:
        """The access-log line of a committed row; :class:`PartlyLogged` when it fails."""
        try:
            self.access.append(record)
        except LogError as exc:
            raise PartlyLogged(
                f"this turn is in the interaction log (row {logged.id}) but its access-log "
                f"line is not: {exc}",
                logged,
            ) from None

    def record_verdict(self, logged: Logged, verdict: str) -> int:
        """Mark a turn's executed query ``right`` or ``wrong``."""
        if verdict not in VERDICTS:
            raise LogError(f"a verdict is 'right' or 'wrong', not {verdict!r}")
        row_id = self._insert(
            "verdicts",
            {
                "time": self.now(),
                "session": logged.session,
                "interaction_id": logged.id,
                "verdict": verdict,
            },
        )
        self._append(logged, self._access(logged, "verdict", logged.query, verdict=verdict))
        return row_id

    def record_correction(self, logged: Logged, query: str) -> int:
        """Save ``query`` (already validated by the caller) as the right query for the turn's
        question."""
        row_id = self._insert(
            "corrections",
            {
                "time": self.now(),
                "session": logged.session,
                "interaction_id": logged.id,
                "question": logged.question,
                "generated": logged.generated,
                "query": query,
            },
        )
        self._append(logged, self._access(logged, "correction", query))
        return row_id

    def _access(
        self,
        logged: Logged,
        event: str,
        query: str | None,
        total: int | None = None,
        verdict: str | None = None,
    ) -> dict[str, Any]:
        return {
            "time": self.now(),
            "source": "assistant",
            "event": event,
            "session": logged.session,
            "question": logged.question,
            "generated": logged.generated,
            "query": query,
            "total": total,
            "verdict": verdict,
            "mode": logged.mode,
            "model": logged.model,
            "backend": logged.backend,
        }

    # --- reading ------------------------------------------------------------------------------
    def corrections(self, limit: int | None = 20) -> list[dict[str, Any]]:
        """The most recent corrections first: id, time, session, question, generated, query."""
        sql = (
            "SELECT id, time, session, question, generated, query FROM corrections ORDER BY id DESC"
        )
        with self.connect() as con:
            if limit is None:
                rows = con.execute(sql).fetchall()
            else:
                rows = con.execute(sql + " LIMIT ?", (int(limit),)).fetchall()
        return [dict(r) for r in rows]

    def export_corrections(self, path: str | os.PathLike) -> int:
        """Write every correction, oldest first, as JSONL question/query pairs (with
        ``source: "correction"``, the time and the session); returns how many."""
        rows = list(reversed(self.corrections(limit=None)))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for r in rows:
                pair = {
                    "question": r["question"],
                    "query": r["query"],
                    "source": "correction",
                    "generated": r["generated"],
                    "time": r["time"],
                    "session": r["session"],
                }
                fh.write(json.dumps(pair, ensure_ascii=False) + "\n")
        return len(rows)

    def counts(self) -> dict[str, int]:
        """Rows per table: ``{"interactions": 3, "corrections": 1, "verdicts": 2}``."""
        with self.connect() as con:
            return {
                t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("interactions", "corrections", "verdicts")
            }

    def interactions(self, session: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent interactions first (of one session, or of all)."""
        with self.connect() as con:
            if session is None:
                rows = con.execute(
                    "SELECT * FROM interactions ORDER BY id DESC LIMIT ?", (limit,)
                ).fetchall()
            else:
                rows = con.execute(
                    "SELECT * FROM interactions WHERE session = ? ORDER BY id DESC LIMIT ?",
                    (session, limit),
                ).fetchall()
        return [dict(r) for r in rows]
