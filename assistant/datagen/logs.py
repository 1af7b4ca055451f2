"""Read API access logs in the common formats, detected per file (CSV) or per line.

Formats (:data:`FORMATS`):

- ``combined``: nginx/Apache combined (or common) log lines::

      1.2.3.4 - - [21/Nov/2025:05:55:29 +0000] "GET /v3/query?q=symbol:CDK2 HTTP/1.1" 200 512 "-" "curl/8.5"

- ``csv``: the original project's export, a CSV (or TSV) file whose header has a ``log.path``
  column of URL-encoded request paths (optional ``log.method`` / ``method`` and ``log.status`` /
  ``status`` columns);
- ``jsonl``: one JSON object per line with the query under ``query`` (or ``path``, ``url``,
  ``request``), as in ``shared/data/seed/query_log_sample.jsonl``, or a bare JSON string; an
  ``api`` key other than ``mygene`` marks another BioThings API;
- ``assistant``: the assistant's own access log (``"source": "assistant"``; see
  docs/formats: ``executed`` / ``correction`` / ``verdict`` events), and the page's export of
  its corrections (``"source": "correction"`` with the question and the corrected query);
- ``plain``: a bare path or URL per line (``/v3/gene/1017``).

Files may be gzip-compressed (detected by their magic bytes, not their name). Nothing here
raises on bad input: undecodable or unrecognized lines, bad JSON, a truncated ``.gz`` and an
unreadable file are counted in the :class:`~assistant.datagen.report.Report` (stage ``read``).

>>> from assistant.datagen.report import Report
>>> rec = parse_line('1.2.3.4 - - [21/Nov/2025:05:55:29 +0000] "GET /v3/gene/1017 HTTP/1.1" 200 9 "-" "curl/8"', "x:1", Report())
>>> rec.fmt, rec.method, rec.target, rec.status, rec.agent
('combined', 'GET', '/v3/gene/1017', 200, 'curl/8')
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .report import Report

FORMATS = ("combined", "csv", "jsonl", "assistant", "plain")
MAX_LINE_CHARS = 100_000
"""Longer lines are skipped as junk (no real API request is that long)."""

COMBINED_RE = re.compile(
    r'^(?P<host>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r"(?P<status>\d{3}|-) (?P<bytes>\d+|-)"
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)
"""nginx/Apache ``combined`` (and ``common``, without referer and agent) log lines."""

_PLAIN_RE = re.compile(r"^(?:(?:GET|POST)\s+)?(?:https?://\S+|/\S*)", re.IGNORECASE)
_JSON_KEYS = ("query", "path", "url", "request", "request_uri")
_CSV_PATH_COLUMNS = ("log.path",)
_CSV_METHOD_COLUMNS = ("log.method", "method", "http.request.method")
_CSV_STATUS_COLUMNS = ("log.status", "status", "http.response.status_code")
_CSV_AGENT_COLUMNS = ("log.user_agent", "user_agent", "user_agent.original")


@dataclass
class LogRecord:
    """One request read from a log, before it is parsed as a query.

    ``target`` is the request path with its query string (``/v3/query?q=cdk2``), a full URL or
    a bare query string; ``body`` the POST form when the log has it. For the assistant's log,
    ``event``, ``question``, ``session``, ``total`` and ``verdict`` come from the line.
    """

    fmt: str
    where: str
    target: str
    method: str = "GET"
    body: str | None = None
    status: int | None = None
    agent: str | None = None
    api: str | None = None
    event: str | None = None
    question: str | None = None
    session: str | None = None
    total: int | None = None
    verdict: str | None = None

    def text(self) -> str:
        """The request as :func:`assistant.query.parse_query` reads it (POST one-line form)."""
        if self.method == "POST":
            return f"POST {self.target}" + (f" {self.body}" if self.body else "")
        return self.target


def read_logs(paths: list[Path], report: Report) -> Iterator[LogRecord]:
    """Every record of every file, in order; folders are read recursively (sorted)."""
    for path in expand_paths(paths, report):
        yield from read_file(path, report)


def expand_paths(paths: list[Path], report: Report) -> list[Path]:
    """Files given directly, and the files under given folders (hidden files skipped)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            report.reject("read", "missing_file", str(p))
    return out


