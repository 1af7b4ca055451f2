"""Shared fixtures: a tiny real gene store built from the rows in tests/data/genes/."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings

DATA = Path(__file__).parent / "data"
TINY_SOURCES = (
    "ncbi,hgnc,ensembl,ensembl_hg19,refseq_coords,gene2go,go_terms,reactome,wikipathways,"
    "summaries,idmap,gene_history"
)


@pytest.fixture(scope="session")
def tiny_settings(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("store")
    return Settings(
        source_dir=DATA / "genes",
        store_path=folder / "tiny.sqlite",
        store_sources=TINY_SOURCES,
    )


@pytest.fixture(scope="session")
def tiny_store_path(tiny_settings) -> Path:
    from assistant.store.build import build

    build(tiny_settings, show_progress=False)
    return tiny_settings.store_path


@pytest.fixture(scope="session")
def tiny_store(tiny_store_path):
    from assistant.store.engine import GeneStore

    return GeneStore.open(tiny_store_path)


def pytest_sessionstart(session):
    """Before any test loads a model: one generation in a subprocess. A llama.cpp build that
    dies (``Illegal instruction`` on a CPU that advertises AMX it cannot run) stops the run with
    one line that says how to rebuild, instead of killing the whole test session."""
    if session.config.option.collectonly:
        return
    from assistant import llama_build
    from assistant.errors import AssistantError

    try:
        failure = llama_build.smoke(llama_build.smoke_model())
    except (AssistantError, OSError) as exc:
        failure = f"could not run the llama.cpp smoke generation: {exc}"
    if failure:
        pytest.exit(f"{failure}; run `{llama_build.REBUILD_HINT}`", returncode=3)
