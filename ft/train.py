"""Fine-tune a model with LoRA (torchtune) on the question→query pairs, then ship the adapter.

    python -m ft.train                                    # Qwen2.5-Coder 0.5B on the CPU
    python -m ft.train --max-steps 20 --name try          # a short try
    python -m ft.train --config ft/configs/llama3_2_1b_lora_gpu.yaml --base /data/Llama-3.2-1B-Instruct
    python -m ft.train --resume                           # continue an interrupted run

What it does, in order (every step fails at once, with what to do, on bad input):

1. the base: the registry model's GGUF dequantized into an HF checkpoint under ft/work/
   (:mod:`ft.prepare`), or a local HF checkpoint folder (``--base``);
2. the data: the train and validation splits of data/pairs rendered with the assistant's ``ft``
   prompt and the model's chat template, loss on the answer tokens only (:mod:`ft.data`);
3. LoRA training with torchtune's model builders, LoRA utilities and HF checkpointer (a small
   loop rather than the stock recipe, which in torchtune 0.6 has no validation split): validation
   loss every ``eval_every`` steps, a resumable checkpoint every ``save_every`` steps, logs in
   ``ft/runs/<name>/log.txt`` and ``metrics.jsonl``;
4. the adapter in PEFT format, converted to GGUF by llama.cpp's convert_lora_to_gguf.py into
   models/adapters/<name>.gguf, a model card, and a registry entry (:mod:`ft.convert`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from importlib import import_module
from pathlib import Path

from assistant.cli import run_edge
from assistant.config import ROOT, Settings
from assistant.errors import ConfigError

from .data import IGNORE, batch_order, collate, encode_pairs, pairs_file, read_pairs
from .prepare import FT_DIR, prepare_base, weight_files

CONFIG_DIR = FT_DIR / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "qwen2_5_0_5b_lora_cpu.yaml"
RUNS_DIR = FT_DIR / "runs"
STATE = "state.pt"
MODEL_TYPES = ("QWEN2", "LLAMA3", "LLAMA3_2")

log = logging.getLogger("ft")


# --- configuration --------------------------------------------------------------------------


def known_configs() -> list[str]:
    return sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))


def load_config(path: str | Path | None = None, overrides: list[str] | None = None):
    """The run configuration: a YAML file in ft/configs/ plus ``key=value`` overrides.

    Unknown model builders and checkpoint formats fail here, before anything heavy runs.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    path = Path(path or DEFAULT_CONFIG)
    if not path.is_file() and (CONFIG_DIR / path.name).is_file():
        path = CONFIG_DIR / path.name
    if not path.is_file():
        raise ConfigError(
            f"fine-tuning config not found at {path}; pick one of ft/configs/: "
            + ", ".join(known_configs())
        )
    try:
        cfg = OmegaConf.merge(OmegaConf.load(path), OmegaConf.from_dotlist(overrides or []))
    except (OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"{path} or an override is not valid: {exc}") from None
    for key in ("name", "base", "model", "model_type", "data", "train"):
        if key not in cfg:
            raise ConfigError(
                f"{path} lacks the `{key}` section; compare it with {DEFAULT_CONFIG.name}"
            )
    builder = cfg.model.get("_component_", "")
    if not _importable(builder):
        raise ConfigError(
            f"unknown model builder {builder!r} in {path.name}; use a torchtune LoRA builder such "
            "as torchtune.models.qwen2_5.lora_qwen2_5_0_5b, torchtune.models.llama3_2.lora_llama3_2_1b "
            f"or torchtune.models.llama3_1.qlora_llama3_1_8b (configs: {', '.join(known_configs())})"
        )
    if cfg.model_type not in MODEL_TYPES:
        raise ConfigError(
            f"model_type {cfg.model_type!r} in {path.name} is not supported; use one of "
            f"{', '.join(MODEL_TYPES)} (torchtune checkpointer model types)"
        )
    if cfg.get("dtype") not in ("fp32", "bf16"):
        raise ConfigError(
            f"dtype {cfg.get('dtype')!r} in {path.name}: use fp32 (CPU) or bf16 (GPU)"
        )
    if not str(cfg.get("device", "")).startswith(("cpu", "cuda")):
        raise ConfigError(f"device {cfg.get('device')!r} in {path.name}: use cpu or cuda")
    cfg.config_path = str(path)
    return cfg


