"""When a model's query matches nothing: the corrections the pipeline tries, best first.

Small models copy identifiers imperfectly (DNAH12 → DANH12, Bmpr1b → brmp1b, NG_032234 →
nr_032234), miss a taxid the question spells out (``taxid 10116`` → species=mouse), or put a word
in the wrong field (``symbol:insulin``, ``type_of_gene:kinase``). When the query as written
matches nothing (or a POST leaves terms not found), :func:`alternatives` proposes the same query
with

1. a term that is not in the question replaced by the question's one closest word (at most two
   edits, a third of the word; words of a phrase too);
2. the species the question names by taxid;
3. a ``symbol:`` term searched as an alias (``symbol:p21`` → ``alias:p21``: the genes people
   call p21), then as a prefix (``symbol:sox9`` → ``symbol:sox9*``: zebrafish sox9a, sox9b);
4. a batch's symbols searched as aliases too (``scopes=symbol`` → ``symbol,alias``);
5. its symbol/alias/name/type terms searched in all fields (:func:`relax_query`).

:func:`recover` runs them in turn and keeps the first that finds more; the pipeline's answer says
what was changed; a query someone typed or edited runs as written. Nothing here invents a term: a
correction only ever takes a word from the question.

>>> from assistant.query import parse_query
>>> q = parse_query("/v3/query?q=symbol:brmp1b&fields=pathway&species=mouse")
>>> [(alt.q, why) for alt, why in alternatives("murine Bmpr1b pathways", q)][0]
('symbol:Bmpr1b', 'brmp1b is not in the question but Bmpr1b is')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from .backends import Result
from .query import INTERVAL_RE, Query, parse_lucene, render_lucene, render_tree, walk
from .schema import load_api, load_fields

_QUESTION_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*[A-Za-z0-9]|[A-Za-z0-9]")
TAXID_RE = re.compile(r"\btax(?:on|onomy)?[ _-]?(?:id)?\s*(?:=|:|#|is|of)?\s*(\d{2,8})\b", re.I)


RELAXABLE_FIELDS = ("symbol", "alias", "name", "other_names", "type_of_gene")
"""Fields whose terms :func:`relax_query` turns into plain words when a query matches nothing:
a word the model put in the wrong field (``symbol:insulin``, ``type_of_gene:kinase``) is still
found by a search of all fields."""


def relax_query(query: Query) -> Query | None:
    """The query with its :data:`RELAXABLE_FIELDS` terms searched in all fields instead, or
    None when there is nothing to relax (a POST, a genome interval, no such field term).

    >>> from assistant.query import parse_query
    >>> relax_query(parse_query("/v3/query?q=symbol:insulin&fields=uniprot")).to_text()
    '/v3/query?q=insulin&fields=uniprot'
    >>> relax_query(parse_query('q=type_of_gene:kinase AND chr:21')).q
    'kinase AND chr:21'
    >>> relax_query(parse_query("q=entrezgene:1017")) is None
    True
    """
    q = (query.q or "").strip()
    if query.endpoint != "query" or query.method != "GET" or not q or INTERVAL_RE.match(q):
        return None
    tree = parse_lucene(q)
    if tree is None:
        return None
    relaxed = render_tree(tree, load_fields(), lower=False, relax=RELAXABLE_FIELDS)
    if relaxed == render_tree(tree, load_fields(), lower=False):
        return None
    return Query(query.endpoint, query.method, relaxed, query.gene_id, dict(query.params))


@dataclass
class Recovery:
    """A correction that found more: the corrected ``query``, its ``result``, ``why`` (what was
    changed, said plainly) and ``missed`` (what the original found nothing for)."""

    query: Query
    result: Result
    why: str
    missed: list[str]


def recover(
    question: str, query: Query, result: Result, run: Callable[[Query], Result | None]
) -> Recovery | None:
    """The first of :func:`alternatives` that finds genes where ``query`` found none (or, a
    POST, leaves fewer terms not found), run with ``run`` (None: it failed); None when
    ``result`` needs no correction or none helps."""
    post = query.method == "POST"
    if result.total and not (post and result.notfound):
        return None
    for alt, why in alternatives(question, query):
        more = run(alt)
        if more is None:
            continue
        if (more.total > 0) if not result.total else len(more.notfound) < len(result.notfound):
            missed = list(result.notfound) if post else [query.q or ""]
            return Recovery(alt, more, why, missed)
    return None


def alternatives(question: str, query: Query) -> list[tuple[Query, str]]:
    """Corrected or wider forms of ``query``, each with a note saying what changed."""
    out: list[tuple[Query, str]] = []
    fixed = fix_copied_terms(question, query)
    if fixed is not None:
        out.append(fixed)
        # the corrected term may be an alias or a prefix too (eyless → eyeless → alias)
        out.extend((alt, f"{fixed[1]}; {why}") for alt, why in symbol_alternatives(fixed[0]))
    species = species_from_question(question, query)
    if species is not None:
        out.append(species)
    out.extend(symbol_alternatives(query))
    scopes = wider_scopes(query)
    if scopes is not None:
        out.append(scopes)
    wider = relax_query(query)
    if wider is not None:
        out.append((wider, f"searching all fields for {wider.q} instead"))
    return out


# --- 1. terms copied wrong ------------------------------------------------------------------------


def question_tokens(question: str) -> dict[str, str]:
    """The question's words, lower-cased → as written (``{"bmpr1b": "Bmpr1b", ...}``)."""
    return {t.lower(): t for t in _QUESTION_TOKEN.findall(question)}


