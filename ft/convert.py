"""From a trained LoRA adapter to something llama.cpp loads, and into the model registry.

- :func:`save_peft_adapter`: the torchtune adapter in PEFT format (adapter_config.json +
  adapter_model.safetensors with PEFT key names);
- :func:`llama_cpp_src`: llama.cpp's conversion scripts, from the llama-cpp-python *source*
  distribution of the installed version (``pip download --no-binary :all: --no-deps``), unpacked
  once into ft/work/src/;
- :func:`lora_to_gguf`: convert_lora_to_gguf.py → ``models/adapters/<name>.gguf``;
- :func:`merge_quantize`: optionally one merged Q4_K_M GGUF (convert_hf_to_gguf.py, then
  ``llama_cpp.llama_model_quantize``);
- :func:`register` and :func:`write_card`: the registry entry (base + ``lora``) and a model card.

>>> gguf = lora_to_gguf(Path("ft/runs/qwen0.5b-mygene/adapter"),                # doctest: +SKIP
...                     Path("ft/work/qwen2.5-coder-0.5b/hf"),
...                     Path("models/adapters/qwen2.5-coder-0.5b-mygene.gguf"))
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

from assistant.config import ROOT, Settings
from assistant.errors import ConfigError, ModelError
from assistant.registry import load_registry, registry_path

from .prepare import WORK_DIR

SRC_DIR = WORK_DIR / "src"
PEFT_NAMES = {"output_proj": "o_proj", "w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}
"""torchtune's LoRA module names → the Hugging Face / PEFT names (for the model card)."""

# --- PEFT format ----------------------------------------------------------------------------


def peft_adapter_weights(adapter: dict, model_type: str, hf_config: dict) -> dict:
    """torchtune adapter keys → PEFT keys (``base_model.model.model.layers.0.self_attn.q_proj.
    lora_A.weight``).

    torchtune's Llama checkpoints permute the q/k projections for its interleaved RoPE, so the
    q/k ``lora_B`` matrices are permuted back (what torchtune's own
    ``tune_to_peft_adapter_weights`` does). Qwen2 checkpoints are not permuted by torchtune
    (``qwen2_hf_to_tune``), so their adapters only get new key names; torchtune 0.6's generic
    converter would permute them too, which corrupts a Qwen2 adapter.
    """
    from torchtune.models import convert_weights as cw

    if model_type != "QWEN2":
        return cw.tune_to_peft_adapter_weights(
            adapter,
            num_heads=hf_config["num_attention_heads"],
            num_kv_heads=hf_config["num_key_value_heads"],
            dim=hf_config["hidden_size"],
            head_dim=hf_config.get("head_dim"),
        )
    mapping = {}
    for peft_key, peft_val in cw._TO_PEFT_KEYS.items():
        if peft_key == "magnitude":
            continue
        for hf_key, tune_key in cw._FROM_HF.items():
            if tune_key is not None:
                mapping[tune_key.replace(".weight", f".{peft_key}.weight")] = hf_key.replace(
                    ".weight", f".{peft_val}.weight"
                )
    return {"base_model.model." + cw.get_mapped_key(k, mapping): v for k, v in adapter.items()}


def save_peft_adapter(
    adapter: dict, lora_config: dict, model_type: str, hf_dir: Path, out_dir: Path
) -> Path:
    """Write ``adapter_model.safetensors`` + ``adapter_config.json`` (PEFT) into ``out_dir``."""
    from safetensors.torch import save_file
    from torchtune.models import convert_weights as cw

    hf_config = json.loads((Path(hf_dir) / "config.json").read_text())
    weights = peft_adapter_weights(adapter, model_type, hf_config)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.contiguous() for k, v in weights.items()},
        out_dir / "adapter_model.safetensors",
        metadata={"format": "pt"},
    )
    config = cw.tune_to_peft_adapter_config(dict(lora_config), base_model_name_or_path=str(hf_dir))
    config.setdefault("task_type", "CAUSAL_LM")
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return out_dir


# --- llama.cpp's conversion scripts ---------------------------------------------------------


def llama_cpp_src(src_dir: Path = SRC_DIR, echo=print) -> Path:
    """The vendor/llama.cpp folder of the installed llama-cpp-python's source distribution."""
    try:
        from importlib.metadata import version

        ver = version("llama-cpp-python")
    except Exception as exc:  # noqa: BLE001 - PackageNotFoundError and friends
        raise ModelError(
            "llama-cpp-python is not installed; run `pip install -r requirements.txt`"
        ) from exc
    root = src_dir / f"llama_cpp_python-{ver}"
    vendor = root / "vendor" / "llama.cpp"
    if (vendor / "convert_lora_to_gguf.py").is_file() and (vendor / "conversion").is_dir():
        return vendor
    src_dir.mkdir(parents=True, exist_ok=True)
    sdist = src_dir / f"llama_cpp_python-{ver}.tar.gz"
    if not sdist.is_file():
        echo(f"downloading the llama-cpp-python {ver} source distribution (conversion scripts) ...")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            f"llama-cpp-python=={ver}",
            "-d",
            str(src_dir),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not sdist.is_file():
            tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
            raise ModelError(
                f"could not download the llama-cpp-python {ver} source distribution ({tail}); "
                f"put llama_cpp_python-{ver}.tar.gz into {src_dir} by hand"
            )
    prefix = f"llama_cpp_python-{ver}/vendor/llama.cpp/"
    keep = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/")
    with tarfile.open(sdist) as tf:
        members = [
            m
            for m in tf.getmembers()
            if m.name.startswith(prefix) and m.name[len(prefix) :].startswith(keep)
        ]
        tf.extractall(src_dir, members=members, filter="data")
    if not (vendor / "convert_lora_to_gguf.py").is_file():
        raise ModelError(f"{sdist} holds no vendor/llama.cpp/convert_lora_to_gguf.py")
    return vendor


