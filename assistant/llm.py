"""Language models: one small interface, a llama.cpp backend and an OpenAI-compatible backend.

Every backend implements :meth:`LanguageModel.generate`, which takes chat messages and an
optional GBNF grammar and returns a :class:`Generation` (text and token counts), or with
``stream=True`` a :class:`GenerationStream` that yields text pieces and holds the
:class:`Generation` once it is exhausted. :func:`get_model` picks the backend from a name:

- a registry name (``qwen2.5-coder-0.5b``, ``smollm2-135m``; see models/registry.toml) or a path
  to a ``.gguf`` file → :class:`LlamaCppModel`;
- ``openai:<model>`` (or ``openai`` for the ``openai_model`` setting) → :class:`OpenAIModel`.

>>> model = get_model("smollm2-135m", Settings())                     # doctest: +SKIP
>>> model.generate([{"role": "user", "content": "Is CDK2 a kinase?"}],
...                grammar='root ::= "yes" | "no"').text               # doctest: +SKIP
'yes'

``llama_cpp`` and ``openai`` are imported when a model is first loaded, so this module imports
without native code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ModelError
from .registry import OPENAI_PREFIX, ModelSpec, require_weights, resolve

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""


@dataclass
class Generation:
    """The result of one generation.

    ``prompt_tokens`` counts the whole formatted prompt; ``timings`` holds what the backend
    measured (seconds; for llama.cpp also ``prompt_eval_tokens``/``prompt_eval_s`` — the prompt
    tokens actually evaluated, fewer when the KV cache held a shared prefix — and
    ``eval_tokens``/``eval_s`` for the generated tokens; with speculative greedy decoding also
    ``spec_*``: forward passes, drafted/accepted/forced tokens, prompt tokens evaluated and
    cached, grammar and decode seconds — :class:`assistant.speculative.SpecStats`).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


class GenerationStream:
    """Iterate for the text pieces; afterwards :attr:`result` is the full :class:`Generation`."""

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Generation]):
        self._pieces = pieces
        self._finish = finish
        self._parts: list[str] = []
        self.result: Generation | None = None

    def __iter__(self) -> Iterator[str]:
        for piece in self._pieces:
            self._parts.append(piece)
            yield piece
        self.result = self._finish("".join(self._parts))

    def text(self) -> str:
        """Consume the stream and return the whole text."""
        for _ in self:
            pass
        return self.result.text if self.result else "".join(self._parts)


