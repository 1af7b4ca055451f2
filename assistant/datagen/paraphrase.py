"""``datagen --paraphrase``: a base instruct model rephrases each deterministic instruction the
way a biologist would, under a JSON schema; each paraphrase passes the same checks as the
templates' sentences (:func:`~.instructions.check_instruction` and
:func:`~.templates.check_mentions`) and then the round trip (:mod:`.roundtrip`).

The model is never the fine-tuned query adapter (:func:`~.run.writer_model` swaps it for its
base model, ``qwen2.5-coder-0.5b`` for the default): a local model runs in process through
:class:`assistant.llm.LlamaCppModel`, constrained by ``grammars/paraphrase.gbnf`` (the JSON
object ``{"instruction": "..."}``); with ``QA_OPENAI_API_KEY`` the endpoint of the model writer
(:mod:`.endpoint`) answers under :data:`SCHEMA`. The pairs record ``writer:
"paraphrase:<model>"`` and the sentence they rephrase (``paraphrase_of``).

A paraphrase is dropped (counted under stage ``paraphrase`` with its reason) when it fails a
check, repeats its source sentence (``unchanged``) or another kept instruction
(``duplicate``), or the model's answer is not the JSON asked for (``bad_json``).

>>> messages_for("Retrieve the Entrez gene ID for the human gene CDK2.", "imperative",
...              ["CDK2", "human", "Entrez gene ID"])[1]["content"]
'Request: Retrieve the Entrez gene ID for the human gene CDK2.\\nForm: a request that starts with a verb such as Find, List, Give or Show (not a question)\\nKeep: CDK2; human; Entrez gene ID'
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..config import ROOT
from ..grammar import load_grammar
from ..prompts import load_template
from ..query import parse_query
from .endpoint import BadOutput
from .extract import Candidate
from .instructions import Outcome, check_instruction, clean, explain
from .report import Report
from .templates import PERSONAS, Shape, check_mentions, describe, field_words

GRAMMAR_PATH = ROOT / "grammars" / "paraphrase.gbnf"
SCHEMA = {
    "type": "object",
    "properties": {"instruction": {"type": "string"}},
    "required": ["instruction"],
    "additionalProperties": False,
}
"""The JSON the paraphrase model answers with: ``{"instruction": "..."}``."""

FORMS = {
    "imperative": "a request that starts with a verb such as Find, List, Give or Show "
    "(not a question)",
    "question": "a question that ends with a question mark",
}
MAX_TOKENS = 64
"""Tokens of one paraphrase: the JSON wrapper and a sentence of at most 45 words."""


class GrammarJson:
    """A :class:`~assistant.llm.LanguageModel` answering :meth:`complete` like the endpoint's
    :class:`~.endpoint.JsonClient`, its output constrained by a GBNF grammar of the JSON."""

    def __init__(self, model, grammar: str, max_tokens: int = MAX_TOKENS, seed: int = 0):
        self.model = model
        self.grammar = grammar
        self.max_tokens = max_tokens
        self.temperature = getattr(model, "temperature", 0.0)
        self.seed = seed
        self.calls = 0
        self.seconds = 0.0
        self.tokens = 0

    def complete(
        self,
        messages: list[dict[str, str]],
        schema: dict,
        name: str = "answer",
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        """The JSON object the model writes (:class:`BadOutput` when it is not one)."""
        extra = {} if temperature is None else {"temperature": temperature}
        if seed is not None:
            extra["seed"] = seed
        gen = self.model.generate(
            messages, grammar=self.grammar, max_tokens=max_tokens or self.max_tokens, **extra
        )
        self.calls += 1
        self.seconds += gen.seconds or 0.0
        self.tokens += gen.completion_tokens
        try:
            data = json.loads(gen.text)
        except json.JSONDecodeError:
            raise BadOutput(f"not JSON: {gen.text[:80]!r}") from None
        if not isinstance(data, dict):
            raise BadOutput(f"not a JSON object: {gen.text[:80]!r}")
        return data


def local_client(model_name: str, settings) -> GrammarJson:
    """The in-process client of a local instruct model (no LoRA adapter)."""
    from ..llm import get_model

    model = get_model(model_name, settings.model_copy(update={"lora_path": None}))
    return GrammarJson(model, load_grammar(GRAMMAR_PATH), seed=settings.seed)


def keep_words(text: str, candidate: Candidate, shape: Shape) -> list[str]:
    """What the paraphrase must still say: the entities, the words ``text`` uses for each
    requested field, and the numbers."""
    keep = [e.label for e in candidate.entities]
    low = text.lower()
    for f in shape.asked_fields:
        used = [w for w in field_words(f) if w.lower() in low]
        if used:
            keep.append(max(used, key=len))
    keep += [n for n in shape.numbers if n not in keep]
    return list(dict.fromkeys(keep))


def messages_for(text: str, form: str, keep: list[str]) -> list[dict[str, str]]:
    """The chat messages that ask for one paraphrase of ``text``."""
    user = load_template("datagen_paraphrase_user").format(
        text=text, form=FORMS[form], keep="; ".join(keep) or "(nothing)"
    )
    return [
        {"role": "system", "content": load_template("datagen_paraphrase_system").strip()},
        {"role": "user", "content": user.strip()},
    ]


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def paraphrase(
    client, candidate: Candidate, sources: dict[str, str], report: Report, retries: int = 1
) -> Outcome:
    """One paraphrase per source instruction (``{persona: sentence}``), checked as the
    template's sentences are; a failed one is asked again (at most ``retries`` more times, at
    a higher temperature). :class:`~.endpoint.EndpointUnavailable` propagates."""
    out = Outcome()
    shown = parse_query(candidate.display)
    shape = describe(shown)
    explanation = explain(candidate.query)
    seen = {_norm(t) for t in sources.values()}
    for persona, source in sources.items():
        form = PERSONAS.get(persona, "imperative")
        messages = messages_for(source, form, keep_words(source, candidate, shape))
        for attempt in range(retries + 1):
            out.attempts += 1
            try:
                data = client.complete(
                    messages,
                    SCHEMA,
                    name="paraphrase",
                    temperature=None if attempt == 0 else max(client.temperature, 0.7),
                    seed=client.seed + attempt,
                )
            except BadOutput as exc:
                out.problems[persona] = [("bad_json", str(exc))]
                report.reject("paraphrase", "bad_json", f"{candidate.key}: {exc}")
                continue
            text = clean(data.get("instruction"))
            problems = check_instruction(
                text, form, candidate.entities, candidate.display, explanation
            )
            problems += check_mentions(text, shape)
            if not problems and _norm(text) == _norm(source):
                problems = [("unchanged", text)]
            elif not problems and _norm(text) in seen:
                problems = [("duplicate", text)]
            if problems:
                out.problems[persona] = problems
                for code, detail in problems:
                    report.reject("paraphrase", code, f"{persona} {text!r} ({detail})")
                continue
            out.accepted[persona] = text
            out.problems.pop(persona, None)
            seen.add(_norm(text))
            break
    report.count("paraphrase", "kept", len(out.accepted))
    return out
