"""Prompts that ask a model for one query line: the templates in ``assistant/prompt_templates/``
and the one loader that serving, training and evaluation share, so the formats cannot drift.

Modes (:data:`MODES`):

- ``zero-shot``: the fixed instructions plus a fixed list of fields and two examples;
- ``rag``: the instructions plus retrieved field descriptions and doc sections;
- ``icl``: the instructions plus ``k`` retrieved question→query pairs;
- ``rag+icl``: both;
- ``ft``: the short prompt the fine-tuned model is trained on (no instructions);
- ``ft+rag``: the short prompt plus retrieved fields.

Everything fixed sits in the system message and comes first, so that llama.cpp reuses its
KV cache for it across questions; what is retrieved for a question goes into the user message.

>>> messages = build_messages("what is the official symbol of LMP10?", "ft")
>>> [m["role"] for m in messages], messages[-1]["content"]
(['system', 'user'], 'Question: what is the official symbol of LMP10?')
>>> training_messages("Where is CDK2?", "/v3/query?q=symbol:CDK2&fields=genomic_pos")[-1]
{'role': 'assistant', 'content': '/v3/query?q=symbol:CDK2&fields=genomic_pos'}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ConfigError

TEMPLATE_DIR = Path(__file__).resolve().parent / "prompt_templates"
MODES = ("zero-shot", "rag", "icl", "rag+icl", "ft", "ft+rag")
DOC_CHARS = 600
"""Retrieved doc sections are cut to about this many characters (prompt tokens cost time)."""

Message = dict[str, str]


@lru_cache(maxsize=32)
def load_template(name: str, folder: Path = TEMPLATE_DIR) -> str:
    """The text of ``prompt_templates/<name>.txt`` (the one loader for every prompt)."""
    path = Path(folder) / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"prompt template not found at {path}; restore it from git") from None


def check_mode(mode: str) -> str:
    """``mode`` itself, or a :class:`ConfigError` listing the modes."""
    if mode not in MODES:
        raise ConfigError(f"unknown prompt mode {mode!r}; known modes: {', '.join(MODES)}")
    return mode


def retrieval_plan(
    mode: str, k_pairs: int = 4, k_fields: int = 6, k_docs: int = 1
) -> dict[str, int]:
    """What to retrieve for a mode: ``{"pairs": 4}`` for icl, fields and docs for rag.

    >>> retrieval_plan("rag+icl", 3, 5, 1)
    {'fields': 5, 'docs': 1, 'pairs': 3}
    """
    check_mode(mode)
    plan: dict[str, int] = {}
    if mode in ("rag", "rag+icl"):
        plan.update(fields=k_fields, docs=k_docs)
    if mode == "ft+rag":
        plan.update(fields=k_fields)
    if mode in ("icl", "rag+icl"):
        plan.update(pairs=k_pairs)
    return {k: v for k, v in plan.items() if v > 0}


@dataclass
class Retrieved:
    """Items retrieved for one question, by kind; each item has ``text`` and ``meta`` (the
    :class:`assistant.retrieval.Hit` objects, or plain dicts with the same keys)."""

    docs: list[Any] = field(default_factory=list)
    fields: list[Any] = field(default_factory=list)
    pairs: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[dict]]:
        """JSON-ready: ``{"pairs": [{"id", "text", "score", "query"?}], ...}``."""
        out = {}
        for kind in ("docs", "fields", "pairs"):
            out[kind] = [
                {
                    "id": _get(it, "id"),
                    "text": _get(it, "text"),
                    "score": round(float(_get(it, "score") or 0.0), 4),
                    **({"query": _get(it, "meta")["query"]} if kind == "pairs" else {}),
                }
                for it in getattr(self, kind)
            ]
        return out


def _get(item: Any, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


def _field_line(item: Any) -> str:
    text = str(_get(item, "text"))
    return "- " + re.sub(r"\s*\[[^\]]*\]\s*$", "", text)  # drop the "[go BP id]" search words


def _doc_text(item: Any) -> str:
    text = re.sub(r"\n{2,}", "\n", str(_get(item, "text")).strip())
    return text if len(text) <= DOC_CHARS else text[:DOC_CHARS].rsplit(" ", 1)[0] + " …"


def format_pairs(pairs: list[Any]) -> str:
    """Example pairs as ``Q: ...`` / ``A: ...`` lines."""
    tpl = load_template("pair")
    return "".join(
        tpl.format(question=_get(p, "text"), query=(_get(p, "meta") or {}).get("query", ""))
        for p in pairs
    ).rstrip("\n")


def system_message(mode: str) -> str:
    """The fixed system text of a mode (identical for every question, so it is cached)."""
    check_mode(mode)
    if mode.startswith("ft"):
        return load_template("system_ft").strip()
    text = load_template("system").strip()
    if mode == "zero-shot":
        text += "\n" + load_template("zero_shot_docs").strip()
    return text


def user_message(
    question: str, mode: str, retrieved: Retrieved | None = None, previous: dict | None = None
) -> str:
    """The question, after what was retrieved for it and the previous turn (if any)."""
    check_mode(mode)
    retrieved = retrieved or Retrieved()
    parts = []
    if retrieved.fields:
        items = "\n".join(_field_line(f) for f in retrieved.fields)
        parts.append(load_template("context_fields").format(items=items))
    if retrieved.docs:
        items = "\n".join(_doc_text(d) for d in retrieved.docs)
        parts.append(load_template("context_docs").format(items=items))
    if retrieved.pairs:
        parts.append(load_template("context_pairs").format(items=format_pairs(retrieved.pairs)))
    prev = ""
    if previous and previous.get("query"):
        prev = load_template("previous").format(
            question=previous.get("question", ""), query=previous["query"]
        )
    return (
        load_template("user")
        .format(context="".join(parts), previous=prev, question=question.strip())
        .strip()
    )


def build_messages(
    question: str, mode: str, retrieved: Retrieved | None = None, previous: dict | None = None
) -> list[Message]:
    """The chat messages asking for the query line of ``question`` in ``mode``.

    ``previous`` (``{"question": ..., "query": ...}``) is the last turn, for follow-up questions
    such as "and in mouse?".
    """
    return [
        {"role": "system", "content": system_message(mode)},
        {"role": "user", "content": user_message(question, mode, retrieved, previous)},
    ]


def retry_messages(messages: list[Message], output: str, errors: list[str]) -> list[Message]:
    """The messages again, plus the invalid output and what is wrong with it."""
    note = load_template("retry").format(errors="; ".join(errors)).strip()
    return [
        *messages,
        {"role": "assistant", "content": output},
        {"role": "user", "content": note},
    ]


def training_messages(
    question: str, query: str, mode: str = "ft", retrieved: Retrieved | None = None
) -> list[Message]:
    """One training example: the prompt of ``mode`` plus the query as the assistant's reply
    (what fine-tuning trains on and what the fine-tuned model is later prompted with)."""
    return [
        *build_messages(question, mode, retrieved),
        {"role": "assistant", "content": query.strip()},
    ]


def summary_messages(question: str, hits_text: str) -> list[Message]:
    """The prompt of the optional LLM summary (checked for grounding afterwards)."""
    return [
        {
            "role": "user",
            "content": load_template("summary").format(question=question, hits=hits_text).strip(),
        }
    ]
