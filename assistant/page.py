"""What the Gradio page does, without Gradio: ask (stage by stage, the query streaming as the
model writes it), run an edited query, mark an answer right or wrong, save a corrected query,
list and export corrections, draw the charts. ``app.py`` only lays out components and wires
their events to a :class:`PageService`.

Every method returns plain values (strings, dicts, matplotlib figures) keyed by the names of
the page's outputs (:data:`OUTPUTS`); a conversation's state is a plain dict
(:meth:`PageService.new_state`) kept per browser session by the page.

>>> service = PageService(Assistant(Settings(model="smollm2-135m")), InteractionLog(db, log))  # doctest: +SKIP
>>> state = service.new_state()                                                                 # doctest: +SKIP
>>> *_, view = service.ask("Where is human BRCA1 located?", "zero-shot", "smollm2-135m",
...                        "embedded", state)                                                   # doctest: +SKIP
>>> view["query"], view["total"]                                                                # doctest: +SKIP
('/v3/query?q=symbol:BRCA1&species=human&fields=genomic_pos', 1)
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from .backends import BACKENDS, get_backend
from .errors import AssistantError, ConfigError, StoreError
from .logstore import InteractionLog, LogError, Logged, PartlyLogged
from .pipeline import Answer, Assistant
from .plots import FACET_FIELDS, MAX_MARKERS, facet_figure, ideogram, positions
from .prompts import MODES
from .query import parse_query, validate

log = logging.getLogger(__name__)

OUTPUTS = (
    "status",
    "query",
    "link",
    "total",
    "answer",
    "table",
    "chart",
    "ideogram",
    "raw",
    "context",
    "timings",
    "chat",
)
"""The page's answer outputs, in the order ``app.py`` lists its components."""

EXAMPLES = (
    "What is the official symbol of LMP10?",
    "What is the Entrez gene id of human CDK2?",
    "Convert ENSG00000123374 to an Entrez gene id",
    "Which GO biological processes is human CDK2 involved in?",
    "Which Reactome pathways is human BRCA1 in?",
    "Where is human BRCA1 located?",
    "Give the symbols and names of genes 1017, 672 and 7157",
    "Which human genes lie in chr12:55,900,000-56,000,000?",
    "How many genes matching CDK* are there, by species?",
)
"""Clickable examples: lookup, id conversion, GO, pathways, location, several genes, an
interval and a count over many genes."""

STAGES = {
    "start": "1/4 Retrieving context…",
    "retrieved": "2/4 Writing the query…",
    "retry": "2/4 The query was invalid — writing it again…",
    "generated": "3/4 Running the query…",
    "executed": "4/4 Summarizing…",
}
DONE = {
    "ok": "✔ Answered",
    "ambiguous": "✔ Answered (several genes match)",
    "no_hits": "✔ No gene matched",
    "invalid": "⚠ No valid query",
    "error": "⚠ The query failed",
    "rejected": "⚠ Not asked",
}
FACET_MIN_HITS = 10
"""Queries with at least this many hits get the hits-by-species / by-type chart."""
MAX_HISTORY = 40
"""Chat messages kept in a conversation's state (20 turns)."""


def escape_markdown(text: str) -> str:
    r"""Text shown as-is inside Markdown (``GO:0007049`` stays, ``*`` and ``_`` do not format).

    >>> escape_markdown("BRCA1_HUMAN *or* <b>")
    'BRCA1\\_HUMAN \\*or\\* \\<b\\>'
    """
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


