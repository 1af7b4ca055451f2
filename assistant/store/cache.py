"""A bounded cache of the service's answers, keyed by the canonical request and the store file.

The store is read-only while it is served, so one request always gets the same answer from one
store file: the HTTP service keeps the rendered JSON of recent answers and sends it again
without asking the engine. A rebuilt store is a new file (the build renames it into place), with
a new :func:`file_identity`; that identity is part of every key, so an answer computed from the
old file is never served for the new one.

>>> cache = ResultCache(max_bytes=1_000)
>>> key = request_key(("gene", 1), "GET", "/v3/gene/1017", {"fields": "symbol"})
>>> cache.put(key, (200, b'{"_id":"1017","symbol":"CDK2"}'))
True
>>> cache.get(key)
(200, b'{"_id":"1017","symbol":"CDK2"}')
>>> cache.get(request_key(("gene", 1), "GET", "/v3/gene/1017", {"fields": "name"})) is None
True
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import orjson

from ..schema import load_api
from .params import FALSE

UNCACHEABLE = ("scroll_id",)
"""Parameters whose answers depend on server state (a scroll's position), never cached."""


def file_identity(path: Path) -> tuple | None:
    """What changes when the file at ``path`` is replaced or rewritten: device, inode, size and
    modification time; None when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def request_key(identity: tuple | None, method: str, route: str, params: dict) -> bytes | None:
    """The canonical form of one request: the store file, the method, the route (with the gene
    id) and every parameter, sorted, as the engine receives them (so ``fields``, ``species``,
    ``size``, ``from``, ``sort``... all take part). None for a request that must not be cached:
    a scroll, ``fetch_all`` (it opens a scroll) or parameters that JSON cannot represent."""
    api = load_api()
    for name, value in params.items():
        canonical = api.canonical_param(name)
        if canonical in UNCACHEABLE:
            return None
        if canonical == "fetch_all" and str(value).strip().lower() not in FALSE:
            return None
    try:
        return orjson.dumps(
            [identity, method, route, sorted(params.items())], option=orjson.OPT_NON_STR_KEYS
        )
    except (TypeError, orjson.JSONEncodeError):
        return None


def etag(key: bytes) -> str:
    """A weak ETag for an answer: the same request on the same store file gives the same data
    (only ``took`` may differ, hence weak)."""
    return 'W/"' + hashlib.blake2b(key, digest_size=12).hexdigest() + '"'


class ResultCache:
    """Least-recently-used answers (HTTP status, rendered JSON bytes), bounded in total bytes.

    An answer larger than an eighth of the bound is not kept (one huge ``size=1000`` answer
    would push out hundreds of small ones); ``max_bytes=0`` keeps nothing."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry = max_bytes // 8
        self.bytes = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict[bytes, tuple[int, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> tuple[int, bytes] | None:
        answer = self._entries.get(key)
        if answer is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return answer

    def put(self, key: bytes, answer: tuple[int, bytes]) -> bool:
        """Keep ``answer`` under ``key``, dropping the least recently used answers to stay
        within the bound; False when it is too large to keep."""
        size = len(key) + len(answer[1])
        if size > self.max_entry:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= len(key) + len(old[1])
        self._entries[key] = answer
        self.bytes += size
        while self.bytes > self.max_bytes:
            k, (_status, body) = self._entries.popitem(last=False)
            self.bytes -= len(k) + len(body)
        return True

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
