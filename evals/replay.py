"""Replay a development-set run without the model: the model's recorded outputs go through
today's pipeline (parse, validation, critic, execution, recovery, summary) and are scored again.

A change to the critic, the recovery or the store is judged in seconds instead of a model run of
half an hour, on the very outputs the model wrote::

    python evals/replay.py evals/results/holdout3-qwen2.5-coder-0.5b-mygene-v3-ft-final
    python evals/replay.py RUN --out /tmp/replayed --diff    # which items changed, and how

Each row's first generation is the model's first query (``model_query`` when the critic sent
it back and took the second one, else ``raw_output``); a second generation, when the critic
asks for one, replays the second output the run recorded (or the first again when the run kept
the first). So a replay is exact for everything after generation, and for the retry it can only
reproduce what the model answered then — a rule that now asks again where the run did not gets
the first output back. The figures of a replay are for development; the results that count are
model runs (``evals/eval_lm.py``), which the README cites.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.errors import ConfigError  # noqa: E402
from assistant.llm import Generation, LanguageModel  # noqa: E402
from evals.eval_lm import (  # noqa: E402
    DEVSET_SPLITS,
    answer_markdown,
    answer_summary,
    evaluate_dev_item,
    load_devset,
    read_responses,
)


class ReplayModel(LanguageModel):
    """A :class:`LanguageModel` that answers with recorded outputs, in turn: :meth:`cue` sets
    the outputs for the next question; a call past the last repeats the last."""

    name = "replay"

    def __init__(self) -> None:
        self._outputs: list[str] = []
        self.calls = 0

    def cue(self, outputs: list[str]) -> None:
        self._outputs, self.calls = list(outputs), 0

    def generate(self, messages, grammar=None, max_tokens=None, stop=None, stream=False, **kw):
        if not self._outputs:
            raise ConfigError("the replay model has no recorded output cued")
        text = self._outputs[min(self.calls, len(self._outputs) - 1)]
        self.calls += 1
        if stream:
            raise ConfigError("the replay model does not stream")
        return Generation(text=text)


def recorded_outputs(row: dict[str, Any]) -> list[str]:
    """The model's generations for ``row`` in order: the first, then the second the critic's
    retry took (when it took one)."""
    raw = row.get("raw_output") or ""
    retried = any(
        c.startswith("terms:") and "the model wrote" in c for c in row.get("critic") or []
    )
    if retried and row.get("model_query"):
        return [row["model_query"], raw]
    return [raw]


def find_devset(run_dir: Path) -> Path:
    """The development set a run folder was made on (its run.json ``source``)."""
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    source = ROOT / info["source"]
    if not source.exists():
        raise ConfigError(f"{run_dir}: its development set {source} is missing")
    return source


def replay(
    run_dir: Path, devset: Path | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Rows of ``run_dir`` replayed through today's pipeline on the embedded store of
    ``settings`` and scored (one per recorded row whose item is still in the set)."""
    from assistant.pipeline import Assistant

    items = {i.id: i for i in load_devset(devset or find_devset(run_dir))}
    info = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    model = ReplayModel()
    base = settings or Settings()
    bot = Assistant(
        base.model_copy(update={"backend": "embedded", "llm_summary": False}), model=model
    )
    out = []
    for row in read_responses(run_dir / "responses.jsonl"):
        item = items.get(row["id"])
        if item is None:
            continue
        model.cue(recorded_outputs(row))
        out.append(evaluate_dev_item(bot, item, info.get("mode", "ft")))
    return out


def diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """One line per item whose answer score changed."""
    old = {r["id"]: r for r in before}
    lines = []
    for r in after:
        was = old.get(r["id"], {}).get("scores", {}).get("answer")
        now = r["scores"]["answer"]
        if bool(was) != bool(now):
            mark = "+" if now else "-"
            lines.append(f"{mark} {r['id']}: {r['question'][:90]}\n    sent {r.get('sent')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders of evals/eval_lm.py --devset")
    p.add_argument("--split", choices=sorted(DEVSET_SPLITS), help="score against this set")
    p.add_argument("--out", type=Path, help="write the replayed responses.jsonl here")
    p.add_argument("--diff", action="store_true", help="list the items whose score changed")
    args = p.parse_args(argv)
    for run_dir in args.runs:
        devset = DEVSET_SPLITS[args.split] if args.split else None
        rows = replay(run_dir, devset)
        s = answer_summary(rows)
        before = answer_summary(read_responses(run_dir / "responses.jsonl"))
        print(
            f"{run_dir.name}: answer {s['accuracy']:.1%} replayed "
            f"(recorded {before['accuracy']:.1%}, n={s['n']})"
        )
        if args.diff:
            print("\n".join(diff(read_responses(run_dir / "responses.jsonl"), rows)))
        if args.out:
            target = args.out / run_dir.name if len(args.runs) > 1 else args.out
            target.mkdir(parents=True, exist_ok=True)
            with (target / "responses.jsonl").open("w", encoding="utf-8") as fh:
                for r in rows:
                    fh.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
            (target / "summary.md").write_text("\n".join(answer_markdown(s)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
