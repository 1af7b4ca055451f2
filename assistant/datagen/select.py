"""Group candidate queries by structural signature, order each group for diversity, and keep
up to ``per_signature`` per group that return hits when executed.

The original kept one query per signature string built by sorting the *characters* of the
species value and ignoring what kind of value ``q`` held; here the signature is
:func:`assistant.pairs.signature` (species as a sorted list of names, ``q`` values by kind),
and within a signature the queries are taken most-frequent first but preferring ones whose
entities (genes, ids, terms) were not taken yet, so a group of 500 ``symbol:<symbol>`` lookups
does not yield five lookups of CDK2 written differently.

>>> from assistant.datagen.extract import Candidate, Entity
>>> from assistant.query import parse_query
>>> mk = lambda key, labels, n: Candidate(key, parse_query(key), key, "sig",
...     [Entity(x, (x.lower(),)) for x in labels], count=n)
>>> group = [mk("/v3/query?q=cdk2", ["CDK2"], 9), mk("/v3/query?q=cdk2 OR cdk2", ["CDK2"], 5),
...          mk("/v3/query?q=brca1", ["BRCA1"], 2)]
>>> [c.key for c in diverse_order(group)]
['/v3/query?q=cdk2', '/v3/query?q=brca1', '/v3/query?q=cdk2 OR cdk2']
"""

from __future__ import annotations

from collections import defaultdict

from ..backends import Backend, BackendError
from ..errors import QueryError
from .extract import Candidate
from .report import Report
from .work import WorkFile


def diverse_order(group: list[Candidate]) -> list[Candidate]:
    """Candidates by frequency, each next one chosen to add entities not yet covered;
    questions from the assistant's log first (they are real)."""
    rest = sorted(group, key=lambda c: (not c.questions, -c.count, c.key))
    covered: set[str] = set()
    out: list[Candidate] = []
    while rest:
        best = min(
            range(len(rest)),
            key=lambda i: (
                not rest[i].questions,
                -len({e.label.lower() for e in rest[i].entities} - covered),
                i,
            ),
        )
        pick = rest.pop(best)
        covered |= {e.label.lower() for e in pick.entities}
        out.append(pick)
    return out


def by_signature(pool: dict[str, Candidate]) -> list[list[Candidate]]:
    """Groups of candidates sharing a signature, most-requested signature first."""
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for cand in pool.values():
        groups[cand.signature].append(cand)
    return sorted(
        (diverse_order(g) for g in groups.values()),
        key=lambda g: (-sum(c.count for c in g), g[0].signature),
    )


def execute(cand: Candidate, backend: Backend, work: WorkFile, report: Report) -> int | None:
    """The number of hits of a candidate (cached in the work file), or None when it failed.

    A query the API refuses is cached as such; a backend that cannot be reached is not (the
    next run tries again).
    """
    cached = work.executed.get((backend.name, cand.key))
    if cached is not None:
        if cached.get("reason"):
            report.reject("execute", cached["reason"], cand.key)
            return None
        return int(cached["total"])
    try:
        total = backend.query(cand.query).total
    except QueryError as exc:
        work.add(
            {"step": "executed", "key": cand.key, "backend": backend.name, "reason": "query_error"}
        )
        report.reject("execute", "query_error", f"{cand.key} ({exc})")
        return None
    except BackendError as exc:
        report.reject("execute", "backend_error", f"{cand.key} ({exc})")
        return None
    row = {"step": "executed", "key": cand.key, "backend": backend.name, "total": total}
    if total <= 0:
        row = {**row, "reason": "no_hits"}
    work.add(row)
    if total <= 0:
        report.reject("execute", "no_hits", cand.key)
        return None
    return total


def select(
    groups: list[list[Candidate]],
    backend: Backend,
    work: WorkFile,
    report: Report,
    per_signature: int = 5,
    progress=None,
) -> list[tuple[Candidate, int]]:
    """``(candidate, hits)`` kept: per signature, the first ``per_signature`` in diversity order
    that return hits, interleaved across signatures (every signature's first, then seconds...),
    so ``--limit`` still covers many shapes. Candidates with real questions are always run."""
    kept_groups: list[list[tuple[Candidate, int]]] = []
    for group in groups:
        kept: list[tuple[Candidate, int]] = []
        for cand in group:
            if len(kept) >= per_signature and not cand.questions:
                report.count("select", "over_signature_cap")
                if progress is not None:
                    progress.update(1)
                continue
            total = execute(cand, backend, work, report)
            if progress is not None:
                progress.update(1)
            if total is not None:
                cand_total = (cand, total)
                if len(kept) < per_signature:
                    kept.append(cand_total)
                else:
                    cand.instruct = False  # kept for its real question only
                    kept.append(cand_total)
        kept_groups.append(kept)
    out: list[tuple[Candidate, int]] = []
    for rank in range(max((len(g) for g in kept_groups), default=0)):
        out += [g[rank] for g in kept_groups if rank < len(g)]
    return out
