"""notebooks/datagen.ipynb runs top to bottom (nbclient, a real kernel) on the seed log sample,
against the tiny store, with a real local model server (SmolLM2-135M) writing instructions for
one query, so the notebook never rots."""

from __future__ import annotations

import json

import pytest
from scripts import execute_notebook

from assistant.datagen.endpoint import free_port
from assistant.registry import is_fetched, load_registry

MODEL = "smollm2-135m"


def test_datagen_notebook_runs(tmp_path, tiny_settings, tiny_store_path, monkeypatch):
    if not is_fetched(load_registry().get(MODEL), tiny_settings):
        pytest.skip(f"run `python -m assistant model fetch {MODEL}` first")
    out = tmp_path / "pairs-sample"
    for name, value in {
        "QA_STORE_PATH": str(tiny_store_path),
        "QA_MODEL": MODEL,
        "QA_SERVER_PORT": str(free_port()),
        "QA_OPENAI_API_KEY": "",
        "QA_DATAGEN_OUT": str(out),
        "QA_DATAGEN_LIMIT": "1",
    }.items():
        monkeypatch.setenv(name, value)

    outputs, text = execute_notebook("datagen.ipynb", timeout=300)
    assert "read 94 records" in text and "distinct queries" in text
    assert "original's species key: ,aehmmnosuu == ,aehmmnosuu" in text
    assert "species=human,mouse" in text
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["instruct"]["queries_done"] == 1  # the model wrote for one query
    assert report["counts"]["read"]["jsonl"] == 94 and report["leaks"] == {
        "query": 0,
        "signature": 0,
    }
    assert (out / "train.jsonl").is_file() and (out / "hf").is_dir()
