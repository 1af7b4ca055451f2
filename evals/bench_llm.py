"""Benchmark the language model: load time, prompt tokens/s and generation tokens/s.

    python evals/bench_llm.py                      # the default model (QA_MODEL), 2 threads
    python evals/bench_llm.py --model smollm2-135m --runs 5 --n-threads 2

Prompt speed is measured on a cold KV cache (the cache is cleared before each run), generation
speed over the tokens written (wall clock, sampling and grammar included), once without a grammar and once with the query grammar
(grammars/mygene.gbnf), with llama.cpp's own counters (llama_perf_context).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant import llama_build  # noqa: E402
from assistant.config import ROOT, Settings  # noqa: E402
from assistant.llm import get_model  # noqa: E402
from assistant.registry import fetch, load_registry, resolve  # noqa: E402

SYSTEM = (
    "You translate questions about genes into one MyGene.info query line. "
    "Use /v3/query?q=<lucene query>&fields=<fields>&species=<species>&size=<n>. "
    "Useful fields: symbol, name, alias, entrezgene, ensembl.gene, uniprot, refseq, "
    "genomic_pos, map_location, go.BP, go.MF, go.CC, pathway.kegg, pathway.reactome, summary, "
    "type_of_gene, homologene. Species: human, mouse, rat, zebrafish, fruitfly, nematode, pig. "
    "Examples:\n"
    "Q: What is the Entrez gene id of human CDK2?\n"
    "A: /v3/query?q=symbol:CDK2&species=human&fields=symbol,name,entrezgene\n"
    "Q: Which biological processes is TP53 involved in?\n"
    "A: /v3/query?q=symbol:TP53&species=human&fields=symbol,go.BP\n"
    "Q: Where is the human BRCA1 gene located?\n"
    "A: /v3/query?q=symbol:BRCA1&species=human&fields=symbol,genomic_pos,map_location\n"
)
QUESTIONS = [
    "Which Reactome pathways is mouse Akt1 part of?",
    "List the human genes in the KEGG pathway hsa04110.",
    "What is the UniProt accession of zebrafish sox2?",
    "Show the aliases of human CDKN1A.",
    "Find human protein-coding genes annotated with apoptotic process.",
]
FALLBACK_GRAMMAR = r"""root ::= "/v3/query?q=" term ("&" param)*
term ::= [a-zA-Z0-9_.:*" -]+
param ::= ("fields=" | "species=" | "size=") [a-zA-Z0-9_.,]+
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default=None, help="Registry name or .gguf path (default QA_MODEL).")
    ap.add_argument("--runs", type=int, default=3, help="Questions per setting.")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--n-threads", type=int, default=None)
    ap.add_argument("--grammar", default=str(ROOT / "grammars" / "mygene.gbnf"))
    args = ap.parse_args()

    overrides = {"n_threads": args.n_threads} if args.n_threads else {}
    # one token per forward pass: this measures the engine (evals/bench_pipeline.py measures
    # the speculative decoder against it)
    settings = Settings(speculative=False, **overrides)
    build = llama_build.build_info()
    print(
        f"llama-cpp-python {build.get('version', '?')} build {build['variant']} on {build['cpu']}: "
        f"{build['cmake_args']}"
    )
    name = args.model or settings.model
    if not name.startswith("openai"):
        spec = resolve(name, settings)
        if spec.packages:
            fetch(load_registry().get(spec.name), settings, echo=lambda s: None)
    grammar_file = Path(args.grammar)
    grammar = grammar_file.read_text() if grammar_file.is_file() else FALLBACK_GRAMMAR

    t0 = time.perf_counter()
    model = get_model(name, settings)
    llm = model.load()
    load_s = time.perf_counter() - t0
    print(
        f"model {model.name}  threads={settings.n_threads}  n_batch={settings.n_batch}  "
        f"cpus={os.cpu_count()}  {platform.processor() or platform.machine()}"
    )
    print(f"load time              {load_s:6.2f} s")

    for label, g in (("no grammar", None), ("grammar", grammar)):
        p_rates, g_rates, d_rates, p_tokens, outputs = [], [], [], [], []
        model.generate([{"role": "user", "content": "warm up"}], grammar=g, max_tokens=2)
        for q in QUESTIONS[: args.runs]:
            llm.reset()  # cold KV cache: the whole prompt is evaluated
            out = model.generate(
                [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
                grammar=g,
                max_tokens=args.max_tokens,
            )
            t = out.timings
            p_tokens.append(t["prompt_eval_tokens"])
            p_rates.append(t["prompt_eval_tokens"] / max(t["prompt_eval_s"], 1e-9))
            # wall clock after the prompt: decoding plus sampling (grammar checks happen in the
            # sampler, which llama.cpp's eval counter does not include)
            gen_s = max(out.seconds - t["prompt_eval_s"], 1e-9)
            g_rates.append(out.completion_tokens / gen_s)
            d_rates.append(t["eval_tokens"] / max(t["eval_s"], 1e-9))
            outputs.append(out.text.strip().splitlines()[0] if out.text.strip() else "")
        # warm cache: the same system prompt again, only the question is new
        out = model.generate(
            [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTIONS[0]}],
            grammar=g,
            max_tokens=args.max_tokens,
        )
        print(
            f"[{label}] prompt   {statistics.median(p_rates):7.1f} tok/s "
            f"({statistics.median(p_tokens):.0f} tokens, cold cache)"
        )
        print(
            f"[{label}] generate {statistics.median(g_rates):7.1f} tok/s "
            f"(decode alone {statistics.median(d_rates):.1f} tok/s)"
        )
        print(
            f"[{label}] warm-cache request: {out.timings['prompt_eval_tokens']} prompt tokens "
            f"evaluated, {out.seconds:.2f} s total"
        )
        print(f"[{label}] e.g. {outputs[0][:100]!r}")


if __name__ == "__main__":
    main()
