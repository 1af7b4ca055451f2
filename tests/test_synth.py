"""The synthetic pair generator, on the tiny real store; and checks of the shipped data/pairs/."""

from __future__ import annotations

import json
import random

import pytest

from assistant.cli import main
from assistant.config import ROOT, Settings
from assistant.pairs import leaks, load_pairs, signature
from assistant.query import canonical, parse_query, validate
from assistant.synth import VOICE_SHARE, Checker, generate, vocab
from assistant.synth.base import Draft
from assistant.synth.raft import query_fields, raft_context, raft_field_ids

LIMIT = 150


@pytest.fixture(scope="module")
def generated(tiny_settings, tiny_store_path):
    return generate(tiny_settings, limit=LIMIT, seed=0)


def _all(result):
    return [p for ps in result.splits.values() for p in ps]


def test_every_pair_is_canonical_valid_and_has_hits(generated, tiny_settings, tiny_store):
    pairs = _all(generated)
    voices = [p for p in pairs if p.id.startswith("voice-")]
    assert len(pairs) - len(voices) == LIMIT
    assert len(voices) == round(LIMIT * VOICE_SHARE)
    checker = Checker(tiny_settings, tiny_store)
    for p in pairs:
        query = parse_query(p.query)
        assert validate(query) == [], p.query
        assert canonical(query) == p.query
        assert p.signature == signature(query)
        assert checker.check(Draft(p.question, p.query, p.intent, p.style)) == (p.query, None)
        assert p.question.strip() and p.intent and p.style and p.source
    assert {p.source for p in pairs} >= {"synthetic", "docs"}
    assert len({p.id for p in pairs}) == len(pairs)


def test_no_leakage_between_splits(generated):
    assert leaks(generated.splits) == {"query": [], "signature": []}
    sizes = {k: len(v) for k, v in generated.splits.items()}
    assert sizes["test"] >= 1 and sizes["validation"] >= 1
    assert sizes["train"] > sizes["test"] + sizes["validation"]
    # pairs a prompt shows (example_pairs.jsonl, zero-shot examples) stay in train
    pinned = [p for p in _all(generated) if p.id.startswith(("docs-", "prompt-"))]
    assert pinned and {p.split for p in pinned} == {"train"}


def test_same_seed_same_set_and_other_seed_differs(generated, tiny_settings):
    again = generate(tiny_settings, limit=LIMIT, seed=0)
    key = lambda r: [(p.id, p.question, p.query, p.split) for p in _all(r)]  # noqa: E731
    assert key(again) == key(generated)
    other = generate(tiny_settings, limit=LIMIT, seed=1)
    assert key(other) != key(generated)


def test_intents_and_styles_covered(generated):
    intents = {p.intent for p in _all(generated)}
    expected = {
        "symbol_lookup", "id_conversion", "id_to_gene", "alias_to_symbol", "position", "go",
        "genes_by_go", "genes_by_pathway", "interval", "wildcard", "boolean", "batch",
        "gene_record", "counts_facets", "gene_type",
    }  # fmt: skip
    assert expected <= intents, expected - intents
    assert set(vocab.STYLES) <= {p.style for p in _all(generated)}
    endpoints = {
        parse_query(p.query).method + parse_query(p.query).endpoint for p in _all(generated)
    }
    assert {"GETquery", "POSTquery", "GETgene"} <= endpoints


def test_wording_decides_species(generated):
    """A query carries species= only when the question names a species."""
    names = {
        w.lower() for words in vocab.SPECIES_WORDS.values() for ws in words.values() for w in ws
    }
    names |= {"human", "mouse", "rat", "zebrafish", "fly", "worm", "pig", "taxid"}
    names.add("patient")  # a clinician's patient is human (voice_intents.alias_in_context)
    for p in _all(generated):
        if p.source != "synthetic":
            continue
        species = parse_query(p.query).params.get("species")
        question = p.question.lower()
        if species:
            assert any(n in question for n in names), (p.question, p.query)
        elif "facets=taxid" not in p.query:
            assert "taxid" not in question and " in human" not in question, (p.question, p.query)


def test_lowercase_style_lowercases_post_terms(generated):
    for p in _all(generated):
        q = parse_query(p.query)
        if p.style == "lowercase" and q.method == "POST":
            assert (q.q or q.params.get("ids", "")) == (q.q or q.params.get("ids", "")).lower()


def test_misspell_leaves_symbols_and_slots_alone():
    rng = random.Random(3)
    for _ in range(50):
        text = vocab.misspell(
            "Which biological processes is {g} involved in at CDK2 GO:0006915?", rng
        )
        assert "{g}" in text and "CDK2" in text and "GO:0006915" in text
    assert vocab.misspell("Which biological processes is {g} involved in?", random.Random(0)) != (
        "Which biological processes is {g} involved in?"
    )


