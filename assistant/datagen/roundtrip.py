"""The round trip of ``datagen``: a pair is kept only when the assistant's own model, given the
pair's instruction and nothing else, writes a query that finds what the logged query finds.

For each pair (from whichever writer: the templates, a paraphrase, a model, a user's question,
a correction) :class:`RoundTrip` asks :class:`assistant.pipeline.Assistant` (the default model
in its default mode: the fine-tuned adapter in mode ``ft``; or ``--round-trip-model``) for a
query, runs it on the same backend as the logged query and compares the two executions:

- ``different_genes``: :func:`assistant.metrics.execution_match` (the execution metric of
  ``evals/eval_lm.py``: the same total and the same top hits) is False;
- ``different_fields``: the two queries return different field families
  (:func:`same_families`: ``go.BP`` and ``go`` are both ``go``; no ``fields`` is the
  endpoint's default set). The model may add the answer fields the pipeline adds to every
  query anyway (symbol, name, taxid: :data:`assistant.pipeline.ANSWER_FIELDS`), nothing else;
  a logged query that names no fields asks for none, so only its genes are compared;
- ``invalid_query`` / ``query_failed``: the model wrote no valid query, or the backend refused
  it; ``reference_failed``: the logged query itself no longer runs.

As in the evaluation, the model's own query is what is compared, never the pipeline's
repair or correction of it (:mod:`assistant.critic`, :mod:`assistant.recover`). Pairs that fail go to ``roundtrip_failed.jsonl``
with the reason, the model's query and what differed; the report gives the pass rate per writer
and per intent (:func:`rates`).

>>> from assistant.query import parse_query
>>> sorted(field_families(parse_query("/v3/query?q=cdk2&fields=go.BP,ensembl.gene,symbol")))
['ensembl', 'go', 'symbol']
>>> sorted(field_families(parse_query("/v3/gene/1017")))
['all']
>>> log = parse_query("/v3/query?q=symbol:cdk2&fields=entrezgene&species=human")
>>> same_families(parse_query("/v3/query?q=symbol:cdk2&fields=entrezgene,name,symbol"), log)
True
>>> same_families(parse_query("/v3/query?q=symbol:cdk2&fields=symbol,ensembl.gene"), log)
False
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .. import metrics
from ..backends import BackendError
from ..config import Settings
from ..errors import AssistantError, QueryError
from ..pairs import Pair
from ..query import Query, parse_query
from ..registry import is_fetched, resolve

FAILED_FILE = "roundtrip_failed.jsonl"
"""Pairs whose round trip failed, one JSON object per line with the reason."""

SHOWN_IDS = 3
"""Hit ids quoted in a failure's ``detail``."""


def field_families(query: Query) -> frozenset[str]:
    """The top-level families of the fields a query returns (:func:`metrics.field_set`)."""
    return frozenset(f.split(".", 1)[0] for f in metrics.field_set(query))


def same_families(pred: Query, ref: Query) -> bool:
    """``pred`` returns every field family ``ref`` returns, and beyond them at most the
    answer fields (symbol, name, taxid) that the pipeline adds to every query it runs. A
    logged /query without ``fields`` asks for no field in particular (MyGene's default set,
    the gene's identity, which the pipeline shows whatever else is asked), so its instruction
    names none and any fields ``pred`` adds (``genomic_pos`` for "genes on chrX between …")
    do not make the instruction wrong: only the genes are compared then.

    >>> same_families(parse_query("q=hgnc:1771&fields=name,symbol,taxid"), parse_query("q=hgnc:1771"))
    True
    >>> same_families(parse_query("q=chrX:1-9000&fields=genomic_pos"), parse_query("q=chrX:1-9000"))
    True
    >>> same_families(parse_query("q=hgnc:1771&fields=symbol"), parse_query("q=hgnc:1771&fields=go"))
    False
    """
    from ..pipeline import ANSWER_FIELDS

    if ref.endpoint != "gene" and "fields" not in ref.params:
        return True
    have, want = field_families(pred), field_families(ref)
    return want <= have and have - want <= set(ANSWER_FIELDS)


def writer_of(pair: Pair) -> str:
    """Who wrote a pair's question: its ``writer`` (``template``, ``paraphrase:<model>``, a
    model name), ``user`` for a real question of the assistant's log, ``correction`` for a
    question whose query a person corrected."""
    if pair.extra.get("writer"):
        return str(pair.extra["writer"])
    return "user" if pair.source == "log" else pair.source


def available(settings: Settings, name: str) -> str | None:
    """None when model ``name`` can run here (weights fetched, adapter present, or an
    OpenAI-compatible model with a key); else why not."""
    if name.startswith("openai:") or name == "openai":
        return None if settings.openai_api_key else f"{name} needs QA_OPENAI_API_KEY"
    try:
        spec = resolve(name, settings)
    except AssistantError as exc:
        return str(exc)
    if not is_fetched(spec, settings):
        return f"{name} is not fetched (run `python -m assistant model fetch {name}`)"
    lora = spec.lora_path(settings)
    if lora is not None and not lora.is_file():
        return f"the adapter of {name} is missing at {lora}"
    return None


@dataclass
class Execution:
    """What one query found: the total and the top hit ids, or ``error``."""

    total: int | None = None
    ids: list[str] | None = None
    error: str = ""

    def shown(self) -> str:
        if self.error:
            return self.error
        ids = ", ".join((self.ids or [])[:SHOWN_IDS])
        return f"{self.total} hits [{ids}]"


