"""Question → retrieved context → prompt → query line (LLM + grammar) → validation → execution
→ grounded answer, with a full trace.

The CLI (``python -m assistant ask``), the Gradio page and the evaluation all call
:meth:`Assistant.answer` (or :meth:`Assistant.stream`, which yields the same work stage by
stage). Models, the retrieval index and the store load once, on first use or in
:meth:`Assistant.load`, and are reused for every question.

>>> bot = Assistant(Settings(model="smollm2-135m"))                  # doctest: +SKIP
>>> a = bot.answer("what is the official symbol of LMP10?")          # doctest: +SKIP
>>> a.query, a.answer                                                 # doctest: +SKIP
('/v3/query?q=alias:LMP10&fields=symbol', 'The official symbol of LMP10 is PSMB10 (...).')

Safety: the model can only write a query line (the GBNF grammar), the line is parsed into a
:class:`~assistant.query.Query` and validated against the API description, and the backend
sends only the query and gene endpoints with known parameters to the configured host
(:mod:`assistant.backends`). No URL is ever built from the question's text.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .backends import Backend, BackendError, Result, get_backend
from .config import Settings
from .critic import critique
from .errors import AssistantError, QueryError
from .prompts import (
    Retrieved,
    build_messages,
    check_mode,
    retrieval_plan,
    retry_messages,
    summary_messages,
)
from .query import Query, parse_query, validate
from .recover import recover
from .summarize import Summary, format_value, summarize, ungrounded

log = logging.getLogger(__name__)

STAGES = ("retrieve", "generate", "execute", "summarize", "total")
ANSWER_FIELDS = ("symbol", "name", "taxid")
"""Added to a query's ``fields`` (when it names fields) so the answer can say which gene."""

MAX_QUERY_CHARS = 4000
"""Longer query text (typed or edited on the page) is refused by :meth:`Assistant.run_query`."""

EXAMPLE = 'e.g. "what is the official symbol of LMP10?" or "where is human BRCA1 located?"'


@dataclass
class Answer:
    """The answer to one question and the trace of how it was reached.

    ``status``: ``ok``, ``no_hits``, ``ambiguous``, ``invalid`` (no valid query after the
    retry), ``error`` (the API refused or failed) or ``rejected`` (the input is not a question).
    ``model_query``: the query the model wrote, when the critic (:mod:`assistant.critic`)
    repaired it before it ran; ``critic``: what the critic changed, said plainly.
    ``recovered_from``: the query that ran first, when it found nothing and ``query`` (and the
    hits) are a correction of it (:mod:`assistant.recover`: a term copied wrong from the question, the
    taxid the question names, or symbol/alias/name/type terms searched in all fields).
    ``timings`` are seconds per stage (retrieve, generate, execute, summarize, total);
    ``tokens`` the prompt and completion tokens of every generation together. ``fallback``:
    why the embedded store answered instead of the live API that did not (also the first of
    the ``notes``), else None.
    """

    question: str
    mode: str
    model: str
    query: str | None = None
    valid: bool = False
    errors: list[str] = field(default_factory=list)
    total: int = 0
    hits: list[dict[str, Any]] = field(default_factory=list)
    answer: str = ""
    status: str = "ok"
    intent: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    facets: dict[str, Any] = field(default_factory=dict)
    notfound: list[str] = field(default_factory=list)
    sent: str | None = None
    recovered_from: str | None = None
    model_query: str | None = None
    critic: list[str] = field(default_factory=list)
    url: str | None = None
    backend: str = ""
    fallback: str | None = None
    notes: list[str] = field(default_factory=list)
    retrieved: dict[str, list[dict]] = field(default_factory=dict)
    prompt: list[dict[str, str]] = field(default_factory=list)
    raw_output: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    llm_summary: str | None = None
    grounded: bool = True
    tokens: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "completion": 0})
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def to_json(self, trace: bool = False) -> dict[str, Any]:
        """The CLI's ``--json`` object: question, query, valid, errors, total, hits, answer,
        mode, model, timings (plus status, url, tokens; with ``trace`` everything)."""
        out = {
            "question": self.question,
            "query": self.query,
            "valid": self.valid,
            "errors": self.errors,
            "total": self.total,
            "hits": self.hits,
            "answer": self.answer,
            "mode": self.mode,
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "status": self.status,
            "url": self.url,
            "recovered_from": self.recovered_from,
            "model_query": self.model_query,
            "critic": self.critic,
            "fallback": self.fallback,
            "tokens": self.tokens,
        }
        if trace:
            out.update({k: v for k, v in asdict(self).items() if k not in out})
        return out

    def as_previous(self) -> dict[str, str] | None:
        """This turn as context for a follow-up question (None when it produced no query)."""
        if not self.query or not self.valid:
            return None
        return {"question": self.question, "query": self.query}

    def markdown_table(self) -> str:
        return Summary("", self.status, self.intent or "", self.columns, self.rows).markdown_table()