def closest(word: str, tokens: dict[str, str]) -> str | None:
    """The one question token within two edits (and a third of ``word``'s length) of
    ``word``, or None when there is none or more than one at the smallest distance."""
    word = word.lower()
    limit = min(2, max(1, len(word) // 3))
    best: list[str] = []
    best_d = limit + 1
    for low in tokens:
        if abs(len(low) - len(word)) > limit or low == word:
            continue
        d = edit_distance(word, low)
        if d < best_d:
            best, best_d = [low], d
        elif d == best_d:
            best.append(low)
    return tokens[best[0]] if len(best) == 1 else None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance with adjacent transpositions counted as one edit (OSA).

    >>> edit_distance("danh12", "dnah12"), edit_distance("brmp1b", "bmpr1b")
    (1, 2)
    """
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def fix_copied_terms(question: str, query: Query) -> tuple[Query, str] | None:
    """``query`` with each of its terms that the question does not contain replaced by the
    question's closest word; None when no term needs or finds a replacement."""
    tokens = question_tokens(question)
    if query.method == "POST":
        terms = [t.strip() for t in (query.q or "").split(",") if t.strip()]
        swaps = _swaps(terms, tokens)
        if not swaps:
            return None
        new_q = ",".join(swaps.get(t.lower(), t) for t in terms)
        return replace(query, q=new_q), _note(swaps)
    q = (query.q or "").strip()
    if query.endpoint != "query" or not q or INTERVAL_RE.match(q):
        return None
    tree = parse_lucene(q)
    if tree is None:
        return None
    words = [w for w in plain_words(tree) if not any(c in w.value for c in "*?\\")]
    phrases = _phrases(tree)
    inner = [p for ph in phrases for p in _QUESTION_TOKEN.findall(ph.value)]
    swaps = _swaps([w.value for w in words] + inner, tokens)
    if not swaps:
        return None
    for w in words:
        if w.value.lower() in swaps:
            w.value = swaps[w.value.lower()]
    for ph in phrases:
        ph.value = _QUESTION_TOKEN.sub(
            lambda m: swaps.get(m.group(0).lower(), m.group(0)), ph.value
        )
    return replace(query, q=str(tree).strip()), _note(swaps)


def plain_words(node) -> list:
    """The plain words (luqum ``Word`` nodes) of a query tree, in order."""
    return list(walk(node, "Word"))


def _phrases(node) -> list:
    """The phrases (luqum ``Phrase`` nodes, quotes included in their value) of a query tree."""
    return list(walk(node, "Phrase"))


def _swaps(terms: list[str], tokens: dict[str, str]) -> dict[str, str]:
    swaps = {}
    for term in terms:
        low = term.lower()
        if low in tokens or len(low) < 3:
            continue
        near = closest(low, tokens)
        if near is not None:
            swaps[low] = near
    return swaps


def _note(swaps: dict[str, str]) -> str:
    return "; ".join(f"{old} is not in the question but {new} is" for old, new in swaps.items())


# --- 3. symbols as aliases and prefixes; batches with aliases ---------------------------------------


def symbol_alternatives(query: Query) -> list[tuple[Query, str]]:
    """``query`` with its ``symbol:`` terms searched as aliases, then as prefixes (a GET query
    with plain symbol terms; none otherwise).

    >>> from assistant.query import parse_query
    >>> [a.q for a, _ in symbol_alternatives(parse_query("q=symbol:sox9&species=zebrafish"))]
    ['alias:sox9', 'symbol:sox9*']
    """
    from luqum import tree as t

    q = (query.q or "").strip()
    if query.endpoint != "query" or query.method != "GET" or not q or INTERVAL_RE.match(q):
        return []
    out = []
    # a worm symbol has a hyphen (cdk-2, unc-119): for a worm query that form is tried first
    worm_first = "nematode" in query.params.get("species", "") or "6239" in query.params.get(
        "species", ""
    )
    for kind in ("worm", "alias", "prefix") if worm_first else ("alias", "prefix"):
        tree = parse_lucene(q)
        if tree is None:
            return []
        changed = []
        for node in _fielded(tree):
            if node.name != "symbol" or type(node.expr) is not t.Word:
                continue
            value = node.expr.value
            if any(c in value for c in "*?\\"):
                continue
            if kind == "alias":
                node.name = "alias"
                changed.append(f"alias:{value}")
            elif kind == "prefix" and len(value) >= 3:
                node.expr = t.Word(value + "*")
                changed.append(f"symbol:{value}*")
            elif kind == "worm" and (worm := re.fullmatch(r"([a-z]{2,5})(\d+)", value, re.I)):
                node.expr = t.Word(f"{worm.group(1)}-{worm.group(2)}")
                changed.append(f"symbol:{node.expr.value}")
        if changed:
            why = {
                "alias": f"searching {', '.join(changed)}: the name may be an alias",
                "prefix": f"searching {', '.join(changed)}: symbols that start with it",
                "worm": f"searching {', '.join(changed)}: a worm symbol has a hyphen",
            }[kind]
            out.append((replace(query, q=render_lucene(tree)), why))
    return out


def _fielded(node) -> list:
    return list(walk(node, "SearchField"))


def wider_scopes(query: Query) -> tuple[Query, str] | None:
    """A batch searched in ``symbol`` only, searched in symbol and alias."""
    if query.method != "POST" or query.endpoint != "query":
        return None
    scopes = [s.strip() for s in query.params.get("scopes", "").split(",") if s.strip()]
    if scopes != ["symbol"]:
        return None
    params = {**query.params, "scopes": "symbol,alias"}
    return replace(query, params=params), "searching the batch's terms as aliases too"


# --- 2. the species the question names --------------------------------------------------------------


def species_from_question(question: str, query: Query) -> tuple[Query, str] | None:
    """``query`` with ``species`` set to the taxid the question spells out (``taxid 10116``),
    when the query asks for another species; None otherwise."""
    found = {int(m) for m in TAXID_RE.findall(question)}
    said = query.params.get("species")
    if len(found) != 1 or not said:
        return None
    api = load_api()
    taxid = found.pop()
    wanted = [api.taxid(s.strip()) for s in said.split(",")]
    if taxid in wanted:
        return None
    name = api.species_name(taxid) or str(taxid)
    params = {**query.params, "species": name}
    return replace(query, params=params), f"the question names taxid {taxid} ({name}), not {said}"