def test_checker_rejects_bad_drafts(tiny_settings, tiny_store):
    checker = Checker(tiny_settings, tiny_store)
    bad = {
        "/v3/query?q=symbol:CDK2&fields=unipro": "invalid",
        "/v3/query?q=symbol:NOSUCHGENE12": "no hits",
        "what genes does TP53 regulate?": "does not parse",
    }
    for text, reason in bad.items():
        got, why = checker.check(Draft("q", text, "x", "neutral"))
        assert got is None and why.startswith(reason), (text, why)
    got, why = checker.check(
        Draft("q", "/v3/query?q=symbol:CDK2&species=human", "x", "neutral", expect=["999999"])
    )
    assert got is None and "not in the hits" in why


def test_raft_context_has_the_query_fields_and_distractors():
    from assistant.pairs import Pair

    pair = Pair(
        "GO processes of human CDK2?", "/v3/query?q=symbol:cdk2&fields=go.BP,symbol&species=human"
    )
    assert query_fields(pair.parsed()) == ["go.BP", "symbol"]
    ids = raft_field_ids(pair, k=3, seed=0)
    assert {"go.BP", "symbol"} <= set(ids) and len(ids) == 5
    assert ids == raft_field_ids(pair, k=3, seed=0)
    ctx = raft_context(pair, k=3)
    assert [f["id"] for f in ctx.fields] == ids and all(f["text"] for f in ctx.fields)
    interval = Pair("genes in chr1:1-2", "/v3/query?q=chr1:1000-2000&species=human")
    assert "genomic_pos" in query_fields(interval.parsed())


def test_cli_synth_and_stats(tmp_path, tiny_store_path, capsys):
    out = tmp_path / "pairs"
    rc = main(
        ["pairs", "synth", "--limit", "40", "--seed", "2", "--voices", "5", "--out", str(out),
         "--raft", "--store-path", str(tiny_store_path)]
    )  # fmt: skip
    assert rc == 0
    assert "45 pairs" in capsys.readouterr().out
    splits = {s: load_pairs(out, s) for s in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) == 45
    assert sum(p.id.startswith("voice-") for p in splits["train"]) == 5
    stats = json.loads((out / "stats.json").read_text())
    assert stats["total"] == 45 and stats["leaks"] == {"query": 0, "signature": 0}
    assert stats["generation"]["seed"] == 2
    assert "--voices 5" in stats["generation"]["command"]
    readme = (out / "README.md").read_text()
    assert "| intent |" in readme and "never used for training" in readme
    raft = [json.loads(line) for line in (out / "train_raft.jsonl").read_text().splitlines()]
    assert [r["id"] for r in raft] == [p.id for p in splits["train"]]
    from datasets import load_from_disk

    assert load_from_disk(str(out / "hf"))["train"].num_rows == len(splits["train"])
    assert main(["pairs", "stats", "--folder", str(out), "--markdown"]) == 0
    assert "| split | pairs |" in capsys.readouterr().out
    assert main(["pairs", "synth", "--limit", "0", "--out", str(out)]) == 2


# --- the shipped set --------------------------------------------------------------------------

SHIPPED = ROOT / "data" / "pairs"