@dataclass
class Event:
    """One step of :meth:`Assistant.stream`: ``stage`` is ``retrieved``, ``token``,
    ``generated``, ``criticised``, ``executed`` or ``answer``; ``data`` what it produced (for ``answer``, the
    :class:`Answer`)."""

    stage: str
    data: Any


def clean_question(text: Any, max_chars: int) -> tuple[str, str | None, list[str]]:
    """``(question, problem, notes)``: the question with control characters removed and cut to
    ``max_chars``; ``problem`` is a message for input that is not a question (empty, binary).

    >>> clean_question("  what is CDK2?\\x00 ", 100)[:2]
    ('what is CDK2?', None)
    >>> clean_question("   ", 100)[1]
    'Empty question — ask about a gene, e.g. "what is the official symbol of LMP10?" or "where is human BRCA1 located?".'
    """
    notes: list[str] = []
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return "", "This is binary data, not a question — ask about a gene in words.", notes
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    raw_len = len(text)
    kept = []
    bad = 0
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\n\t\r":
            kept.append(" ")
        elif cat.startswith("C"):  # control, format, unassigned, private use, surrogates
            bad += 1
        else:
            kept.append(ch)
    question = " ".join("".join(kept).split())
    if raw_len and bad / raw_len > 0.1:
        return "", "This looks like binary data, not a question — ask about a gene in words.", notes
    if not question:
        return "", f"Empty question — ask about a gene, {EXAMPLE}.", notes
    if not any(ch.isalnum() for ch in question):
        return "", f"There are no words in this question — ask about a gene, {EXAMPLE}.", notes
    if len(question) > max_chars:
        question = question[:max_chars].rsplit(" ", 1)[0] or question[:max_chars]
        notes.append(f"the question was cut to its first {len(question)} characters")
    return question, None, notes


def with_answer_fields(query: Query) -> tuple[Query, bool]:
    """The query with symbol, name and taxid added to a ``fields`` list that lacks them (so the
    answer can name the gene); unchanged without ``fields`` or with ``fields=all``."""
    fields = query.field_list()
    if not fields or "all" in fields:
        return query, False
    missing = [f for f in ANSWER_FIELDS if f not in fields]
    if not missing:
        return query, False
    params = dict(query.params)
    params["fields"] = ",".join(fields + missing)
    return replace(query, params=params), True


def _attempt(gen, errors: list[str], **extra) -> dict[str, Any]:
    """One generation in :attr:`Answer.attempts`: its text, errors and token counts."""
    return {
        "raw": gen.text,
        "errors": errors,
        **extra,
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.completion_tokens,
        "finish_reason": gen.finish_reason,
        "timings": gen.timings,
    }


