"""The query critic: a deterministic check of the model's query against the question, run
before the query is executed, that repairs what the question settles and the query gets wrong.

A small model writes the right kind of query most of the time and slips on the details people
care about (issue 13): it drops the species the question names, reads "12.5 Mb" as 1250000,
asks for ``ensembl.gene`` when the question wants transcripts, counts (``size=0``) when it was
asked for a list, quotes a symbol as a name phrase, writes ``hox`` for "the HOX genes", forgets
the ``hg19.`` of an interval on the old assembly, or the ``scopes`` of a batch. Each rule below
reads one thing from the question — always from the question's words, through the API and field
descriptions (``species_words`` of data/schema/mygene_api.json, ``mentions`` and ``values`` of
data/schema/mygene_fields.json), never from a list of questions — and, when the query disagrees,
changes only that part and says so in a :class:`Fix`. The pipeline shows the fixes in the trace
and the answer's notes; a query someone typed or edited is never criticised.

>>> from assistant.query import parse_query
>>> q = parse_query("/v3/query?q=chr1:1250000-1300000&fields=symbol")
>>> c = critique("Which human genes lie between 12.5 and 13 Mb on chromosome 1?", q)
>>> c.query.to_text()
'/v3/query?q=chr1:12500000-13000000&fields=symbol,genomic_pos&species=human'
>>> [f.rule for f in c.fixes]
['interval', 'species', 'fields']
"""

from __future__ import annotations

from ..query import Query
from . import genes, places, rules
from .base import Context, Critique, Fix, Probe, Rule
from .reading import (
    fields_named,
    gene_terms,
    id_field,
    interval_in,
    missing_terms,
    species_named,
)

__all__ = [
    "RULES", "Context", "Critique", "Fix", "critique", "fields_named", "gene_terms",
    "id_field", "interval_in", "missing_terms", "species_named",
]  # fmt: skip


def critique(question: str, query: Query, probe: Probe | None = None) -> Critique:
    """Check ``query`` against ``question`` with every rule, in order; see the module doc.
    ``probe`` (see :class:`Context`) lets a rule ask the data: whether "the HOX genes" names
    a family of symbols before it becomes ``symbol:hox*``, whether an ``alias:`` term is an
    official symbol, which HomoloGene group a gene is in."""
    out = Critique(query)
    if query.endpoint not in ("query", "gene"):
        return out
    ctx = Context(probe)
    for rule in RULES:
        result = rule(question, out.query, ctx)
        if result is not None:
            out.query, note = result
            out.fixes.append(Fix(rule.__name__.removeprefix("rule_"), note))
    out.missing = missing_terms(question, out.query)
    return out


RULES: tuple[Rule, ...] = (
    rules.rule_terms,
    genes.rule_field_ids,
    rules.rule_question_ids,
    rules.rule_ids,
    rules.rule_batch,
    rules.rule_quoted_name,
    rules.rule_phrases,
    genes.rule_gene_phrase,
    rules.rule_interval,
    rules.rule_wildcard,
    rules.rule_types,
    places.rule_chromosome,
    rules.rule_species,
    genes.rule_default_species,
    genes.rule_alias_symbol,
    genes.rule_ortholog,
    rules.rule_count,
    rules.rule_paging,
    places.rule_list_size,
    rules.rule_sort,
    rules.rule_scopes,
    rules.rule_tidy,
    rules.rule_fields,
)