class LanguageModel:
    """A chat model that can be constrained by a GBNF grammar."""

    name: str = "model"

    def generate(
        self,
        messages: list[Message],
        grammar: str | None = None,
        max_tokens: int | None = None,
        stop: list[str] | None = None,
        stream: bool = False,
        **kwargs: Any,
    ) -> Generation | GenerationStream:
        """Answer ``messages``; ``grammar`` is GBNF text (root rule ``root``) or None.

        Extra keyword arguments go to the backend unchanged (``temperature``, ``top_k``...).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class LlamaCppModel(LanguageModel):
    """Thin wrapper around ``llama_cpp.Llama`` for one GGUF file.

    The model loads on first use (or :meth:`load`) and once only; a lock serializes every
    generation, because one llama context cannot serve two requests at once. Consecutive
    prompts that share a prefix (the same system prompt) reuse the KV cache: llama-cpp-python
    only evaluates the tokens after the longest common prefix. ``llama_kwargs`` go to
    ``llama_cpp.Llama`` unchanged.
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        name: str | None = None,
        chat_format: str | None = "gguf",
        n_ctx: int = 4096,
        n_threads: int = 2,
        n_batch: int = 512,
        lora_path: str | Path | None = None,
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int = 0,
        speculative: bool = False,
        draft_corpus: str | Path | None = None,
        **llama_kwargs: Any,
    ):
        self.model_path = Path(model_path)
        self.name = name or self.model_path.stem
        self.chat_format = None if chat_format in (None, "gguf") else chat_format
        self.lora_path = Path(lora_path) if lora_path else None
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.llama_kwargs = {
            "n_ctx": n_ctx,
            "n_threads": n_threads,
            "n_threads_batch": n_threads,
            "n_batch": n_batch,
            "n_ubatch": n_batch,
            "verbose": False,
            "seed": seed,
            "speculative": speculative,
            **llama_kwargs,
        }
        self.draft_corpus = Path(draft_corpus) if draft_corpus else None
        self.load_seconds: float | None = None
        self._llm = None
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def lock(self) -> threading.Lock:
        """The lock every generation holds (exposed so callers can batch several under it)."""
        return self._lock

    def load(self):
        """Load the GGUF file (once) and return the ``llama_cpp.Llama`` object."""
        if self._llm is None:
            with self._lock:
                if self._llm is None:
                    self._llm = self._load()
        return self._llm

    def _load(self):
        from .sampling import grammar_first_llama_class

        try:
            llama_class = grammar_first_llama_class()
        except ImportError as exc:
            raise ModelError(
                "llama-cpp-python is not installed; run `pip install -r requirements.txt`"
            ) from exc
        if not self.model_path.is_file():
            raise ModelError(
                f"model file not found at {self.model_path}; run "
                "`python -m assistant model fetch` or set QA_MODEL to a .gguf path"
            )
        if self.lora_path is not None and not self.lora_path.is_file():
            raise ModelError(
                f"LoRA adapter not found at {self.lora_path}; fix QA_LORA_PATH "
                "or the `lora` field in models/registry.toml"
            )
        t0 = time.perf_counter()
        try:
            llm = llama_class(
                model_path=str(self.model_path),
                chat_format=self.chat_format,
                lora_path=str(self.lora_path) if self.lora_path else None,
                **self.llama_kwargs,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"llama.cpp could not load {self.model_path} ({exc}): a truncated or damaged "
                "GGUF file? Fetch a registry model again with `python -m assistant model fetch "
                "<name> --force`, or set QA_MODEL to a good .gguf file"
            ) from exc
        speculative = self.llama_kwargs.get("speculative", False)
        if speculative and self.draft_corpus is not None and self.draft_corpus.is_file():
            # read only for the drafted decoder: the default one-pass loop never needs it
            from .pairs import read_pairs_file

            llm.draft_corpus = [p.query for p in read_pairs_file(self.draft_corpus)]
        self.load_seconds = time.perf_counter() - t0
        return llm

    def _grammar(self, text: str | None):
        if not text:
            return None
        g = self._grammars.get(text)
        if g is None:
            from llama_cpp import LlamaGrammar

            g = self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return g

    def _perf(self, llm) -> dict[str, float]:
        import llama_cpp

        d = llama_cpp.llama_perf_context(llm.ctx)
        out = {
            "prompt_eval_tokens": d.n_p_eval,
            "prompt_eval_s": d.t_p_eval_ms / 1000,
            "eval_tokens": d.n_eval,
            "eval_s": d.t_eval_ms / 1000,
        }
        stats = getattr(llm, "spec_stats", None)
        if stats is not None:
            out.update(stats.as_timings())
        return out

    def _request(self, messages, grammar, max_tokens, stop, stream, kwargs) -> dict[str, Any]:
        req = {
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": stream,
            **kwargs,
        }
        if stop:
            req["stop"] = list(stop)
        if grammar:
            req["grammar"] = self._grammar(grammar)
        return req

    def generate(self, messages, grammar=None, max_tokens=None, stop=None, stream=False, **kwargs):
        llm = self.load()
        req = self._request(messages, grammar, max_tokens, stop, stream, kwargs)
        if stream:
            return self._stream(llm, req)
        import llama_cpp

        with self._lock:
            llama_cpp.llama_perf_context_reset(llm.ctx)
            t0 = time.perf_counter()
            try:
                out = llm.create_chat_completion(**req)
            except ValueError as exc:  # e.g. the prompt does not fit into n_ctx
                raise ModelError(
                    f"{self.name}: {exc}; shorten the prompt or raise QA_N_CTX"
                ) from exc
            seconds = time.perf_counter() - t0
            timings = self._perf(llm)
        choice = out["choices"][0]
        usage = out.get("usage", {})
        return Generation(
            text=choice["message"].get("content") or "",
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            finish_reason=choice.get("finish_reason"),
            seconds=seconds,
            timings=timings,
        )

    def _stream(self, llm, req) -> GenerationStream:
        import llama_cpp

        state: dict[str, Any] = {}

        def pieces() -> Iterator[str]:
            with self._lock:
                llama_cpp.llama_perf_context_reset(llm.ctx)
                state["t0"] = time.perf_counter()
                try:
                    for chunk in llm.create_chat_completion(**req):
                        choice = chunk["choices"][0]
                        if choice.get("finish_reason"):
                            state["finish"] = choice["finish_reason"]
                        piece = choice.get("delta", {}).get("content")
                        if piece:
                            state["chunks"] = state.get("chunks", 0) + 1
                            yield piece
                except ValueError as exc:
                    raise ModelError(
                        f"{self.name}: {exc}; shorten the prompt or raise QA_N_CTX"
                    ) from exc
                state["seconds"] = time.perf_counter() - state["t0"]
                state["timings"] = self._perf(llm)
                state["n_tokens"] = llm.n_tokens

        def finish(text: str) -> Generation:
            # llama-cpp-python streams one chunk per generated token; every generated token
            # but the last is evaluated into the context, and all of them when generation
            # stopped at an end-of-generation token (which is not counted).
            completion = state.get("chunks", 0)
            evaluated = completion - (1 if state.get("finish") == "length" else 0)
            return Generation(
                text=text,
                prompt_tokens=int(state["n_tokens"] - evaluated),
                completion_tokens=completion,
                finish_reason=state.get("finish"),
                seconds=state["seconds"],
                timings=state["timings"],
            )

        return GenerationStream(pieces(), finish)


