"""Where the genes are: the chromosome a question restricts a set of genes to."""

from __future__ import annotations

import re
from dataclasses import replace

from ..query import INTERVAL_RE, Query, parse_lucene, render_lucene
from .base import Context, _tree, _with
from .reading import chromosome_in, gene_terms, interval_in

CHROMOSOMES = {str(n) for n in range(1, 23)} | {"X", "Y", "MT", "2L", "2R", "3L", "3R", "4"}
CHROMOSOMES |= {"I", "II", "III", "IV", "V"}
"""Chromosome names as the gene documents write them (human, mouse, fly arms, worm)."""

MITO_WORDS = ("mitochondrial", "mitochondria", "mitochondrion", "mito", "mtdna", "mt")
CHROMOSOME_WORDS = ("on", "in", "chromosome", "chromosomes", "chr", "genome", "located", "the")
"""Words a query may have copied from "on chromosome 11": no gene term."""

GENE_FIELDS = (
    "symbol", "alias", "entrezgene", "ensembl", "uniprot", "refseq", "HGNC", "MIM", "MGI",
    "RGD", "FLYBASE", "WormBase", "ZFIN", "homologene", "_id", "retired",
)  # fmt: skip
"""Fields whose exact term names one gene (a query with one asks about that gene)."""


def chromosome_value(value: str) -> str | None:
    """A chromosome written the way a query may (``chrM``, ``x``, ``mitochondrial``) as the
    documents write it (``MT``, ``X``), or None when it names no chromosome.

    >>> chromosome_value("chrm"), chromosome_value("x"), chromosome_value("human")
    ('MT', 'X', None)
    """
    v = value.strip().strip('"')
    if v.lower() in MITO_WORDS or v.lower() in ("m", "chrm", "chrmt"):
        return "MT"
    v = v[3:] if v.lower().startswith("chr") else v
    v = v.upper() if not v[:-1].isdigit() else v[:-1] + v[-1].upper()
    return v if v in CHROMOSOMES else None


def _flatten(node, negated: bool = False) -> list[tuple[object, bool]]:
    """The clauses of an AND (or of terms side by side) as ``(clause, negated)``."""
    from luqum import tree as t

    if isinstance(node, (t.AndOperation, t.UnknownOperation)):
        return [c for child in node.children for c in _flatten(child, negated)]
    if isinstance(node, t.Not):
        return _flatten(node.a, not negated)
    if isinstance(node, t.Group) and len(node.children) == 1:
        inner = node.children[0]
        if isinstance(inner, (t.AndOperation, t.UnknownOperation)):
            return _flatten(inner, negated)
    return [(node, negated)]


def _names_a_gene(clause, question_terms: set[str]) -> bool:
    from luqum import tree as t

    if isinstance(clause, t.SearchField) and type(clause.expr) is t.Word:
        family = clause.name.split(".")[0]
        return family in GENE_FIELDS and not clause.expr.value.endswith("*")
    if type(clause) is t.Word:
        return clause.value.lower() in question_terms
    return False


def rule_chromosome(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """The chromosome the question restricts a set of genes to ("ncRNA genes on the human X",
    "not on chromosome 11", "the mitochondrial genome") is a ``genomic_pos.chr`` clause, written
    as the documents write it (``MT``, not ``chrm`` or ``mitochondrial``), negated when the
    question says "not"; words copied from the question's "on chromosome 11" are no terms. A
    query about one gene ("is TP53 on chromosome 17?") is left alone."""
    from luqum import tree as t

    said = chromosome_in(question)
    if said is None or interval_in(question):
        return None
    tree = _tree(query)
    if tree is None:
        return None
    chrom, negated = said
    clauses = _flatten(tree)
    terms = {g.lower() for g in gene_terms(question)}
    if any(_names_a_gene(c, terms) for c, _ in clauses):
        return None
    if any(
        not isinstance(c, (t.SearchField, t.Word, t.Phrase)) and "chr" in render_lucene(c)
        for c, _ in clauses
    ):
        return None  # "on 15 or 16": a choice the query already makes
    kept, notes, have_chr = [], [], False
    for clause, neg in clauses:
        if type(clause) is t.Word and (
            clause.value.lower() in CHROMOSOME_WORDS
            or chromosome_value(clause.value) == chrom
            or (chrom == "MT" and clause.value.lower() in ("dna", "genome"))
        ):
            notes.append(f"dropped {clause.value}")
            continue
        if isinstance(clause, t.SearchField) and type(clause.expr) is t.Word:
            value = clause.expr.value
            if clause.name in ("genomic_pos.chr", "chr", "genomic_pos.chromosome"):
                have_chr = True
                if (clause.name, value, neg) != ("genomic_pos.chr", chrom, negated):
                    notes.append(f"{clause.name}:{value} → {'NOT ' if negated else ''}chr {chrom}")
                    kept.append((t.SearchField("genomic_pos.chr", t.Word(chrom)), negated))
                    continue
            elif (
                chrom == "MT"
                and clause.name in ("type_of_gene", "name")
                and value.lower().startswith("mitochondri")
            ):
                notes.append(f"dropped {clause.name}:{value}")
                continue
        kept.append((clause, neg))
    if not have_chr:
        kept.append((t.SearchField("genomic_pos.chr", t.Word(chrom)), negated))
        notes.append(f"added {'NOT ' if negated else ''}genomic_pos.chr:{chrom}")
    if not notes:
        return None
    parts = [("NOT " if neg else "") + render_lucene(c) for c, neg in kept]
    if parts[0].startswith("NOT ") and len(parts) == 1:
        return None  # "not on chromosome 11" alone is no query
    new_q = " AND ".join(parts)
    if parse_lucene(new_q) is None:
        return None
    where = "not on" if negated else "on"
    return replace(query, q=new_q), f"the question asks for genes {where} chromosome {chrom}: " + (
        "; ".join(notes)
    )


LIST_MAX = 100
"""The most genes a set question gets without saying how many ("which genes …", "list …")."""


def rule_list_size(question: str, query: Query, ctx: Context) -> tuple[Query, str] | None:
    """A question for a set of genes — a family, a region, a GO term, a pathway — that gives
    no number gets the whole set (up to :data:`LIST_MAX`) instead of MyGene's first page of
    10: "the mouse Tas2r genes" are 40, and a list cut at 10 is a wrong answer to it."""
    from luqum import tree as t

    from .reading import COUNT, PAGE_NO, PER_PAGE, RESULTS_SPAN, SKIP, TOP_N

    if query.endpoint != "query" or query.method != "GET" or "size" in query.params:
        return None
    q = (query.q or "").strip()
    if not q or any(
        p.search(question) for p in (COUNT, PAGE_NO, PER_PAGE, RESULTS_SPAN, SKIP, TOP_N)
    ):
        return None
    if re.search(r"\b\d{1,3}\s+(?:genes|hits|results)\b", question, re.I):
        return None  # "20 genes involved in …": the number is the size (rule_paging's)
    if not INTERVAL_RE.match(q):
        tree = _tree(query)
        if tree is None:
            return None
        terms = {g.lower() for g in gene_terms(question)}
        if any(_names_a_gene(c, terms) for c, _ in _flatten(tree)):
            return None
        if type(tree) is t.Word:
            return None  # one plain word: a gene's name, most likely
    total = ctx.total(q, query.params.get("species"))
    if not total or total <= 10:
        return None
    size = min(total, LIST_MAX)
    return (
        _with(query, size=str(size)),
        f"the question asks for the set: all {size} of {total}"
        if size == total
        else f"the question asks for the set: the first {size} of {total}",
    )
