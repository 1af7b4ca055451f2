"""Benchmark the whole pipeline: p50/p95 of each stage and end to end, prompt tokens per mode.

    python evals/bench_pipeline.py                        # default model and mode, 50 questions
    python evals/bench_pipeline.py --model smollm2-135m --per-mode 5 --n-threads 2

The assistant loads once (model, grammar, store, retrieval index) and its fixed system prompt is
evaluated before timing starts, as a server would. Every question is then answered end to end
(retrieve → generate → execute → summarize). Prompt tokens are counted per mode on the first
attempt: ``prompt`` is the whole prompt, ``evaluated`` what llama.cpp actually had to process
after reusing the cached prefix. Results go to evals/results/bench_pipeline.json.

In the same run, on the same questions and prompts, the **plain baseline**: the library's own
``llama_cpp.Llama`` with the same weights, adapter and grammar, greedy, one forward pass per
token, the KV cache cleared before each question (no grammar-first sampling, no drafts, no
prefix reuse). It prints the ratios the speculative decoder is held to (README → Speed): the
pipeline's end-to-end p50 over the baseline's generation p50, forward passes per query token,
the grammar's share of generation time, and how many outputs are token-for-token identical.
The build (variant, CMake flags, CPU) is printed first (assistant/llama_build.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent)
)  # `python evals/...` from a checkout

from assistant import llama_build  # noqa: E402
from assistant.config import ROOT, Settings  # noqa: E402
from assistant.pipeline import STAGES, Assistant  # noqa: E402
from assistant.prompts import MODES  # noqa: E402

QUESTIONS = [
    "what is the official symbol of LMP10?",
    "What is the official gene symbol for p53 in humans?",
    "Which gene is known as MECL1?",
    "Where is human BRCA1 located?",
    "On which chromosome is the human EGFR gene?",
    "What is the cytoband of human CDK2?",
    "Which GO biological processes is human CDK2 involved in?",
    "What molecular functions does human TP53 have?",
    "In which cellular component is human INS found?",
    "Which Reactome pathways is human TP53 part of?",
    "List the WikiPathways pathways of human CDK2.",
    "What is the Ensembl gene id of human EGFR?",
    "What is the Entrez gene id of human BRCA1?",
    "What is the UniProt accession of human CDK2?",
    "Which gene has the Ensembl id ENSG00000141510?",
    "Which gene has the UniProt accession P24941?",
    "Which gene has the RefSeq transcript NM_000546?",
    "What are the aliases of human CDKN1A?",
    "What are the other names of human PSMB10?",
    "Give me a summary of the human INS gene.",
    "What does the human MYC gene do?",
    "What is the full name of human PTEN?",
    "How many human genes have cyclin in their name?",
    "Count the genes named kinase per species.",
    "List human genes annotated with apoptotic process.",
    "Find human genes whose name contains insulin receptor.",
    "Look up CDK2, BRCA1 and TP53 by symbol.",
    "Get the genes with Entrez ids 1017 and 672.",
    "What is gene 1017?",
    "Show the mouse ortholog of human CDK2.",
    "What is the symbol of mouse Trp53?",
    "Where is the mouse Egfr gene located?",
    "Which GO terms does rat Cdk2 have?",
    "What is the HGNC id of human TP53?",
    "What is the MIM number of human BRCA1?",
    "Which genes are on human chromosome 12 between 55900000 and 56000000?",
    "What type of gene is human PTENP1?",
    "Which protein-coding human genes are in the cell cycle pathway?",
    "What is the RefSeq RNA of human EGFR?",
    "Which zebrafish gene is called cdk2?",
    "What is the fruit fly gene p53?",
    "What is the genomic position of human INSR in hg19?",
    "Which human genes have the alias CD3?",
    "Is IL2RA a protein-coding gene?",
    "What is the Ensembl transcript of human CDK4?",
    "Which genes does TP53BP1 refer to?",
    "Show human genes annotated with DNA repair.",
    "What are the pathways of human PSMB9?",
    "What is the name of gene 5699?",
    "What is the symbol of the human gene with HGNC id 1771?",
]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def plain_baseline(bot: Assistant, answers) -> list[dict]:
    """The library's plain greedy generation under the grammar, per answer's first prompt."""
    import llama_cpp

    model = bot.model
    llm = llama_cpp.Llama(
        model_path=str(model.model_path),
        chat_format=model.chat_format,
        lora_path=str(model.lora_path) if model.lora_path else None,
        **{k: v for k, v in model.llama_kwargs.items() if k != "speculative"},
    )
    grammar = llama_cpp.LlamaGrammar.from_string(bot.query_grammar, verbose=False)
    passes = {"n": 0}
    decode = llm._ctx.decode

    def counted(batch):
        passes["n"] += 1
        return decode(batch)

    llm._ctx.decode = counted
    rows = []
    for a in answers:
        llm.reset()
        passes["n"] = 0
        t0 = time.perf_counter()
        out = llm.create_chat_completion(
            messages=a.prompt,
            grammar=grammar,
            temperature=0.0,
            max_tokens=bot.settings.query_max_tokens,
        )
        rows.append(
            {
                "seconds": time.perf_counter() - t0,
                "text": out["choices"][0]["message"]["content"] or "",
                "tokens": out["usage"]["completion_tokens"],
                "prompt_tokens": out["usage"]["prompt_tokens"],
                "passes": passes["n"],
            }
        )
    llm.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default=None, help="Registry name or .gguf path (QA_MODEL).")
    ap.add_argument("--mode", default=None, choices=MODES, help="Mode timed end to end (QA_MODE).")
    ap.add_argument("-n", type=int, default=len(QUESTIONS), help="Questions for the main mode.")
    ap.add_argument("--per-mode", type=int, default=10, help="Questions per other mode (0: skip).")
    ap.add_argument("--n-threads", type=int, default=None)
    ap.add_argument("--no-baseline", action="store_true", help="Skip the plain llama.cpp run.")
    ap.add_argument("--out", default=str(ROOT / "evals" / "results" / "bench_pipeline.json"))
    args = ap.parse_args()

    overrides = {k: v for k, v in {"model": args.model, "n_threads": args.n_threads}.items() if v}
    settings = Settings(**overrides)
    bot = Assistant(settings)
    mode = args.mode or bot.default_mode
    t0 = time.perf_counter()
    bot.load(mode)
    load_s = time.perf_counter() - t0

    build = llama_build.build_info()
    print(
        f"llama-cpp-python {build.get('version', '?')} build {build['variant']} on {build['cpu']}: "
        f"{build['cmake_args']}"
    )
    questions = (QUESTIONS * (1 + args.n // len(QUESTIONS)))[: args.n]
    answers = [bot.answer(q, mode=mode) for q in questions]
    # the drafted decoder (QA_SPECULATIVE) on the same questions, next to the default pipeline
    if settings.speculative:
        drafted = answers
    else:
        other = Assistant(Settings(**overrides, speculative=True)).load(mode)
        drafted = [other.answer(q, mode=mode) for q in questions]
        del other
    plain = None if args.no_baseline else plain_baseline(bot, answers)
    speed = speed_report(bot, drafted, plain)
    totals = [a.timings["total"] for a in answers]
    speed["default"] = {
        "speculative": settings.speculative,
        "total_p50": pct(totals, 50),
        "total_p95": pct(totals, 95),
    }
    if plain:
        speed["default"]["total_p50_over_plain"] = pct(totals, 50) / speed["plain"]["generate_p50"]
        speed["default"]["identical"] = sum(
            p["text"] == a.attempts[0]["raw"] for p, a in zip(plain, answers) if a.attempts
        )
    stages = {s: [a.timings[s] for a in answers] for s in STAGES}
    rows = {
        s: {"p50": pct(v, 50), "p95": pct(v, 95), "mean": statistics.mean(v)}
        for s, v in stages.items()
    }

    per_mode: dict[str, dict] = {}
    for m in MODES:
        sample = answers if m == mode else []
        if m != mode and args.per_mode:
            bot.load(m)
            sample = [bot.answer(q, mode=m) for q in QUESTIONS[: args.per_mode]]
        if not sample:
            continue
        first = [a.attempts[0] for a in sample if a.attempts]
        per_mode[m] = {
            "questions": len(sample),
            "prompt_tokens_p50": pct([f["prompt_tokens"] for f in first], 50),
            "prompt_tokens_max": max((f["prompt_tokens"] for f in first), default=0),
            "completion_tokens_p50": pct([f["completion_tokens"] for f in first], 50),
            "total_s_p50": pct([a.timings["total"] for a in sample], 50),
            "valid": sum(a.valid for a in sample) / len(sample),
            "answered": sum(a.status in ("ok", "ambiguous") for a in sample) / len(sample),
        }

    report = {
        "model": bot.model.name,
        "mode": mode,
        "questions": len(answers),
        "threads": settings.n_threads,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_s": round(load_s, 2),
        "stages": {s: {k: round(v, 4) for k, v in r.items()} for s, r in rows.items()},
        "status": dict(Counter(a.status for a in answers)),
        "retries": sum(len(a.attempts) > 1 for a in answers),
        "modes": per_mode,
        "speed": speed,
        "build": {
            k: build.get(k) for k in ("version", "variant", "cmake_args", "cpu", "cpu_flags")
        },
    }
    print(
        f"{report['model']} · mode {mode} · {len(answers)} questions · {settings.n_threads} threads "
        f"on {os.cpu_count()} CPUs · load {load_s:.1f} s"
    )
    print(f"{'stage':<10} {'p50 s':>8} {'p95 s':>8} {'mean s':>8}")
    for s, r in rows.items():
        print(f"{s:<10} {r['p50']:8.3f} {r['p95']:8.3f} {r['mean']:8.3f}")
    print(f"status: {report['status']}, retries: {report['retries']}")
    print(
        f"{'mode':<10} {'prompt tok p50':>14} {'max':>5} {'compl p50':>9} {'total p50 s':>11} "
        f"{'valid':>6} {'answered':>8}"
    )
    for m, r in per_mode.items():
        print(
            f"{m:<10} {r['prompt_tokens_p50']:14.0f} {r['prompt_tokens_max']:5d} "
            f"{r['completion_tokens_p50']:9.0f} {r['total_s_p50']:11.2f} {r['valid']:6.0%} "
            f"{r['answered']:8.0%}"
        )
    print_speed(speed)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
    print(f"wrote {args.out}")


def speed_report(bot: Assistant, answers, plain: list[dict] | None) -> dict:
    """Forward passes, drafts and grammar time of the pipeline's first generation per question,
    against the plain baseline when given."""
    first = [a.attempts[0] for a in answers if a.attempts]
    spec = [f.get("timings", {}) for f in first]
    tokens = [f["completion_tokens"] for f in first]
    passes = [t.get("spec_forward_passes", 0) for t in spec]
    gen_s = [t.get("spec_decode_s", 0) + t.get("spec_grammar_s", 0) for t in spec]
    report = {
        "speculative": bool(spec and "spec_forward_passes" in spec[0]),
        "tokens_per_query_mean": statistics.mean(tokens) if tokens else 0,
        "passes_per_query_mean": statistics.mean(passes) if passes else 0,
        "passes_per_token": sum(passes) / max(1, sum(tokens)),
        "prefill_tokens_p50": pct([t.get("spec_prefill_tokens", 0) for t in spec], 50),
        "cached_tokens_p50": pct([t.get("spec_cached_tokens", 0) for t in spec], 50),
        "drafted": sum(t.get("spec_drafted", 0) for t in spec),
        "accepted": sum(t.get("spec_accepted", 0) for t in spec),
        "forced": sum(t.get("spec_forced", 0) for t in spec),
        "grammar_share": sum(t.get("spec_grammar_s", 0) for t in spec) / max(1e-9, sum(gen_s)),
        "generate_p50": pct([a.timings["generate"] for a in answers], 50),
        "total_p50": pct([a.timings["total"] for a in answers], 50),
        "total_p95": pct([a.timings["total"] for a in answers], 95),
    }
    report["grammar_overhead"] = report["grammar_share"] / max(1e-9, 1 - report["grammar_share"])
    if plain:
        same = sum(p["text"] == f["raw"] for p, f in zip(plain, first))
        report["plain"] = {
            "generate_p50": pct([p["seconds"] for p in plain], 50),
            "generate_p95": pct([p["seconds"] for p in plain], 95),
            "passes_per_query_mean": statistics.mean(p["passes"] for p in plain),
            "tokens_per_query_mean": statistics.mean(p["tokens"] for p in plain),
            "identical": same,
            "compared": len(plain),
            "differences": [
                {"question": a.question, "pipeline": f["raw"], "plain": p["text"]}
                for a, p, f in zip(answers, plain, first)
                if p["text"] != f["raw"]
            ],
        }
        report["total_p50_over_plain"] = report["total_p50"] / report["plain"]["generate_p50"]
    return report


def print_speed(r: dict) -> None:
    print(
        f"drafted pipeline: {r['tokens_per_query_mean']:.1f} query tokens and "
        f"{r['passes_per_query_mean']:.1f} forward passes per query "
        f"({r['passes_per_token']:.2f} passes/token; target <= 0.6), "
        f"prompt tokens evaluated p50 {r['prefill_tokens_p50']:.0f} (cached {r['cached_tokens_p50']:.0f}), "
        f"drafts {r['accepted']}/{r['drafted']} accepted ({r['forced']} forced by the grammar)"
    )
    print(
        f"grammar: {r['grammar_share']:.1%} of generation time, "
        f"overhead {r['grammar_overhead']:.1%} per token (target < 10%)"
    )
    plain = r.get("plain")
    if plain:
        print(
            f"plain llama.cpp greedy + grammar: generate p50 {plain['generate_p50']:.3f} s, "
            f"p95 {plain['generate_p95']:.3f} s, {plain['passes_per_query_mean']:.1f} passes for "
            f"{plain['tokens_per_query_mean']:.1f} tokens per query; identical outputs "
            f"{plain['identical']}/{plain['compared']}"
        )
        for d in plain["differences"]:
            print(f"  differs: {d['question']!r}: {d['pipeline']!r} vs plain {d['plain']!r}")
        print(
            f"drafted pipeline: end-to-end p50 {r['total_p50']:.3f} s = "
            f"{r['total_p50_over_plain']:.2f} x the plain generation p50"
        )
    d = r.get("default")
    if d:
        kind = "drafted" if d["speculative"] else "one forward pass per token"
        line = (
            f"default pipeline ({kind}): end-to-end p50 {d['total_p50']:.3f} s, "
            f"p95 {d['total_p95']:.3f} s"
        )
        if "total_p50_over_plain" in d:
            line += (
                f" = {d['total_p50_over_plain']:.2f} x the plain generation p50 (target <= 0.6); "
                f"identical outputs {d['identical']}/{r['plain']['compared']}"
            )
        print(line)


if __name__ == "__main__":
    main()