def table_value(columns: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """The results table for a ``gr.Dataframe`` (repeated columns kept once)."""
    keep = [i for i, c in enumerate(columns) if c not in columns[:i]]
    headers = [columns[i] for i in keep] or ["result"]
    data = [[row[i] if i < len(row) else "" for i in keep] for row in rows] if keep else []
    return {"headers": headers, "data": data}


def user_message(exc: BaseException) -> str:
    """A readable message for an error that escaped the pipeline (never a traceback)."""
    if isinstance(exc, AssistantError):
        return f"⚠ {exc}"
    return (
        f"⚠ Something went wrong on the server ({type(exc).__name__}). The error is in the "
        "server log; try again, or another question."
    )


class PageService:
    """The page's logic around one loaded :class:`~assistant.pipeline.Assistant` (the default
    model, mode and backend of its settings) and one :class:`~assistant.logstore.InteractionLog`.

    Other models and backends chosen on the page are made on first use and kept (the model
    loads once, and llama.cpp's lock serializes generations); the retriever and the embedded
    store are shared.
    """

    def __init__(self, bot: Assistant, log: InteractionLog, models: list[str] | None = None):
        self.bot = bot
        self.settings = bot.settings
        self.log = log
        self.model_names = list(models) if models is not None else default_models(self.settings)
        if self.settings.model not in self.model_names:
            self.model_names.insert(0, self.settings.model)
        self._models: dict[str, Any] = {}
        self._backends: dict[str, Any] = {}
        self._bots: dict[tuple[str, str], Assistant] = {}
        self._lock = threading.Lock()

    # --- components --------------------------------------------------------------------------
    def assistant_for(self, model: str | None, backend: str | None) -> Assistant:
        """The assistant for a model and backend chosen on the page (checked against the known
        names: the page never loads an arbitrary path)."""
        model = model or self.settings.model
        backend = backend or self.settings.backend
        if model not in self.model_names:
            raise ConfigError(
                f"unknown model {model!r}; choose one of {', '.join(self.model_names)}"
            )
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if (model, backend) == (self.settings.model, self.settings.backend):
            return self.bot
        with self._lock:
            key = (model, backend)
            if key not in self._bots:
                settings = self.settings.model_copy(update={"model": model, "backend": backend})
                self._bots[key] = Assistant(
                    settings,
                    model=self._model(model),
                    retriever=self.bot.retriever,
                    backend=self._backend(backend),
                )
            return self._bots[key]

    def _model(self, name: str):
        if name == self.settings.model:
            return self.bot.model
        if name not in self._models:
            from .llm import get_model

            self._models[name] = get_model(name, self.settings)
        return self._models[name]

    def _backend(self, name: str):
        if name == self.settings.backend:
            return self.bot.backend
        if name not in self._backends:
            # the embedded backend, and the live one's fallback, share the bot's store
            try:
                store = getattr(self.bot.backend, "store", None)
            except StoreError:
                if name == "embedded":
                    raise
                store = None  # the fallback opens the store itself, if it ever has to
            self._backends[name] = get_backend(self.settings, name, store=store)
        return self._backends[name]

    # --- state --------------------------------------------------------------------------------
    @staticmethod
    def new_state() -> dict[str, Any]:
        """A new conversation: its id, the previous turn (for follow-ups), the logged turn that
        verdicts and corrections refer to, and the chat history."""
        return {
            "session": uuid.uuid4().hex[:12],
            "previous": None,
            "logged": None,
            "question": None,
            "history": [],
        }

    def _state(self, state: Any) -> dict[str, Any]:
        if not isinstance(state, dict) or "session" not in state:
            return self.new_state()
        return state

    # --- asking -------------------------------------------------------------------------------
    def ask(
        self, question: Any, mode: str | None, model: str | None, backend: str | None, state: Any
    ) -> Iterator[dict[str, Any]]:
        """Answer ``question`` in the conversation ``state``, yielding partial views (stage
        messages, the query as it is written) and finally the whole view with ``state``."""
        state = self._state(state)
        mode = mode or self.bot.default_mode
        problem = self._question_problem(question)
        if problem:
            rejected = Answer(
                question=question[: self.settings.max_question_chars],
                mode=mode,
                model=model or self.settings.model,
                status="rejected",
                answer=problem,
            )
            notes = self._record(rejected, state, "ask", backend)
            yield {**self.view(rejected, self.bot, notes), "state": state}
            return
        yield {**self.empty_view(), "status": STAGES["start"]}
        answer: Answer | None = None
        bot = self.bot
        try:
            if mode not in MODES:
                raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
            bot = self.assistant_for(model, backend)
            written = ""
            for event in bot.stream(question, mode, previous=state["previous"]):
                if event.stage == "token":
                    written += event.data
                    yield {"query": written}
                elif event.stage == "retrieved":
                    yield {"status": STAGES["retrieved"], "context": {"retrieved": event.data}}
                elif event.stage == "generated":
                    retry = bool(event.data["errors"]) and event.data["attempt"] == 1
                    written = ""
                    yield {"status": STAGES["retry" if retry else "generated"]}
                elif event.stage == "criticised" and event.data["fixes"]:
                    yield {"query": event.data["query"]}
                elif event.stage == "executed":
                    yield {"status": STAGES["executed"], "total": event.data["total"]}
                elif event.stage == "answer":
                    answer = event.data
        except Exception as exc:  # the page's edge: a readable message, never a traceback
            if not isinstance(exc, AssistantError):
                log.exception("asking %r failed", question)
            answer = self._failed(question, mode, model or self.settings.model, exc)
        assert answer is not None
        notes = self._record(answer, state, "ask", backend)
        if answer.valid:
            state["previous"] = answer.as_previous()
        state["question"] = answer.question or state["question"]
        self._remember(state, answer)
        yield {**self.view(answer, bot, notes), "state": state}

    def run_query(
        self,
        text: Any,
        mode: str | None,
        model: str | None,
        backend: str | None,
        state: Any,
    ) -> dict[str, Any]:
        """Run an edited query (no model) for the conversation's last question."""
        state = self._state(state)
        logged = state.get("logged") or {}
        question = state.get("question") or ""
        bot = self.bot
        try:
            bot = self.assistant_for(model, backend)
            answer = bot.run_query(text, question=question, mode=mode or bot.default_mode)
        except Exception as exc:
            if not isinstance(exc, AssistantError):
                log.exception("running %r failed", text)
            answer = self._failed(question, mode or self.settings.mode, model or "", exc)
        notes = self._record(answer, state, "rerun", backend, generated=logged.get("generated"))
        if answer.valid and answer.status != "error":
            state["previous"] = answer.as_previous()
        self._remember(state, answer, edited=True)
        return {**self.view(answer, bot, notes), "state": state}

    def _question_problem(self, question: Any) -> str | None:
        if isinstance(question, str) and len(question) > self.settings.max_question_chars:
            return (
                f"The question is {len(question):,} characters long — ask it in at most "
                f"{self.settings.max_question_chars:,} characters."
            )
        return None

    def _failed(self, question: Any, mode: str, model: str, exc: BaseException) -> Answer:
        text = question if isinstance(question, str) else ""
        mode = mode if mode in MODES else self.settings.mode
        return Answer(
            question=text[:500], mode=mode, model=model, status="error", answer=user_message(exc)
        )

    def _record(
        self,
        answer: Answer,
        state: dict,
        kind: str,
        backend: str | None,
        generated: str | None = None,
    ) -> list[str]:
        """Log the turn; a log that cannot be written is a note on the page, not a failure."""
        try:
            logged = self.log.record_answer(
                answer,
                session=state["session"],
                kind=kind,
                generated=generated,
                backend=backend or self.settings.backend,
            )
        except PartlyLogged as exc:  # the row is in the database; verdicts can refer to it
            log.error("could not log the interaction fully: %s", exc)
            state["logged"] = exc.logged.to_dict()
            return [str(exc)]
        except (LogError, OSError) as exc:
            log.error("could not log the interaction: %s", exc)
            return [f"this turn was not logged: {exc}"]
        state["logged"] = logged.to_dict()
        return []

    @staticmethod
    def _remember(state: dict, answer: Answer, edited: bool = False) -> None:
        question = answer.question or "(no question)"
        reply = answer.answer
        if answer.query:
            reply += f"\n\n`{answer.query}`" + (" (edited)" if edited else "")
        if not edited:
            state["history"].append({"role": "user", "content": question})
        state["history"].append({"role": "assistant", "content": reply})
        del state["history"][:-MAX_HISTORY]

    # --- views --------------------------------------------------------------------------------
    @staticmethod
    def empty_view() -> dict[str, Any]:
        return {
            "status": "",
            "query": "",
            "link": "",
            "total": None,
            "answer": "",
            "table": table_value([], []),
            "chart": None,
            "ideogram": None,
            "raw": None,
            "context": None,
            "timings": None,
        }

    def view(self, answer: Answer, bot: Assistant, notes: list[str] | None = None) -> dict:
        """Everything the page shows for an answer."""
        chart, ideo, figure_notes = self.figures(answer, bot)
        notes = list(answer.notes) + figure_notes + list(notes or [])
        seconds = answer.timings.get("total", 0.0)
        status = f"{DONE.get(answer.status, answer.status)} in {seconds:.2f} s"
        if answer.status in ("ok", "ambiguous", "no_hits"):
            status += f" — {answer.total:,} hit{'s' if answer.total != 1 else ''}"
        if answer.fallback:
            status += " — from the embedded store: the live API did not answer"
        text = escape_markdown(answer.answer)
        if answer.llm_summary:
            text += "\n\n" + escape_markdown(answer.llm_summary)
        if notes:
            text += "\n\n" + "\n".join(f"- *{escape_markdown(n)}*" for n in notes)
        link = f"[Open this query on mygene.info ↗]({answer.url})" if answer.url else ""
        ran = answer.status in ("ok", "ambiguous", "no_hits")
        return {
            "status": status,
            "query": answer.query or "",
            "link": link,
            "total": answer.total if ran else None,
            "answer": text,
            "table": table_value(answer.columns, answer.rows),
            "chart": chart,
            "ideogram": ideo,
            "raw": answer.to_json() | {"facets": answer.facets, "notfound": answer.notfound},
            "context": {
                "retrieved": answer.retrieved,
                "prompt": answer.prompt,
                "attempts": answer.attempts,
                "sent": answer.sent,
                "backend": answer.backend,
            },
            "timings": {
                **{k: round(v, 3) for k, v in answer.timings.items()},
                "tokens": answer.tokens,
            },
        }

    def figures(self, answer: Answer, bot: Assistant) -> tuple[Any, Any, list[str]]:
        """The hits-by-species/type chart (queries with many hits) and the ideogram (genes
        with a position); either may be None. Figure queries that fail only add a note."""
        if answer.status not in ("ok", "ambiguous") or not answer.sent:
            return None, None, []
        chart = ideo = None
        notes: list[str] = []
        try:
            sent = parse_query(answer.sent)
            facets = answer.facets
            if not facets and answer.total >= FACET_MIN_HITS and sent.endpoint == "query":
                facets = self._facets(sent, bot)
            if facets:
                chart = facet_figure(facets)
            hits = answer.hits
            if not positions(hits):
                hits = self._positions(hits, bot)
            ideo = ideogram(hits)
        except AssistantError as exc:
            notes.append(f"no chart: {exc}")
        return chart, ideo, notes

    @staticmethod
    def _facets(sent, bot: Assistant) -> dict:
        """Hits of the same ``q`` by species and gene type (``facets=taxid,type_of_gene``,
        ``size=0``; species and other filters kept)."""
        if sent.method != "GET":
            return {}
        keep = ("species", "entrezonly", "ensemblonly", "exists", "missing")
        params = {k: v for k, v in sent.params.items() if k in keep}
        params.update(facets=",".join(FACET_FIELDS), size="0")
        return bot.backend.query(replace(sent, params=params)).facets

    @staticmethod
    def _positions(hits: list[dict], bot: Assistant) -> list[dict]:
        """The first hits again with their ``genomic_pos`` (one ``POST /v3/gene``)."""
        ids = [str(h["_id"]) for h in hits[:MAX_MARKERS] if h.get("_id")]
        if not ids:
            return []
        query = parse_query(f"POST /v3/gene ids={','.join(ids)}&fields=symbol,taxid,genomic_pos")
        return bot.backend.query(query).hits

    # --- verdicts and corrections -------------------------------------------------------------
    def verdict(self, verdict: str, state: Any) -> str:
        """Mark the conversation's last executed query ``right`` or ``wrong``."""
        state = self._state(state)
        logged = state.get("logged")
        if not logged or not logged.get("query"):
            return "⚠ Ask a question first — there is no answer to mark yet."
        try:
            self.log.record_verdict(Logged.from_dict(logged), verdict)
        except AssistantError as exc:
            return f"⚠ {exc}"
        return f"Thanks — marked the answer to “{logged['question'][:80]}” as {verdict}."

    def save_correction(self, text: Any, state: Any) -> tuple[str, dict[str, Any]]:
        """Save ``text`` as the right query for the conversation's last question (after
        checking that it parses and validates); returns a message and the corrections table."""
        state = self._state(state)
        logged = state.get("logged")
        if not logged or not logged.get("question"):
            return "⚠ Ask a question first, then correct its query.", self.corrections_table()
        try:
            if not isinstance(text, str) or not text.strip():
                raise ConfigError("the query is empty — write e.g. /v3/query?q=symbol:CDK2")
            query = parse_query(text.strip().splitlines()[0][:4000])
            errors = validate(query)
            if errors:
                return "⚠ Not saved: " + "; ".join(errors), self.corrections_table()
            corrected = query.to_text()
            self.log.record_correction(Logged.from_dict(logged), corrected)
        except AssistantError as exc:
            return f"⚠ Not saved: {exc}", self.corrections_table()
        return (
            f"Saved `{corrected}` as the query for “{escape_markdown(logged['question'][:80])}”.",
            self.corrections_table(),
        )

    def corrections_table(self, limit: int = 20) -> dict[str, Any]:
        """The most recent corrections (newest first) for the panel."""
        try:
            rows = self.log.corrections(limit)
        except AssistantError as exc:
            return {"headers": ["error"], "data": [[str(exc)]]}
        return {
            "headers": ["time", "question", "query"],
            "data": [[r["time"], r["question"], r["query"]] for r in rows],
        }

    def export_corrections(self) -> str:
        """A JSONL file of every correction's question/query pair; returns its path."""
        folder = Path(tempfile.mkdtemp(prefix="qa-corrections-"))
        path = folder / f"corrections-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"
        self.log.export_corrections(path)
        return str(path)


def default_models(settings) -> list[str]:
    """The registry's model names (the configured model first)."""
    from .registry import load_registry, registry_path

    try:
        names = load_registry(registry_path(settings)).names()
    except AssistantError:
        names = []
    return [settings.model] + [n for n in names if n != settings.model]
