"""Backends: the embedded store in-process and the live API through biothings-client, run
against a real local HTTP server of the same store."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from assistant.backends import (
    BackendError,
    EmbeddedBackend,
    LiveBackend,
    get_backend,
    safe_query,
)
from assistant.config import Settings
from assistant.errors import ConfigError, QueryError
from assistant.query import Query, parse_query

QUERIES = [
    "/v3/query?q=LMP10",
    "/v3/query?q=symbol:CDK2&species=human&fields=symbol,name,genomic_pos",
    "/v3/query?q=kinase&facets=taxid&size=3",
    "/v3/gene/1017?fields=symbol,go.BP",
    "POST /v3/query q=CDK2,BRCA1,NOSUCHGENE&scopes=symbol&fields=symbol,name",
    "POST /v3/gene ids=1017,672,999999999&fields=symbol",
]


@pytest.fixture(scope="module")
def embedded(tiny_store):
    return EmbeddedBackend(Settings(), store=tiny_store)


@pytest.fixture(scope="module")
def live_url(tiny_store):
    """The tiny store served over HTTP by uvicorn on a free local port."""
    import uvicorn

    from assistant.store.service import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(tiny_store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v3"
    server.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def live(live_url):
    return LiveBackend(Settings(live_url=live_url))


def test_embedded_runs_each_endpoint(embedded, tiny_store):
    r = embedded.query(parse_query("/v3/query?q=LMP10"))
    direct = tiny_store.query("LMP10")
    assert r.total == direct["total"] >= 1
    assert [h["_id"] for h in r.hits] == [h["_id"] for h in direct["hits"]]
    assert "LMP10" in tiny_store.getgene(r.hits[0]["_id"], fields="alias")["alias"]

    gene = embedded.query(parse_query("/v3/gene/1017?fields=symbol"))
    assert gene.total == 1 and gene.hits[0]["_id"] == "1017"

    missing = embedded.query(parse_query("/v3/gene/999999999"))
    assert missing.total == 0 and missing.notfound == ["999999999"]

    many = embedded.query(parse_query(QUERIES[4]))
    assert many.notfound == ["NOSUCHGENE"]
    assert {h["query"] for h in many.hits} == {"CDK2", "BRCA1"}

    facets = embedded.query(parse_query(QUERIES[2]))
    assert len(facets.hits) <= 3 and facets.facets["taxid"]["terms"]


@pytest.mark.parametrize("text", QUERIES)
def test_live_backend_through_biothings_client_matches_embedded(text, embedded, live):
    query = parse_query(text)
    a, b = embedded.query(query), live.query(query)
    assert (a.total, a.notfound) == (b.total, b.notfound)
    assert [h["_id"] for h in a.hits] == [h["_id"] for h in b.hits]
    assert a.facets == b.facets
    assert b.backend == "live"


def test_live_backend_turns_400_into_query_error(live):
    with pytest.raises(QueryError):
        live.query(parse_query("/v3/query?q=symbol:CDK2&species=notaspecies"))


def test_live_backend_refuses_other_hosts_and_paths(live, live_url):
    for url in (
        "http://evil.example/v3/query?q=x",
        live_url.replace("/v3", "/v3/metadata"),
        live_url + "/gene/1017/../../metadata",
        live_url.replace("127.0.0.1", "localhost") + "/query",
    ):
        with pytest.raises(BackendError):
            live.check_request(httpx.Request("GET", url))
    live.check_request(httpx.Request("GET", live_url + "/query?q=cdk2"))
    live.check_request(httpx.Request("GET", live_url + "/gene/1017"))


def test_unreachable_live_api_is_a_backend_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = LiveBackend(Settings(live_url=f"http://127.0.0.1:{port}/v3", live_timeout_s=2))
    with pytest.raises(BackendError):
        backend.query(parse_query("/v3/query?q=cdk2"))


def test_safe_query_caps_size_and_drops_unsendable_params():
    settings = Settings(max_size=20)
    sent, notes = safe_query(
        parse_query("/v3/query?q=cdk2&size=500&fetch_all=true&callback=f&email=a@b.c&foo=1"),
        settings,
    )
    assert sent.params == {"size": "20"}
    assert any("size capped at 20" in n for n in notes)
    sent, _ = safe_query(
        parse_query("POST /v3/query q=" + ",".join(f"G{i}" for i in range(30)) + "&scopes=symbol"),
        settings,
    )
    assert len(sent.q.split(",")) == 20


@pytest.mark.parametrize(
    "query",
    [
        Query("gene", gene_id="../metadata"),
        Query("gene", gene_id="1017?fields=all"),
        Query("gene", gene_id="http://evil/x"),
        Query("gene", "POST", params={"ids": "1017,../../x"}),
        Query("metadata"),  # type: ignore[arg-type]
        Query("query", q="  "),
    ],
)
def test_safe_query_rejects_what_is_not_a_gene_query(query):
    with pytest.raises(QueryError):
        safe_query(query, Settings())


def test_get_backend_by_name(tiny_store):
    assert isinstance(get_backend(Settings(), store=tiny_store), EmbeddedBackend)
    assert isinstance(get_backend(Settings(), "live"), LiveBackend)
    with pytest.raises(ConfigError, match="embedded, live"):
        get_backend(Settings(), "elsewhere")
    with pytest.raises(ConfigError):
        LiveBackend(Settings(live_url="ftp://example.org/v3"))
