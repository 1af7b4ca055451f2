"""Any text form of a query (URL, path, query string, the one-line POST form) → :class:`Query`."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_plus

from ..errors import QueryError
from ..schema import ApiSpec, load_api
from .model import _KEY_RE, _PATH_RE, _URL_RE, Endpoint, Method, Query


def parse_query(text: str, api: ApiSpec | None = None) -> Query:
    """Read a query from a URL, a path, a bare query string or the POST one-line form.

    Raises :class:`~assistant.errors.QueryError` for text that is not a MyGene query.

    >>> parse_query("/v3/gene/1017?filter=go").params
    {'fields': 'go'}
    >>> parse_query("POST /v3/query q=CDK2,BRCA1&scopes=symbol").to_text()
    'POST /v3/query q=CDK2,BRCA1&scopes=symbol'
    >>> parse_query("q=%22cyclin-dependent%20kinase%22&skip=20").to_text()
    '/v3/query?q="cyclin-dependent kinase"&from=20'
    >>> parse_query("what genes does TP53 regulate?")
    Traceback (most recent call last):
    ...
    assistant.errors.QueryError: not a MyGene query: 'what genes does TP53 regulate?' — write a path such as /v3/query?q=symbol:CDK2&species=human or /v3/gene/1017
    """
    api = api or load_api()
    raw = text
    text = text.strip().strip("`").strip()
    if not text:
        raise QueryError("empty query — write a path such as /v3/query?q=symbol:CDK2")
    method: Method = "GET"
    head = text.split(None, 1)
    if head[0].upper() in ("GET", "POST") and len(head) == 2:
        method = "POST" if head[0].upper() == "POST" else "GET"
        text = head[1].strip()
    text = _URL_RE.sub("", text)

    body = ""
    if text.startswith("/") or re.match(r"^(v\d+/)?(query|gene|metadata)\b", text):
        target, sep, querystring = text.partition("?")
        if method == "POST" and not sep:
            target, _, body = text.partition(" ")
        elif method == "POST" and " " in querystring and "=" not in querystring.split(" ", 1)[0]:
            querystring, _, body = querystring.partition(" ")
        endpoint, gene_id = _parse_path(target.strip(), raw, api)
    else:
        querystring, endpoint, gene_id = text, "query", None
        if not _looks_like_querystring(querystring, api):
            raise QueryError(
                f"not a MyGene query: {raw.strip()!r} — write a path such as "
                "/v3/query?q=symbol:CDK2&species=human or /v3/gene/1017"
            )

    pairs = _split_querystring(querystring, api)
    body = body.strip()
    if body.startswith("{"):
        pairs += _json_pairs(body)
    elif body:
        pairs += _split_querystring(body, api)

    q: str | None = None
    params: dict[str, str] = {}
    for key, value in pairs:
        key = api.canonical_param(key)
        if key == "q":
            q = value if q is None or method == "GET" else f"{q},{value}"
            continue
        if key in params and api.parameters.get(key, {}).get("type") == "list":
            params[key] = f"{params[key]},{value}"
        else:
            params[key] = value
    if q is not None:
        q = _normalize_space(q) if method == "GET" else ",".join(t.strip() for t in q.split(","))
    if endpoint == "gene" and method == "GET" and gene_id is None and "ids" in params:
        method = "POST"
    return Query(endpoint=endpoint, method=method, q=q, gene_id=gene_id, params=params)


def _parse_path(target: str, raw: str, api: ApiSpec) -> tuple[Endpoint, str | None]:
    match = _PATH_RE.match(target)
    if not match:
        raise QueryError(
            f"cannot read the path {target!r} in {raw.strip()!r} — expected /v3/query or /v3/gene/<id>"
        )
    version = match.group("version")
    if version and f"/{version}" != api.prefix:
        raise QueryError(
            f"{target!r} is not a MyGene {api.prefix} path (MyGene.info is served at {api.prefix}; "
            "v1 paths belong to other BioThings APIs such as MyChem)"
        )
    endpoint = match.group("endpoint").lower()
    rest = unquote_plus((match.group("rest") or "").strip("/"))
    if endpoint == "query" and not rest:
        return "query", None
    if endpoint == "gene" and "/" not in rest:
        return "gene", rest or None
    raise QueryError(
        f"{target!r} is not a query endpoint — use {api.prefix}/query?q=... or {api.prefix}/gene/<id>"
    )


def _looks_like_querystring(text: str, api: ApiSpec) -> bool:
    first = text.split("&", 1)[0]
    key = first.split("=", 1)[0] if "=" in first else None
    return key is not None and (
        api.canonical_param(key) in api.parameters or bool(_KEY_RE.match(key))
    )


def _split_querystring(text: str, api: ApiSpec) -> list[tuple[str, str]]:
    """``a=1&b=2`` → pairs, decoded; a lone ``species:9606`` (a doc typo) reads as ``species=9606``."""
    pairs = []
    for chunk in text.split("&"):
        if not chunk.strip():
            continue
        if "=" in chunk:
            key, value = chunk.split("=", 1)
        else:
            key, _, value = chunk.partition(":")
            if api.canonical_param(unquote_plus(key).strip()) not in api.parameters or key == "q":
                key, value = chunk, ""
        pairs.append((unquote_plus(key).strip(), unquote_plus(value).strip()))
    return pairs


def _json_pairs(body: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise QueryError(
            f"the POST body is not valid JSON ({exc}) — write q=CDK2,BRCA1&scopes=symbol"
        ) from None
    if not isinstance(data, dict):
        raise QueryError(
            'the JSON POST body must be an object such as {"q": ["CDK2"], "scopes": "symbol"}'
        )
    return [
        (
            str(k),
            ",".join(str(x) for x in v)
            if isinstance(v, list)
            else str(v).lower()
            if isinstance(v, bool)
            else str(v),
        )
        for k, v in data.items()
    ]


def _normalize_space(text: str) -> str:
    return " ".join(text.split())
