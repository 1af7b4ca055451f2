"""The OpenAI-compatible endpoint that writes instructions (``datagen``) and field
descriptions (``annotate``), and a JSON-schema client for it.

:func:`open_endpoint` picks the endpoint from the settings:

- an OpenAI key is configured (``QA_OPENAI_API_KEY``, e.g. in ``.env``): the server at
  ``openai_base_url`` (unset: api.openai.com) with ``openai_model``;
- otherwise: :class:`LocalServer` starts llama-cpp-python's OpenAI-compatible server
  (``python -m llama_cpp.server --model <gguf> --host 127.0.0.1 --port <server_port>``) on the
  configured local model (a registry name such as ``smollm2-135m``, resolved to its GGUF file by
  :mod:`assistant.registry`), waits until ``/v1/models`` answers and stops it on exit.

Either way the ``openai`` client talks to a real server. :class:`JsonClient` asks for JSON that
follows a schema: ``response_format={"type": "json_schema", ...}`` for OpenAI, and the
``{"type": "json_object", "schema": ...}`` form llama-cpp-python's server understands (it turns
the schema into a grammar), falling back from the first to the second when a server refuses it.

>>> with open_endpoint(Settings(model="smollm2-135m")) as endpoint:       # doctest: +SKIP
...     client = JsonClient(endpoint)
...     client.complete([{"role": "user", "content": "Name a kinase."}],
...                     {"type": "object", "properties": {"gene": {"type": "string"}},
...                      "required": ["gene"]})
{'gene': 'CDK2'}
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import ConfigError, ModelError
from ..registry import require_weights, resolve

SERVER_EXTRAS = ("sse_starlette", "starlette_context")
"""Modules ``llama_cpp.server`` needs beyond llama-cpp-python (its ``[server]`` extras)."""


ENDPOINT_SETTINGS = [
    "model",
    "server_port",
    "n_threads",
    "openai_base_url",
    "openai_model",
    "temperature",
    "seed",
]
"""Settings of the model endpoint that `datagen` and `annotate` both take as flags."""


def add_endpoint_arguments(parser) -> None:
    """The flags of the instruction-writing endpoint, shared by `datagen` and `annotate`."""
    from ..config import add_settings_arguments

    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds per model request.")
    parser.add_argument(
        "--start-timeout", type=float, default=180.0, help="Seconds to wait for the local server."
    )
    add_settings_arguments(parser, ENDPOINT_SETTINGS)


class EndpointUnavailable(ModelError):
    """The instruction-writing server cannot be reached (not started, died, timed out)."""


class BadOutput(ModelError):
    """The server answered, but not with JSON that follows the schema."""


@dataclass
class Endpoint:
    """Where to send chat completions: ``base_url`` (ending in ``/v1``), key and model name.

    ``kind`` is ``openai`` or ``local``; ``alive`` (local servers) says whether the server
    process still runs. The key never shows in a ``repr`` (logs, tracebacks).

    >>> "sk-secret" in repr(Endpoint("https://api.openai.com/v1", "sk-secret", "gpt"))
    False
    """

    base_url: str
    api_key: str = field(repr=False)
    model: str
    kind: str = "openai"
    alive: Callable[[], bool] | None = None
    describe: str = ""


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    """A TCP port nothing listens on now (for tests and parallel runs)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 for one local model, as a context manager.

    ``model`` is a registry name or a ``.gguf`` path (default: the ``model`` setting);
    ``log_path`` receives the server's output (its last lines are quoted when it fails).
    """

    def __init__(
        self,
        settings: Settings,
        model: str | None = None,
        log_path: Path | None = None,
        start_timeout: float = 180.0,
        n_ctx: int | None = None,
    ):
        self.settings = settings
        self.model = model or settings.model
        self.port = settings.server_port
        self.log_path = Path(log_path) if log_path else None
        self.start_timeout = start_timeout
        self.n_ctx = n_ctx
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The server's command line (the weights must be fetched)."""
        if self.model.startswith("openai"):
            raise ConfigError(
                f"model {self.model!r} is not a local model — set QA_OPENAI_API_KEY to use an "
                "OpenAI-compatible server, or pass a registry name such as smollm2-135m"
            )
        spec = resolve(self.model, self.settings)
        path = require_weights(spec, self.settings)
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(path),
            "--model_alias",
            spec.name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx or self.settings.n_ctx or spec.n_ctx),
            "--n_threads",
            str(self.settings.n_threads),
            "--n_threads_batch",
            str(self.settings.n_threads),
            "--n_batch",
            str(self.settings.n_batch),
            "--seed",
            str(self.settings.seed),
            "--verbose",
            "False",
        ]
        if spec.chat_format and spec.chat_format != "gguf":
            cmd += ["--chat_format", spec.chat_format]
        lora = spec.lora_path(self.settings)
        if lora is not None:
            cmd += ["--lora_path", str(lora)]
        return cmd

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 8) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def start(self) -> Endpoint:
        """Start the server and wait until ``/v1/models`` answers (or raise :class:`ModelError`)."""
        missing = [m for m in SERVER_EXTRAS if importlib.util.find_spec(m) is None]
        if missing:
            raise ModelError(
                f"llama_cpp.server needs {', '.join(missing)} — run "
                "`pip install sse-starlette 'starlette-context>=0.3.6,<0.4'` "
                "(llama-cpp-python's [server] extras; listed in requirements.txt)"
            )
        cmd = self.command()
        if not _free(self.port):
            raise ConfigError(
                f"port {self.port} on 127.0.0.1 is in use — stop what listens there or set "
                "QA_SERVER_PORT (--server-port) to a free port"
            )
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._wait_ready()
        return self.endpoint

    def _wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                self.stop()
                raise ModelError(
                    f"the local model server exited (code {code}) before it was ready"
                    + (f":\n{self.log_tail()}" if self.log_tail() else "")
                    + f"\n(see {self.log_path})" * bool(self.log_path)
                )
            try:
                r = httpx.get(f"{self.base_url}/models", timeout=2.0, trust_env=False)
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise ModelError(
            f"the local model server did not answer {self.base_url}/models within "
            f"{self.start_timeout:.0f} s — the machine may be busy; try again"
        )

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(
            self.base_url,
            "local",
            resolve(self.model, self.settings).name,
            kind="local",
            alive=self.alive,
            describe=f"llama_cpp.server {self.model} at {self.base_url}",
        )

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 10 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def open_endpoint(
    settings: Settings,
    model: str | None = None,
    log_path: Path | None = None,
    start_timeout: float = 180.0,
) -> Iterator[Endpoint]:
    """The OpenAI endpoint when a key is configured, else a :class:`LocalServer` for the run."""
    if settings.openai_api_key:
        name = model.split(":", 1)[1] if model and model.startswith("openai:") else None
        yield Endpoint(
            settings.openai_base_url or "https://api.openai.com/v1",
            settings.openai_api_key,
            name or settings.openai_model,
            kind="openai",
            describe=f"{name or settings.openai_model} at "
            f"{settings.openai_base_url or 'api.openai.com'}",
        )
        return
    with LocalServer(settings, model, log_path, start_timeout) as server:
        yield server.endpoint


