"""Fine-tuning (ft/): bad input fails at once; the PEFT export is exact; and the whole chain —
dequantize → train (torchtune LoRA) → resume → PEFT → GGUF (llama.cpp's converter) → registry →
llama.cpp loads base + adapter and generates — on SmolLM2-135M and a few pairs (slow)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from assistant.config import ROOT, Settings
from assistant.errors import ConfigError, ModelNotFetched, UnknownModel
from ft.data import IGNORE, PairsError, batch_order, read_pairs
from ft.train import build_parser, load_config, main, run

TEST_CONFIG = "ft/configs/smollm2_135m_lora_test.yaml"
PAIRS = [
    {
        "question": "What is the Entrez gene id of human CDK2?",
        "query": "/v3/query?q=symbol:CDK2&species=human&fields=entrezgene",
    },
    {
        "question": "Where is BRCA1 located?",
        "query": "/v3/query?q=symbol:BRCA1&species=human&fields=genomic_pos",
    },
]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def args(*argv: str):
    return build_parser().parse_args(list(argv))


def fails_fast(capsys, *argv: str) -> str:
    """Run the CLI, expect exit code 2 within seconds, return the error message."""
    t0 = time.perf_counter()
    assert main(list(argv)) == 2
    assert time.perf_counter() - t0 < 30
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    return err


# --- bad input ------------------------------------------------------------------------------


def test_every_shipped_config_loads():
    for path in sorted((ROOT / "ft" / "configs").glob("*.yaml")):
        cfg = load_config(path)
        assert cfg.model._component_ and cfg.model_type in ("QWEN2", "LLAMA3", "LLAMA3_2")
    assert load_config().base == "qwen2.5-coder-0.5b"  # the default config


def test_unknown_model_builder_fails_fast(capsys):
    err = fails_fast(
        capsys,
        "--config",
        TEST_CONFIG,
        "model._component_=torchtune.models.qwen2_5.lora_qwen9_0_5b",
    )
    assert "unknown model builder" in err and "lora_qwen2_5_0_5b" in err
    err = fails_fast(capsys, "--config", TEST_CONFIG, "model_type=GPT5")
    assert "model_type 'GPT5'" in err and "QWEN2" in err
    err = fails_fast(capsys, "--config", TEST_CONFIG, "dtype=fp8")
    assert "use fp32 (CPU) or bf16 (GPU)" in err


def test_missing_config_lists_the_shipped_ones(capsys):
    err = fails_fast(capsys, "--config", "ft/configs/nope.yaml")
    assert "qwen2_5_0_5b_lora_cpu.yaml" in err


def test_missing_base_fails_fast(tmp_path, capsys):
    err = fails_fast(capsys, "--config", TEST_CONFIG, "--base", str(tmp_path / "no-such-model"))
    assert "base checkpoint folder not found" in err
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    err = fails_fast(capsys, "--config", TEST_CONFIG, "--base", str(tmp_path / "half"))
    assert "not a complete Hugging Face checkpoint" in err and "tokenizer.json" in err
    with pytest.raises(UnknownModel, match="known models: .*smollm2-135m"):
        run(args("--config", TEST_CONFIG, "--base", "llama-9000"))


def test_unfetched_registry_base_says_how_to_fetch(tmp_path):
    settings = Settings(weights_dir=tmp_path)  # no GGUF files here
    with pytest.raises(ModelNotFetched, match="model fetch smollm2-135m"):
        run(args("--config", TEST_CONFIG), settings=settings, runs_dir=tmp_path)


def test_bad_pairs_fail_fast(tmp_path, capsys):
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    err = fails_fast(capsys, "--config", TEST_CONFIG, "--pairs", str(empty))
    assert "holds no pairs" in err
    bad = write_jsonl(tmp_path / "bad.jsonl", [PAIRS[0], "{not json"])
    err = fails_fast(capsys, "--config", TEST_CONFIG, "--pairs", str(bad))
    assert "bad.jsonl:2 is not valid JSON" in err
    noq = write_jsonl(tmp_path / "noquery.jsonl", [{"question": "CDK2?", "query": ""}])
    err = fails_fast(capsys, "--config", TEST_CONFIG, "--pairs", str(noq))
    assert "noquery.jsonl:1 lacks" in err
    err = fails_fast(capsys, "--config", TEST_CONFIG, "--pairs", str(tmp_path / "nowhere"))
    assert "training pairs not found" in err and "train.jsonl" in err


def test_read_pairs_and_batches(tmp_path):
    path = write_jsonl(
        tmp_path / "p.jsonl", [{**PAIRS[0], "id": "syn-1", "split": "train"}, "", PAIRS[1]]
    )
    assert read_pairs(path) == PAIRS
    assert read_pairs(path, limit=1) == PAIRS[:1]
    with pytest.raises(PairsError):
        read_pairs(write_jsonl(tmp_path / "list.jsonl", ["[1, 2]"]))
    a, b = batch_order(10, 4, epoch=0, seed=0), batch_order(10, 4, epoch=1, seed=0)
    assert len(a) == 2 and all(len(x) == 4 for x in a) and a != b
    assert a == batch_order(10, 4, epoch=0, seed=0)  # a resumed run sees the same batches


# --- the PEFT export --------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["QWEN2", "LLAMA3_2"])
def test_peft_export_gives_the_same_weight_delta(model_type):
    """B @ A of each exported PEFT pair, in HF layout, equals torchtune's delta converted to HF
    layout by the checkpointer's own weight conversion (permuted for Llama, not for Qwen2)."""
    import torch
    from torchtune.models import convert_weights
    from torchtune.models.qwen2._convert_weights import qwen2_tune_to_hf

    from ft.convert import peft_adapter_weights

    heads, kv, hd, dim, r = 4, 2, 8, 32, 4
    cfg = {"num_attention_heads": heads, "num_key_value_heads": kv, "hidden_size": dim}
    g = torch.Generator().manual_seed(0)
    outs = {"q_proj": heads * hd, "k_proj": kv * hd, "v_proj": kv * hd}
    adapter = {}
    for name, out in outs.items():
        adapter[f"layers.0.attn.{name}.lora_a.weight"] = torch.randn(r, dim, generator=g)
        adapter[f"layers.0.attn.{name}.lora_b.weight"] = torch.randn(out, r, generator=g)
    peft = peft_adapter_weights(adapter, model_type, cfg)
    for name in outs:
        a = adapter[f"layers.0.attn.{name}.lora_a.weight"]
        b = adapter[f"layers.0.attn.{name}.lora_b.weight"]
        tune_delta = {f"layers.0.attn.{name}.weight": b @ a}
        if model_type == "QWEN2":
            hf = qwen2_tune_to_hf(tune_delta, num_heads=heads, num_kv_heads=kv, dim=dim)
        else:
            hf = convert_weights.tune_to_hf(tune_delta, num_heads=heads, num_kv_heads=kv, dim=dim)
        ((hf_key, hf_delta),) = hf.items()
        pa = peft["base_model.model." + hf_key.replace(".weight", ".lora_A.weight")]
        pb = peft["base_model.model." + hf_key.replace(".weight", ".lora_B.weight")]
        torch.testing.assert_close(pb @ pa, hf_delta)


