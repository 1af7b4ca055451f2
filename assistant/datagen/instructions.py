"""Instructions for a log query: the prompt, the checks every instruction must pass, and the
write → check → regenerate loop.

Two instructions per query, one per style (:data:`STYLES`): an ``imperative`` sentence and a
``question``. An instruction is kept only when :func:`check_instruction` finds no problem:

- ``missing_entity``: it names every entity of the query (symbols, ids, terms, species);
- ``copies_query``: it does not copy query syntax (``q=``, ``fields=``, ``symbol:cdk2``, a URL);
- ``filler``: no "Sure,", "Here is", "Please note", "I hope", "this query"...;
- ``not_one_sentence`` / ``too_short`` / ``too_long``: one sentence of 3 to 45 words;
- ``wrong_form``: the question ends with ``?``, the imperative does not (nor starts like a
  question).

>>> from assistant.query import parse_query
>>> from assistant.datagen.extract import entities
>>> ents = entities(parse_query("/v3/query?q=symbol:CDK2&species=human&fields=entrezgene"))
>>> check_instruction("Find the Entrez gene id of human CDK2.", "imperative", ents)
[]
>>> check_instruction("Sure, here is the query: q=symbol:CDK2", "imperative", ents)
[('missing_entity', 'human'), ('copies_query', 'q='), ('filler', 'sure')]
>>> check_instruction("What is the entrezgene of symbol:CDK2 in human?", "question", ents)
[('copies_query', 'symbol:c')]

Naming a long entity is not copying the prompt's "What it does" line (an entity counts as one
word of a copied run):

>>> q = parse_query('/v3/query?q=name:"tafa chemokine like family member 5"')
>>> check_instruction('Find genes named "tafa chemokine like family member 5".', "imperative",
...     entities(q), explanation=explain(q))
[]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..prompts import load_template
from ..query import Query
from ..schema import load_fields
from .endpoint import BadOutput, JsonClient
from .extract import Candidate, Entity
from .report import Report

STYLES = ("imperative", "question")

SCHEMA = {
    "type": "object",
    "properties": {style: {"type": "string"} for style in STYLES},
    "required": list(STYLES),
    "additionalProperties": False,
}
"""The JSON the writer answers with: ``{"imperative": "...", "question": "..."}``."""

FILLER_RE = re.compile(
    r"^\W*(sure|certainly|of course|okay|ok|absolutely|great|here is|here's|here are|below is)\b"
    r"|please note|as an ai|i hope|\bnote:|feel free|let me know|this query|the query above"
    r"|the following query|the given query|happy to help",
    re.IGNORECASE,
)
COPY_RE = re.compile(
    r"/v3\b|https?://|\b(?:q|fields|species|size|from|scopes|ids|facets|sort)=|&|\?\w+="
    r"|\b[a-z_]+(?:\.[a-z_-]+)*:[^\s/,.;?!)]",
    re.IGNORECASE,
)
QUESTION_START_RE = re.compile(
    r"^(what|which|who|whom|whose|where|when|why|how|is|are|was|were|does|do|did|can|could|"
    r"would|will|should|may|has|have)\b",
    re.IGNORECASE,
)
INTERVAL_TEXT_RE = re.compile(r"\b(?:\w+\.)?chr\w+:[\d,]+-[\d,]+")
DESCRIBES_RE = re.compile(r"^(?:this\b|it\b|[a-z]+(?<!s)s\b)", re.IGNORECASE)
"""``Fetches the gene...``, ``Returns...``, ``This query...``: a description, not a request."""
COPY_WORDS = 6
SENTENCE_BREAK_RE = re.compile(r"[.!?]\s+[A-Z]")
MIN_WORDS, MAX_WORDS, MAX_CHARS = 3, 45, 300


def clean(text: object) -> str:
    """Whitespace collapsed, wrapping quotes and a leading ``Question:`` label removed."""
    text = " ".join(str(text or "").split())
    text = re.sub(r"^(imperative|question|instruction)\s*:\s*", "", text, flags=re.IGNORECASE)
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def copied_run(text: str, source: str, n: int = COPY_WORDS) -> str | None:
    """The first run of ``n`` words of ``source`` that ``text`` repeats, or None.

    >>> copied_run("Fetches the gene with id 1017; returns symbol", "fetches the gene with id 1017; returns symbol (Official gene symbol)")
    'fetches the gene with id 1017'
    """
    words = _words(text)
    grams = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
    src = _words(source)
    for i in range(len(src) - n + 1):
        if tuple(src[i : i + n]) in grams:
            return " ".join(src[i : i + n])
    return None


def _mask(text: str, entities: list[Entity]) -> str:
    """``text`` with every mention of an entity replaced by one placeholder word, so that a run
    of copied words counts a gene's full name or a list of POST terms as one word."""
    words = sorted({w for e in entities for w in e.words}, key=len, reverse=True)
    for word in words:
        pattern = r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])"
        text = re.sub(pattern, " zqentity ", text, flags=re.IGNORECASE)
    return text


