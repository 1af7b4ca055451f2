"""RAFT-style context for training prompts: the descriptions of the fields a pair's query uses,
mixed with a few distractor field descriptions, so that a model fine-tuned with retrieved context
learns to use the relevant lines and ignore the rest.

>>> from assistant.pairs import Pair
>>> pair = Pair("Entrez id of CDK2?", "/v3/query?q=symbol:cdk2&fields=entrezgene,name,symbol")
>>> sorted(query_fields(pair.parsed()))
['entrezgene', 'name', 'symbol']
>>> ctx = raft_context(pair, k=2, seed=0)
>>> len(ctx.fields), {"entrezgene", "symbol", "name"} <= {f["id"] for f in ctx.fields}
(5, True)
"""

from __future__ import annotations

import random
import zlib
from functools import lru_cache
from pathlib import Path

from ..pairs import Pair
from ..prompts import Retrieved
from ..query import INTERVAL_RE, Query
from ..schema import FIELDS_PATH

INTERVAL_FIELDS = ("genomic_pos", "genomic_pos.chr", "genomic_pos.start", "genomic_pos.end")


@lru_cache(maxsize=4)
def field_catalog(path: Path = FIELDS_PATH) -> dict[str, dict]:
    """``{field: {"id", "text", "meta", "score"}}`` — the retrieval index's field items."""
    from ..retrieval import field_items

    return {
        it.id: {"id": it.id, "text": it.text, "meta": it.meta, "score": 0.0}
        for it in field_items((Path(path),))
    }


def query_fields(query: Query) -> list[str]:
    """Every field a query names: ``fields``, fielded ``q`` terms, ``scopes``, ``facets``,
    ``sort`` (an interval names the genomic_pos fields)."""
    names: list[str] = []
    for param in ("fields", "scopes", "facets", "sort"):
        for v in query.params.get(param, "").split(","):
            v = v.strip().lstrip("-")
            if v:
                names.append(v)
    q = query.q or ""
    if query.method == "GET" and q:
        if INTERVAL_RE.match(q.strip()):
            names += list(INTERVAL_FIELDS)
        else:
            from luqum import tree as t

            from ..query import parse_lucene

            tree = parse_lucene(q)
            stack = [tree] if tree is not None else []
            while stack:
                node = stack.pop()
                if isinstance(node, t.SearchField):
                    name = (
                        str(node.expr).strip()
                        if node.name in ("_exists_", "_missing_")
                        else node.name
                    )
                    names.append(name)
                stack.extend(node.children)
    return list(dict.fromkeys(names))


def _resolve(name: str, catalog: dict[str, dict]) -> str | None:
    """The catalog entry for a field name, or for its nearest parent (``go.BP.id`` → ``go.BP``)."""
    for cand in (name, name.lower(), name.upper()):
        if cand in catalog:
            return cand
    parts = name.split(".")
    while len(parts) > 1:
        parts.pop()
        if ".".join(parts) in catalog:
            return ".".join(parts)
    return None


def raft_field_ids(pair: Pair, k: int = 3, seed: int = 0) -> list[str]:
    """The field ids of a pair's RAFT context: its query's fields plus ``k`` distractors, shuffled
    (seeded by the seed and the pair's question, so the same pair always gets the same context)."""
    catalog = field_catalog()
    relevant = [r for r in (_resolve(n, catalog) for n in query_fields(pair.parsed())) if r]
    relevant = list(dict.fromkeys(relevant))
    rng = random.Random(seed * 1_000_003 + zlib.crc32(pair.question.encode()))
    pool = [n for n in catalog if n not in relevant]
    chosen = relevant + rng.sample(pool, min(k, len(pool)))
    rng.shuffle(chosen)
    return chosen


def retrieved_for(field_ids: list[str]) -> Retrieved:
    """A :class:`~assistant.prompts.Retrieved` holding the named field descriptions."""
    catalog = field_catalog()
    return Retrieved(fields=[catalog[f] for f in field_ids if f in catalog])


def raft_context(pair: Pair, k: int = 3, seed: int = 0) -> Retrieved:
    """The RAFT context of a pair (see :func:`raft_field_ids`), ready for
    :func:`assistant.prompts.training_messages` with mode ``ft+rag``."""
    return retrieved_for(raft_field_ids(pair, k, seed))