class Assistant:
    """The question → answer pipeline around one model, one retriever and one backend.

    Pass ready objects (``model``: a :class:`~assistant.llm.LanguageModel`, ``retriever``: a
    :class:`~assistant.retrieval.Retriever`, ``backend``: a :class:`~assistant.backends.Backend`,
    or ``store``: an open GeneStore for the embedded backend) or let it make them from
    ``settings`` on first use.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        model=None,
        retriever=None,
        backend: Backend | None = None,
        store=None,
    ):
        self.settings = settings or Settings()
        self._model = model
        self._retriever = retriever
        self._backend = backend
        self._store = store
        self._grammar: str | None = None

    # --- components, made once ---------------------------------------------------------------
    @property
    def model(self):
        if self._model is None:
            from .llm import get_model

            self._model = get_model(self.settings.model, self.settings)
        return self._model

    @property
    def retriever(self):
        if self._retriever is None:
            from .retrieval import Retriever

            self._retriever = Retriever(self.settings)
        return self._retriever

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = get_backend(self.settings, store=self._store)
        return self._backend

    @property
    def grammar(self) -> str:
        if self._grammar is None:
            from .grammar import load_grammar

            self._grammar = load_grammar()
        return self._grammar

    @property
    def default_mode(self) -> str:
        """The ``mode`` setting when it was given; otherwise the prompt mode the model's registry
        entry names (``ft`` for ``qwen2.5-coder-0.5b-mygene``), else the setting's default."""
        if "mode" in self.settings.model_fields_set:
            return self.settings.mode
        from .registry import resolve

        try:
            spec = resolve(self.settings.model, self.settings)
        except AssistantError:  # an OpenAI-compatible name, or a model not in the registry
            return self.settings.mode
        return spec.prompt_mode or self.settings.mode

    @property
    def query_grammar(self) -> str | None:
        """The grammar the query line is generated under: :attr:`grammar`, or None when the
        ``use_grammar`` setting is off (the evaluation measures what the grammar adds)."""
        return self.grammar if self.settings.use_grammar else None

    def load(self, mode: str | None = None) -> Assistant:
        """Load the model, the grammar, the store and (for modes that retrieve) the retrieval
        index now, and warm the prompt cache, so the first question is as fast as the rest."""
        mode = check_mode(mode or self.default_mode)
        if hasattr(self.model, "load"):
            self.model.load()
        _ = self.grammar
        if hasattr(self.backend, "store"):
            _ = self.backend.store
        plan = retrieval_plan(mode, **self._ks())
        for kind in plan:
            self.retriever.search("warm up", 1, kind)
        # Evaluate the fixed system prompt once: llama.cpp keeps it in the KV cache.
        self.model.generate(build_messages("CDK2", mode), grammar=self.query_grammar, max_tokens=1)
        return self

    def _ks(self) -> dict[str, int]:
        s = self.settings
        return {"k_pairs": s.k_pairs, "k_fields": s.k_fields, "k_docs": s.k_docs}

    # --- the pipeline --------------------------------------------------------------------------
    def answer(
        self, question: Any, mode: str | None = None, previous: dict | None = None
    ) -> Answer:
        """Answer one question (see :class:`Answer`); never raises for bad input."""
        answer = None
        for event in self.stream(question, mode, previous, tokens=False):
            if event.stage == "answer":
                answer = event.data
        assert answer is not None
        return answer

    def stream(
        self,
        question: Any,
        mode: str | None = None,
        previous: dict | None = None,
        tokens: bool = True,
    ) -> Iterator[Event]:
        """:meth:`answer`, stage by stage: ``retrieved``, ``token`` (each piece of the query
        line as the model writes it; only with ``tokens``), ``generated`` (per attempt),
        ``executed``, then ``answer`` with the :class:`Answer`."""
        t_start = time.perf_counter()
        mode = check_mode(mode or self.default_mode)
        name = getattr(self._model, "name", None) or self.settings.model
        text, problem, notes = clean_question(question, self.settings.max_question_chars)
        ans = Answer(question=text, mode=mode, model=name, notes=notes)
        if problem:
            ans.status, ans.answer = "rejected", problem
            ans.timings["total"] = time.perf_counter() - t_start
            yield Event("answer", ans)
            return
        ans.model = self.model.name

        # 1. retrieve
        t0 = time.perf_counter()
        retrieved = Retrieved()
        for kind, k in retrieval_plan(mode, **self._ks()).items():
            setattr(retrieved, kind, self.retriever.search(text, k, kind))
        ans.retrieved = retrieved.as_dict()
        ans.timings["retrieve"] = time.perf_counter() - t0
        yield Event("retrieved", ans.retrieved)

        # 2. generate (and retry once with the validation errors)
        t0 = time.perf_counter()
        messages = build_messages(text, mode, retrieved, previous)
        ans.prompt = messages
        query: Query | None = None
        attempts = 1 + int(self.settings.retry_invalid)
        for attempt in range(attempts):
            gen = yield from self._generate(messages, ans, tokens)
            raw = gen.text
            query, errors = self._check(raw)
            ans.attempts.append(_attempt(gen, errors))
            ans.raw_output, ans.errors = raw, errors
            ans.query = query.to_text() if query is not None else raw.strip() or None
            yield Event("generated", {"attempt": attempt + 1, "raw": raw, "errors": errors})
            if not errors:
                break
            if attempt + 1 < attempts:
                messages = retry_messages(messages, raw, errors)
        ans.timings["generate"] = time.perf_counter() - t0
        ans.valid = not ans.errors
        if not ans.valid or query is None:
            ans.status = "invalid"
            ans.answer = (
                "The model did not write a valid query"
                + (" after one retry" if attempts > 1 else "")
                + ": "
                + "; ".join(ans.errors)
            )
            ans.timings["total"] = time.perf_counter() - t_start
            yield Event("answer", ans)
            return
        if self.settings.critic:
            query = yield from self._criticise(text, query, messages, ans, tokens)
        yield from self._execute(text, query, ans, t_start)

    def _criticise(self, text: str, query: Query, messages, ans: Answer, tokens: bool):
        """Step 2b (a sub-generator returning the query to run): the critic's repairs of the
        model's query (:mod:`assistant.critic`); a query that searches none of the question's
        gene terms goes back to the model once with the critic's note (kept when the new
        query searches one). Yields ``criticised``."""
        checked = critique(text, query, self._probe)
        if checked.missing and self.settings.retry_invalid:
            t0 = time.perf_counter()
            note = (
                "the query does not search "
                + ", ".join(checked.missing)
                + ", which the question asks about"
            )
            gen = yield from self._generate(
                retry_messages(messages, ans.raw_output, [note]), ans, tokens
            )
            again, errors = self._check(gen.text)
            ans.attempts.append(_attempt(gen, errors, critic=note))
            yield Event(
                "generated", {"attempt": len(ans.attempts), "raw": gen.text, "errors": errors}
            )
            ans.timings["generate"] += time.perf_counter() - t0
            rechecked = (
                critique(text, again, self._probe) if again is not None and not errors else None
            )
            if rechecked is not None and not rechecked.missing:
                ans.critic.append(f"terms: {note}; the model wrote {again.to_text()} instead")
                ans.model_query = ans.query
                ans.raw_output, ans.query = gen.text, again.to_text()
                checked = rechecked
            else:
                ans.critic.append(f"terms: {note} (asked again; kept the first query)")
        if checked.changed:
            ans.model_query = ans.model_query or ans.query
            ans.critic += [f"{fix.rule}: {fix.note}" for fix in checked.fixes]
            ans.query = checked.query.to_text()
        if ans.critic:
            ans.notes.append("the critic checked the model's query: " + "; ".join(ans.critic))
        yield Event("criticised", {"query": ans.query, "fixes": ans.critic})
        return checked.query

    def run_query(self, text: Any, question: str = "", mode: str | None = None) -> Answer:
        """Run a query someone wrote or edited, without the model: parse, validate, execute
        on the same backend, summarize (an :class:`Answer` whose ``raw_output`` is ``text``).
        Never raises for bad input: a query that does not parse or validate comes back with
        status ``invalid`` and the errors.

        >>> a = bot.run_query("/v3/query?q=symbol:CDK2&species=human&fields=entrezgene",
        ...                   question="what's the entrez id of human CDK2?")  # doctest: +SKIP
        >>> a.status, a.total, a.rows[0][0]                                       # doctest: +SKIP
        ('ok', 1, '1017')
        """
        t_start = time.perf_counter()
        mode = check_mode(mode or self.default_mode)
        name = getattr(self._model, "name", None) or self.settings.model
        raw = text if isinstance(text, str) else ""
        ans = Answer(question=question, mode=mode, model=name, raw_output=raw)
        query: Query | None = None
        if not isinstance(text, str):
            errors = ["the query must be text, e.g. /v3/query?q=symbol:CDK2&species=human"]
        elif len(text) > MAX_QUERY_CHARS:
            errors = [f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,}"]
        else:
            query, errors = self._check(text)
        ans.query = query.to_text() if query is not None else raw.strip()[:200] or None
        ans.errors, ans.valid = errors, not errors
        ans.attempts.append({"raw": raw, "errors": errors})
        if errors or query is None:
            ans.status = "invalid"
            ans.answer = "This query cannot be run: " + "; ".join(errors)
            ans.timings["total"] = time.perf_counter() - t_start
            return ans
        *_, last = self._execute(question, query, ans, t_start, llm=False)
        return last.data

    def _execute(
        self, text: str, query: Query, ans: Answer, t_start: float, llm: bool = True
    ) -> Iterator[Event]:
        """Steps 3 and 4 for a valid ``query``: execute it, then summarize (with the model's
        summary only when ``llm``); yields ``executed`` (when it ran), then ``answer``.

        A model's query (``llm``) that finds nothing is corrected (:mod:`assistant.recover`)
        and the answer says how; a query someone wrote runs as written."""
        ans.url = query.to_url(self.settings.live_url)

        # 3. execute
        t0 = time.perf_counter()
        to_send, added = with_answer_fields(query)
        try:
            result = self.backend.query(to_send)
        except (QueryError, BackendError) as exc:
            ans.timings["execute"] = time.perf_counter() - t0
            ans.status = "error"
            ans.answer = f"The {self.backend.name} API could not run the query: {exc}"
            ans.timings["total"] = time.perf_counter() - t_start
            yield Event("answer", ans)
            return
        fix = recover(text, query, result, self._try_widened) if llm else None
        if fix is not None:  # the model's query found nothing; a correction of it did
            ans.recovered_from, ans.query = query.to_text(), fix.query.to_text()
            fix.result.notes[:0] = [*result.notes, f"{fix.why}; ran {ans.query}"]
            query, result = fix.query, fix.result
            ans.url = query.to_url(self.settings.live_url)
        ans.timings["execute"] = time.perf_counter() - t0
        if added:
            result.notes.append("added symbol, name and taxid to fields for the answer")
        ans.sent = result.sent.to_text()
        ans.backend, ans.notes = result.backend, ans.notes + result.notes
        ans.fallback = result.fallback
        ans.total, ans.hits = result.total, result.hits
        ans.facets, ans.notfound = result.facets, result.notfound
        yield Event("executed", {"total": result.total, "sent": ans.sent, "notes": result.notes})

        # 4. summarize
        t0 = time.perf_counter()
        summary = summarize(text, query, result, self.settings.answer_rows)
        if fix is not None:
            summary.text = f"Nothing matched {', '.join(fix.missed)}; {fix.why}: {summary.text}"
        ans.status, ans.intent, ans.answer = summary.status, summary.intent, summary.text
        ans.columns, ans.rows, ans.candidates = summary.columns, summary.rows, summary.candidates
        ans.grounded = not ungrounded(summary.text, result, result.sent)
        if llm and self.settings.llm_summary and result.hits and summary.status == "ok":
            ans.llm_summary = self._llm_summary(text, summary, result, ans)
        ans.timings["summarize"] = time.perf_counter() - t0
        ans.timings["total"] = time.perf_counter() - t_start
        yield Event("answer", ans)

    def _probe(self, query: Query) -> Result | None:
        """The critic's question to the data (:class:`assistant.critic.Context`): ``query``
        on the backend, or None when it refuses or fails."""
        try:
            return self.backend.query(query)
        except (QueryError, BackendError) as exc:
            log.info("the critic's probe %s failed: %s", query.to_text(), exc)
            return None

    def _try_widened(self, query: Query) -> Result | None:
        """The result of a correction (with the answer's fields added), or None when the
        backend refuses or fails."""
        try:
            return self.backend.query(with_answer_fields(query)[0])
        except (QueryError, BackendError) as exc:
            log.info("the corrected query %s failed: %s", query.to_text(), exc)
            return None

    def _generate(self, messages, ans: Answer, tokens: bool):
        """Generate one query line (a sub-generator: yields ``token`` events, returns the
        :class:`~assistant.llm.Generation`)."""
        max_tokens = self.settings.query_max_tokens
        if tokens:
            stream = self.model.generate(
                messages, grammar=self.query_grammar, max_tokens=max_tokens, stream=True
            )
            for piece in stream:
                yield Event("token", piece)
            gen = stream.result
        else:
            gen = self.model.generate(messages, grammar=self.query_grammar, max_tokens=max_tokens)
        ans.tokens["prompt"] += gen.prompt_tokens
        ans.tokens["completion"] += gen.completion_tokens
        return gen

    @staticmethod
    def _check(raw: str) -> tuple[Query | None, list[str]]:
        line = raw.strip().splitlines()[0] if raw.strip() else ""
        line = unicodedata.normalize("NFKC", line)  # a full-width ： or ｑ is the ASCII one
        try:
            query = parse_query(line)
        except QueryError as exc:
            return None, [str(exc)]
        return query, validate(query)

    def _llm_summary(
        self, question: str, summary: Summary, result: Result, ans: Answer
    ) -> str | None:
        """One model-written sentence, kept only when it is grounded in the hits."""
        lines = [
            ", ".join(f"{c}={v}" for c, v in zip(summary.columns, row, strict=False) if v)
            for row in summary.rows[:5]
        ]
        if not lines:
            lines = [format_value(h, 300) for h in result.hits[:5]]
        gen = self.model.generate(summary_messages(question, "\n".join(lines)), max_tokens=60)
        ans.tokens["prompt"] += gen.prompt_tokens
        ans.tokens["completion"] += gen.completion_tokens
        text = gen.text.strip()
        missing = ungrounded(text, result, result.sent)
        if missing:
            ans.notes.append(
                f"dropped the model's summary: {', '.join(missing[:5])} not in the hits"
            )
            return None
        return text or None