def check_instruction(
    text: str, style: str, entities: list[Entity], query_text: str = "", explanation: str = ""
) -> list[tuple[str, str]]:
    """Every problem of one instruction as ``(code, detail)``; empty when it is kept.

    ``explanation`` is the prompt's "What it does" line: repeating six words of it in a row is
    ``copies_prompt``.
    """
    problems: list[tuple[str, str]] = []
    for e in entities:
        if not e.named_in(text):
            problems.append(("missing_entity", e.label))
    stripped = INTERVAL_TEXT_RE.sub(" ", text.lower())  # chrX:151,073,054-151,383,976 is prose
    for e in entities:  # GO:0006915 or MGI:88339 written as such are names, not syntax
        for word in e.words:
            if ":" in word:
                stripped = stripped.replace(word, " ")
    copy = COPY_RE.search(stripped)
    if copy or (query_text and query_text.lower() in text.lower()):
        problems.append(("copies_query", copy.group(0) if copy else query_text))
    copied = None
    if explanation:  # entities must be named: naming them is no copy (each counts as one word)
        copied = copied_run(_mask(text, entities), _mask(explanation, entities))
    if copied or re.match(r"^\W*(what it does|query|mention)\s*:", text, re.IGNORECASE):
        problems.append(("copies_prompt", copied or text[:30]))
    filler = FILLER_RE.search(text)
    if filler:
        problems.append(("filler", filler.group(0).strip().lower()))
    words = len(text.split())
    if words < MIN_WORDS:
        problems.append(("too_short", f"{words} words"))
    elif words > MAX_WORDS or len(text) > MAX_CHARS:
        problems.append(("too_long", f"{words} words"))
    if "\n" in text or SENTENCE_BREAK_RE.search(text.rstrip(".!?")):
        problems.append(("not_one_sentence", text[:60]))
    if style == "question" and not text.endswith("?"):
        problems.append(("wrong_form", "a question must end with ?"))
    if style == "imperative" and (text.endswith("?") or QUESTION_START_RE.match(text)):
        problems.append(("wrong_form", "an imperative must not be a question"))
    elif style == "imperative" and DESCRIBES_RE.match(text):
        problems.append(("wrong_form", "an imperative starts with a verb such as Find, not Finds"))
    return problems


# --- the prompt ---------------------------------------------------------------------------------


def _field_phrase(name: str) -> str:
    fields = load_fields()
    if name in fields:
        desc = fields[name].description.split(" (")[0].split("; ")[0].rstrip(".")
        return f"{name} ({desc[:90]})"
    children = fields.children(name)
    return f"{name} (all {len(children)} {name}.* fields)" if children else name


