"""evals/replay.py: a development-set run replayed through today's pipeline without the model —
the recorded outputs are parsed, criticised, executed on a real (tiny) store and scored again."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.errors import ConfigError  # noqa: E402
from evals import replay as rp  # noqa: E402


def _run_folder(tmp_path: Path, rows: list[dict], items: list[dict]) -> tuple[Path, Path]:
    devset = tmp_path / "dev.jsonl"
    devset.write_text("".join(json.dumps(i) + "\n" for i in items))
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"mode": "ft", "source": str(devset)}))
    (run / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run, devset


def test_a_recorded_output_goes_through_today_s_critic_and_is_scored_again(tmp_path, tiny_settings,
                                                                           tiny_store_path):  # fmt: skip
    items = [
        {"id": "d-1", "question": "Which gene is LMP10 in human?", "kinds": ["alias"],
         "reference_query": "/v3/query?q=alias:lmp10&species=human", "expect_top": "5699",
         "fields": ["symbol"]},
        {"id": "d-2", "question": "Where is human CDK2?", "kinds": ["location"],
         "reference_query": "/v3/query?q=symbol:cdk2&species=human&fields=genomic_pos",
         "expect_top": "1017", "fields": ["genomic_pos"]},
    ]  # fmt: skip
    rows = [  # as the run recorded them: both wrong then
        {"id": "d-1", "question": items[0]["question"], "raw_output": "/v3/query?q=symbol:lmp10",
         "critic": [], "scores": {"answer": False}, "kinds": ["alias"]},
        {"id": "d-2", "question": items[1]["question"],
         "raw_output": "/v3/query?q=symbol:cdk2&species=human", "critic": [],
         "scores": {"answer": False}, "kinds": ["location"]},
    ]  # fmt: skip
    run, devset = _run_folder(tmp_path, rows, items)
    out = rp.replay(run, devset, tiny_settings)
    by_id = {r["id"]: r for r in out}
    # LMP10 is no official symbol but an alias of PSMB10: today's critic searches the alias
    assert by_id["d-1"]["scores"]["answer"] is True
    assert any(c.startswith("alias_symbol:") for c in by_id["d-1"]["critic"])
    # the question asks where: the critic adds genomic_pos, so the answer now has it
    assert by_id["d-2"]["scores"]["answer"] is True
    assert "genomic_pos" in by_id["d-2"]["sent"]
    lines = rp.diff(rows, out)
    assert len(lines) == 2 and all(line.startswith("+ ") for line in lines)


def test_the_outputs_of_a_retry_are_replayed_in_order():
    row = {"raw_output": "/v3/query?q=symbol:cdk2", "model_query": "/v3/query?q=symbol:ckd9",
           "critic": ["terms: the query does not search CDK2, …; the model wrote … instead"]}  # fmt: skip
    assert rp.recorded_outputs(row) == ["/v3/query?q=symbol:ckd9", "/v3/query?q=symbol:cdk2"]
    row["critic"] = ["fields: the question asks for genomic_pos"]
    assert rp.recorded_outputs(row) == ["/v3/query?q=symbol:cdk2"]
    model = rp.ReplayModel()
    model.cue(["a", "b"])
    assert [model.generate([]).text for _ in range(3)] == ["a", "b", "b"]
    with pytest.raises(ConfigError, match="no recorded output"):
        rp.ReplayModel().generate([])