def _importable(dotted: str) -> bool:
    mod, _, attr = str(dotted).rpartition(".")
    if not mod:
        return False
    try:
        return callable(getattr(import_module(mod), attr, None))
    except ImportError:
        return False


# --- the run --------------------------------------------------------------------------------


class Run:
    """One training run in ``ft/runs/<name>/``: the model, data, optimizer and their state."""

    def __init__(self, cfg, settings: Settings | None = None, runs_dir: Path = RUNS_DIR):
        self.cfg = cfg
        self.settings = settings or Settings()
        self.dir = Path(runs_dir) / cfg.name
        self.metrics_path = self.dir / "metrics.jsonl"

    # -- set-up ---------------------------------------------------------------------------

    def check_inputs(self) -> None:
        """Everything that can be wrong with the inputs, before anything slow happens."""
        from assistant.registry import require_weights, resolve

        from .prepare import check_hf_dir

        base = str(self.cfg.base)
        if not base.endswith(".gguf") and ("/" in base or Path(base).is_dir()):
            check_hf_dir(Path(base))
        else:
            require_weights(resolve(base, self.settings), self.settings)
        d = self.cfg.data
        limit = d.get("limit") or None
        self.train_pairs = read_pairs(pairs_file(d.pairs, d.train_split), limit)
        val_limit = d.get("val_limit") or None
        self.val_pairs = read_pairs(pairs_file(d.pairs, d.val_split), val_limit)

    def setup(self) -> None:
        import torch
        from torchtune import config as tt_config
        from torchtune import training
        from torchtune.modules.peft import (
            get_adapter_params,
            set_trainable_params,
            validate_missing_and_unexpected_for_lora,
        )
        from transformers import AutoTokenizer

        cfg = self.cfg
        torch.manual_seed(cfg.train.seed)
        if cfg.train.get("threads"):
            torch.set_num_threads(int(cfg.train.threads))
        self.device = torch.device(cfg.device)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[cfg.dtype]
        self.hf_dir = prepare_base(str(cfg.base), self.settings, echo=log.info)
        self.tokenizer = AutoTokenizer.from_pretrained(self.hf_dir)
        if not self.tokenizer.chat_template:
            raise ConfigError(
                f"the tokenizer in {self.hf_dir} has no chat template; use an instruct model"
            )
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.tokenizer.eos_token_id
        d = cfg.data
        self.train_set = encode_pairs(self.tokenizer, self.train_pairs, d.mode, d.max_seq_len)
        self.val_set = encode_pairs(self.tokenizer, self.val_pairs, d.mode, d.max_seq_len)
        log.info(
            "data: %d train / %d validation examples from %s (mode %s, longest %d tokens; "
            "%d longer than %d dropped)",
            len(self.train_set),
            len(self.val_set),
            d.pairs,
            d.mode,
            max(len(e["tokens"]) for e in self.train_set),
            len(self.train_pairs) + len(self.val_pairs) - len(self.train_set) - len(self.val_set),
            d.max_seq_len,
        )
        with training.set_default_dtype(self.dtype), self.device:
            self.model = tt_config.instantiate(cfg.model)
        self.checkpointer = training.FullModelHFCheckpointer(
            checkpoint_dir=str(self.hf_dir),
            checkpoint_files=weight_files(self.hf_dir),
            model_type=cfg.model_type,
            output_dir=str(self.dir / "checkpointer"),
        )
        base_sd = self.checkpointer.load_checkpoint()[training.MODEL_KEY]
        missing, unexpected = self.model.load_state_dict(base_sd, strict=False)
        del base_sd
        m = cfg.model
        validate_missing_and_unexpected_for_lora(
            lora_attn_modules=list(m.lora_attn_modules),
            apply_lora_to_mlp=m.get("apply_lora_to_mlp", False),
            apply_lora_to_output=m.get("apply_lora_to_output", False),
            base_missing=missing,
            base_unexpected=unexpected,
        )
        self.model.to(self.device)
        adapter = get_adapter_params(self.model)
        set_trainable_params(self.model, adapter)
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        n_train = sum(p.numel() for p in self.trainable)
        log.info("model: %s, %d trainable LoRA parameters", m._component_, n_train)
        self.optimizer = tt_config.instantiate(cfg.optimizer, params=self.trainable)
        t = cfg.train
        self.batch_size = min(int(t.batch_size), len(self.train_set))
        self.steps_per_epoch = len(self.train_set) // self.batch_size
        self.max_steps = (
            int(t.max_steps) if t.get("max_steps") else self.steps_per_epoch * int(t.epochs)
        )
        self.step, self.elapsed, self.val_history = 0, 0.0, []
        self.warmup = int(t.warmup_steps)
        self.max_seconds = float(t.max_minutes) * 60 if t.get("max_minutes") else None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.lr_factor)

    def progress(self) -> float:
        """How far the run is after warm-up, 0..1: by steps, or by wall time when a time budget
        (``train.max_minutes``) is set and runs out first — so that a run cut by its budget
        still anneals its learning rate to zero."""
        p = (self.step - self.warmup) / max(1, self.max_steps - self.warmup)
        if self.max_seconds:
            p = max(p, self.elapsed / self.max_seconds)
        return min(1.0, max(0.0, p))

    def lr_factor(self, _epoch: int) -> float:
        """Linear warm-up, then cosine decay over :meth:`progress` (torchtune's shape)."""
        if self.step < self.warmup:
            return (self.step + 1) / (self.warmup + 1)
        return 0.5 * (1.0 + math.cos(math.pi * self.progress()))

    # -- state ----------------------------------------------------------------------------

    def adapter_state(self) -> dict:
        from torchtune.modules.peft import get_adapter_state_dict

        return {
            k: v.detach().cpu().clone()
            for k, v in get_adapter_state_dict(self.model.state_dict()).items()
        }

    def save_state(self) -> None:
        import torch

        state = {
            "adapter": self.adapter_state(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "val_history": self.val_history,
            "max_steps": self.max_steps,
        }
        tmp = self.dir / (STATE + ".tmp")
        torch.save(state, tmp)
        tmp.replace(self.dir / STATE)

    def load_state(self) -> bool:
        import torch

        path = self.dir / STATE
        if not path.is_file():
            return False
        state = torch.load(path, map_location="cpu", weights_only=False)
        self.model.load_state_dict(state["adapter"], strict=False)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.elapsed = state["step"], state["elapsed"]
        self.val_history = state.get("val_history", [])
        log.info("resumed %s at step %d (%.0f s trained so far)", path, self.step, self.elapsed)
        return True

    # -- training -------------------------------------------------------------------------

    def loss(self, tokens, labels):
        """Mean cross-entropy over the answer tokens; the output layer only runs where a label
        is (the prompt's logits are never computed)."""
        import torch.nn.functional as F

        model = self.model
        h = model.tok_embeddings(tokens)
        for layer in model.layers:
            h = layer(h)
        h = model.norm(h)
        targets = labels[:, 1:]
        keep = targets != IGNORE
        logits = model.output(h[:, :-1][keep]).float()
        return F.cross_entropy(logits, targets[keep]), int(keep.sum())

    def evaluate(self) -> float:
        """Mean validation loss per answer token."""
        import torch

        self.model.eval()
        total, count = 0.0, 0
        bs = max(1, int(self.cfg.train.get("eval_batch_size", self.batch_size)))
        with torch.no_grad():
            for i in range(0, len(self.val_set), bs):
                tokens, labels = collate(self.val_set[i : i + bs], self.pad_id)
                loss, n = self.loss(tokens.to(self.device), labels.to(self.device))
                total += float(loss) * n
                count += n
        self.model.train()
        return total / max(count, 1)

    def metric(self, **row) -> None:
        row["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def train(self) -> dict:
        import torch

        t = self.cfg.train
        log_every, eval_every = int(t.log_every), int(t.eval_every)
        save_every = int(t.save_every)
        self.model.train()
        start, last, window = time.perf_counter(), time.perf_counter(), []
        base_elapsed = self.elapsed
        stopped = "max_steps"
        if self.step == 0 and t.get("eval_at_start"):
            self.validate()  # the LoRA B matrices start at zero: this is the base model's loss
        while self.step < self.max_steps:
            epoch, pos = divmod(self.step, self.steps_per_epoch)
            batch_idx = batch_order(len(self.train_set), self.batch_size, epoch, int(t.seed))[pos]
            tokens, labels = collate([self.train_set[i] for i in batch_idx], self.pad_id)
            loss, n_tok = self.loss(tokens.to(self.device), labels.to(self.device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.trainable, float(t.clip_grad_norm))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            now = time.perf_counter()
            self.elapsed = base_elapsed + (now - start)
            self.scheduler.step()
            window.append(float(loss.detach()))
            if self.step % log_every == 0 or self.step == self.max_steps:
                sec = (now - last) / len(window)
                row = {
                    "type": "train",
                    "step": self.step,
                    "epoch": round(self.step / self.steps_per_epoch, 3),
                    "loss": round(sum(window) / len(window), 4),
                    "lr": self.scheduler.get_last_lr()[0],
                    "s_per_step": round(sec, 3),
                    "elapsed_s": round(self.elapsed, 1),
                }
                self.metric(**row)
                eta = (self.max_steps - self.step) * sec / 60
                if self.max_seconds:
                    eta = min(eta, (self.max_seconds - self.elapsed) / 60)
                log.info(
                    "step %d/%d  epoch %.2f  loss %.4f  lr %.2e  %.2f s/step  eta %.0f min",
                    self.step,
                    self.max_steps,
                    row["epoch"],
                    row["loss"],
                    row["lr"],
                    sec,
                    eta,
                )
                window, last = [], now
            if self.step % eval_every == 0 and self.step < self.max_steps:
                self.validate()
            if self.step % save_every == 0:
                self.save_state()
            if self.max_seconds and self.elapsed >= self.max_seconds:
                stopped = f"time budget of {self.max_seconds / 60:g} min"
                break
        log.info("training stopped at step %d (%s)", self.step, stopped)
        if not self.val_history or self.val_history[-1]["step"] != self.step:
            self.validate()
        self.save_state()
        return {"stopped": stopped}

    def validate(self) -> float:
        t0 = time.perf_counter()
        val = self.evaluate()
        self.val_history.append({"step": self.step, "val_loss": round(val, 4)})
        self.metric(
            type="val",
            step=self.step,
            val_loss=round(val, 4),
            n=len(self.val_set),
            seconds=round(time.perf_counter() - t0, 1),
        )
        log.info(
            "step %d  validation loss %.4f (%d examples, %.0f s)",
            self.step,
            val,
            len(self.val_set),
            time.perf_counter() - t0,
        )
        return val

    def lora_config(self) -> dict:
        from torchtune.modules.peft import get_lora_module_names

        m = self.cfg.model
        return {
            "r": int(m.lora_rank),
            "lora_alpha": float(m.lora_alpha),
            "target_modules": get_lora_module_names(
                list(m.lora_attn_modules),
                bool(m.get("apply_lora_to_mlp", False)),
                bool(m.get("apply_lora_to_output", False)),
            ),
            "peft_type": "LORA",
        }


# --- command line ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ft.train",
        description="LoRA fine-tuning (torchtune) on the question→query pairs, then GGUF conversion "
        "and registration of the adapter.",
    )
    p.add_argument(
        "--config",
        default=str(DEFAULT_CONFIG.relative_to(ROOT)),
        help="YAML config in ft/configs/ (default: %(default)s).",
    )
    p.add_argument("--name", help="Run name: ft/runs/<name>/ and the adapter's name.")
    p.add_argument("--base", help="Registry model name, .gguf path or HF checkpoint folder.")
    p.add_argument("--pairs", help="Folder with train/validation JSONL (or one .jsonl for both).")
    p.add_argument("--max-steps", type=int, help="Optimizer steps (default: from the config).")
    p.add_argument("--max-minutes", type=float, help="Stop training after this much wall time.")
    p.add_argument("--batch-size", type=int, help="Examples per step.")
    p.add_argument("--lora-rank", type=int, help="LoRA rank (alpha stays 2 × rank).")
    p.add_argument("--max-seq-len", type=int, help="Cut examples at this many tokens.")
    p.add_argument("--limit", type=int, help="Use only the first N train pairs (quick runs).")
    p.add_argument("--resume", action="store_true", help="Continue from ft/runs/<name>/state.pt.")
    p.add_argument("--no-convert", action="store_true", help="Stop after the PEFT adapter.")
    p.add_argument("--no-register", action="store_true", help="Do not add a registry entry.")
    p.add_argument(
        "--merge-quantize",
        action="store_true",
        help="Also merge the adapter into the base and write one Q4_K_M GGUF.",
    )
    p.add_argument("--adapters-dir", help="Where the GGUF adapter and card go (models/adapters).")
    p.add_argument("overrides", nargs="*", help="Config overrides as key=value (train.lr=1e-4).")
    return p


def config_from_args(args):
    over = list(args.overrides)
    simple = {
        "name": args.name,
        "base": args.base,
        "data.pairs": args.pairs,
        "train.max_steps": args.max_steps,
        "train.batch_size": args.batch_size,
        "data.max_seq_len": args.max_seq_len,
        "data.limit": args.limit,
    }
    over += [f"{k}={v}" for k, v in simple.items() if v is not None]
    if args.lora_rank:
        over += [f"model.lora_rank={args.lora_rank}", f"model.lora_alpha={2 * args.lora_rank}"]
    if args.pairs and args.pairs.endswith(".jsonl"):
        pass  # one file serves as both splits (pairs_file returns the file itself)
    return load_config(args.config, over)


def setup_logging(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    log.setLevel(logging.INFO)
    for h in list(log.handlers):
        log.removeHandler(h)
    for h in (logging.FileHandler(run_dir / "log.txt", encoding="utf-8"), logging.StreamHandler()):
        h.setFormatter(fmt)
        log.addHandler(h)


def run(args, settings: Settings | None = None, runs_dir: Path = RUNS_DIR) -> dict:
    """The whole pipeline for parsed ``args``; returns the summary written to summary.json."""
    from omegaconf import OmegaConf

    from . import convert

    cfg = config_from_args(args)
    if args.max_minutes is not None:
        cfg.train.max_minutes = args.max_minutes
    settings = settings or Settings()
    r = Run(cfg, settings, runs_dir)
    r.check_inputs()  # fast failures first: base, pairs
    if (r.dir / STATE).exists() and not args.resume:
        raise ConfigError(
            f"{r.dir} already holds a run; pass --resume to continue it or --name NEW for a new one"
        )
    setup_logging(r.dir)
    OmegaConf.save(cfg, r.dir / "config.yaml")
    log.info("run %s: config %s, base %s", cfg.name, cfg.config_path, cfg.base)
    t0 = time.perf_counter()
    r.setup()
    if args.resume:
        r.load_state()
    outcome = r.train()
    peft_dir = convert.save_peft_adapter(
        r.adapter_state(), r.lora_config(), cfg.model_type, r.hf_dir, r.dir / "adapter"
    )
    log.info("PEFT adapter in %s", peft_dir)
    summary = {
        "name": cfg.name,
        "config": cfg.config_path,
        "base": str(cfg.base),
        "hf_dir": str(r.hf_dir),
        "model": cfg.model._component_,
        "model_type": cfg.model_type,
        "lora": r.lora_config(),
        "pairs": str(cfg.data.pairs),
        "train_examples": len(r.train_set),
        "val_examples": len(r.val_set),
        "steps": r.step,
        "max_steps": r.max_steps,
        "epochs": round(r.step / r.steps_per_epoch, 3),
        "batch_size": r.batch_size,
        "max_seq_len": int(cfg.data.max_seq_len),
        "lr": float(cfg.optimizer.lr),
        "train_loss_last": _last_train_loss(r.metrics_path),
        "val_loss_first": r.val_history[0]["val_loss"] if r.val_history else None,
        "val_loss": r.val_history[-1]["val_loss"] if r.val_history else None,
        "val_history": r.val_history,
        "train_seconds": round(r.elapsed, 1),
        "stopped": outcome["stopped"],
        "peft_dir": str(peft_dir),
    }
    if not args.no_convert:
        adapters = (
            Path(args.adapters_dir) if args.adapters_dir else settings.models_dir / "adapters"
        )
        gguf = convert.lora_to_gguf(
            peft_dir, r.hf_dir, adapters / f"{cfg.name}.gguf", echo=log.info
        )
        summary["gguf"] = str(gguf)
        summary["gguf_mb"] = round(gguf.stat().st_size / 1e6, 1)
        if args.merge_quantize:
            summary["merged_gguf"] = str(
                convert.merge_quantize(
                    r, adapters / f"{cfg.name}-merged-q4_k_m.gguf", echo=log.info
                )
            )
        summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
        if not args.no_register and cfg.get("register"):
            summary["registered"] = convert.register(cfg, gguf, settings, echo=log.info)
        summary["card"] = str(convert.write_card(summary, adapters / f"{cfg.name}.md"))
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    (r.dir / "summary.json").write_text(json.dumps(summary, indent=2))
    log.info("done in %.0f s: %s", summary["wall_seconds"], summary.get("gguf", peft_dir))
    return summary


def _last_train_loss(path: Path) -> float | None:
    rows = [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []
    rows = [x for x in rows if x.get("type") == "train"]
    return rows[-1]["loss"] if rows else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_edge(lambda: run(args) and 0, interrupted="interrupted; continue with --resume")


if __name__ == "__main__":
    sys.exit(main())
