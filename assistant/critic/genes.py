"""Which gene: the rules that resolve the gene a question names the way MyGene's and NCBI's
ranking would — an id given after its field's name, an official symbol before an alias, the
species the question means, the ortholog through its HomoloGene group, a gene term the model
buried in a phrase. Most ask the data (:class:`Context`), so each is one probe of the store at
most; without data they stay out."""

from __future__ import annotations

import re
from dataclasses import replace

from ..query import INTERVAL_RE, Query, parse_lucene, render_lucene, walk
from .base import Context, _set_child, _tree, _with
from .reading import (
    as_written,
    field_values_in,
    gene_terms,
    ortholog_ask,
    species_implied,
    squash,
)


def _species_list(query: Query) -> list[str]:
    return [s.strip() for s in query.params.get("species", "").split(",") if s.strip()]


def rule_field_ids(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An id the question gives after its field's name ("RGD ID 2998", "OMIM 601622", "HGNC:5")
    is searched in that field, not as an Entrez id (``/gene/2998``) or a bare number."""
    given = field_values_in(question)
    if len(given) != 1 or query.method != "GET" or query.endpoint not in ("query", "gene"):
        return None
    name, value = given[0]
    wanted = f"{name}:{value}".lower()
    if query.endpoint == "query" and query.q:
        tree = parse_lucene(query.q)
        for node in walk(tree, "SearchField") if tree is not None else ():
            text = f"{node.name}:{getattr(node.expr, 'value', '')}".lower()
            if (
                text == wanted
                or text.split(":", 1)[1] == value
                and node.name.lower()
                in (
                    name.lower(),
                    name.split(".")[0].lower(),
                )
            ):
                return None
    params = {k: v for k, v in query.params.items() if k != "ids"}
    new = Query("query", "GET", q=f"{name}:{value}", params=params)
    was = query.to_text()
    return new, f"the question gives {name} {value}: searched as {name}:{value} (not {was})"


def rule_default_species(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A question that names no species, and implies none by an id or a species' own database
    (FlyBase, RGD), is about human genes when the query finds human genes: a species the model
    added on its own (``species=zebrafish`` for PVT1) gives way to human, MyGene's first. A
    genome interval on a human chromosome with no species is on the human genome."""
    if query.endpoint != "query" or query.method != "GET" or species_implied(question):
        return None
    have = _species_list(query)
    if INTERVAL_RE.match((query.q or "").strip()):
        m = INTERVAL_RE.match(query.q.strip())
        chrom = m.group("chr").upper()
        if not have and (chrom.isdigit() and int(chrom) <= 22 or chrom in ("X", "Y", "MT")):
            return _with(
                query, species="human"
            ), "a genome interval with no species: the human genome"
        return None
    if len(have) != 1 or have[0] in ("human", "9606", "all") or not (query.q or "").strip():
        return None
    if re.search(rf"\b{re.escape(have[0])}\b", question, re.I):
        return None  # the question says it ("species 12345678"), if not in the API's words
    if not ctx.total(query.q, "human"):
        return None  # not a human gene: the model's species stands ("wingless" is a fly gene)
    return _with(query, species="human"), (
        f"the question names no species, so human (not {have[0]}, which the query added)"
    )


def rule_alias_symbol(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """An ``alias:`` term that is an official symbol in the query's species (human when it
    names none) is searched as the symbol, and a ``symbol:`` term that is no official symbol
    there but an alias is searched as the alias: an exact official symbol beats an alias, as in
    MyGene's and NCBI's ranking (``alias:gapdh`` → ``symbol:gapdh``; ``symbol:sert`` →
    ``alias:sert``, the human SLC6A4, not the fly's Sert), and a query with no species gets
    human's."""
    from luqum import tree as t

    if ctx.probe is None:
        return None
    tree = _tree(query)
    if tree is None:
        return None
    species = _species_list(query)
    if len(species) > 1 or species == ["all"]:
        return None
    implied = species_implied(question)
    if not species and implied:
        return None  # a species the question means and the query lacks: rule_species's
    where = species[0] if species else "human"
    to_symbol, to_alias = [], []
    root = t.Group(tree)
    for node in walk(root):
        for i, child in enumerate(list(node.children)):
            if not (isinstance(child, t.SearchField) and type(child.expr) is t.Word):
                continue
            value = child.expr.value
            if any(c in value for c in "*?") or child.name not in ("alias", "symbol"):
                continue
            if child.name == "alias" and ctx.is_symbol(value, where):
                _set_child(node, i, t.SearchField("symbol", t.Word(value)))
                to_symbol.append(value)
            elif (
                child.name == "symbol"
                and ctx.is_symbol(value, where) is False
                and ctx.is_alias(value, where)
            ):
                _set_child(node, i, t.SearchField("alias", t.Word(value)))
                to_alias.append(value)
    if not to_symbol and not to_alias:
        return None
    new = replace(query, q=render_lucene(root.expr))
    notes = []
    if to_symbol:
        are = "is an official symbol" if len(to_symbol) == 1 else "are official symbols"
        notes.append(f"{', '.join(to_symbol)} {are} in {where}: searched as the symbol")
    if to_alias:
        are = "is no official symbol" if len(to_alias) == 1 else "are no official symbols"
        notes.append(f"{', '.join(to_alias)} {are} in {where} but an alias: searched as the alias")
    if not species and to_alias:
        new = _with(new, species=where)
    return new, "; ".join(notes)


def rule_gene_phrase(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A phrase the model wrote around a gene term of the question (``name:"gapdh
    protein-coding"``, ``name:"cox-2 inhibitor"``, ``go.CC.term:"hexa locus"``) that finds no
    gene is the gene term: the question's other words said what to ask about it, not its name.
    A phrase the question itself quotes, or one that finds genes, stays."""
    from luqum import tree as t

    tree = _tree(query)
    if tree is None:
        return None
    terms = {squash(g): g for g in gene_terms(question)}
    if not terms:
        return None
    quoted = {squash(q) for q in re.findall(r"[\"'“‘]([^\"'“”‘’]{3,})[\"'”’]", question)}
    species = query.params.get("species")
    changed = []

    def gene_in(phrase, node) -> str | None:
        inner = phrase.value.strip('"').strip()
        words = [w for w in re.split(r"[\s()/,]+", inner) if w]
        if len(words) < 2 or squash(inner) in quoted:
            return None
        found = [terms[squash(w)] for w in words if squash(w) in terms]
        if len(set(found)) != 1:
            return None
        if ctx.total(render_lucene(node), species):
            return None  # the phrase finds genes (in its field): it may well be a name
        return as_written(question, found[0])

    root = t.Group(tree)
    for node in walk(root):
        if isinstance(node, t.SearchField):
            continue  # its phrase is seen from its parent, with the field
        for i, child in enumerate(list(node.children)):
            target = child.expr if isinstance(child, t.SearchField) else child
            field_name = child.name if isinstance(child, t.SearchField) else "name"
            if field_name.split(".")[0] not in PHRASE_FIELDS:
                continue  # a pathway's name may well hold a gene's ("Signaling by EGFR")
            if isinstance(target, t.Phrase) and (gene := gene_in(target, child)):
                _set_child(node, i, t.Word(gene))
                changed.append(f"{render_lucene(child)} → {gene}")
    if not changed:
        return None
    return replace(query, q=render_lucene(root.expr)), (
        "; ".join(changed) + " (the gene the question names, not a phrase of its name)"
    )


PHRASE_FIELDS = ("name", "other_names", "alias", "symbol", "go", "summary")
"""Fields where a model's phrase around a gene term is no phrase of the data."""


def rule_ortholog(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The ortholog of a gene in another species ("the fruit fly counterpart of human PTCH1")
    is found through the gene's HomoloGene group, as NCBI's orthologs are: ``homologene.id`` of
    the source gene, in the target species (every species for "the same HomoloGene group") —
    the symbol often differs (PTCH1 is ptc in the fly, CDK2 cdk-2 in the worm)."""
    ask = ortholog_ask(question)
    if ask is None or ctx.probe is None or query.endpoint != "query" or query.method != "GET":
        return None
    gene, source, target = ask
    if target == source:
        return None
    hit = None
    for field_name in ("symbol", "alias"):
        hit = ctx.first(f"{field_name}:{gene.lower()}", source, "homologene")
        if hit:
            break
    group = (hit or {}).get("homologene")
    group_id = group.get("id") if isinstance(group, dict) else None
    if not group_id:
        return None
    if not ctx.total(f"homologene.id:{group_id}", target):
        return None  # the group has no gene of that species: the model's query stands
    params = dict(query.params)
    if target:
        params["species"] = target
    else:
        params.pop("species", None)
    new = replace(query, q=f"homologene.id:{group_id}", params=params)
    if new.to_text() == query.to_text():
        return None
    where = f"its {target} genes" if target else "every gene of the group"
    return new, f"{gene} ({source}) is in HomoloGene group {group_id}: {where}"