class JsonClient:
    """Chat completions that must come back as a JSON object following a schema.

    Connection failures, timeouts and 5xx answers raise :class:`EndpointUnavailable`; an answer
    that is not a JSON object raises :class:`BadOutput`. ``seconds`` and ``calls`` add up the
    time spent and the requests made.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        timeout: float = 120.0,
        max_tokens: int = 200,
        temperature: float = 0.0,
        seed: int = 0,
    ):
        from openai import OpenAI

        self.endpoint = endpoint
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self.mode = "json_object" if endpoint.kind == "local" else "json_schema"
        self.client = OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            timeout=timeout,
            max_retries=0 if endpoint.kind == "local" else 2,
        )
        self.seconds = 0.0
        self.calls = 0
        self.tokens = 0

    def _format(self, schema: dict, name: str) -> dict:
        if self.mode == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": True},
            }
        return {"type": "json_object", "schema": schema}

    def complete(
        self,
        messages: list[dict[str, str]],
        schema: dict,
        name: str = "answer",
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        """The JSON object the model writes for ``messages``, following ``schema``."""
        import openai

        t0 = time.perf_counter()
        try:
            for attempt in range(2):
                try:
                    response = self.client.chat.completions.create(
                        model=self.endpoint.model,
                        messages=messages,
                        response_format=self._format(schema, name),
                        temperature=self.temperature if temperature is None else temperature,
                        seed=self.seed if seed is None else seed,
                        max_tokens=max_tokens or self.max_tokens,
                    )
                    break
                except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                    if attempt == 0 and self.mode == "json_schema" and "json" in str(exc).lower():
                        self.mode = "json_object"  # a server that knows only the other form
                        continue
                    raise BadOutput(f"the server refused the request: {exc}") from None
                except openai.InternalServerError as exc:
                    if attempt == 0 and self.mode == "json_schema" and "json_schema" in str(exc):
                        self.mode = "json_object"
                        continue
                    raise EndpointUnavailable(f"the server failed: {exc}") from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise EndpointUnavailable(
                f"cannot reach {self.endpoint.base_url} ({type(exc).__name__}: {exc})"
            ) from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise EndpointUnavailable(f"the server failed: {exc}") from None
            raise BadOutput(f"the server refused the request: {exc}") from None
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1
        if response.usage is not None:
            self.tokens += response.usage.completion_tokens or 0
        text = (response.choices[0].message.content or "").strip() if response.choices else ""
        return parse_json_object(text)


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (code fences and text around it are ignored).

    >>> parse_json_object('```json\\n{"imperative": "Find CDK2."}\\n```')
    {'imperative': 'Find CDK2.'}
    """
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise BadOutput(f"no JSON object in the answer: {text[:120]!r}")
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise BadOutput(f"the answer is not valid JSON ({exc}): {text[:120]!r}") from None
    if not isinstance(data, dict):
        raise BadOutput(f"the answer is not a JSON object: {text[:120]!r}")
    return data
