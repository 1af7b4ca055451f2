#!/usr/bin/env bash
# The full comparison, each run resumable: rerunning this script skips every item already in a
# run folder's responses.jsonl, so it can be stopped (Ctrl-C) and started again.
#
#   evals/run_all.sh                      # everything below, on the test split
#   JOBS=2 evals/run_all.sh               # two runs at a time, one llama.cpp thread each (how the
#                                         # README's table was made on 2 cores)
#   SPLIT=validation evals/run_all.sh     # another split of data/pairs/
#   LIMIT=50 evals/run_all.sh             # the first 50 items of each run only
#   BEST_MODE=rag+icl evals/run_all.sh    # the mode the 1.5B and SmolLM2 runs use (default icl,
#                                         # the base 0.5B's best mode)
#   FT_MODEL=qwen2.5-coder-0.5b-mygene    # the fine-tuned registry entry for the ft modes
#
# 1. qwen2.5-coder-0.5b (the default's base) in zero, rag, icl and rag+icl, with and without
#    grammar;
# 2. the fine-tuned model ($FT_MODEL) in ft and ft+rag, with and without grammar (skipped, with a
#    message, while it is not in models/registry.toml);
# 3. qwen2.5-coder-1.5b and smollm2-135m in $BEST_MODE with the grammar;
# 4. one comparison table across the split's runs: evals/results/comparison.{md,png}; on the full
#    test split it also rewrites the README's evaluation table (a row per run, with its command).
# Run folders: evals/results/<model>-<mode>-<grammar|nogrammar>-<split>/ (see evals/results/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
SPLIT=${SPLIT:-test}
JOBS=${JOBS:-1}
BEST_MODE=${BEST_MODE:-icl}
FT_MODEL=${FT_MODEL:-qwen2.5-coder-0.5b-mygene}
RESULTS=${RESULTS:-evals/results}
EXTRA=()
[[ -n "${LIMIT:-}" ]] && EXTRA+=(--limit "$LIMIT")
[[ $JOBS -gt 1 ]] && export QA_N_THREADS=${QA_N_THREADS:-1} OMP_WAIT_POLICY=PASSIVE

run() {  # run MODEL MODE GRAMMAR(grammar|nogrammar)
  local model=$1 mode=$2 grammar=$3 flag=--grammar
  [[ $grammar == nogrammar ]] && flag=--no-grammar
  local out="$RESULTS/${model}-${mode/+/_}-${grammar}-${SPLIT}"
  [[ $mode == zero ]] && out="$RESULTS/${model}-zero-shot-${grammar}-${SPLIT}"
  echo "== $(date +%T) $model · $mode · $grammar → $out"
  "$PY" evals/eval_lm.py --model "$model" --mode "$mode" "$flag" --split "$SPLIT" \
    --out "$out" "${EXTRA[@]}"
}

RUNS=()  # "MODEL MODE GRAMMAR", in order
for grammar in grammar nogrammar; do
  for mode in zero rag icl rag+icl; do
    RUNS+=("qwen2.5-coder-0.5b $mode $grammar")
  done
done
if "$PY" -c "import sys; from assistant.config import Settings; from assistant.registry import resolve; resolve(sys.argv[1], Settings())" "$FT_MODEL" 2>/dev/null; then
  for grammar in grammar nogrammar; do
    for mode in ft ft+rag; do
      RUNS+=("$FT_MODEL $mode $grammar")
    done
  done
else
  echo "== skipping the ft modes: $FT_MODEL is not in models/registry.toml (fine-tune and register it first)"
fi
RUNS+=("qwen2.5-coder-1.5b $BEST_MODE grammar" "smollm2-135m $BEST_MODE grammar")

worker() {  # worker I: runs I, I+JOBS, I+2*JOBS, ...
  local i
  for ((i = $1; i < ${#RUNS[@]}; i += JOBS)); do
    # shellcheck disable=SC2086  # the spec is three words
    run ${RUNS[$i]}
  done
}

trap 'trap - INT TERM; kill 0' INT TERM  # Ctrl-C stops every worker (resume later)
pids=()
for ((w = 0; w < JOBS; w++)); do
  worker "$w" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
[[ $status -eq 0 ]] || { echo "== a run failed; rerun to resume" >&2; exit 1; }

WRITE=()
[[ $SPLIT == test && -z "${LIMIT:-}" ]] && WRITE=(--write README.md)
"$PY" evals/eval_lm.py --compare "$RESULTS"/*-"$SPLIT"/ "${WRITE[@]}"
