"""Training pairs: signatures, the leak-free split and the files in data/pairs/."""

from __future__ import annotations

import json

import pytest

from assistant.errors import ConfigError
from assistant.pairs import (
    Pair,
    leaks,
    load_pairs,
    pair_stats,
    q_shape,
    save_pairs,
    signature,
    split_pairs,
)
from assistant.query import canonical, parse_query


def sig(text: str) -> str:
    return signature(parse_query(text))


def test_same_shape_different_gene_same_signature():
    assert sig("/v3/query?q=symbol:CDK2&species=human&fields=entrezgene") == sig(
        "/v3/query?q=symbol:brca1&species=9606&fields=entrezgene"
    )
    assert sig("/v3/gene/1017?fields=go.BP") == sig("/v3/gene/672?fields=go.BP")
    assert sig("POST /v3/query q=CDK2,BRCA1&scopes=symbol") == sig(
        "POST /v3/query q=TP53,EGFR,MYC&scopes=symbol"
    )
    assert sig("/v3/query?q=chr1:1000-2000&species=human") == sig(
        "/v3/query?q=chrX:151,073,054-151,383,976&species=human"
    )


def test_different_shapes_differ():
    base = sig("/v3/query?q=symbol:CDK2&species=human&fields=entrezgene")
    assert base != sig("/v3/query?q=symbol:CDK2&species=mouse&fields=entrezgene")
    assert base != sig("/v3/query?q=symbol:CDK2&species=human&fields=ensembl.gene")
    assert base != sig("/v3/query?q=alias:CDK2&species=human&fields=entrezgene")
    assert base != sig("/v3/query?q=symbol:CDK2&species=human&fields=entrezgene&size=5")
    assert sig("/v3/query?q=cdk2&size=0") != sig("/v3/query?q=cdk2&size=5")
    assert sig("/v3/gene/1017") != sig("POST /v3/gene ids=1017,672")


def test_species_order_irrelevant_and_names_kept_whole():
    a = sig("/v3/query?q=symbol:CDK2&species=mouse,human")
    b = sig("/v3/query?q=symbol:CDK2&species=human,10090")
    assert a == b
    assert "species=human,mouse" in a  # a sorted list of names, not sorted characters
    assert "ahmnu" not in a
    assert "species=zebrafish" in sig("/v3/query?q=symbol:sox2&species=7955")


def test_q_value_kinds_distinguished():
    shapes = {
        q_shape("symbol:CDK2"),
        q_shape("ensembl.gene:ENSG00000123374"),
        q_shape("uniprot:P24941"),
        q_shape("refseq:NM_001798"),
        q_shape("1017"),
        q_shape("symbol:CDK*"),
        q_shape('name:"cyclin dependent kinase"'),
        q_shape("chr12:55966769-55972784"),
        q_shape('go.BP.id:"GO:0006915"'),
        q_shape("HGNC:1771"),
    }
    assert len(shapes) == 10
    assert q_shape("symbol:CDK*") == "symbol:<wildcard>"
    assert q_shape("ensembl.gene:ENSG00000123374") == "ensembl.gene:<ensembl_gene>"
    assert q_shape("1017") == "<number>"
    # lowercase canonical symbols that look like nothing else are still symbols
    assert q_shape("symbol:egfr") == q_shape("symbol:a2m") == "symbol:<symbol>"
    assert q_shape("symbol:CDK2 AND NOT taxid:9606") == "symbol:<symbol> AND NOT taxid:<number>"


def _pairs() -> list[Pair]:
    genes = ["CDK2", "BRCA1", "TP53", "EGFR", "MYC", "KRAS", "AKT1", "PTEN", "GAPDH", "LMNA"]
    templates = [
        ("entrez id of {g}?", "/v3/query?q=symbol:{g}&species=human&fields=entrezgene", "id"),
        ("ensembl id of {g}?", "/v3/query?q=symbol:{g}&species=human&fields=ensembl.gene", "id"),
        ("where is {g}?", "/v3/query?q=symbol:{g}&species=human&fields=genomic_pos", "pos"),
        ("mouse {g} location", "/v3/query?q=symbol:{g}&species=mouse&fields=genomic_pos", "pos"),
        ("GO processes of {g}", "/v3/query?q=symbol:{g}&fields=go.BP", "go"),
        ("aliases of {g}", "/v3/query?q=symbol:{g}&fields=alias", "alias"),
        ("{g} summary", "/v3/query?q=symbol:{g}&fields=summary", "summary"),
        ("find {g}*", "/v3/query?q=symbol:{g}*&size=20", "wildcard"),
    ]
    out = []
    for t, (question, query, intent) in enumerate(templates):
        for g in genes:
            for variant in ("", " please"):  # the same query twice, worded differently
                q = parse_query(query.format(g=g))
                out.append(
                    Pair(
                        question=question.format(g=g) + variant,
                        query=canonical(q),
                        id=f"t{t}-{g}{variant.strip()}",
                        intent=intent,
                        signature=signature(q),
                        style="terse",
                    )
                )
    return out


