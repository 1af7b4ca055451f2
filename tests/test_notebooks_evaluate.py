"""notebooks/evaluate.ipynb runs top to bottom (nbclient, a real kernel) on two tiny run folders
this test writes, scored with the real metrics, so the notebook never rots."""

from __future__ import annotations

import json

from scripts import execute_notebook, load_script

from assistant import metrics

ITEMS = [  # (id, intent, question, reference, model output)
    ("t-1", "id_conversion", "Entrez id of human CDK2?",
     "/v3/query?q=symbol:cdk2&fields=entrezgene&species=human",
     "/v3/query?q=symbol:CDK2&species=9606&fields=entrezgene"),
    ("t-2", "location", "Where is human BRCA1?",
     "/v3/query?q=symbol:brca1&fields=genomic_pos&species=human",
     "/v3/query?q=symbol:BRCA1&species=mouse&fields=genomic_pos"),
    ("t-3", "batch", "Look up CDK2 and TP53 | in human",
     "POST /v3/query q=CDK2,TP53&scopes=symbol&species=human",
     "The genes are CDK2 and TP53."),
]  # fmt: skip


def write_run(folder, eval_lm, mode: str, grammar: bool) -> None:
    folder.mkdir(parents=True)
    rows = []
    for n, (item_id, intent, question, ref, out) in enumerate(ITEMS):
        scores = metrics.score(out, ref)
        scores["execution"] = (True, False, None)[n]  # t-3's reference "did not run"
        rows.append(
            {
                "id": item_id,
                "intent": intent,
                "question": question,
                "reference": ref,
                "output": out,
                "raw_output": out,
                "scores": scores,
                "status": "ok" if scores["valid"] else "invalid",
                "timings": {
                    "retrieve": 0.01,
                    "generate": 0.5 + n,
                    "execute": 0.002,
                    "total": 1 + n,
                },
                "tokens": {"prompt": 400 + n, "completion": 20},
            }
        )
    (folder / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = {"model": "smollm2-135m", "mode": mode, "grammar": grammar, "split": "test", "n": 3}
    (folder / "run.json").write_text(json.dumps(run))
    eval_lm.summarize_run(folder)


def test_evaluate_notebook_runs_on_tiny_runs(tmp_path, monkeypatch):
    eval_lm = load_script("eval_lm")
    icl, zero = tmp_path / "smollm2-icl", tmp_path / "smollm2-zero"
    write_run(icl, eval_lm, "icl", True)
    write_run(zero, eval_lm, "zero-shot", False)
    monkeypatch.setenv("QA_EVAL_RUNS", f"{icl}:{zero}")

    outputs, text = execute_notebook("evaluate.ipynb", timeout=180)
    assert "2 run(s): smollm2-icl, smollm2-zero" in text
    assert "| smollm2-icl | smollm2-135m | icl | on | 3 | 67% | 33% | 0% | 50% |" in text
    assert "| smollm2-zero | smollm2-135m | zero-shot | off | 3 |" in text
    assert "| id_conversion | 1 | 100% | 100% |" in text  # per intent
    assert "Look up CDK2 and TP53 \\| in human" in text  # a wrong item, pipe escaped
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1
