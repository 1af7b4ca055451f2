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


class RetrievalError(AssistantError):
    """The retrieval index or its embedding model is missing or broken."""


class BackendError(AssistantError):
    """The API could not be reached or answered something that is not a MyGene response."""