def test_split_has_no_leakage_and_keeps_every_pair():
    pairs = _pairs()
    splits = split_pairs(pairs, {"train": 0.5, "validation": 0.25, "test": 0.25}, seed=1)
    assert sum(len(v) for v in splits.values()) == len(pairs)
    assert all(splits.values())
    assert leaks(splits) == {"query": [], "signature": []}
    for name, ps in splits.items():
        assert {p.split for p in ps} == {name}
    sets = {name: {p.signature for p in ps} for name, ps in splits.items()}
    assert not (sets["train"] & sets["test"]) and not (sets["validation"] & sets["test"])


def test_split_groups_same_query_with_missing_signature():
    a = Pair("cdk2 entrez", "/v3/query?q=symbol:CDK2&fields=entrezgene", intent="id")
    b = Pair("Entrez ID for CDK2", "/v3/query?q=symbol:cdk2&fields=entrezgene", intent="id")
    c = Pair("where is tp53", "/v3/query?q=symbol:TP53&fields=genomic_pos", intent="pos")
    splits = split_pairs([a, b, c], {"train": 0.34, "test": 0.66}, seed=0)
    assert a.split == b.split
    assert leaks(splits)["query"] == []


def test_split_is_deterministic():
    first = split_pairs(_pairs(), {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=3)
    again = split_pairs(_pairs(), {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=3)
    assert {k: [p.id for p in v] for k, v in first.items()} == {
        k: [p.id for p in v] for k, v in again.items()
    }


def test_bad_fractions():
    with pytest.raises(ConfigError):
        split_pairs(_pairs(), {"train": -1.0})


def test_pair_dict_round_trip_keeps_extra_keys():
    row = {
        "id": "syn-000001",
        "question": "what's the entrez id of human CDK2?",
        "query": "/v3/query?q=symbol:cdk2&fields=entrezgene&species=human",
        "intent": "id_conversion",
        "signature": "GET /query | q=symbol:<symbol> | fields=entrezgene | species=human",
        "style": "terse",
        "source": "synthetic",
        "split": "train",
        "context": {"fields": [{"id": "entrezgene", "text": "entrezgene: NCBI gene id"}]},
    }
    pair = Pair.from_dict(row)
    assert pair.extra == {"context": row["context"]}
    assert pair.to_dict() == row
    with pytest.raises(ConfigError):
        Pair.from_dict({"question": "no query"})


def test_save_load_round_trip(tmp_path):
    from datasets import load_from_disk

    splits = split_pairs(_pairs(), {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=0)
    stats = save_pairs(splits, tmp_path)
    for name, ps in splits.items():
        loaded = load_pairs(tmp_path, name)
        assert [p.to_dict() for p in loaded] == [p.to_dict() for p in ps]
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        assert json.loads(lines[0])["split"] == name
    ds = load_from_disk(str(tmp_path / "hf"))
    assert set(ds) == set(splits)
    assert ds["test"].num_rows == len(splits["test"])
    assert ds["train"][0]["query"] == splits["train"][0].query
    on_disk = json.loads((tmp_path / "stats.json").read_text())
    assert on_disk == stats
    assert stats["total"] == len(_pairs())
    assert stats["leaks"] == {"query": 0, "signature": 0}
    assert stats["all"]["endpoint"] == {"GET /v3/query": len(_pairs())}
    assert stats["all"]["species"]["human"] == 3 * 20
    assert stats["by_split"]["test"]["count"] == len(splits["test"])


def test_pair_stats_counts():
    ps = _pairs()
    stats = pair_stats({"train": ps})
    assert stats["splits"] == {"train": len(ps)}
    assert stats["all"]["intent"]["id"] == 40
    assert stats["all"]["species"]["none"] == 80 and stats["all"]["species"]["mouse"] == 20
    assert stats["all"]["question_chars"]["min"] > 0


def test_load_pairs_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="pairs synth"):
        load_pairs(tmp_path / "nowhere", "train")


def test_pinned_group_goes_to_its_split():
    pairs = _pairs()
    pairs[0].extra["pin"] = "train"
    for seed in range(5):
        splits = split_pairs(pairs, {"train": 0.2, "validation": 0.4, "test": 0.4}, seed=seed)
        same = [p for p in pairs if p.signature == pairs[0].signature]
        assert {p.split for p in same} == {"train"}
        assert leaks(splits) == {"query": [], "signature": []}
