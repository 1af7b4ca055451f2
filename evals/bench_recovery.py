"""What the pipeline's corrections (assistant/recover.py) do to the answers of an evaluation run.

    python evals/bench_recovery.py                                     # the default model's ft run
    python evals/bench_recovery.py evals/results/qwen2.5-coder-0.5b-icl-grammar-test
    python evals/bench_recovery.py --critic RUN...      # the query critic first, as the pipeline

``--critic`` runs the query critic (assistant/critic.py) on each stored output before it is
executed, as the pipeline does (its send-back to the model is left out: there is no model here),
so fixed/broken count what the critic and the corrections together change.

The evaluation scores the model's own query; the page and `ask` go one step further when that
query finds nothing: they try a term copied wrong from the question, the taxid the question names,
then the same terms in all fields (``recover``). This replays that step on the stored outputs of
run folders, without the model, and prints execution accuracy (same total and top hits as the
reference, on the embedded store) before and after, with how many answers it fixed and broke
(a correction can only break an answer whose reference also finds nothing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python evals/...`

from assistant import metrics  # noqa: E402
from assistant.backends import BackendError, get_backend  # noqa: E402
from assistant.config import ROOT, Settings  # noqa: E402
from assistant.critic import critique  # noqa: E402
from assistant.errors import QueryError  # noqa: E402
from assistant.query import parse_query  # noqa: E402
from assistant.recover import recover  # noqa: E402

DEFAULT_RUN = ROOT / "evals/results/qwen2.5-coder-0.5b-mygene-ft-grammar-test"


def same_hits(result, ref) -> bool:
    """Execution accuracy: the same total and top hit ids as the reference's result."""
    return metrics.execution_match(
        result.total, metrics.hit_ids(result.hits), ref.total, metrics.hit_ids(ref.hits)
    )


def replay(
    backend, rows: list[dict], critic: bool = False, broken: list | None = None
) -> dict[str, int]:
    """Counts over ``rows`` (responses.jsonl objects): scored, criticised (``critic``: the
    critic changed the query), empty (the valid query found nothing or left POST terms not
    found), corrected, execution before (the model's own query) and after, fixed, broken.
    ``broken`` (a list) gets ``(question, model query, query run)`` of each broken row."""

    def run(query):
        try:
            return backend.query(query)
        except (QueryError, BackendError):
            return None

    keys = ("n", "criticised", "empty", "corrected", "before", "after", "fixed", "broken")
    counts = dict.fromkeys(keys, 0)
    for row in rows:
        if "error" in row or not row.get("scores", {}).get("valid"):
            continue  # an invalid query is never run (nor corrected)
        try:
            query = parse_query(row["output"])
            ref = backend.query(parse_query(row["reference"]))
        except (QueryError, BackendError):
            continue
        result = run(query)
        if result is None:
            continue
        counts["n"] += 1
        before = same_hits(result, ref)
        if critic:
            checked = critique(row["question"], query, run)
            if checked.changed:
                counts["criticised"] += 1
                query, result = checked.query, run(checked.query)
                if result is None:
                    counts["broken"] += before
                    if before and broken is not None:
                        broken.append((row["question"], row["output"], query.to_text()))
                    continue
        fix = recover(row["question"], query, result, run)
        after = same_hits(fix.result, ref) if fix else same_hits(result, ref)
        counts["empty"] += result.total == 0 or bool(query.method == "POST" and result.notfound)
        counts["corrected"] += fix is not None
        counts["before"] += before
        counts["after"] += after
        counts["fixed"] += after and not before
        counts["broken"] += before and not after
        if before and not after and broken is not None:
            final = fix.query if fix else query
            broken.append((row["question"], row["output"], final.to_text()))
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="*", type=Path, default=[DEFAULT_RUN], help="Run folders.")
    ap.add_argument("--critic", action="store_true", help="Run the query critic first.")
    ap.add_argument("--broken", action="store_true", help="List the rows the replay breaks.")
    args = ap.parse_args(argv)
    from eval_lm import read_responses  # noqa: PLC0415 — beside this script

    backend = get_backend(Settings(backend="embedded"))
    print(
        "| run | n | criticised | found nothing | corrected | execution before | after | "
        "fixed | broken |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    broken: list = []
    for run_dir in args.runs:
        rows = read_responses(Path(run_dir) / "responses.jsonl")
        c = replay(backend, rows, args.critic, broken)
        before, after = (f"{c[k] / c['n']:.1%}" if c["n"] else "–" for k in ("before", "after"))
        critic = c["criticised"] if args.critic else "–"
        print(
            f"| {Path(run_dir).name} | {c['n']} | {critic} | {c['empty']} | {c['corrected']} | "
            f"{before} | {after} | {c['fixed']} | {c['broken']} |"
        )
    if args.broken:
        for question, before, after in broken:
            print(f"- {question}\n    model: {before}\n    ran:   {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