def explain(query: Query) -> str:
    """What a query does, in words (so the writer need not know the API).

    >>> from assistant.query import parse_query
    >>> explain(parse_query("/v3/gene/1017?fields=symbol"))
    'fetches the gene with id 1017; returns symbol (Official gene symbol)'
    """
    params = query.params
    parts = []
    if query.endpoint == "gene" and query.method == "GET":
        parts.append(f"fetches the gene with id {query.gene_id}")
    elif query.endpoint == "gene":
        parts.append(f"fetches the genes with ids {params.get('ids')}")
    elif query.method == "POST":
        scopes = params.get("scopes")
        where = f" in {scopes}" if scopes else " as symbols or Entrez ids"
        parts.append(f"looks up each of the terms {query.q}{where}")
    else:
        parts.append(f"searches genes matching {query.q}")
    if "fields" in params:
        names = [f for f in params["fields"].split(",") if f]
        parts.append("returns " + ", ".join(_field_phrase(f) for f in names[:8]))
    if "species" in params:
        parts.append(f"species {params['species']}")
    if params.get("size") == "0":
        parts.append("only counts the hits")
    elif "size" in params:
        parts.append(f"at most {params['size']} hits")
    if "from" in params:
        parts.append(f"skips the first {params['from']} hits")
    if "facets" in params:
        parts.append(f"counts hits per value of {params['facets']}")
    if "sort" in params:
        parts.append(f"sorted by {params['sort']}")
    for name in ("exists", "missing"):
        if name in params:
            parts.append(
                f"only genes where {params[name]} is {'present' if name == 'exists' else 'absent'}"
            )
    for name, what in (("entrezonly", "Entrez genes only"), ("ensemblonly", "Ensembl genes only")):
        if params.get(name) == "true":
            parts.append(what)
    return "; ".join(parts)


def messages_for(candidate: Candidate) -> list[dict[str, str]]:
    """The chat messages that ask for the two instructions of one candidate query."""
    mention = ", ".join(e.label for e in candidate.entities) or "(nothing)"
    user = load_template("datagen_user").format(
        query=candidate.display, explanation=explain(candidate.query), mention=mention
    )
    return [
        {"role": "system", "content": load_template("datagen_system").strip()},
        {"role": "user", "content": user.strip()},
    ]


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The instructions kept for one query (by style or persona), the last problems of those
    dropped, the attempts, and the shapes the synthetic generator does not cover
    (:mod:`.templates`)."""

    accepted: dict[str, str] = field(default_factory=dict)
    problems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    attempts: int = 0
    uncovered: list[str] = field(default_factory=list)


def write_instructions(
    client: JsonClient, candidate: Candidate, report: Report, retries: int = 2
) -> Outcome:
    """Ask for both instructions, check them, and ask again (at most ``retries`` more times,
    with the problems in the prompt) for those that fail. Every failed check is counted under
    stage ``checks``; :class:`~.endpoint.EndpointUnavailable` propagates (the run stops)."""
    out = Outcome()
    messages = messages_for(candidate)
    explanation = explain(candidate.query)
    seen: set[str] = set()
    for attempt in range(retries + 1):
        out.attempts += 1
        if attempt:
            report.count("instruct", "regenerated")
        try:
            data = client.complete(
                messages,
                SCHEMA,
                name="instructions",
                temperature=None if attempt == 0 else max(client.temperature, 0.7),
                seed=client.seed + attempt,
            )
        except BadOutput as exc:
            report.reject("checks", "bad_json", f"{candidate.key}: {exc}")
            continue
        failed: list[str] = []
        for style in STYLES:
            if style in out.accepted:
                continue
            text = clean(data.get(style))
            problems = check_instruction(
                text, style, candidate.entities, candidate.display, explanation
            )
            if not problems and text.lower() in seen:
                problems = [("duplicate", text)]
            if problems:
                out.problems[style] = problems
                for code, detail in problems:
                    report.reject("checks", code, f"{style} {text!r} ({detail})")
                failed.append(f"the {style} " + "; ".join(_say(c, d) for c, d in problems))
            else:
                out.accepted[style] = text
                out.problems.pop(style, None)
                seen.add(text.lower())
        if len(out.accepted) == len(STYLES):
            break
        answer = {s: clean(data.get(s)) for s in STYLES}
        messages = messages_for(candidate) + [
            {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)},
            {
                "role": "user",
                "content": load_template("datagen_retry")
                .format(problems="; ".join(failed))
                .strip(),
            },
        ]
    return out


def _say(code: str, detail: str) -> str:
    return {
        "missing_entity": f"does not name {detail}",
        "copies_query": f"copies query syntax ({detail})",
        "filler": f"has filler ({detail})",
        "too_short": "is too short",
        "too_long": "is too long",
        "not_one_sentence": "is not one sentence",
        "wrong_form": detail,
        "duplicate": "repeats the other instruction",
    }.get(code, code)