class OpenAIModel(LanguageModel):
    """A model behind any OpenAI-compatible chat completions endpoint.

    Works with api.openai.com, vLLM, and llama-cpp-python's own server
    (``python -m llama_cpp.server --model models/weights/...gguf``). A grammar is sent as
    ``extra_body={"grammar": ...}``, which llama.cpp-based servers honour and others ignore
    (``send_grammar=False`` leaves it out for servers that reject unknown fields).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 256,
        send_grammar: bool = True,
        **client_kwargs: Any,
    ):
        self.name = f"{OPENAI_PREFIX}{model}"
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.send_grammar = send_grammar
        self._client_kwargs = {
            "base_url": base_url,
            "api_key": api_key or "not-needed",
            **client_kwargs,
        }
        self._client = None
        self._lock = threading.Lock()

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import openai
                    except ImportError as exc:
                        raise ModelError(
                            "the openai package is not installed; run "
                            "`pip install -r requirements.txt`"
                        ) from exc
                    self._client = openai.OpenAI(**self._client_kwargs)
        return self._client

    def _request(self, messages, grammar, max_tokens, stop, stream, kwargs) -> dict[str, Any]:
        req = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "stream": stream,
            **kwargs,
        }
        if stop:
            req["stop"] = list(stop)
        if grammar and self.send_grammar:
            req["extra_body"] = {**req.get("extra_body", {}), "grammar": grammar}
        if stream:
            req["stream_options"] = {"include_usage": True}
        return req

    def generate(self, messages, grammar=None, max_tokens=None, stop=None, stream=False, **kwargs):
        import openai

        req = self._request(messages, grammar, max_tokens, stop, stream, kwargs)
        t0 = time.perf_counter()
        try:
            out = self.client.chat.completions.create(**req)
        except openai.OpenAIError as exc:
            # a server may quote the key it refused ("Incorrect API key provided: sk-...")
            message = str(exc).replace(self._client_kwargs["api_key"], "***")
            raise ModelError(
                f"{self.name}: the server at {self.client.base_url} failed: {message}; "
                "check QA_OPENAI_BASE_URL and QA_OPENAI_API_KEY"
            ) from None
        if stream:
            return self._stream(out, t0)
        choice = out.choices[0]
        return Generation(
            text=choice.message.content or "",
            prompt_tokens=out.usage.prompt_tokens if out.usage else 0,
            completion_tokens=out.usage.completion_tokens if out.usage else 0,
            finish_reason=choice.finish_reason,
            seconds=time.perf_counter() - t0,
        )

    def _stream(self, chunks, t0: float) -> GenerationStream:
        state: dict[str, Any] = {}

        def pieces() -> Iterator[str]:
            for chunk in chunks:
                if chunk.usage:
                    state["usage"] = chunk.usage
                if chunk.choices:
                    choice = chunk.choices[0]
                    if choice.finish_reason:
                        state["finish"] = choice.finish_reason
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content

        def finish(text: str) -> Generation:
            usage = state.get("usage")
            return Generation(
                text=text,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
                finish_reason=state.get("finish"),
                seconds=time.perf_counter() - t0,
            )

        return GenerationStream(pieces(), finish)


def llama_from_spec(spec: ModelSpec, settings: Settings, **llama_kwargs: Any) -> LlamaCppModel:
    """A :class:`LlamaCppModel` for a registry entry, configured from ``settings``."""
    lora = spec.lora_path(settings)
    return LlamaCppModel(
        require_weights(spec, settings),
        name=spec.name,
        chat_format=spec.chat_format,
        n_ctx=settings.n_ctx or spec.n_ctx,
        n_threads=settings.n_threads,
        n_batch=settings.n_batch,
        lora_path=lora,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        seed=settings.seed,
        speculative=settings.speculative,
        draft_corpus=settings.draft_corpus,
        **llama_kwargs,
    )


def get_model(
    name: str | None = None, settings: Settings | None = None, **kwargs: Any
) -> LanguageModel:
    """The model called ``name`` (default: the ``model`` setting), not yet loaded.

    ``"smollm2-135m"`` → LlamaCppModel of the registry entry; ``"/path/x.gguf"`` → LlamaCppModel
    of that file; ``"openai:gpt-4o-mini"`` → OpenAIModel. Unknown names raise
    :class:`~assistant.errors.UnknownModel` listing the registry's names. Extra keyword
    arguments go to the backend's constructor.
    """
    settings = settings or Settings()
    name = name or settings.model
    if name == "openai" or name.startswith(OPENAI_PREFIX):
        model = name[len(OPENAI_PREFIX) :] if name.startswith(OPENAI_PREFIX) else ""
        model = model or settings.openai_model
        return OpenAIModel(
            model,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            **kwargs,
        )
    return llama_from_spec(resolve(name, settings), settings, **kwargs)
