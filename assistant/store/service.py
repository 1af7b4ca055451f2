"""The store over HTTP, shaped like https://mygene.info/v3 (Starlette, served by uvicorn).

``biothings_client.get_client("gene", url="http://127.0.0.1:8700/v3")`` works unchanged:

* GET/POST /v3/query (and /v3/query/), GET /v3/gene/{id}, POST /v3/gene
* GET /v3/metadata, GET /v3/metadata/fields

Errors use MyGene's JSON shape, ``{"code": 400, "success": false, "error": "..."}``; nothing a
user sends produces a 500. Engine calls run in a thread pool; each thread has its own SQLite
connection.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..config import Settings
from ..errors import AssistantError, QueryError, StoreBusy
from .engine import GeneStore

log = logging.getLogger(__name__)
MAX_BODY = 2_000_000


class OrjsonResponse(JSONResponse):
    def render(self, content) -> bytes:
        import orjson

        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


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
        except ValueError:
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


def create_app(store: GeneStore, concurrency: int = 4, queue_wait_s: float = 10.0) -> Starlette:
    """The ASGI app serving ``store`` under /v3.

    At most ``concurrency`` queries run at once (Python's GIL serializes the rest anyway, and a
    short queue keeps each one fast); a request that finds no free slot within ``queue_wait_s``
    gets 503 with ``Retry-After`` — the server is busy, the query is not wrong.
    """
    slots = asyncio.Semaphore(concurrency)

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

    async def query(request: Request) -> Response:
        try:
            params = await read_params(request)
        except QueryError as exc:
            return error(400, str(exc))
        q = params.pop("q", None)
        if request.method == "POST":
            if q is None or q == "" or q == []:
                return error(400, "Missing required parameter: q (a comma-separated list of terms)")
            scopes = params.pop("scopes", None)
            return await call(store.querymany, q, scopes, **params)
        return await call(store.query, q, **params)

    async def gene(request: Request) -> Response:
        try:
            params = await read_params(request)
        except QueryError as exc:
            return error(400, str(exc))
        gene_id = request.path_params.get("gene_id")
        if request.method == "POST" and not gene_id:
            ids = params.pop("ids", None)
            if not ids:
                return error(400, "Missing required parameter: ids")
            return await call(store.getgenes, ids, **params)
        if not gene_id:
            return error(400, "Missing required parameter: id (use /v3/gene/{id})")
        return await call(store.getgene, gene_id, **params)

    async def metadata(request: Request) -> Response:
        return await call(store.metadata)

    async def metadata_fields(request: Request) -> Response:
        return await call(store.metadata_fields, request.query_params.get("search"))

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
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})


def serve(settings: Settings) -> None:
    """Serve the store until interrupted (``python -m assistant store serve``)."""
    import uvicorn

    store = GeneStore.open(settings.store_path, settings.query_timeout_ms, settings.query_max_steps)
    print(
        f"MyGene-compatible API on http://{settings.host}:{settings.port}/v3 ({store.n_genes:,} genes)"
    )
    app = create_app(store, settings.store_concurrency, settings.store_queue_wait_s)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
