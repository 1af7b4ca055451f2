"""The project's small exception tree.

Every message says how to fix the problem; only the edges (CLI, HTTP service, Gradio page) turn
these into user-facing messages.
"""


class AssistantError(Exception):
    """Base class of every error the assistant raises on purpose."""


class ConfigError(AssistantError):
    """A setting is missing or wrong (a path that does not exist, an unknown name)."""


class StoreError(AssistantError):
    """The embedded gene store is missing, unreadable or being built."""


class StoreNotBuilt(StoreError):
    """No store file at the configured path."""


class StoreCorrupt(StoreNotBuilt):
    """A store file that is not a usable gene store: not SQLite, truncated, damaged or missing
    tables (the message says to rebuild it with ``python -m assistant store build --force``)."""


class QueryError(AssistantError):
    """A query the store cannot run: bad syntax, unknown species, out-of-range size.

    ``status`` is the HTTP status the MyGene-compatible service answers with.
    """

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class StoreBusy(QueryError):
    """The store is saturated: a valid query could not be served in time (HTTP 503 with
    ``Retry-After``); it is never the query's fault, so it is never a 400."""

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message, status=503)
        self.retry_after_s = retry_after_s


class NotFound(QueryError):
    """An unknown gene id (HTTP 404 on /v3/gene/{id})."""

    def __init__(self, message: str = "Not Found."):
        super().__init__(message, status=404)


class ModelError(AssistantError):
    """A language model cannot be found, fetched, loaded or run."""


class UnknownModel(ModelError, ConfigError):
    """A model name that is not in models/registry.toml (the message lists the known names)."""


class ModelNotFetched(ModelError):
    """A registry model whose weights are not in models/weights yet."""


class ModelCorrupt(ModelError):
    """A model file that is there but is not the model: truncated, not GGUF, or bytes that do
    not match the recorded sha256 (the message says how to fetch it again)."""


class RetrievalError(AssistantError):
    """The retrieval index or its embedding model is missing or broken."""


class BackendError(AssistantError):
    """The API could not be reached or answered something that is not a MyGene response."""


class LiveUnavailable(BackendError):
    """The live API did not answer: timeouts, refused connections or 5xx after the retries, or
    a body that is not JSON. ``problem`` says what happened without the advice, so a fallback
    can say "...; answered from the embedded store" instead."""

    def __init__(self, problem: str):
        super().__init__(
            f"{problem} — try again later, or answer from the embedded store: --backend "
            "embedded (QA_BACKEND=embedded, or Backend on the page) or QA_LIVE_FALLBACK=true"
        )
        self.problem = problem
