"""evals/eval_lm.py end to end with a real small model (SmolLM2-135M), a real retrieval index
over a small data folder, and the tiny real store: run, resume, recover from a cut-off line,
refuse a mismatched resume, run without the grammar, compare runs. Also the pipeline's grammar
switch (``use_grammar``), which the evaluation relies on."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import pytest
from scripted import ScriptedModel
from scripts import load_script

from assistant.config import ROOT, Settings
from assistant.grammar import load_grammar
from assistant.llm import LanguageModel, get_model
from assistant.metrics import METRICS
from assistant.pipeline import Assistant
from assistant.registry import fetch, load_registry

EVAL_PATH = ROOT / "evals" / "eval_lm.py"

TEST_PAIRS = [
    {
        "id": "t-1",
        "question": "What is the Entrez gene id of human CDK2?",
        "query": "/v3/query?q=symbol:cdk2&fields=entrezgene&species=human",
        "intent": "id_conversion",
    },
    {
        "id": "t-2",
        "question": "Where is the human BRCA1 gene located?",
        "query": "/v3/query?q=symbol:brca1&fields=genomic_pos&species=human",
        "intent": "location",
    },
    {
        "id": "t-3",
        "question": "Look up CDK2 and TP53 by symbol in human.",
        "query": "POST /v3/query q=CDK2,TP53&scopes=symbol&species=human",
        "intent": "batch",
    },
]
TRAIN_PAIRS = [
    {"question": "What is the Entrez id of human EGFR?", "query": "/v3/query?q=symbol:EGFR&species=human&fields=entrezgene"},
    {"question": "Where is human MYC located?", "query": "/v3/query?q=symbol:MYC&species=human&fields=genomic_pos"},
    {"question": "Look up PTEN and INS by symbol.", "query": "POST /v3/query q=PTEN,INS&scopes=symbol"},
    {"question": "Which GO processes is human INSR in?", "query": "/v3/query?q=symbol:INSR&species=human&fields=go.BP"},
]  # fmt: skip
FIELDS = {
    "symbol": {"type": "keyword", "indexed": True, "description": "Official gene symbol."},
    "entrezgene": {"type": "keyword", "indexed": True, "description": "NCBI Entrez gene id."},
    "genomic_pos": {"type": "object", "indexed": True, "description": "Genome coordinates."},
    "go.BP": {"type": "object", "indexed": True, "description": "GO biological processes."},
}


@pytest.fixture(scope="module")
def eval_lm():
    return load_script("eval_lm")


def _jsonl(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, tiny_store_path):
    """A small data folder (syntax guide, four fields, train and test pairs) and the flags
    that point the evaluation at it and at the tiny store."""
    root = tmp_path_factory.mktemp("eval")
    data = root / "data"
    (data / "docs").mkdir(parents=True)
    (data / "schema").mkdir()
    (data / "pairs").mkdir()
    shutil.copy(ROOT / "data" / "docs" / "mygene_query_syntax.md", data / "docs")
    (data / "schema" / "mygene_fields.json").write_text(json.dumps(FIELDS))
    (data / "pairs" / "train.jsonl").write_text(_jsonl(TRAIN_PAIRS))
    (data / "pairs" / "test.jsonl").write_text(_jsonl(TEST_PAIRS))
    fetch(load_registry().get("smollm2-135m"), Settings(), echo=lambda s: None)
    flags = [
        "--model", "smollm2-135m",
        "--store-path", str(tiny_store_path),
        "--data-dir", str(data),
        "--seed-dir", str(root / "no-seed"),
        "--index-dir", str(root / "index"),
        "--pairs-dir", str(data / "pairs"),
        "--query-max-tokens", "32",
        "--no-progress",
    ]  # fmt: skip
    return {"root": root, "flags": flags, "results": root / "results"}


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_run_resume_recover_and_refuse(eval_lm, workspace, capsys):
    out = workspace["results"] / "icl"
    base = ["--mode", "icl", "--split", "test", "--out", str(out), *workspace["flags"]]

    # 1. two of the three items
    assert eval_lm.main([*base, "--limit", "2"]) == 0
    lines = _lines(out / "responses.jsonl")
    assert len(lines) == 2
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["t-1", "t-2"]
    for r in rows:
        assert {"question", "reference", "raw_output", "output", "canonical", "scores"} <= set(r)
        assert set(r["scores"]) == set(METRICS)
        assert {"retrieve", "generate", "execute", "total", "ref_execute"} <= set(r["timings"])
        assert r["timings"]["generate"] > 0 and r["tokens"]["prompt"] > 0
        assert r["execution"]["ref"]["total"] >= 1  # every reference finds its gene in the store
        assert r["leak"] == {"question": False, "query": False}  # icl retrieved train pairs only
        if r["scores"]["exact"]:
            assert r["canonical"] == r["reference_canonical"]
    run = json.loads((out / "run.json").read_text())
    assert run["mode"] == "icl" and run["grammar"] is True and run["split"] == "test"
    assert run["model"] == "smollm2-135m" and run["n"] == 2
    assert run["command"].startswith("python evals/eval_lm.py --mode icl")
    assert len(run["git"]["commit"] or "x" * 40) == 40 and run["machine"]["cores"] >= 1
    for name in ("summary.json", "summary.md", "summary.png"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 2 and set(summary["by_intent"]) == {"id_conversion", "location"}
    assert "| icl | smollm2-135m | icl | on | 2 |" in capsys.readouterr().out

    # 2. resume: only the third item runs; the first two lines stay as they were
    assert eval_lm.main(base) == 0
    resumed = _lines(out / "responses.jsonl")
    assert resumed[:2] == lines and len(resumed) == 3
    assert "2 already done, 1 to run" in capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["n"] == 3 and len(run["commands"]) == 2

    # 3. a line cut off by a crash is dropped and its item runs again
    cut = resumed[:2] + [resumed[2][:40]]
    (out / "responses.jsonl").write_text("\n".join(cut))
    assert eval_lm.main(base) == 0
    recovered = [json.loads(line) for line in _lines(out / "responses.jsonl")]
    assert [r["id"] for r in recovered] == ["t-1", "t-2", "t-3"]
    assert "dropped 1 unreadable line" in capsys.readouterr().err

    # 4. nothing left: no model is loaded, the summary is rewritten
    assert eval_lm.main(base) == 0
    assert "3 already done, 0 to run" in capsys.readouterr().err

    # 5. the split was rebuilt and one item changed: only that item runs again
    test_file = workspace["root"] / "data" / "pairs" / "test.jsonl"
    original = test_file.read_text()
    changed = [dict(p) for p in TEST_PAIRS]
    changed[1]["query"] = "/v3/query?q=symbol:brca1&fields=genomic_pos,map_location&species=human"
    test_file.write_text(_jsonl(changed))
    try:
        assert eval_lm.main(base) == 0
    finally:
        test_file.write_text(original)
    assert "dropped 1 response(s) whose item changed" in capsys.readouterr().err
    rows = {r["id"]: r for r in map(json.loads, _lines(out / "responses.jsonl"))}
    assert set(rows) == {"t-1", "t-2", "t-3"} and rows["t-2"]["reference"] == changed[1]["query"]
    run = json.loads((out / "run.json").read_text())
    assert len(run["pairs_sha256"]) == 64

    # 6. the same folder with another mode is refused with a way out
    assert eval_lm.main([*base[:1], "zero", *base[2:]]) == 2
    assert "use another --out" in capsys.readouterr().err


def test_no_grammar_run_and_compare(eval_lm, workspace, capsys):
    out = workspace["results"] / "zero-nogrammar"
    argv = ["--mode", "zero", "--no-grammar", "--limit", "2", "--out", str(out)]
    assert eval_lm.main([*argv, *workspace["flags"]]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["mode"] == "zero-shot" and run["grammar"] is False and run["n"] == 2
    rows = [json.loads(line) for line in _lines(out / "responses.jsonl")]
    assert all(set(r["scores"]) == set(METRICS) for r in rows)
    capsys.readouterr()

    # compare through the command line (a fresh interpreter: the script finds the package)
    other = workspace["results"] / "not-a-run"
    other.mkdir(exist_ok=True)
    (workspace["results"] / "README.md").write_text("not a run\n")
    folders = sorted(str(p) for p in workspace["results"].iterdir())
    done = subprocess.run(
        [sys.executable, str(EVAL_PATH), "--compare", *folders],
        capture_output=True,
        text=True,
        cwd=workspace["root"],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    table = done.stdout.strip().splitlines()
    assert table[0].startswith("| run | model | mode | grammar | n | valid | exact | ast |")
    rows = {line.split(" | ")[0].strip("| ") for line in table[2:]}
    assert rows >= {"zero-nogrammar"} and len(table) - 2 == len(rows)
    assert "| zero-shot | off |" in done.stdout
    assert "skipping" in done.stderr and "not-a-run" in done.stderr
    assert (workspace["results"] / "comparison.png").stat().st_size > 0
    assert (workspace["results"] / "comparison.md").read_text().strip() == done.stdout.strip()

    # the README's table: between its markers only, a row per run with the command that made it
    readme = workspace["root"] / "README-eval.md"
    readme.write_text("# Title\n\n<!-- eval:start -->\nold\n<!-- eval:end -->\n\nafter\n")
    assert eval_lm.main(["--compare", *folders, "--write", str(readme)]) == 0
    assert "updated: the evaluation table" in capsys.readouterr().out
    text = readme.read_text()
    assert text.startswith("# Title\n\n<!-- eval:start -->\n| model | mode | grammar | n |")
    assert text.endswith("<!-- eval:end -->\n\nafter\n") and "old" not in text
    row = next(line for line in text.splitlines() if "| zero-shot | off |" in line)
    flags = [f for f in workspace["flags"] if f != "--no-progress"]  # display-only: left out
    assert row.endswith(f"`python evals/eval_lm.py {shlex.join([*argv, *flags])}` |")
    assert eval_lm.main(["--compare", *folders, "--write", str(readme)]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_compare_without_runs_is_a_clear_error(eval_lm, tmp_path, capsys):
    assert eval_lm.main(["--compare", str(tmp_path)]) == 2
    assert "no run folders" in capsys.readouterr().err


def test_readme_without_markers_is_a_clear_error(eval_lm, workspace, tmp_path, capsys):
    out = workspace["results"] / "zero-nogrammar"
    argv = ["--mode", "zero", "--no-grammar", "--limit", "1", "--out", str(out)]
    assert eval_lm.main([*argv, *workspace["flags"]]) == 0
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert eval_lm.main(["--compare", str(out), "--write", str(readme)]) == 2
    assert "no <!-- eval:start --> … <!-- eval:end --> block" in capsys.readouterr().err
    assert readme.read_text() == "no markers here\n"  # nothing lost
    with pytest.raises(SystemExit):
        eval_lm.main(["--write", str(readme)])  # --write needs --compare


def test_missing_split_is_a_clear_error(eval_lm, tmp_path, capsys):
    assert eval_lm.main(["--split", "test", "--pairs-dir", str(tmp_path), "--mode", "ft"]) == 2
    assert "no test pairs" in capsys.readouterr().err


class RecordingModel(LanguageModel):
    """The real model, remembering the grammar of every call."""

    def __init__(self, model):
        self.model, self.name, self.grammars = model, model.name, []

    def load(self):
        return self.model.load()

    def generate(self, messages, grammar=None, **kwargs):
        self.grammars.append(grammar)
        return self.model.generate(messages, grammar=grammar, **kwargs)


@pytest.mark.parametrize("use_grammar", [True, False])
def test_the_grammar_switch_reaches_the_model(tiny_store, tiny_store_path, use_grammar):
    settings = Settings(
        model="smollm2-135m",
        store_path=tiny_store_path,
        use_grammar=use_grammar,
        query_max_tokens=24,
        retry_invalid=False,
    )
    fetch(load_registry().get("smollm2-135m"), settings, echo=lambda s: None)
    model = RecordingModel(get_model("smollm2-135m", settings))
    bot = Assistant(settings, model=model, store=tiny_store).load("ft")
    answer = bot.answer("What is the Entrez gene id of human CDK2?", mode="ft")
    assert len(model.grammars) == 2  # the warm-up and the query line
    expected = load_grammar() if use_grammar else None
    assert all(g == expected for g in model.grammars)
    assert answer.attempts and answer.tokens["completion"] > 0


def test_a_model_failure_scores_as_wrong_and_does_not_stop_the_run(eval_lm, tiny_store):
    from assistant.pairs import Pair

    settings = Settings(model="smollm2-135m", n_ctx=64)  # the zero-shot prompt does not fit
    bot = Assistant(settings, store=tiny_store)
    row = eval_lm.evaluate_item(bot, Pair.from_dict({"id": "t-1", **TEST_PAIRS[0]}), "zero-shot")
    assert row["status"] == "failed" and "QA_N_CTX" in row["errors"][0]
    assert row["scores"]["valid"] is False and row["scores"]["execution"] is False
    assert row["execution"]["ref"]["total"] >= 1 and "error" not in row


def test_a_widened_answer_is_scored_on_the_models_own_query(eval_lm, tiny_store, tiny_store_path):
    from assistant.pairs import Pair

    settings = Settings(store_path=tiny_store_path, backend="embedded")
    pair = Pair(id="w-1", question="human kinases?", query="/v3/query?q=kinase&species=human")
    model = ScriptedModel(["/v3/query?q=symbol:kinase&species=human"])
    row = eval_lm.evaluate_item(Assistant(settings, model=model, store=tiny_store), pair, "ft")
    assert row["recovered"].startswith("/v3/query?q=kinase&species=human")
    assert row["execution"]["pred"] == {"total": 0, "ids": []}
    assert row["execution"]["ref"]["total"] > 0 and row["scores"]["execution"] is False


def test_rescore_reproduces_the_live_scores_without_the_model(eval_lm, workspace, tmp_path, capsys):
    out = workspace["results"] / "rescore-icl"
    argv = ["--mode", "icl", "--limit", "2", "--out", str(out)]
    assert eval_lm.main([*argv, *workspace["flags"]]) == 0
    live = [json.loads(line) for line in _lines(out / "responses.jsonl")]
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    damaged = [{**r, "scores": {}, "execution": None} for r in live]
    (copy / "responses.jsonl").write_text(_jsonl(damaged))
    flags = [f for f in workspace["flags"] if f not in ("--model", "smollm2-135m")]
    capsys.readouterr()
    assert eval_lm.main(["--rescore", str(copy), *flags]) == 0
    assert "| rescore-icl |" not in capsys.readouterr().out  # labelled by the folder: copy
    again = [json.loads(line) for line in _lines(copy / "responses.jsonl")]
    for before, after in zip(live, again, strict=True):
        assert after["scores"] == before["scores"]
        assert after["execution"]["ref"]["ids"] == before["execution"]["ref"]["ids"]
        assert after["execution"]["pred"].get("ids") == before["execution"]["pred"].get("ids")
        assert after["timings"] == before["timings"]  # the model's latencies are kept
    run = json.loads((copy / "run.json").read_text())
    assert run["rescored"]["n"] == 2
    summary = json.loads((copy / "summary.json").read_text())
    assert summary["n"] == 2
    assert eval_lm.main(["--rescore", str(tmp_path / "nowhere")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_readme_evaluation_table_is_current(eval_lm):
    from assistant.markers import replace_block

    runs = sorted((ROOT / "evals" / "results").glob("*-test"))
    table = eval_lm.readme_table(eval_lm.load_runs(runs, recompute=False), Settings().model)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_block(readme, "eval", table) == readme, (
        "run: python evals/eval_lm.py --compare evals/results/*-test/ --write README.md"
    )
    assert table.count("\n") - 1 == len(runs) and all(
        f"--out {r.relative_to(ROOT)}`" in table for r in runs
    )
