"""The store over HTTP, shaped like https://mygene.info/v3 (Starlette, served by uvicorn).

``biothings_client.get_client("gene", url="http://127.0.0.1:8700/v3")`` works unchanged:

* GET/POST /v3/query (and /v3/query/), GET /v3/gene/{id}, POST /v3/gene
* GET /v3/metadata, GET /v3/metadata/fields

Errors use MyGene's JSON shape, ``{"code": 400, "success": false, "error": "..."}``; nothing a
user sends produces a 500. Engine calls run in a thread pool; each thread has its own read-only
SQLite connection. Answers are kept in a bounded cache (:mod:`assistant.store.cache`) keyed by the
request and the store file; a rebuilt store file is opened again at the next request, and the
cache never answers for it with the old file's results. ``make serve`` runs
``QA_STORE_WORKERS`` processes of this app (:func:`serve`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..config import ENV_PREFIX, Settings
from ..errors import AssistantError, QueryError, StoreBusy, StoreNotBuilt
from .cache import ResultCache, etag, file_identity, request_key
from .engine import GeneStore

log = logging.getLogger(__name__)
MAX_BODY = 2_000_000


class OrjsonResponse(JSONResponse):
    def render(self, content) -> bytes:
        import orjson

        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


JSON = "application/json"
CACHED_STATUSES = (200, 400, 404)
"""Answers the cache keeps: the same request on the same store file gets them again (a 400 "too
expensive" too: the budget counts work, not time). A 503 "busy" or a 500 is never kept."""


def headers_for(status: int, tag: str | None, cache: str) -> dict:
    headers = {"X-Cache": cache}
    if tag and status == 200:
        headers.update({"ETag": tag, "Cache-Control": "no-cache"})
    return headers


def error(status: int, message: str, retry_after_s: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return OrjsonResponse(
        {"code": status, "success": False, "error": message}, status_code=status, headers=headers
    )


async def read_params(request: Request) -> dict:
    """Query-string parameters, plus a form or JSON body for POST (body wins)."""
    params: dict = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if len(body) > MAX_BODY:
        raise QueryError(f"request body too large (over {MAX_BODY:,} bytes)")
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            data = json.loads(body or b"{}")
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            raise QueryError("request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise QueryError('JSON body must be an object such as {"q": [...], "scopes": [...]}')
        params.update(data)
    elif body:
        from urllib.parse import parse_qsl

        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise QueryError("request body is not UTF-8 form data") from None
    return params


class Served:
    """The store being served; opened again when its file was replaced (``store build``
    renames a new file into place), so that the next request reads the new one."""

    def __init__(self, store: GeneStore):
        self.store = store
        self.identity = file_identity(store.path)
        self._failed: tuple | None = None

    def current(self) -> tuple[GeneStore, tuple | None]:
        """The store and the identity of the file it reads (part of every cache key)."""
        identity = file_identity(self.store.path)
        if identity is not None and identity != self.identity and identity != self._failed:
            try:
                self.store = self.store.reopen()  # ~12 ms on the full store
                self.identity = identity
            except StoreNotBuilt:  # keep answering from the file already open
                log.exception(
                    "the store file changed but cannot be opened; still serving the old one"
                )
                self._failed = identity
        return self.store, self.identity


def create_app(
    store: GeneStore, concurrency: int = 4, queue_wait_s: float = 10.0, cache_mb: float = 64.0
) -> Starlette:
    """The ASGI app serving ``store`` under /v3.

    At most ``concurrency`` queries run at once (Python's GIL serializes the rest anyway, and a
    short queue keeps each one fast); a request that finds no free slot within ``queue_wait_s``
    gets 503 with ``Retry-After`` — the server is busy, the query is not wrong.

    Answers of up to ``cache_mb`` MB in all are kept (0: none) and sent again, without a slot,
    to the same request on the same store file (``X-Cache: hit``); a GET answer carries a weak
    ``ETag`` and ``Cache-Control: no-cache``, and ``If-None-Match`` with it gets a 304.
    """
    slots = asyncio.Semaphore(concurrency)
    served = Served(store)
    cache = ResultCache(int(cache_mb * 1_000_000))
    computing: dict[bytes, asyncio.Event] = {}

    async def call(fn, *args, **kwargs) -> Response:
        if slots.locked():
            try:
                await asyncio.wait_for(slots.acquire(), timeout=queue_wait_s)
            except TimeoutError:
                return error(503, "the gene store is busy; try again in a moment", retry_after_s=1)
        else:
            await slots.acquire()
        try:
            try:
                result = await run_in_threadpool(fn, *args, **kwargs)
            except StoreBusy as exc:
                return error(exc.status, str(exc), retry_after_s=exc.retry_after_s)
            except QueryError as exc:
                return error(exc.status, str(exc))
            except AssistantError as exc:
                return error(400, str(exc))
            except Exception:  # the service must answer, never crash: log it, answer 500 in JSON
                log.exception("internal error")
                return error(500, "internal error in the gene store")
        finally:
            slots.release()
        return OrjsonResponse(result)

    async def cached(request: Request, route: str, params: dict, run) -> Response:
        """``run(store)``'s answer, from the cache when this request was answered before on
        this store file. While one request computes an answer, the same requests wait for it
        instead of computing it again (the first seconds after a start or a rebuild)."""
        store, identity = served.current()
        key = request_key(identity, request.method, route, params) if cache.max_bytes else None
        if key is None:
            return await run(store)
        tag = etag(key) if request.method == "GET" else None
        if tag and request.headers.get("if-none-match") == tag:  # a 200 before: the same now
            return Response(status_code=304, headers={"ETag": tag, "Cache-Control": "no-cache"})
        pending = computing.get(key)
        if pending is not None:
            await pending.wait()
        hit = cache.get(key)
        if hit is not None:
            status, body = hit
            return Response(body, status, headers=headers_for(status, tag, "hit"), media_type=JSON)
        done = None  # set when this request is the one computing the answer
        if pending is None:
            done = computing[key] = asyncio.Event()
        try:
            response = await run(store)
        finally:
            if done is not None:
                done.set()
                del computing[key]
        if response.status_code in CACHED_STATUSES:
            cache.put(key, (response.status_code, bytes(response.body)))
            response.headers.update(headers_for(response.status_code, tag, "miss"))
        return response

    async def query(request: Request) -> Response:
        try:
            params = await read_params(request)
        except QueryError as exc:
            return error(400, str(exc))
        key_params = dict(params)
        q = params.pop("q", None)
        if request.method == "POST":
            if q is None or q == "" or q == []:
                return error(400, "Missing required parameter: q (a comma-separated list of terms)")
            scopes = params.pop("scopes", None)
            return await cached(
                request,
                "query",
                key_params,
                lambda store: call(store.querymany, q, scopes, **params),
            )
        return await cached(
            request, "query", key_params, lambda store: call(store.query, q, **params)
        )

    async def gene(request: Request) -> Response:
        try:
            params = await read_params(request)
        except QueryError as exc:
            return error(400, str(exc))
        gene_id = request.path_params.get("gene_id")
        key_params = dict(params)
        if request.method == "POST" and not gene_id:
            ids = params.pop("ids", None)
            if not ids:
                return error(400, "Missing required parameter: ids")
            return await cached(
                request, "gene", key_params, lambda store: call(store.getgenes, ids, **params)
            )
        if not gene_id:
            return error(400, "Missing required parameter: id (use /v3/gene/{id})")
        return await cached(
            request,
            f"gene/{gene_id}",
            key_params,
            lambda store: call(store.getgene, gene_id, **params),
        )

    async def metadata(request: Request) -> Response:
        return await cached(request, "metadata", {}, lambda store: call(store.metadata))

    async def metadata_fields(request: Request) -> Response:
        search = request.query_params.get("search")
        return await cached(
            request,
            "metadata/fields",
            {"search": search},
            lambda store: call(store.metadata_fields, search),
        )

    async def not_found(request: Request, exc) -> Response:
        return error(404, "Not Found.")

    async def method_not_allowed(request: Request, exc) -> Response:
        return error(405, "Method Not Allowed.")

    routes = [
        Route("/v3/query", query, methods=["GET", "POST"]),
        Route("/v3/query/", query, methods=["GET", "POST"]),
        Route("/v3/gene", gene, methods=["POST"]),
        Route("/v3/gene/", gene, methods=["POST"]),
        Route("/v3/gene/{gene_id:path}", gene, methods=["GET", "POST"]),
        Route("/v3/metadata", metadata, methods=["GET"]),
        Route("/v3/metadata/", metadata, methods=["GET"]),
        Route("/v3/metadata/fields", metadata_fields, methods=["GET"]),
        Route("/v3/metadata/fields/", metadata_fields, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.cache = cache  # its size and hit counts, for whoever runs the app
    return app


SERVE_SETTINGS = [
    "store_path",
    "query_timeout_ms",
    "query_max_steps",
    "store_concurrency",
    "store_queue_wait_s",
    "store_cache_mb",
]
"""The settings a worker process needs; :func:`serve` hands them on through the environment."""


def app_for(settings: Settings) -> Starlette:
    store = GeneStore.open(settings.store_path, settings.query_timeout_ms, settings.query_max_steps)
    return create_app(
        store, settings.store_concurrency, settings.store_queue_wait_s, settings.store_cache_mb
    )


def app_from_settings() -> Starlette:
    """The app of one worker process, from the ``QA_`` environment (an ASGI factory:
    ``uvicorn --factory assistant.store.service:app_from_settings``)."""
    return app_for(Settings())


def serve(settings: Settings) -> None:
    """Serve the store until interrupted (``python -m assistant store serve``, ``make serve``):
    ``store_workers`` uvicorn processes on one socket, each with its own readers and cache
    (uvicorn takes httptools and uvloop when they are installed)."""
    import uvicorn

    store = GeneStore.open(settings.store_path, settings.query_timeout_ms, settings.query_max_steps)
    workers = settings.store_workers
    print(
        f"MyGene-compatible API on http://{settings.host}:{settings.port}/v3 "
        f"({store.n_genes:,} genes, {workers} worker process{'es' if workers > 1 else ''})"
    )
    if workers == 1:
        app = create_app(
            store, settings.store_concurrency, settings.store_queue_wait_s, settings.store_cache_mb
        )
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
        return
    del store  # each worker opens its own
    for name in SERVE_SETTINGS:
        os.environ[f"{ENV_PREFIX}{name.upper()}"] = str(getattr(settings, name))
    uvicorn.run(
        "assistant.store.service:app_from_settings",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="warning",
    )