def _gunzip(fh, chunk: int = 1 << 16) -> Iterator[bytes]:
    """The lines of a gzip stream, decompressed incrementally so that a truncated file still
    gives every complete line before the cut (then :class:`EOFError`; the cut line is dropped).
    Concatenated members (``cat a.gz b.gz``) are read one after the other."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    begun = False  # the current member has started but not ended
    pending = b""
    while data := fh.read(chunk):
        while data:
            pending += decomp.decompress(data)
            begun, data = True, b""
            if decomp.eof:
                data = decomp.unused_data.lstrip(b"\x00")  # the next member, or padding
                decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
                begun = False
        *lines, pending = pending.split(b"\n")
        yield from (line + b"\n" for line in lines)
    if begun:
        raise EOFError("the compressed file ended before its end-of-stream marker")
    if pending:
        yield pending


def _lines(path: Path, report: Report) -> Iterator[tuple[int, str]]:
    """Decoded lines with their numbers; junk is counted and skipped, never raised."""
    try:
        fh = open(path, "rb")
        gz = fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
    except OSError as exc:
        report.reject("read", "unreadable_file", f"{path}: {exc}")
        return
    n = 0
    with fh:
        try:
            for raw in _gunzip(fh) if gz else fh:
                n += 1
                if len(raw) > MAX_LINE_CHARS:
                    report.reject("read", "line_too_long", f"{path.name}:{n}")
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    report.reject("read", "undecodable_line", f"{path.name}:{n}")
                    continue
                if "\x00" in text:
                    report.reject("read", "binary_line", f"{path.name}:{n}")
                    continue
                yield n, text.rstrip("\r\n")
        except (EOFError, zlib.error) as exc:
            report.reject("read", "truncated_gzip", f"{path.name} after line {n}: {exc}")
        except OSError as exc:
            report.reject("read", "unreadable_file", f"{path.name} after line {n}: {exc}")


def read_file(path: Path, report: Report) -> Iterator[LogRecord]:
    """The records of one file: a CSV with a ``log.path`` header, else line by line."""
    report.count("read", "files")
    lines = _lines(Path(path), report)
    first = None
    for n, text in lines:
        if text.strip():
            first = (n, text)
            break
    if first is None:
        report.reject("read", "empty_file", str(path))
        return
    header = _csv_header(first[1])
    if header is not None:
        yield from _read_csv(path, first[1], lines, header, report)
        return
    for n, text in _chain(first, lines):
        if not text.strip():
            continue
        rec = parse_line(text, f"{Path(path).name}:{n}", report)
        if rec is not None:
            yield rec


def _chain(first, rest):
    yield first
    yield from rest


def _csv_header(line: str) -> tuple[str, list[str]] | None:
    """``(delimiter, columns)`` when the line is a CSV/TSV header with a ``log.path`` column."""
    for delim in (",", "\t", ";"):
        cols = [c.strip().strip('"').strip() for c in next(csv.reader([line], delimiter=delim))]
        if any(c in _CSV_PATH_COLUMNS for c in cols):
            return delim, cols
    return None


def _column(row: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if row.get(name):
            return row[name].strip()
    return None


def _read_csv(path, header_line, lines, header, report: Report) -> Iterator[LogRecord]:
    delim, cols = header
    numbers: list[int] = []

    def texts():
        for n, text in lines:
            numbers.append(n)
            yield text

    try:
        for values in csv.reader(texts(), delimiter=delim):
            where = f"{Path(path).name}:{numbers[-1] if numbers else '?'}"
            if not values or not any(v.strip() for v in values):
                continue
            if len(values) != len(cols):
                report.reject("read", "bad_csv_row", where)
                continue
            row = dict(zip(cols, values))
            target = _column(row, _CSV_PATH_COLUMNS)
            if not target:
                report.reject("read", "bad_csv_row", where)
                continue
            if "?" not in target and "%3f" in target.lower():
                target = unquote(target)  # a path encoded whole: %2Fv3%2Fquery%3Fq%3D...
            method = (_column(row, _CSV_METHOD_COLUMNS) or "GET").upper()
            status = _column(row, _CSV_STATUS_COLUMNS)
            report.count("read", "csv")
            yield LogRecord(
                "csv",
                where,
                target,
                method=method,
                status=int(status) if status and status.isdigit() else None,
                agent=_column(row, _CSV_AGENT_COLUMNS),
            )
    except csv.Error as exc:
        report.reject("read", "bad_csv", f"{Path(path).name}: {exc}")


def parse_line(text: str, where: str, report: Report) -> LogRecord | None:
    """One log line as a record, its format detected from the line; None (counted) for junk."""
    line = text.strip()
    if line.startswith(("{", "[", '"')):
        return _json_record(line, where, report)
    match = COMBINED_RE.match(line)
    if match:
        return _combined_record(match, where, report)
    if _PLAIN_RE.match(line):
        method, target = "GET", line
        head, _, rest = line.partition(" ")
        if head.upper() in ("GET", "POST") and rest.strip():
            method, target = head.upper(), rest.strip()
        target = re.sub(r"\s+HTTP/\d(\.\d)?$", "", target)
        body = None
        if method == "POST" and " " in target:
            target, body = (s.strip() for s in target.split(" ", 1))
        report.count("read", "plain")
        return LogRecord("plain", where, target, method=method, body=body)
    report.reject("read", "unrecognized_line", f"{where}: {line}")
    return None


def _combined_record(match: re.Match, where: str, report: Report) -> LogRecord | None:
    request = match.group("request").replace('\\"', '"')
    parts = request.split()
    if len(parts) < 2 or not re.fullmatch(r"[A-Z]{3,7}", parts[0]):
        report.reject("read", "bad_request_line", f"{where}: {request}")
        return None
    status = match.group("status")
    report.count("read", "combined")
    return LogRecord(
        "combined",
        where,
        parts[1],
        method=parts[0],
        status=int(status) if status.isdigit() else None,
        agent=(match.group("agent") or None),
    )


def _json_record(line: str, where: str, report: Report) -> LogRecord | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        report.reject("read", "bad_json", f"{where}: {line}")
        return None
    if isinstance(data, str):
        report.count("read", "jsonl")
        return LogRecord("jsonl", where, data)
    if not isinstance(data, dict):
        report.reject("read", "unrecognized_json", f"{where}: {line}")
        return None
    if data.get("source") in ("assistant", "correction") or data.get("event") in (
        "executed",
        "correction",
        "verdict",
    ):  # the access log the page writes, or its corrections export (``source: correction``)
        return _assistant_record(data, where, report)
    for key in _JSON_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            method = str(data.get("method") or "GET").upper()
            body = data.get("body")
            if isinstance(body, dict):
                body = json.dumps(body)
            report.count("read", "jsonl")
            return LogRecord(
                "jsonl",
                where,
                value.strip(),
                method=method if method in ("GET", "POST") else method,
                body=body if isinstance(body, str) else None,
                status=data.get("status") if isinstance(data.get("status"), int) else None,
                agent=data.get("user_agent") or data.get("agent"),
                api=str(data["api"]).lower() if data.get("api") else None,
            )
    report.reject("read", "unrecognized_json", f"{where}: {line}")
    return None


def _assistant_record(data: dict, where: str, report: Report) -> LogRecord | None:
    event = data.get("event") or ("correction" if data.get("source") == "correction" else None)
    if event not in ("executed", "correction", "verdict"):
        report.reject("read", "unknown_assistant_event", f"{where}: {event}")
        return None
    query = data.get("query")
    if event != "verdict" and not (isinstance(query, str) and query.strip()):
        report.reject("read", "assistant_line_without_query", where)
        return None
    total = data.get("total")
    report.count("read", "assistant")
    question = data.get("question")
    return LogRecord(
        "assistant",
        where,
        (query or "").strip(),
        event=event,
        question=question.strip() if isinstance(question, str) and question.strip() else None,
        session=str(data.get("session") or ""),
        total=total if isinstance(total, int) else None,
        verdict=data.get("verdict"),
    )


WRITE_FORMATS = {"combined": "access.log", "csv": "export.csv", "jsonl": "queries.jsonl"}
"""Formats :func:`write_log` writes, and the file name each gets."""


def write_log(folder: Path, fmt: str, requests: list[tuple], junk: bool = True) -> Path:
    """``(method, target, body)`` requests (or ``(method, target, body, api)`` for another
    BioThings API, which JSONL marks) as a log that :func:`read_logs` reads: an nginx
    combined access log, a CSV export with a ``log.path`` column, or JSONL (``junk`` adds one
    line of each file's kind of garbage). An access log and a CSV export carry no bodies, so a
    POST's form goes into the URL, as a client that sends it there would. For benchmarks and
    tests on known queries (``evals/bench_datagen.py`` writes the seed query log each way).

    >>> import tempfile
    >>> path = write_log(Path(tempfile.mkdtemp()), "combined", [("GET", "/v3/gene/1017", None)])
    >>> [r.target for r in read_logs([path], Report())]
    ['/v3/gene/1017']
    """
    if fmt not in WRITE_FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; one of {', '.join(WRITE_FORMATS)}")
    from urllib.parse import quote

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WRITE_FORMATS[fmt]
    if fmt == "combined":
        lines = []
        for i, (method, target, body, *_) in enumerate(requests):
            sent = quote(target + (f"?{body}" if body else ""), safe="/?&=:,*+()")
            lines.append(
                f"10.0.{i // 250}.{i % 250} - - [21/Nov/2025:05:{i // 60 % 60:02d}:{i % 60:02d} "
                f'+0000] "{method} {sent} HTTP/1.1" 200 512 "-" "curl/8.5"'
            )
        path.write_text("\n".join(lines + (["GET what is this"] if junk else [])) + "\n")
    elif fmt == "csv":
        with open(path, "w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["@timestamp", "log.path", "log.method", "log.status"])
            for i, (method, target, body, *_) in enumerate(requests):
                sent = quote(target + (f"?{body}" if body else ""), safe="/?&=+")
                out.writerow([f"2025-11-21T05:{i // 60 % 60:02d}:{i % 60:02d}Z", sent, method, 200])
            if junk:
                out.writerow(["2025-11-21T06:00:00Z", "junk"])
    else:
        rows = []
        for method, target, body, *api in requests:
            row = {"query": target} if method == "GET" else {"query": target, "method": method}
            row.update({"body": body} if body else {}, **({"api": api[0]} if api else {}))
            rows.append(row)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows) + ("{junk\n" if junk else ""))
    return path
