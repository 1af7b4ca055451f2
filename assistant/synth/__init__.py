"""The shipped training set: synthetic question → query pairs over real genes of the store.

``python -m assistant pairs synth [--limit N] [--seed 0] [--out data/pairs] [--raft]`` draws genes
from the embedded store (:mod:`.genes`), writes questions in several styles for many intents
(:mod:`.gene_intents`, :mod:`.set_intents`), mixes in the real pairs (:mod:`.seeds`), keeps only
queries that parse, validate, pass the grammar and return the gene they are about on the store,
splits by signature (:func:`assistant.pairs.split_pairs`) and saves the set
(:func:`assistant.pairs.save_pairs`) with a README generated from its statistics.

>>> result = generate(Settings(), limit=50, seed=0)             # doctest: +SKIP
>>> sum(len(v) for v in result.splits.values()), result.dropped  # doctest: +SKIP
(50, {'no hits': 3, ...})
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..config import Settings, add_settings_arguments, settings_from_args
from ..errors import AssistantError, ConfigError, QueryError
from ..pairs import Pair, load_pairs, pair_stats, save_pairs, signature, split_pairs
from ..query import Query, canonical, parse_query, validate
from . import gene_intents, set_intents, text_intents, vocab, voice_intents
from .base import Ctx, Draft
from .seeds import guess_intent, held_out_queries, real_pairs

log = logging.getLogger(__name__)

BUILDERS = {**gene_intents.BUILDERS, **set_intents.BUILDERS, **text_intents.BUILDERS}
DEFAULT_TOTAL = 6000
VOICE_SHARE = 0.4
"""Train-only pairs of :mod:`.voice_intents` added per template pair (2,400 for the default
6,000): questions inside the sentences people write them in."""
DEFAULT_SPLIT_SIZES = {"validation": 350, "test": 350}
MAX_QUESTIONS_PER_QUERY = 3
CHECK_TIMEOUT_MS = 30_000
"""Time budget of one checked query (the few slow shapes, per-species type facets, take 1-2 s)."""


@dataclass
class Generation:
    """What one generation produced: the splits, why drafts were dropped, and timings."""

    splits: dict[str, list[Pair]]
    dropped: Counter = field(default_factory=Counter)
    drafts: int = 0
    seconds: float = 0.0
    real_kept: int = 0
    real_total: int = 0


# --- checking one draft ---------------------------------------------------------------------


class Checker:
    """Parse, validate, grammar-check and execute a query; say why it is rejected."""

    def __init__(self, settings: Settings, store=None):
        from ..backends import EmbeddedBackend
        from ..store.engine import GeneStore

        # A generous budget, so that which drafts are kept never depends on the machine's load.
        self.store = store or GeneStore.open(settings.store_path, CHECK_TIMEOUT_MS)
        self.backend = EmbeddedBackend(settings, self.store)
        self.accepts = _grammar_checker()

    def check(self, draft: Draft) -> tuple[str | None, str | None]:
        """``(canonical query, None)`` or ``(None, reason)``."""
        try:
            query = parse_query(draft.query)
        except QueryError:
            return None, "does not parse"
        if draft.style == "lowercase":
            query = _lowercase_terms(query)
        errors = validate(query)
        if errors:
            return None, "invalid: " + errors[0].split("—")[0].split("'")[0].strip()
        text = canonical(query)
        if self.accepts is not None and not self.accepts(text):
            return None, "rejected by the grammar"
        try:
            result = self.backend.query(parse_query(text))
        except QueryError as exc:
            return None, f"store error: {str(exc)[:40]}"
        if result.notfound:
            return None, "a POST term or id found nothing"
        if result.total < draft.min_total:
            return None, "no hits" if result.total == 0 else "too few hits"
        if draft.expect:
            got = {str(h.get("_id")) for h in result.hits}
            if not set(draft.expect) <= got:
                return None, "the gene asked about is not in the hits"
        if draft.expect_fields:
            hits = [h for h in result.hits if not draft.expect or str(h.get("_id")) in draft.expect]
            if not any(all(_has(h, f) for f in draft.expect_fields) for h in hits):
                return None, "the hits lack the field asked for"
        return text, None


def _has(hit: dict, path: str) -> bool:
    from .genes import get

    return get(hit, path) not in (None, [], {}, "")


def _lowercase_terms(query: Query) -> Query:
    """POST terms, ids and /gene ids as a lowercase question writes them (GET q values are
    lowercased by the canonical form already)."""
    params = dict(query.params)
    if "ids" in params:
        params["ids"] = params["ids"].lower()
    q = query.q.lower() if query.method == "POST" and query.q else query.q
    gene_id = query.gene_id.lower() if query.gene_id else None
    return replace(query, q=q, gene_id=gene_id, params=params)


def _grammar_checker():
    """``accepts(line) -> bool`` for grammars/mygene.gbnf (llguidance), or None when missing."""
    try:
        import llguidance
    except ImportError:
        log.warning("llguidance is not installed; queries are not checked against the grammar")
        return None
    from ..grammar import load_grammar

    class _Bytes:
        eos_token_id = 256
        bos_token_id = None
        tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]

        def __call__(self, text):
            return list(text if isinstance(text, bytes) else text.encode())

    tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(_Bytes()))
    compiled = llguidance.grammar_from("gbnf", load_grammar())

    def accepts(line: str) -> bool:
        matcher = llguidance.LLMatcher(tokenizer, compiled, log_level=0)
        return bool(matcher.consume_tokens(list(line.encode())) and matcher.is_accepting())

    return accepts


# --- generation -------------------------------------------------------------------------------


def _finish(pair: Pair, text: str) -> Pair:
    pair.query = text
    pair.signature = signature(parse_query(text))
    return pair


def generate(
    settings: Settings,
    limit: int | None = None,
    seed: int = 0,
    split_sizes: dict[str, int] | None = None,
    store=None,
    progress: bool = False,
    voices: int | None = None,
) -> Generation:
    """Generate the pair set: ``limit`` pairs (default :data:`DEFAULT_TOTAL`), split with
    ``split_sizes`` pairs in validation and test (default 350 each, scaled down for small
    limits), then ``voices`` pairs of :mod:`.voice_intents` (default ``VOICE_SHARE`` × limit)
    added to train only, none sharing a query or signature with validation or test. The voice
    pairs come from a random stream of their own, so the template pairs and the splits are the
    same with or without them."""
    from .genes import GeneSampler

    t0 = time.perf_counter()
    total = limit or DEFAULT_TOTAL
    checker = Checker(settings, store)
    sampler = GeneSampler(checker.store, seed)
    rng = random.Random(seed)
    dropped: Counter = Counter()
    pairs: list[Pair] = []
    seen_questions: set[str] = set()
    per_query: Counter = Counter()

    def keep(pair: Pair, into: list[Pair] = pairs, per_query_max=MAX_QUESTIONS_PER_QUERY) -> bool:
        key = " ".join(pair.question.lower().split())
        if key in seen_questions:
            dropped["duplicate question"] += 1
            return False
        if per_query[pair.query] >= per_query_max:
            dropped["query already has enough questions"] += 1
            return False
        seen_questions.add(key)
        per_query[pair.query] += 1
        into.append(pair)
        return True

    held_out = held_out_queries(settings.seed_dir)
    real = real_pairs()
    real_kept = 0
    for pair in real:
        if real_kept >= max(1, total // 4):
            dropped["real: over a quarter of --limit"] += 1
            continue
        text, reason = checker.check(Draft(pair.question, pair.query, "", pair.style))
        if text is None:
            dropped[f"real: {reason}"] += 1
            continue
        if text in held_out:
            dropped["real: a query of the seed query log (held out)"] += 1
            continue
        pair.intent = pair.intent or guess_intent(text)
        real_kept += keep(_finish(pair, text))

    drafts = 0
    bar = _progress(total, progress)
    while len(pairs) < total and drafts < total * 8:
        drafts += 1
        drawn = _draw(BUILDERS, rng, lambda: vocab.pick_style(rng), sampler, checker, held_out)
        if isinstance(drawn, str):
            dropped[drawn] += 1
            continue
        draft, text = drawn
        pair = Pair(
            draft.question,
            text,
            id=f"syn-{len(pairs):06d}",
            intent=draft.intent,
            style=draft.style,
            source="synthetic",
        )
        if keep(_finish(pair, text)) and bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    sizes = dict(split_sizes or DEFAULT_SPLIT_SIZES)
    n = len(pairs)
    scale = min(1.0, n / DEFAULT_TOTAL)
    fractions = {k: max(1, round(v * scale)) / n for k, v in sizes.items()} if n else {}
    fractions["train"] = max(0.0, 1.0 - sum(fractions.values()))
    splits = split_pairs(pairs, {k: fractions[k] for k in ("train", "validation", "test")}, seed)
    for p in pairs:
        p.extra.pop("pin", None)

    want = round(total * VOICE_SHARE) if voices is None else voices
    added: list[Pair] = []
    voice_drafts = 0
    if want > 0:
        kept_out = {p.query for s in splits if s != "train" for p in splits[s]}
        kept_out |= {p.signature for s in splits if s != "train" for p in splits[s]}
        vrng = random.Random(f"voices-{seed}")
        bar = _progress(want, progress)
        while len(added) < want and voice_drafts < want * 8:
            voice_drafts += 1
            drawn = _draw(
                voice_intents.BUILDERS, vrng, lambda: "neutral", sampler, checker, held_out
            )
            if isinstance(drawn, str):
                dropped[f"voice: {drawn}"] += 1
                continue
            draft, text = drawn
            pair = _finish(
                Pair(
                    draft.question,
                    text,
                    id=f"voice-{len(added):06d}",
                    intent=draft.intent,
                    style=f"voice-{draft.voice or draft.style}",
                    source="synthetic",
                ),
                text,
            )
            if pair.query in kept_out or pair.signature in kept_out:
                dropped["voice: query or signature of validation/test"] += 1
                continue
            # a voice pair may repeat a template pair's query: the wording is what it adds
            if keep(pair, added, MAX_QUESTIONS_PER_QUERY + 2) and bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        splits.setdefault("train", []).extend(added)
    return Generation(
        splits=splits,
        dropped=dropped,
        drafts=drafts + voice_drafts,
        seconds=time.perf_counter() - t0,
        real_kept=real_kept,
        real_total=len(real),
    )


def _draw(builders, rng, style, sampler, checker, held_out) -> tuple[Draft, str] | str:
    """One draft of a builder drawn by weight, checked: ``(draft, canonical query)``, or why it
    was dropped."""
    names = list(builders)
    name = rng.choices(names, weights=[builders[n][1] for n in names])[0]
    ctx = Ctx(random.Random(rng.getrandbits(64)), style(), sampler)
    try:
        draft = builders[name][0](ctx)
    except AssistantError as exc:
        return f"builder error: {type(exc).__name__}"
    if draft is None:
        return "no suitable gene or value"
    text, reason = checker.check(draft)
    if text is None:
        return reason
    if text in held_out:
        return "a query of the seed query log (held out)"
    return draft, text


def _progress(total: int, show: bool):
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="pairs", unit="pair")


def write_raft(splits: dict[str, list[Pair]], folder: Path, k: int = 3, seed: int = 0) -> Path:
    """train_raft.jsonl: ``{"id", "context_fields"}`` per train pair (expand the ids with
    :func:`assistant.synth.raft.retrieved_for`)."""
    from .raft import raft_field_ids

    path = Path(folder) / "train_raft.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for p in splits.get("train", []):
            fh.write(json.dumps({"id": p.id, "context_fields": raft_field_ids(p, k, seed)}) + "\n")
    return path


# --- command line ------------------------------------------------------------------------------


def add_commands(sub) -> None:
    p = sub.add_parser("pairs", help="Build or describe the training pairs (data/pairs/).")
    psub = p.add_subparsers(dest="pairs_command", required=True)
    s = psub.add_parser("synth", help="Generate the synthetic pair set from the gene store.")
    s.add_argument(
        "--limit", type=int, default=None, help=f"Pairs to make (default {DEFAULT_TOTAL})."
    )
    s.add_argument("--seed", type=int, default=0, help="Random seed (same seed, same set).")
    s.add_argument("--out", type=Path, default=None, help="Output folder (default: pairs_dir).")
    s.add_argument(
        "--raft", action="store_true", help="Also write train_raft.jsonl (RAFT contexts)."
    )
    s.add_argument(
        "--voices",
        type=int,
        default=None,
        help=f"Train-only voice pairs (default {VOICE_SHARE:g} × --limit; 0 for none).",
    )
    s.add_argument("--raft-k", type=int, default=3, help="Distractor fields per RAFT context.")
    s.add_argument("--no-hf", action="store_true", help="Skip the datasets folder (hf/).")
    s.add_argument("--no-readme", action="store_true", help="Do not rewrite <out>/README.md.")
    add_settings_arguments(s, ["store_path", "pairs_dir"])
    s.set_defaults(func=_cmd_synth)
    t = psub.add_parser("stats", help="Print the statistics of a pair folder.")
    t.add_argument("--folder", type=Path, default=None, help="Pair folder (default: pairs_dir).")
    t.add_argument("--markdown", action="store_true", help="Print the README's tables.")
    t.set_defaults(func=_cmd_stats)


def _cmd_synth(args) -> int:
    from .report import write_readme

    settings = settings_from_args(args)
    out = args.out or settings.pairs_dir
    if args.limit is not None and args.limit < 1:
        raise ConfigError("--limit must be at least 1")
    result = generate(settings, args.limit, args.seed, progress=True, voices=args.voices)
    extra = {
        "generation": {
            "command": "python -m assistant pairs synth"
            + (f" --limit {args.limit}" if args.limit else "")
            + f" --seed {args.seed}"
            + (f" --voices {args.voices}" if args.voices is not None else "")
            + (" --raft" if args.raft else ""),
            "seed": args.seed,
            "drafts": result.drafts,
            "dropped": dict(result.dropped.most_common()),
            "real_pairs": {"kept": result.real_kept, "total": result.real_total},
            "seconds": round(result.seconds, 1),
        }
    }
    stats = save_pairs(result.splits, out, hf=not args.no_hf, extra_stats=extra)
    if args.raft:
        write_raft(result.splits, out, args.raft_k, args.seed)
    if not args.no_readme:
        write_readme(out, stats)
    print(
        f"{stats['total']} pairs ({', '.join(f'{k} {v}' for k, v in stats['splits'].items())}) "
        f"from {result.drafts} drafts in {result.seconds:.0f} s → {out}; "
        f"leaks: {stats['leaks']}"
    )
    return 0


def _cmd_stats(args) -> int:
    from .report import markdown_tables

    folder = args.folder or Settings().pairs_dir
    stats_path = Path(folder) / "stats.json"
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    else:
        stats = pair_stats({s: load_pairs(folder, s) for s in ("train", "validation", "test")})
    if args.markdown:
        print(markdown_tables(stats))
    else:
        print(json.dumps({k: v for k, v in stats.items() if k != "by_split"}, indent=2))
    return 0


__all__ = ["generate", "Generation", "Checker", "write_raft", "add_commands"]
