"""The store service's answer cache and worker processes, over real HTTP on tiny real stores."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from assistant.config import Settings
from assistant.store.build import build
from assistant.store.cache import ResultCache, request_key
from assistant.store.engine import GeneStore
from assistant.store.service import create_app
from tests.test_service import free_port, serving

DATA = "tests/data/genes"


def get(url: str, **params) -> httpx.Response:
    return httpx.get(f"{url}/query", params=params, timeout=30)


def test_same_request_is_a_hit_with_the_same_answer(tiny_store):
    with serving(create_app(tiny_store)) as url:
        first = get(url, q="symbol:cdk2", fields="symbol,taxid")
        again = get(url, q="symbol:cdk2", fields="symbol,taxid")
        slash = httpx.get(f"{url}/query/", params={"fields": "symbol,taxid", "q": "symbol:cdk2"})
    assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
    assert slash.headers["x-cache"] == "hit"  # same route, parameters in another order
    assert again.json() == first.json() and again.json()["total"] == 6
    assert again.json()["hits"][0]["taxid"] == 9606


@pytest.mark.parametrize(
    "params",
    [
        {"fields": "symbol"},
        {"fields": "symbol,name"},
        {"species": "human"},
        {"species": "mouse"},
        {"size": "1"},
        {"size": "1", "from": "1"},
        {"sort": "-entrezgene"},
        {"dotfield": "true", "fields": "genomic_pos.chr"},
        {"fields": "symbol", "q": "cdk2"},
    ],
)
def test_a_different_parameter_is_a_different_answer(tiny_store, params):
    """Each variant is first a miss and gets exactly what an uncached store answers."""
    with serving(create_app(tiny_store)) as url:
        get(url, q="symbol:cdk2")  # the plain request is cached first
        r = get(url, **{"q": "symbol:cdk2", **params})
    assert r.headers["x-cache"] == "miss"
    raw = dict(params)
    want = tiny_store.query(raw.pop("q", "symbol:cdk2"), **raw)
    got = r.json()
    assert got.pop("took") >= 0 and want.pop("took") >= 0
    assert got == want


def test_get_and_post_do_not_share_answers(tiny_store):
    with serving(create_app(tiny_store)) as url:
        g = get(url, q="CDK2", scopes="symbol", species="human")
        p = httpx.post(f"{url}/query", data={"q": "CDK2", "scopes": "symbol", "species": "human"})
        p2 = httpx.post(f"{url}/query", data={"q": "CDK2", "scopes": "symbol", "species": "human"})
    assert isinstance(g.json(), dict) and isinstance(p.json(), list)
    assert p.headers["x-cache"] == "miss" and p2.headers["x-cache"] == "hit"
    assert p2.json() == p.json()


def test_scrolls_are_never_cached(tiny_store):
    with serving(create_app(tiny_store)) as url:
        a = get(url, q="_exists_:taxid", fetch_all="true", fields="symbol").json()
        b = get(url, q="_exists_:taxid", fetch_all="true", fields="symbol").json()
        nxt = [get(url, scroll_id=a["_scroll_id"]) for _ in range(2)]
    assert a["_scroll_id"] != b["_scroll_id"]
    assert all("x-cache" not in r.headers for r in nxt)
    # the tiny store fits in one batch: the next page is the end, then the scroll is gone
    assert nxt[0].json()["error"] == "No more results to return."
    assert nxt[1].status_code == 400 and "scroll_id" in nxt[1].json()["error"]


def test_errors_are_kept_but_busy_is_not(tiny_store):
    with serving(create_app(tiny_store)) as url:
        bad = [get(url, q="(cdk2") for _ in range(2)]
        missing = [httpx.get(f"{url}/gene/99999999") for _ in range(2)]
    assert [r.status_code for r in bad] == [400, 400]
    assert [r.headers["x-cache"] for r in bad] == ["miss", "hit"]
    assert bad[1].json() == bad[0].json() and "parenthes" in bad[1].json()["error"]
    assert [r.status_code for r in missing] == [404, 404]
    assert missing[1].headers["x-cache"] == "hit"
    # the 503 of a saturated service is never kept: tests/test_service.py's saturation test
    # asks the same query again once the slot is free and gets a 200


def test_etag_gives_304_until_the_store_changes(tiny_store):
    with serving(create_app(tiny_store)) as url:
        r = get(url, q="symbol:tp53", fields="symbol")
        tag = r.headers["etag"]
        assert tag.startswith('W/"') and r.headers["cache-control"] == "no-cache"
        same = httpx.get(
            f"{url}/query",
            params={"q": "symbol:tp53", "fields": "symbol"},
            headers={"If-None-Match": tag},
        )
        other = httpx.get(
            f"{url}/query",
            params={"q": "symbol:tp53", "fields": "name"},
            headers={"If-None-Match": tag},
        )
    assert same.status_code == 304 and same.content == b""
    assert other.status_code == 200 and other.headers["etag"] != tag


def test_the_cache_stays_within_its_bound(tiny_store):
    app = create_app(tiny_store, cache_mb=0.05)  # 50 kB: an answer of up to 6.25 kB is kept
    cache = app.state.cache
    with serving(app) as url:
        for size in range(1, 41):
            r = get(url, q="_exists_:taxid", size=size, fields="symbol,name")
            assert r.status_code == 200
            assert cache.bytes <= cache.max_bytes
        assert 0 < len(cache) < 40
        assert (
            get(url, q="_exists_:taxid", size=40, fields="symbol,name").headers["x-cache"] == "hit"
        )
        assert (
            get(url, q="_exists_:taxid", size=1, fields="symbol,name").headers["x-cache"] == "miss"
        )
        big = get(url, q="_exists_:taxid", size=1000, fields="all")  # over an eighth: not kept
        assert big.status_code == 200 and len(big.content) > cache.max_entry
        assert get(url, q="_exists_:taxid", size=1000, fields="all").headers["x-cache"] == "miss"


def test_result_cache_is_least_recently_used():
    cache = ResultCache(max_bytes=800)  # entries up to 100 bytes
    keys = [request_key(("file", 1), "GET", "query", {"q": f"q{i}"}) for i in range(20)]
    for k in keys[:8]:
        assert cache.put(k, (200, b"x" * 40))
    assert cache.get(keys[0]) is not None  # used again: now the newest
    for k in keys[8:12]:
        cache.put(k, (200, b"x" * 40))
    assert cache.bytes <= 800
    assert cache.get(keys[0]) is not None and cache.get(keys[1]) is None
    assert not cache.put(keys[19], (200, b"x" * 200))
    assert request_key(("file", 1), "GET", "query", {"scroll_id": "abc"}) is None
    assert request_key(("file", 1), "GET", "query", {"q": "x", "fetch_all": "True"}) is None
    assert request_key(("file", 1), "GET", "query", {"q": "x", "fetch_all": "false"})
    assert request_key(("file", 1), "GET", "query", {"q": "x"}) != request_key(
        ("file", 2), "GET", "query", {"q": "x"}
    )


def small_store(tmp_path, species: str) -> Settings:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name in ("Homo_sapiens.gene_info", "Mus_musculus.gene_info"):
        shutil.copy(f"{DATA}/{name}", src)
    settings = Settings(
        source_dir=src,
        store_path=tmp_path / "s.sqlite",
        store_sources="ncbi",
        store_species=species,
    )
    build(settings, force=True, show_progress=False)
    return settings


def test_a_rebuilt_store_is_never_answered_from_the_cache(tmp_path):
    settings = small_store(tmp_path, "human")
    with serving(create_app(GeneStore.open(settings.store_path))) as url:
        before = get(url, q="symbol:cdk2", fields="taxid")
        assert get(url, q="symbol:cdk2", fields="taxid").headers["x-cache"] == "hit"
        assert [h["taxid"] for h in before.json()["hits"]] == [9606]
        small_store(tmp_path, "human,mouse")  # renamed into place while the server runs
        after = get(url, q="symbol:cdk2", fields="taxid")
        revalidate = httpx.get(
            f"{url}/query",
            params={"q": "symbol:cdk2", "fields": "taxid"},
            headers={"If-None-Match": before.headers["etag"]},
        )
        meta = httpx.get(f"{url}/metadata").json()
    assert after.headers["x-cache"] == "miss"
    assert sorted(h["taxid"] for h in after.json()["hits"]) == [9606, 10090]
    assert revalidate.status_code == 200 and revalidate.headers["etag"] != before.headers["etag"]
    assert meta["stats"]["total_species"] == 2


class GatedStore(GeneStore):
    """The real tiny store, counting its queries; the first waits until the test lets it run."""

    def __init__(self, path):
        super().__init__(path)
        self.calls = 0
        self.entered = threading.Event()
        self.go = threading.Event()

    def query(self, q=None, **raw):
        self.calls += 1
        self.entered.set()
        self.go.wait(timeout=30)
        return super().query(q, **raw)


def test_identical_requests_in_flight_are_computed_once(tiny_store_path):
    store = GatedStore(tiny_store_path)
    with serving(create_app(store)) as url:
        answers: list[httpx.Response] = []

        def ask() -> None:
            answers.append(get(url, q="symbol:brca1", fields="symbol"))

        threads = [threading.Thread(target=ask) for _ in range(6)]
        threads[0].start()
        assert store.entered.wait(timeout=10)
        for t in threads[1:]:
            t.start()
        time.sleep(0.5)  # the other five are waiting for the first one's answer
        store.go.set()
        for t in threads:
            t.join(timeout=30)
    assert store.calls == 1
    assert [r.status_code for r in answers] == [200] * 6
    assert sorted(r.headers["x-cache"] for r in answers) == ["hit"] * 5 + ["miss"]
    assert len({r.content for r in answers}) == 1


def test_store_serve_runs_worker_processes(tiny_store_path):
    """``python -m assistant store serve`` (``make serve``) with two uvicorn workers."""
    port = free_port()
    env = dict(os.environ, QA_STORE_WORKERS="2")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "store", "serve", "--store-path", str(tiny_store_path)]
        + ["--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/v3"
        deadline = time.time() + 60
        while True:
            try:
                r = get(url, q="symbol:cdk2", species="human", fields="symbol")
                break
            except httpx.TransportError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["hits"][0]["symbol"] == "CDK2"
        answers = [get(url, q="cdk*", fields="symbol").json() for _ in range(4)]
        assert all(a.pop("took") >= 0 for a in answers)  # each worker times its own run
        assert all(a == answers[0] for a in answers) and answers[0]["total"] > 2
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert b"2 worker processes" in out