# --- the whole chain on a tiny model --------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Train SmolLM2-135M for 2 steps on 8 pairs, resume to 3 steps, convert and register."""
    from assistant.registry import fetch, load_registry

    base = Settings()
    fetch(load_registry().get("smollm2-135m"), base, echo=lambda s: None)
    tmp = tmp_path_factory.mktemp("ft")
    models = tmp / "models"
    models.mkdir()
    shutil.copy(ROOT / "models" / "registry.toml", models / "registry.toml")
    settings = Settings(models_dir=models, weights_dir=base.weights_dir)
    pairs = ROOT / "data" / "docs" / "example_pairs.jsonl"
    common = [
        "--config",
        TEST_CONFIG,
        "--name",
        "tiny",
        "--pairs",
        str(pairs),
        "--limit",
        "8",
        "--batch-size",
        "4",
        "data.val_limit=4",
        "train.eval_every=2",
        "train.save_every=2",
    ]
    first = run(args(*common, "--max-steps", "2", "--no-convert"), settings, tmp / "runs")
    second = run(args(*common, "--max-steps", "3", "--resume"), settings, tmp / "runs")
    return {"settings": settings, "first": first, "summary": second, "dir": tmp / "runs" / "tiny"}


@pytest.mark.slow
def test_training_logs_validates_and_resumes(tiny_run):
    s, d = tiny_run["summary"], tiny_run["dir"]
    assert tiny_run["first"]["steps"] == 2 and s["steps"] == 3
    rows = [json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["type"] == "train"] == [1, 2, 3]
    assert [r["step"] for r in rows if r["type"] == "val"] == [2, 3]
    assert all(r["loss"] > 0 for r in rows if r["type"] == "train")
    log = (d / "log.txt").read_text()
    assert "resumed" in log and "at step 2" in log
    cfg = json.loads((d / "adapter" / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 8 and "q_proj" in cfg["target_modules"]


@pytest.mark.slow
def test_examples_mask_the_prompt_and_match_llama_cpp(tiny_run):
    """The answer tokens are the query and the end of turn; the prompt is exactly the text
    llama.cpp renders from the GGUF's chat template when the assistant serves mode ft."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from transformers import AutoTokenizer

    from assistant.llm import get_model
    from assistant.prompts import build_messages
    from ft.data import encode_pair

    tok = AutoTokenizer.from_pretrained(tiny_run["summary"]["hf_dir"])
    q, query = PAIRS[0]["question"], PAIRS[0]["query"]
    ex = encode_pair(tok, q, query)
    answer = tok.decode([t for t, lab in zip(ex["tokens"], ex["labels"]) if lab != IGNORE])
    assert answer.startswith(query) and tok.eos_token in answer
    prompt = tok.decode([t for t, lab in zip(ex["tokens"], ex["labels"]) if lab == IGNORE])
    llm = get_model("smollm2-135m", Settings()).load()
    served = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=tok.eos_token,
        bos_token=tok.bos_token or "",
    )(messages=build_messages(q, "ft")).prompt
    assert prompt == served


@pytest.mark.slow
def test_adapter_is_gguf_registered_and_changes_llama_cpp(tiny_run):
    import numpy as np

    from assistant.llm import get_model
    from assistant.prompts import build_messages
    from assistant.registry import load_registry, registry_path

    s, settings = tiny_run["summary"], tiny_run["settings"]
    gguf = Path(s["gguf"])
    assert gguf.parent == settings.models_dir / "adapters"
    assert gguf.read_bytes()[:4] == b"GGUF" and s["gguf_mb"] < 20
    card = (settings.models_dir / "adapters" / "tiny.md").read_text()
    assert "smollm2-135m" in card and "validation" in card and "| 3 |" in card
    spec = load_registry(registry_path(settings)).get("smollm2-135m-mygene-test")
    assert spec.lora_path(settings) == gguf and spec.prompt_mode == "ft"

    tuned, base = get_model(spec.name, settings), get_model("smollm2-135m", settings)
    assert tuned.lora_path == gguf and base.lora_path is None
    messages = build_messages(PAIRS[0]["question"], "ft")
    gen = tuned.generate(messages, max_tokens=24)
    assert gen.completion_tokens > 0 and gen.text.strip()

    def last_logits(model):
        import llama_cpp

        llm = model.load()
        llm.reset()
        llm.eval(llm.tokenize(b"Question: What is the Entrez id of CDK2?\n/v3/query?q="))
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy()

    diff = np.abs(last_logits(tuned) - last_logits(base)).max()
    assert diff > 1e-3  # the adapter is applied


@pytest.mark.slow
def test_existing_run_needs_resume_or_a_new_name(tiny_run):
    settings, runs = tiny_run["settings"], tiny_run["dir"].parent
    with pytest.raises(ConfigError, match="--resume"):
        run(
            args(
                "--config",
                TEST_CONFIG,
                "--name",
                "tiny",
                "--pairs",
                str(ROOT / "data/docs/example_pairs.jsonl"),
            ),
            settings,
            runs,
        )