@pytest.mark.skipif(not (SHIPPED / "test.jsonl").is_file(), reason="data/pairs not generated")
def test_shipped_pairs_are_split_without_leakage_and_canonical():
    splits = {s: load_pairs(SHIPPED, s) for s in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) >= 5000
    assert 250 <= len(splits["test"]) <= 400 and 250 <= len(splits["validation"]) <= 400
    assert leaks(splits) == {"query": [], "signature": []}
    for pairs in splits.values():
        for p in pairs[:: max(1, len(pairs) // 300)]:
            assert canonical(parse_query(p.query)) == p.query
            assert validate(parse_query(p.query)) == []


def test_retrieval_indexes_the_train_split_only():
    from assistant.retrieval import Sources

    pairs = Sources.from_settings(Settings()).pairs
    names = {p.name for p in pairs}
    assert "train.jsonl" in names and not names & {"test.jsonl", "validation.jsonl"}


def test_shipped_pairs_hold_out_the_seed_query_log():
    """datagen's round trip is measured on the seed query log: none of its queries is trained on."""
    from assistant.synth.seeds import held_out_queries

    held_out = held_out_queries(Settings().seed_dir)
    if not held_out:
        pytest.skip("the seed query log (../shared/data/seed) is not beside the checkout")
    shipped = {p.query for s in ("train", "validation", "test") for p in load_pairs(SHIPPED, s)}
    assert not held_out & shipped, sorted(held_out & shipped)[:5]


def test_free_text_and_pattern_builders_write_the_shapes_logs_hold(tiny_settings, tiny_store):
    """``?`` and inner ``*`` wildcards, searches with no field (with the fields asked for),
    parenthesized AND/OR of words and quoted phrases: each builder's drafts pass the checker on
    the tiny store, and together they write every shape."""
    from assistant.synth.base import Ctx
    from assistant.synth.genes import GeneSampler
    from assistant.synth.text_intents import BUILDERS

    checker = Checker(tiny_settings, tiny_store)
    sampler = GeneSampler(tiny_store, 0)
    rng = random.Random(0)
    kept: dict[str, list[str]] = {name: [] for name in BUILDERS}
    for name, (build, _) in BUILDERS.items():
        for _ in range(200 if name == "word_boolean" else 60):
            draft = build(Ctx(random.Random(rng.getrandbits(64)), "neutral", sampler))
            if draft is None:
                continue
            text, reason = checker.check(draft)
            if text is not None:
                kept[name].append(parse_query(text).q)
    assert all(kept.values()), {k: len(v) for k, v in kept.items()}
    qs = [q for v in kept.values() for q in v]
    assert any(q.endswith("?") for q in qs)
    assert any("*" in q.strip("*") for q in qs if ":" not in q)  # inner wildcard: il*r
    assert any("(" in q and " OR " in q and " AND " in q for q in qs)
    assert any(q.startswith('"') and " NOT " in q for q in qs)
    assert any(":" not in q and "*" not in q and "?" not in q for q in kept["free_text_gene"])


def test_voice_pairs_are_train_only_and_leave_the_splits_alone(generated, tiny_settings):
    """The voice pairs are added to train only, from their own random stream: with none, the
    template pairs and every split are the same; none shares a query or a signature with
    validation or test."""
    plain = generate(tiny_settings, limit=LIMIT, seed=0, voices=0)
    key = lambda ps: [(p.id, p.question, p.query) for p in ps]  # noqa: E731
    for split in ("validation", "test"):
        assert key(plain.splits[split]) == key(generated.splits[split])
    templates = [p for p in generated.splits["train"] if not p.id.startswith("voice-")]
    assert key(templates) == key(plain.splits["train"])
    voices = [p for p in _all(generated) if p.id.startswith("voice-")]
    assert voices and {p.split for p in voices} == {"train"}
    assert all(p.style.startswith("voice-") for p in voices)
    held = {p.query for s in ("validation", "test") for p in generated.splits[s]}
    held |= {p.signature for s in ("validation", "test") for p in generated.splits[s]}
    assert not [p for p in voices if p.query in held or p.signature in held]
    assert leaks(generated.splits) == {"query": [], "signature": []}


def test_voice_frames_add_no_species_number_or_field():
    """A persona frame may not change what its question asks: no digit, species word or word
    naming a field family in any frame, assay or condition."""
    import re

    from assistant.synth.base import ATTRS
    from assistant.synth.voice_intents import ASSAYS, CONDITIONS, FRAMES

    species = {
        w.lower() for words in vocab.SPECIES_WORDS.values() for ws in words.values() for w in ws
    }
    species |= {"human", "mouse", "rat", "zebrafish", "fly", "worm", "pig", "patient"}
    fields = {w.lower() for a in ATTRS.values() for w in a.words} | {"gene id", "symbol", "name"}
    texts = [f for fs in FRAMES.values() for f in fs] + ASSAYS + CONDITIONS
    for text in texts:
        plain = text.replace("{s}", "").replace("{s_lc}", "").replace("{dx}", "")
        plain = plain.replace("{assay}", "").lower()
        assert not re.search(r"\d", plain), text
        words = set(re.findall(r"[a-z][a-z.\-]*", plain))
        assert not words & species, (text, words & species)
        assert not [f for f in fields if re.search(rf"\b{re.escape(f)}\b", plain)], text


def test_voice_builders_write_checked_pairs(tiny_settings, tiny_store):
    """Each voice builder's drafts pass the checker on the tiny store; a unit interval's
    numbers are the query's base pairs; an alias in context is searched as the alias."""
    import re

    from assistant.synth.base import Ctx
    from assistant.synth.genes import GeneSampler
    from assistant.synth.voice_intents import BUILDERS

    checker = Checker(tiny_settings, tiny_store)
    sampler = GeneSampler(tiny_store, 0)
    rng = random.Random(0)
    kept: dict[str, list[tuple[str, str]]] = {name: [] for name in BUILDERS}
    for name, (build, _) in BUILDERS.items():
        for _ in range(150):
            draft = build(Ctx(random.Random(rng.getrandbits(64)), "neutral", sampler))
            if draft is None:
                continue
            assert draft.voice, name
            text, _reason = checker.check(draft)
            if text is not None:
                kept[name].append((draft.question, text))
    assert all(kept.values()), {k: len(v) for k, v in kept.items()}
    for question, text in kept["interval_units"]:
        lo, hi = map(int, re.search(r"chr\w+:(\d+)-(\d+)", text).groups())
        unit = 1000 if "kb" in question else 1_000_000
        numbers = [float(n.replace(",", "")) for n in re.findall(r"\d[\d,]*(?:\.\d+)?", question)]
        assert lo / unit in numbers and hi / unit in numbers, (question, text)
    for question, text in kept["alias_in_context"]:
        alias = parse_query(text).q.removeprefix("alias:")
        assert alias.lower() in question.lower(), (question, text)
    for question, text in kept["phrase_on_chromosome"]:
        phrase = re.search(r'name:"([^"]+)"', text).group(1)
        assert phrase.lower() in question.lower(), (question, text)
