"""Real pairs mixed into the synthetic set: the documentation's example pairs, the zero-shot
prompt's examples, and queries from the seed query log and the query docs with hand-written
questions (data/pairs/seed_questions.jsonl).

Pairs that retrieval or the prompts already show a model (``PINNED_SOURCES``) are pinned to the
train split, so that no test question has its answer in a prompt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..config import ROOT
from ..pairs import Pair
from ..prompts import TEMPLATE_DIR

EXAMPLE_PAIRS = ROOT / "data" / "docs" / "example_pairs.jsonl"
SEED_QUESTIONS = ROOT / "data" / "pairs" / "seed_questions.jsonl"
ZERO_SHOT = TEMPLATE_DIR / "zero_shot_docs.txt"

INTENT_HINTS = [
    (r"facets=", "counts_facets"),
    (r"size=0", "gene_type"),
    (r"^POST", "batch"),
    (r"^/v3/gene/", "gene_record"),
    (r"q=chr|q=hg19\.chr", "interval"),
    (r"q=go\.|q=go:", "genes_by_go"),
    (r"q=pathway\.", "genes_by_pathway"),
    (r"[?&]q=[^&]*[*?]", "wildcard"),
    (r" (AND|OR|NOT) ", "boolean"),
    (r"q=alias:", "alias_to_symbol"),
    (r"q=homologene|fields=[^&]*homologene", "ortholog"),
    (r"fields=[^&]*go\.", "go"),
    (r"fields=[^&]*pathway", "pathway"),
    (r"fields=[^&]*summary", "summary"),
    (r"fields=[^&]*(genomic_pos|map_location)", "position"),
    (r"fields=[^&]*alias", "aliases"),
    (r"q=(ensembl|uniprot|refseq|entrezgene|hgnc|mgi|rgd|flybase|wormbase|zfin|tair|retired|mim)"
     r"[.a-z]*:", "id_to_gene"),
    (r"fields=[^&]*(entrezgene|ensembl|uniprot|HGNC|MIM|refseq)", "id_conversion"),
    (r"q=(name|summary):|q=\"", "text_search"),
    (r"q=symbol:", "symbol_lookup"),
]  # fmt: skip


def guess_intent(canonical_query: str) -> str:
    """The intent of a real query, from its canonical text (first matching hint).

    >>> guess_intent("/v3/query?q=symbol:cdk2&fields=go.BP,symbol&species=human")
    'go'
    """
    for pattern, intent in INTENT_HINTS:
        if re.search(pattern, canonical_query, re.IGNORECASE):
            return intent
    return "text_search"


def _jsonl_rows(path: Path) -> list[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSONL file (none if it is missing)."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(n, json.loads(line)) for n, line in enumerate(lines, 1) if line.strip()]


def example_pairs(path: Path = EXAMPLE_PAIRS) -> list[Pair]:
    """data/docs/example_pairs.jsonl as ``docs`` pairs (pinned to train)."""
    return [
        Pair(row["question"], row["query"], id=f"docs-{n:04d}", source="docs", style="neutral",
             extra={"pin": "train"})
        for n, row in _jsonl_rows(path)
    ]  # fmt: skip


def zero_shot_examples(path: Path = ZERO_SHOT) -> list[Pair]:
    """The ``Example: question -> query`` lines of the zero-shot prompt (pinned to train)."""
    out = []
    if not path.is_file():
        return out
    for n, m in enumerate(re.finditer(r"(?m)^Example: (.+?) -> (\S+)$", path.read_text()), 1):
        out.append(
            Pair(m.group(1), m.group(2), id=f"prompt-{n:04d}", source="docs", style="terse",
                 extra={"pin": "train"})
        )  # fmt: skip
    return out


def seed_questions(path: Path = SEED_QUESTIONS) -> list[Pair]:
    """Hand-written questions for queries of the seed query log (``log``) and of the query
    documentation (``docs``)."""
    return [
        Pair(row["question"], row["query"], id=f"seed-{source}-{n:04d}", source=source,
             style=row.get("style", "neutral"))
        for n, row in _jsonl_rows(path)
        for source in [row.get("source", "log")]
    ]  # fmt: skip


SEED_LOG = "query_log_sample.jsonl"
"""The seed query log in ``Settings.seed_dir``: held out of every generated split."""


def held_out_queries(seed_dir: Path) -> set[str]:
    """Canonical queries of the seed query log, read the way ``datagen`` reads it. That log is
    how ``datagen``'s round trip is measured (logs → pairs the model understands), so no pair
    with one of its queries is generated, whatever its source. Empty when the log is absent.
    """
    from ..datagen.extract import extract
    from ..datagen.logs import read_logs
    from ..datagen.report import Report

    path = Path(seed_dir) / SEED_LOG
    if not path.is_file():
        return set()
    report = Report()
    out = set()
    for rec in read_logs([path], report):
        cand = extract(rec, report)
        if cand is not None:
            out.add(cand.key)
    return out


def real_pairs() -> list[Pair]:
    """Every real pair, before validation — except the seed query log's (``log``): that log is
    how ``datagen``'s round trip is measured (logs → pairs a model understands), so none of
    its queries may be in what the model is trained on."""
    return (
        example_pairs() + zero_shot_examples() + [p for p in seed_questions() if p.source != "log"]
    )