@dataclass
class Trip:
    """The round trip of one instruction: ``passed``, else ``reason`` and ``detail`` (what
    differed); ``model_query`` is the query the model wrote for the instruction."""

    passed: bool
    reason: str = ""
    detail: str = ""
    model_query: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "detail": self.detail,
            "model_query": self.model_query,
            "seconds": round(self.seconds, 3),
        }


class RoundTrip:
    """The assistant's model (loaded once) and a backend: :meth:`check` one instruction.

    ``bot`` is an :class:`~assistant.pipeline.Assistant` (made from ``settings`` with the
    ``backend`` when not given); ``mode`` defaults to the model's own (``ft`` for the adapter).

    >>> trip = RoundTrip(Settings(), backend)                                   # doctest: +SKIP
    >>> trip.check("Find the Entrez gene ID of human CDK2.",
    ...            "/v3/query?q=symbol:cdk2&fields=entrezgene&species=human")     # doctest: +SKIP
    Trip(passed=True, reason='', detail='', model_query='/v3/query?q=symbol:CDK2&...', ...)
    """

    def __init__(self, settings: Settings, backend, bot=None, mode: str | None = None):
        from ..pipeline import Assistant

        settings = settings.model_copy(update={"llm_summary": False})
        self.bot = bot or Assistant(settings, backend=backend)
        self.backend = backend
        self.mode = mode or self.bot.default_mode
        self._refs: dict[str, tuple[Query | None, Execution]] = {}

    @property
    def name(self) -> str:
        """The model's name as the work file records it (``<model>/<mode>``)."""
        return f"{self.bot.settings.model}/{self.mode}"

    def load(self) -> RoundTrip:
        self.bot.load(self.mode)
        return self

    def execute(self, query: Query) -> Execution:
        """Run ``query`` on the backend (what :func:`metrics.execution_match` compares)."""
        try:
            result = self.backend.query(query)
        except (QueryError, BackendError) as exc:
            return Execution(error=f"{type(exc).__name__}: {exc}")
        return Execution(result.total, metrics.hit_ids(result.hits))

    def _reference(self, key: str) -> tuple[Query | None, Execution]:
        if key not in self._refs:
            try:
                query = parse_query(key)
            except QueryError as exc:
                self._refs[key] = (None, Execution(error=str(exc)))
            else:
                self._refs[key] = (query, self.execute(query))
        return self._refs[key]

    def compare(self, model_query: Query, key: str) -> Trip:
        """The round trip of a query already written: ``model_query`` against the logged
        query ``key``, both run on the backend."""
        return self._compare(model_query, self.execute(model_query), key)

    def _compare(self, pred_query: Query, pred: Execution, key: str) -> Trip:
        text = pred_query.to_text()
        ref_query, ref = self._reference(key)
        if ref_query is None or ref.error:
            return Trip(False, "reference_failed", ref.error, text)
        if pred.error:
            return Trip(False, "query_failed", pred.error, text)
        same = metrics.execution_match(pred.total, pred.ids, ref.total, ref.ids)
        if not same:
            return Trip(False, "different_genes", f"model {pred.shown()}; log {ref.shown()}", text)
        if not same_families(pred_query, ref_query):
            have, want = field_families(pred_query), field_families(ref_query)
            detail = f"model {','.join(sorted(have))}; log {','.join(sorted(want))}"
            return Trip(False, "different_fields", detail, text)
        return Trip(True, model_query=text)

    def check(self, instruction: str, key: str) -> Trip:
        """Answer ``instruction`` alone with the model and compare its query's execution with
        the logged query ``key``'s."""
        t0 = time.perf_counter()
        ans = self.bot.answer(instruction, mode=self.mode)
        own = ans.model_query or ans.recovered_from or ans.query
        if ans.status in ("invalid", "rejected") or not own:
            trip = Trip(False, "invalid_query", "; ".join(ans.errors) or ans.answer, own)
        else:
            query = parse_query(own)
            if ans.model_query or ans.recovered_from or ans.status == "error":
                pred = self.execute(query)  # the model's own query, as the evaluation scores it
            else:
                pred = Execution(ans.total, metrics.hit_ids(ans.hits))
            trip = self._compare(query, pred, key)
        trip.seconds = time.perf_counter() - t0
        return trip


def rates(rows: list[tuple[Pair, Trip]]) -> dict[str, Any]:
    """Pass counts and rates: overall, ``by_writer`` (:func:`writer_of`), ``by_intent`` and
    ``reasons`` (failures by reason).

    >>> p = Pair("Find CDK2.", "/v3/query?q=symbol:cdk2", intent="gene_lookup",
    ...          extra={"writer": "template"})
    >>> s = rates([(p, Trip(True)), (p, Trip(False, "different_genes"))])
    >>> s["rate"], s["by_writer"]["template"], s["reasons"]
    (0.5, {'checked': 2, 'passed': 1, 'rate': 0.5}, {'different_genes': 1})
    """
    groups: dict[str, dict[str, list[int]]] = {"by_writer": {}, "by_intent": {}}
    reasons: dict[str, int] = defaultdict(int)
    passed = 0
    for pair, trip in rows:
        passed += trip.passed
        for group, name in (("by_writer", writer_of(pair)), ("by_intent", pair.intent or "?")):
            counts = groups[group].setdefault(name, [0, 0])
            counts[0] += 1
            counts[1] += trip.passed
        if not trip.passed:
            reasons[trip.reason] += 1

    def rate(checked: int, ok: int) -> dict[str, Any]:
        return {
            "checked": checked,
            "passed": ok,
            "rate": round(ok / checked, 4) if checked else None,
        }

    return {
        **rate(len(rows), passed),
        **{g: {k: rate(*v) for k, v in sorted(d.items())} for g, d in groups.items()},
        "reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }
