"""The base model for fine-tuning: a trainable Hugging Face checkpoint folder.

Two sources:

- a registry model's GGUF (the default, ``qwen2.5-coder-0.5b``): transformers dequantizes it
  (``AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)``) and the result is saved as
  ``ft/work/<name>/hf/`` (model.safetensors, config.json, tokenizer.json, tokenizer_config.json
  with the chat template from the GGUF, plus vocab.json/merges.txt for torchtune's BPE
  tokenizers). Done once; later runs reuse the folder.
- a local Hugging Face checkpoint folder a user already has (Llama 3.2 1B/3B, Llama 3.1 8B,
  Qwen2.5 1.5B ...), used as it is.

>>> base_dir("qwen2.5-coder-0.5b").relative_to(FT_DIR).as_posix()    # doctest: +SKIP
'work/qwen2.5-coder-0.5b/hf'
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from assistant.config import Settings
from assistant.errors import ConfigError, ModelError
from assistant.registry import require_weights, resolve

FT_DIR = Path(__file__).resolve().parent
WORK_DIR = FT_DIR / "work"
MARKER = "prepared.json"


def base_dir(name: str, work_dir: Path = WORK_DIR) -> Path:
    """Where the dequantized checkpoint of registry model ``name`` is cached."""
    return work_dir / name / "hf"


def weight_files(folder: Path) -> list[str]:
    """The safetensors files of a checkpoint folder, sorted (``["model.safetensors"]``)."""
    return sorted(p.name for p in folder.glob("*.safetensors") if not p.name.startswith("adapter"))


def check_hf_dir(folder: Path) -> Path:
    """``folder`` if it holds a usable HF checkpoint, else a :class:`ConfigError` saying why."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(
            f"base checkpoint folder not found at {folder}; pass a Hugging Face checkpoint "
            "folder (config.json, *.safetensors, tokenizer.json) or a registry model name "
            "whose GGUF is fetched (`python -m assistant model fetch NAME`)"
        )
    missing = [f for f in ("config.json", "tokenizer.json") if not (folder / f).is_file()]
    if missing or not weight_files(folder):
        what = ", ".join(missing + ([] if weight_files(folder) else ["*.safetensors"]))
        raise ConfigError(
            f"{folder} is not a complete Hugging Face checkpoint (missing {what}); "
            "download the full model folder (weights, config and tokenizer)"
        )
    return folder


def prepare_base(
    base: str,
    settings: Settings | None = None,
    work_dir: Path = WORK_DIR,
    echo=print,
) -> Path:
    """The HF checkpoint folder for ``base``: a folder path, or a registry name (or a .gguf
    path) to dequantize.

    A registry name needs its GGUF fetched; when it is missing, the
    :class:`~assistant.errors.ModelNotFetched` error says which ``model fetch`` to run.
    """
    settings = settings or Settings()
    path = Path(base).expanduser()
    if not base.endswith(".gguf") and (path.is_dir() or "/" in base or os.sep in base):
        return check_hf_dir(path)
    spec = resolve(base, settings)
    gguf_path = require_weights(spec, settings)
    out = base_dir(spec.name, work_dir)
    marker = out / MARKER
    stamp = {"gguf": str(gguf_path), "size": gguf_path.stat().st_size}
    if marker.is_file() and json.loads(marker.read_text()).get("size") == stamp["size"]:
        return check_hf_dir(out)
    echo(f"dequantizing {gguf_path.name} into {out} (once) ...")
    t0 = time.perf_counter()
    dequantize_gguf(gguf_path, out)
    marker.write_text(json.dumps({**stamp, "seconds": round(time.perf_counter() - t0, 1)}))
    echo(f"  done in {time.perf_counter() - t0:.0f} s")
    return check_hf_dir(out)


def dequantize_gguf(gguf_path: Path, out: Path) -> Path:
    """Dequantize one GGUF file into an fp32 HF checkpoint folder ``out`` (model + tokenizer)."""
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - the training stack is in requirements.txt
        raise ModelError(
            "transformers is not installed; run `pip install -r requirements.txt`"
        ) from exc
    import torch

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(
            f"transformers could not dequantize {gguf_path}: {exc}; use a GGUF of a supported "
            "architecture (llama, qwen2) or pass a Hugging Face checkpoint folder instead"
        ) from exc
    # the weights are plain fp32 tensors now: drop the GGUF quantizer so that the saved
    # checkpoint loads as an ordinary model (and torchtune's checkpointer can read it)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, max_shard_size="20GB")
    tok.save_pretrained(tmp)
    _write_bpe_files(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _write_bpe_files(folder: Path) -> None:
    """vocab.json + merges.txt from tokenizer.json (torchtune's Qwen2.5 tokenizer reads them)."""
    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    bpe = data.get("model", {})
    if bpe.get("type") != "BPE":
        return
    if not (folder / "vocab.json").is_file():
        (folder / "vocab.json").write_text(json.dumps(bpe["vocab"], ensure_ascii=False))
    if not (folder / "merges.txt").is_file():
        merges = [m if isinstance(m, str) else " ".join(m) for m in bpe.get("merges", [])]
        (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