def _run_script(args: list[str], what: str) -> None:
    env = {**os.environ, "PYTHONPATH": ""}
    env.pop("NO_LOCAL_GGUF", None)  # use the gguf-py that ships with these scripts
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise ModelError(f"{what} failed:\n{tail}")


def lora_to_gguf(peft_dir: Path, hf_dir: Path, out: Path, outtype: str = "f16", echo=print) -> Path:
    """Convert a PEFT adapter folder to one GGUF LoRA file with convert_lora_to_gguf.py."""
    vendor = llama_cpp_src(echo=echo)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    echo(f"converting the adapter to {out} ({outtype}) ...")
    _run_script(
        [
            str(vendor / "convert_lora_to_gguf.py"),
            "--base",
            str(hf_dir),
            "--outfile",
            str(tmp),
            "--outtype",
            outtype,
            str(peft_dir),
        ],
        "convert_lora_to_gguf.py",
    )
    tmp.replace(out)
    return out


def merge_quantize(run, out: Path, ftype: str = "Q4_K_M", echo=print) -> Path:
    """Merge the adapter into the base weights and write one quantized GGUF (``out``)."""
    import ctypes

    import llama_cpp
    from torchtune import training
    from torchtune.modules.peft import get_merged_lora_ckpt

    m = run.cfg.model
    sd = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
    merged = get_merged_lora_ckpt(sd, rank=int(m.lora_rank), alpha=float(m.lora_alpha))
    run.checkpointer.save_checkpoint({training.MODEL_KEY: merged}, epoch=0)
    hf_merged = run.dir / "checkpointer" / "epoch_0"
    vendor = llama_cpp_src(echo=echo)
    f16 = out.with_name(out.stem + "-f16.gguf")
    echo(f"converting the merged model to {f16} ...")
    _run_script(
        [
            str(vendor / "convert_hf_to_gguf.py"),
            str(hf_merged),
            "--outfile",
            str(f16),
            "--outtype",
            "f16",
        ],
        "convert_hf_to_gguf.py",
    )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    echo(f"quantizing to {out} ({ftype}) ...")
    rc = llama_cpp.llama_model_quantize(str(f16).encode(), str(out).encode(), ctypes.byref(params))
    if rc != 0:
        raise ModelError(f"llama_model_quantize failed with code {rc} for {f16}")
    f16.unlink()
    return out


# --- registry and model card ----------------------------------------------------------------


