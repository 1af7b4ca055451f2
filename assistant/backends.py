"""Execute a :class:`~assistant.query.Query` against a BioThings gene API: the embedded store
(in-process, the default) or the live MyGene.info through ``biothings_client``.

Every backend implements one method, :meth:`Backend.query`, which takes a query and returns a
:class:`Result` (total, hits, facets, terms that matched nothing). Before anything runs,
:func:`safe_query` reduces the query to what the assistant may send: the ``query`` and ``gene``
endpoints only, the parameters the API description knows for that endpoint and method (minus
``email``, ``callback``, ``dotfield``, ``fetch_all`` and ``scroll_id``), ``size`` capped at the
``max_size`` setting and a gene id made of id characters only. The live backend also checks
every outgoing request (host and path) before httpx sends it, so no text a person or a model
writes can reach another host or path.

>>> backend = get_backend(Settings(), store=GeneStore.open("data/store/genes.sqlite"))  # doctest: +SKIP
>>> result = backend.query(parse_query("/v3/query?q=symbol:CDK2&species=human"))         # doctest: +SKIP
>>> result.total, result.hits[0]["symbol"]                                               # doctest: +SKIP
(1, 'CDK2')
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .config import Settings
from .errors import BackendError, ConfigError, LiveUnavailable, NotFound, QueryError, StoreError
from .query import Query
from .schema import ApiSpec, load_api

log = logging.getLogger(__name__)

GENE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
"""What a gene id in ``/v3/gene/<id>`` may look like (Entrez 1017, ENSG00000123374, ...)."""

DROPPED_PARAMS = ("email", "callback", "dotfield", "fetch_all", "scroll_id")
"""Known parameters the assistant never sends: no JSONP, no flattened keys, no scrolls."""

ENDPOINTS = ("query", "gene")

RETRY_STATUS = (502, 503, 504)
"""HTTP statuses of the live API that are retried (with timeouts and failed connections)."""


@dataclass
class Result:
    """What one executed query returned.

    ``hits`` are gene documents (for POST requests each carries the ``query`` term it matched);
    ``notfound`` lists POST terms or ids that matched nothing; ``sent`` is the query as actually
    sent (after :func:`safe_query`), ``notes`` say what was changed on the way. ``fallback``
    says why the embedded store answered instead of the live API ("the live API at
    mygene.info did not answer: timeout after 20 s (3 tries in 41.5 s); answered from the
    embedded store"), and is None when the backend asked answered.
    """

    sent: Query
    total: int
    hits: list[dict[str, Any]]
    facets: dict[str, Any] = field(default_factory=dict)
    notfound: list[str] = field(default_factory=list)
    seconds: float = 0.0
    backend: str = ""
    notes: list[str] = field(default_factory=list)
    fallback: str | None = None


def safe_query(
    query: Query, settings: Settings, api: ApiSpec | None = None
) -> tuple[Query, list[str]]:
    """The query reduced to what may be sent, and notes on what was changed.

    Raises :class:`QueryError` for an endpoint other than query/gene, a missing ``q``/id or a
    gene id with characters outside ``[A-Za-z0-9._:-]``.

    >>> from assistant.query import parse_query
    >>> q, notes = safe_query(parse_query("/v3/query?q=cdk2&size=5000&callback=x"), Settings())
    >>> q.to_text(), notes
    ('/v3/query?q=cdk2&size=100', ['dropped callback', 'size capped at 100 (was 5000)'])
    """
    api = api or load_api()
    if query.endpoint not in ENDPOINTS:
        raise QueryError(f"only the query and gene endpoints can be used, not {query.endpoint!r}")
    if query.method not in ("GET", "POST"):
        raise QueryError(f"only GET and POST requests are sent, not {query.method!r}")
    notes: list[str] = []
    params: dict[str, str] = {}
    for name, value in query.params.items():
        spec = api.parameters.get(name)
        if name in DROPPED_PARAMS:
            notes.append(f"dropped {name}")
        elif spec is None or query.endpoint not in spec.get("endpoints", ()):
            notes.append(f"dropped the unknown parameter {name}")
        elif query.method not in spec.get("methods", ("GET", "POST")):
            notes.append(f"dropped {name} (only for {'/'.join(spec['methods'])})")
        else:
            params[name] = str(value).strip()
    for name, cap in (
        ("size", settings.max_size),
        ("facet_size", settings.max_size),
        ("from", api.limits["max_from"]),
    ):
        if name in params:
            try:
                number = int(params[name])
            except ValueError:
                raise QueryError(f"{name} must be an integer, got {params[name]!r}") from None
            if number > cap:
                params[name] = str(cap)
                notes.append(f"{name} capped at {cap} (was {number})")
            elif number < 0:
                raise QueryError(f"{name} must be at least 0, got {number}")
    gene_id = query.gene_id
    q = query.q
    if query.endpoint == "gene" and query.method == "GET":
        if not gene_id or not GENE_ID_RE.match(gene_id):
            raise QueryError(
                f"{gene_id!r} is not a gene id — write an Entrez or Ensembl id such as 1017 "
                "or ENSG00000123374"
            )
        q = None
    elif query.endpoint == "gene":
        ids = _terms(params.get("ids", ""))
        if not ids:
            raise QueryError("ids is missing — POST /v3/gene needs ids=1017,672")
        bad = [i for i in ids if not GENE_ID_RE.match(i)]
        if bad:
            raise QueryError(f"{bad[0]!r} is not a gene id — use Entrez or Ensembl ids")
        ids, more = ids[: settings.max_size], len(ids) - settings.max_size
        if more > 0:
            notes.append(f"only the first {settings.max_size} ids were sent")
        params["ids"] = ",".join(ids)
        q = None
    elif query.method == "POST":
        terms = _terms(q or "")
        if not terms:
            raise QueryError("q is missing — POST /v3/query needs q=CDK2,BRCA1&scopes=symbol")
        if len(terms) > settings.max_size:
            notes.append(f"only the first {settings.max_size} terms were sent")
        q = ",".join(terms[: settings.max_size])
    elif not (q or "").strip():
        raise QueryError("q is missing — write q=<terms>, e.g. q=symbol:CDK2")
    sent = replace(query, q=q, gene_id=gene_id if query.method == "GET" else None, params=params)
    return sent, notes


def _terms(value: str) -> list[str]:
    return [t.strip() for t in value.split(",") if t.strip()]


class Backend:
    """A BioThings gene API the assistant can run queries on."""

    name = "backend"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.api = load_api()

    def query(self, query: Query) -> Result:
        """Run ``query`` (made safe first) and return its :class:`Result`.

        Raises :class:`QueryError` when the API refuses the query (HTTP 400) and
        :class:`BackendError` when it cannot be reached.
        """
        sent, notes = safe_query(query, self.settings, self.api)
        t0 = time.perf_counter()
        result = self._run(sent)
        result.seconds = time.perf_counter() - t0
        result.backend = self.name
        result.notes = notes + result.notes
        return result

    def _run(self, query: Query) -> Result:
        raise NotImplementedError

    def describe(self) -> str:
        """Where queries go, in words (shown in the trace and on the page)."""
        return self.name

    # --- shared shaping of responses -------------------------------------------------------
    @staticmethod
    def _from_query(sent: Query, out: dict) -> Result:
        return Result(
            sent=sent,
            total=int(out.get("total", len(out.get("hits", [])))),
            hits=list(out.get("hits", [])),
            facets=dict(out.get("facets", {}) or {}),
        )

    @staticmethod
    def _from_many(sent: Query, rows: list[dict]) -> Result:
        hits = [r for r in rows if not r.get("notfound")]
        missing = [str(r.get("query")) for r in rows if r.get("notfound")]
        return Result(sent=sent, total=len(hits), hits=hits, notfound=missing)


class EmbeddedBackend(Backend):
    """The embedded gene store, called in-process (no HTTP).

    ``store`` is an open :class:`~assistant.store.engine.GeneStore`; without one the store at the
    ``store_path`` setting is opened on first use.
    """

    name = "embedded"

    def __init__(self, settings: Settings, store=None):
        super().__init__(settings)
        self._store = store
        self._lock = threading.Lock()

    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    from .store.engine import GeneStore

                    self._store = GeneStore.open(
                        self.settings.store_path,
                        self.settings.query_timeout_ms,
                        self.settings.query_max_steps,
                    )
        return self._store

    def describe(self) -> str:
        return f"embedded store {self.store.path}"

    def _run(self, sent: Query) -> Result:
        params = dict(sent.params)
        if sent.endpoint == "query" and sent.method == "GET":
            return self._from_query(sent, self.store.query(sent.q, **params))
        if sent.endpoint == "query":
            scopes = params.pop("scopes", None)
            return self._from_many(sent, self.store.querymany(sent.q, scopes=scopes, **params))
        if sent.method == "GET":
            try:
                doc = self.store.getgene(sent.gene_id, **params)
            except NotFound:
                return Result(sent=sent, total=0, hits=[], notfound=[sent.gene_id or ""])
            return Result(sent=sent, total=1, hits=[doc])
        ids = params.pop("ids")
        return self._from_many(sent, self.store.getgenes(ids, **params))


class LiveBackend(Backend):
    """The live MyGene.info API (or any BioThings gene API at the ``live_url`` setting),
    through ``biothings_client.get_client("gene", url=...)``.

    Requests go to that base URL only: an httpx request hook refuses any other scheme, host,
    port or a path outside ``<base>/query`` and ``<base>/gene``, and every request has a
    timeout (``live_timeout_s``, shortened so that no try runs past ``live_max_s``).

    A query that times out, cannot connect or gets 502/503/504 is tried again up to
    ``live_retries`` times, after ``live_backoff_s``, doubling (or a 503's longer
    ``Retry-After``), while ``live_max_s`` allows; a 4xx is the query's fault and is never
    retried (:class:`QueryError`). When the API still does not answer, or answers a 5xx or a
    body that is not JSON, :class:`~assistant.errors.LiveUnavailable` is raised — or, with a
    ``fallback`` backend (the embedded store; :func:`get_backend` adds it when the
    ``live_fallback`` setting is on), the fallback answers and :attr:`Result.fallback` says so.
    """

    name = "live"

    def __init__(self, settings: Settings, fallback: Backend | None = None):
        super().__init__(settings)
        base = urlsplit(settings.live_url.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.hostname:
            raise ConfigError(
                f"live_url {settings.live_url!r} is not an http(s) URL — set QA_LIVE_URL to "
                "e.g. https://mygene.info/v3"
            )
        self.base = base
        self.fallback = fallback
        self._client = None
        self._lock = threading.Lock()
        self._deadline = threading.local()

    def describe(self) -> str:
        text = f"live API {self.settings.live_url}"
        if self.fallback is not None:
            text += " (the embedded store answers when it does not)"
        return text

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import biothings_client
                    import httpx

                    client = biothings_client.get_client("gene", url=self.settings.live_url)
                    client.http_client = httpx.Client(
                        timeout=httpx.Timeout(self.settings.live_timeout_s),
                        event_hooks={"request": [self.check_request]},
                        follow_redirects=False,
                        trust_env=False,
                    )
                    client.http_client_setup = True
                    client.step = self.api.limits["max_post_terms"]
                    client.delay = 0
                    self._client = client
        return self._client

    def check_request(self, request) -> None:
        """Refuse (raise :class:`BackendError`) any request that is not to the configured API's
        /query or /gene endpoints; shorten its timeout to what the query's ``live_max_s`` has
        left."""
        url = request.url
        prefix = self.base.path.rstrip("/")
        path = url.path
        allowed = {f"{prefix}/{e}{end}" for e in ENDPOINTS for end in ("", "/")}
        one_gene = re.fullmatch(re.escape(prefix) + r"/gene/[A-Za-z0-9][A-Za-z0-9._:%-]*", path)
        if (
            url.scheme != self.base.scheme
            or url.host != self.base.hostname
            or url.port != self.base.port
            or not (path in allowed or (one_gene and ".." not in path))
            or request.method not in ("GET", "POST")
        ):
            raise BackendError(
                f"refused to send {request.method} {url} — only {self.settings.live_url}/query "
                "and /gene are allowed"
            )
        deadline = getattr(self._deadline, "at", None)
        if deadline is not None:
            import httpx

            left = max(deadline - time.monotonic(), 0.001)
            timeout = httpx.Timeout(min(self.settings.live_timeout_s, left))
            request.extensions = {**request.extensions, "timeout": timeout.as_dict()}

    def query(self, query: Query) -> Result:
        """:meth:`Backend.query` on the live API; when it does not answer, on the ``fallback``
        backend (if any), with :attr:`Result.fallback` saying why."""
        try:
            return super().query(query)
        except LiveUnavailable as exc:
            if self.fallback is None:
                raise
            log.warning("%s; answering from the embedded store", exc.problem)
            try:
                result = self.fallback.query(query)
            except StoreError as store_exc:
                raise LiveUnavailable(
                    f"{exc.problem}, and the embedded store could not answer either ({store_exc})"
                ) from None
            result.fallback = f"{exc.problem}; answered from the embedded store"
            result.notes.insert(0, result.fallback)
            return result

    def _run(self, sent: Query) -> Result:
        """Send ``sent``, trying again after retryable faults (see the class docstring)."""
        import httpx

        s = self.settings
        host = self.base.netloc
        t0 = time.monotonic()
        deadline = t0 + s.live_max_s
        tries = 0
        while True:
            tries += 1
            retry_after = 0.0
            self._deadline.at = deadline
            try:
                return self._send(sent)
            except httpx.HTTPStatusError as exc:
                status = exc.response.status_code
                message = _error_message(exc.response)
                if status < 500:
                    raise QueryError(message, status=status) from None
                if status not in RETRY_STATUS:
                    raise LiveUnavailable(f"the live API at {host} failed: {message}") from None
                problem, retry_after = message, _retry_after(exc.response)
            except httpx.TimeoutException:
                problem = f"timeout after {min(s.live_timeout_s, s.live_max_s):g} s"
            except httpx.TransportError as exc:  # refused, reset, closed without an answer
                problem = str(exc) or type(exc).__name__
            except httpx.HTTPError as exc:
                raise LiveUnavailable(f"the live API at {host} failed: {exc}") from None
            except ValueError as exc:  # a response that is not JSON
                raise LiveUnavailable(
                    f"the live API at {host} answered something that is not MyGene JSON ({exc})"
                ) from None
            finally:
                self._deadline.at = None
            wait = max(retry_after, s.live_backoff_s * 2 ** (tries - 1))
            if tries > s.live_retries or time.monotonic() + wait >= deadline:
                seconds = time.monotonic() - t0
                raise LiveUnavailable(
                    f"the live API at {host} did not answer: {problem} "
                    f"({tries} {'try' if tries == 1 else 'tries'} in {seconds:.1f} s)"
                )
            log.info("live API try %d failed (%s); trying again in %.2f s", tries, problem, wait)
            time.sleep(wait)

    def _send(self, sent: Query) -> Result:
        """One try; a body that is JSON but not the shape MyGene answers is a ValueError."""
        params: dict[str, Any] = dict(sent.params)
        client = self.client
        if sent.endpoint == "query" and sent.method == "GET":
            out = client.query(sent.q, verbose=False, **params)
            if not isinstance(out, dict) or not isinstance(out.get("hits", []), list):
                raise ValueError(f"expected an object with hits, got {_kind(out)}")
            return self._from_query(sent, out)
        if sent.endpoint == "query":
            scopes = params.pop("scopes", None)
            rows = client.querymany(_terms(sent.q or ""), scopes=scopes, verbose=False, **params)
            return self._from_many(sent, _documents(rows))
        if sent.method == "GET":
            doc = client.getgene(sent.gene_id, verbose=False, **params)
            if doc is None:
                return Result(sent=sent, total=0, hits=[], notfound=[sent.gene_id or ""])
            if not isinstance(doc, dict):
                raise ValueError(f"expected a gene object, got {_kind(doc)}")
            return Result(sent=sent, total=1, hits=[doc])
        ids = _terms(params.pop("ids"))
        return self._from_many(sent, _documents(client.getgenes(ids, verbose=False, **params)))


def _kind(value: Any) -> str:
    return type(value).__name__


def _documents(rows: Any) -> list[dict]:
    """The rows of a POST answer, checked to be a list of objects."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"expected a list of gene objects, got {_kind(rows)}")
    return rows


def _retry_after(response) -> float:
    """The seconds of a ``Retry-After: 2`` header (0 when absent or a date)."""
    try:
        return max(float(response.headers.get("retry-after", 0)), 0.0)
    except ValueError:
        return 0.0


def _error_message(response) -> str:
    try:
        body = response.json()
        text = body.get("error") or body.get("reason") or str(body)
    except ValueError:
        text = response.text[:200]
    return f"HTTP {response.status_code}: {text}"


BACKENDS = {"embedded": EmbeddedBackend, "live": LiveBackend}


def get_backend(settings: Settings, name: str | None = None, store=None) -> Backend:
    """The backend called ``name`` (default: the ``backend`` setting).

    ``store`` (an open GeneStore) is used by the embedded backend instead of opening
    ``store_path``; with the ``live_fallback`` setting on, the live backend falls back to that
    embedded store (opened on first use) when the live API does not answer.
    """
    name = name or settings.backend
    if name == "embedded":
        return EmbeddedBackend(settings, store=store)
    if name == "live":
        fallback = EmbeddedBackend(settings, store=store) if settings.live_fallback else None
        return LiveBackend(settings, fallback=fallback)
    raise ConfigError(f"unknown backend {name!r}; known backends: {', '.join(BACKENDS)}")