def register(cfg, gguf: Path, settings: Settings, echo=print) -> str:
    """Add ``[models."<register>"]``: the base entry's weights plus ``lora`` = the adapter.

    The entry is appended as text (the registry's comments stay); an existing entry of the same
    name has its ``lora`` line updated instead.
    """
    name = str(cfg.register)
    base_name = str(cfg.get("registry_base") or cfg.base)
    path = registry_path(settings)
    reg = load_registry(path)
    if base_name not in reg.models:
        raise ConfigError(
            f"cannot register {name}: its base {base_name!r} is not in {path}; set "
            "`registry_base` in the config to the registry entry whose GGUF the adapter fits"
        )
    base = reg.models[base_name]
    try:
        lora = gguf.resolve().relative_to(settings.models_dir.resolve()).as_posix()
    except ValueError:
        lora = str(gguf.resolve())
    text = path.read_text(encoding="utf-8")
    header = f'[models."{name}"]'
    if header in text:
        block = re.compile(re.escape(header) + r"\n(?:(?!\[)[^\n]*\n)*")
        entry = block.search(text).group(0)
        new = re.sub(r"(?m)^lora = .*$", f'lora = "{lora}"', entry)
        path.write_text(text.replace(entry, new), encoding="utf-8")
        echo(f"registry: updated the lora of {name}")
        return name
    raw = tomllib.loads(text)["models"][base_name]
    lines = [
        "",
        f"# Fine-tuned by `python -m ft.train` ({cfg.config_path.rsplit('/', 1)[-1]}); model card: "
        f"models/{lora.rsplit('.', 1)[0]}.md",
        header,
        f'description = "{base.description.split(";")[0].split(" (")[0]} + LoRA adapter '
        f'fine-tuned on the MyGene query pairs; prompt with mode ft"',
        f'file = "{base.file}"',
        f'chat_format = "{base.chat_format}"',
        f"n_ctx = {base.n_ctx}",
        f'lora = "{lora}"',
        'prompt_mode = "ft"',
    ]
    if base.size:
        lines.append(f"size = {base.size}")
    if base.sha256:
        lines.append(f'sha256 = "{base.sha256}"')
    src = raw.get("source", {})
    if src:
        lines += ["", f'[models."{name}".source]']
        if "packages" in src:
            lines.append("packages = [" + ", ".join(f'"{p}"' for p in src["packages"]) + "]")
        if "member" in src:
            lines.append(f'member = "{src["member"]}"')
        if "path" in src:
            lines.append(f'path = "{src["path"]}"')
    path.write_text(text.rstrip("\n") + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    load_registry(path)  # still valid TOML with the new entry
    echo(f"registry: added {name} (base {base_name} + {lora})")
    return name


def write_card(summary: dict, out: Path) -> Path:
    """A model card skeleton next to the adapter; evaluation figures are filled in later."""
    lora = summary["lora"]
    targets = ", ".join(PEFT_NAMES.get(m, m) for m in lora["target_modules"])
    vh = summary.get("val_history") or []
    curve = "\n".join(f"| {v['step']} | {v['val_loss']:.4f} |" for v in vh)
    first = "step 0, the base model" if vh and vh[0]["step"] == 0 else "first evaluation"
    hf_dir = Path(summary["hf_dir"])
    hf_shown = hf_dir.relative_to(ROOT) if hf_dir.is_relative_to(ROOT) else hf_dir
    name, reg = summary["name"], summary.get("registered", "<registry name>")
    text = f"""# {name}

LoRA adapter (GGUF) for the Query Assistant's `ft` prompt mode: it turns a question about genes
into one MyGene.info query line.

- **Base model:** `{summary["base"]}`; trained on the fp32 checkpoint `{hf_shown}/` (dequantized
  from the registry GGUF when the base is a registry name); torchtune builder
  `{summary["model"]}` ({summary["model_type"]})
- **Adapter file:** `{Path(summary.get("gguf", "")).name}` ({summary.get("gguf_mb", "?")} MB, f16);
  registry name `{reg}` (the base GGUF + this adapter, applied by llama.cpp)
- **Use:** `QA_MODEL={reg} QA_MODE=ft python -m assistant ask "..."`

## Data

- Pairs: `{summary["pairs"]}`: {summary["train_examples"]} train examples; validation loss on
  {summary["val_examples"]} examples of the validation split (the test split is never used for
  training). Examples longer than {summary["max_seq_len"]} tokens are left out.
- Prompt: `assistant.prompts.training_messages(question, query, "ft")` rendered with the model's
  chat template; loss on the answer tokens (the query line and the end-of-turn token) only.

## Training

| setting | value |
|---|---|
| LoRA rank / alpha | {lora["r"]} / {lora["lora_alpha"]:g} |
| target modules | {targets} |
| steps | {summary["steps"]} (at most {summary["max_steps"]}; stopped by {summary["stopped"]}) |
| epochs | {summary["epochs"]} |
| batch size | {summary["batch_size"]} |
| max sequence length | {summary["max_seq_len"]} tokens |
| learning rate | {summary["lr"]:g} (warm-up, then cosine over steps or the time budget) |
| training time | {summary["train_seconds"] / 60:.1f} min |
| wall time (incl. set-up, conversion) | {summary.get("wall_seconds", 0) / 60:.1f} min |
| config | `{summary["config"]}` |

| | loss |
|---|---|
| train (last logged window) | {summary["train_loss_last"]} |
| validation, {first} → last | {summary["val_loss_first"]} → {summary["val_loss"]} |

Validation loss by step:

| step | validation loss |
|---|---|
{curve}

## Evaluation

To be added (evals/: exact match, valid-query rate and execution accuracy on the test split,
against zero-shot, RAG and in-context prompting of the base model).

## Reproduce

```
python -m ft.train --config {summary["config"]} --name {name}
```

The run's resolved configuration, log and metrics are in ft/runs/{name}/ (config.yaml, log.txt,
metrics.jsonl, summary.json); `python -m ft.convert card ft/runs/{name}` rewrites this card.
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m ft.convert card RUN_DIR`` rewrites a run's model card from its summary.json;
    ``python -m ft.convert gguf RUN_DIR`` converts its PEFT adapter to GGUF again."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m ft.convert", description=main.__doc__)
    p.add_argument("what", choices=["card", "gguf"])
    p.add_argument("run_dir", type=Path, help="ft/runs/<name>")
    p.add_argument(
        "--out", type=Path, help="Output file (default models/adapters/<name>.md|.gguf)."
    )
    a = p.parse_args(argv)
    path = a.run_dir / "summary.json"
    if not path.is_file():
        print(f"error: {path} not found; finish (or --resume) the run first", file=sys.stderr)
        return 2
    summary = json.loads(path.read_text())
    adapters = Settings().models_dir / "adapters"
    try:
        if a.what == "card":
            print(write_card(summary, a.out or adapters / f"{summary['name']}.md"))
        else:
            out = a.out or adapters / f"{summary['name']}.gguf"
            print(lora_to_gguf(Path(summary["peft_dir"]), Path(summary["hf_dir"]), out))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
