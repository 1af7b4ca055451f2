"""``python -m assistant annotate``: a one-line description for every field of a BioThings API,
written by an OpenAI-compatible model in batches, checked, and verified complete.

Input: the API's field list (``shared/data/seed/schema/*_fields.json``:
``{"cadd.phred": {"index": true, "type": "float"}, ...}``, or this project's own
``{name: {"type", "indexed", "description"}}`` shape) and a sample document (nested, or with
dotted keys like ``mygene_sample_record_cdk2.json``; a query response's first hit also works).
Output: the shape of ``data/schema/mygene_fields.json``, which :func:`assistant.schema.load_fields`
and :mod:`assistant.retrieval` read::

    {"cadd.phred": {"type": "float", "indexed": true, "description": "CADD PHRED-scaled ..."}}

Every field of the input is in the output, in input order. The model answers each batch with
a JSON object whose keys are exactly the batch's field names (a JSON schema, so a local
llama.cpp server cannot leave one out); empty, multi-line, over-long or filler descriptions
count as missing and are asked again in smaller batches (``--retries``); any still missing
after that are written with an empty description, listed in the report and make the command
exit with status 1 (the original lost 170 MyVariant fields without a word). Finished
descriptions go to ``<out>.work.jsonl`` as they arrive, so a rerun resumes.

The reviewed MyGene annotation shipped in ``data/schema/mygene_fields.json`` was made this way
and then reviewed by hand.

>>> flatten({"_id": "1017", "genomic_pos": {"chr": "12", "start": 55966769}, "alias": ["CDKN2"]})
{'_id': '1017', 'genomic_pos.chr': '12', 'genomic_pos.start': 55966769, 'alias': ['CDKN2']}
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings, settings_from_args
from .datagen.endpoint import (
    BadOutput,
    EndpointUnavailable,
    JsonClient,
    add_endpoint_arguments,
    open_endpoint,
)
from .datagen.report import Report
from .errors import ConfigError
from .prompts import load_template

WORK_SUFFIX = ".work.jsonl"
MIN_WORDS, MAX_WORDS = 3, 40
EXAMPLE_CHARS = 80
FILLER_RE = re.compile(
    r"^\W*(sure|certainly|here is|here's|okay)\b|please note|as an ai|i hope|let me know",
    re.IGNORECASE,
)


@dataclass
class FieldInfo:
    """One input field: its dotted name, type, indexed flag and an example from the sample."""

    name: str
    type: str
    indexed: bool
    example: str = ""
    extra: dict | None = None

    def line(self) -> str:
        """How the field is shown to the model: ``- cadd.phred (float, indexed) e.g. 23.4``."""
        flags = f"{self.type}, {'indexed' if self.indexed else 'not indexed'}"
        return f"- {self.name} ({flags})" + (f" e.g. {self.example}" if self.example else "")


# --- inputs ---------------------------------------------------------------------------------------


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} file not found at {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} file {path} is not JSON ({exc})") from None


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested document; lists of objects are flattened through their first
    object (lists of values are kept as they are)."""
    out: dict[str, Any] = {}
    if isinstance(doc, list):
        objects = [d for d in doc if isinstance(d, dict)]
        if objects:
            return flatten(objects[0], prefix)
        return {prefix: doc} if prefix else {}
    if not isinstance(doc, dict):
        return {prefix: doc} if prefix else {}
    for key, value in doc.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(v, dict) for v in value)
        ):
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def load_sample(path: Path | None) -> dict[str, Any]:
    """The sample document as dotted keys (a query response's first hit, or the document)."""
    if path is None:
        return {}
    doc = _read_json(path, "sample document")
    if isinstance(doc, dict) and isinstance(doc.get("hits"), list) and doc["hits"]:
        doc = doc["hits"][0]
    elif isinstance(doc, list) and doc:
        doc = doc[0]
    if not isinstance(doc, dict):
        raise ConfigError(f"the sample {path} is not a JSON document (an object)")
    return flatten(doc)


def _example(name: str, sample: dict[str, Any], children: list[str]) -> str:
    if name in sample:
        value = sample[name]
        if isinstance(value, list):
            value = value[0] if value else ""
        text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    elif children:
        shown = ", ".join(c[len(name) + 1 :] for c in children[:5])
        text = "{" + shown + (", ..." if len(children) > 5 else "") + "}"
    else:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def load_field_list(path: Path, sample: dict[str, Any] | None = None) -> list[FieldInfo]:
    """The fields of ``path`` in file order, with examples from ``sample``."""
    data = _read_json(path, "field list")
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"the field list {path} must be a JSON object of field name → "
            '{"type": ..., "index": ...}'
        )
    names = list(data)
    sample = sample or {}
    fields = []
    for name, spec in data.items():
        spec = spec if isinstance(spec, dict) else {"type": str(spec)}
        children = [n for n in names if n.startswith(name + ".")]
        extra = {k: v for k, v in spec.items() if k == "searched_by_default" and v}
        fields.append(
            FieldInfo(
                name=name,
                type=str(spec.get("type", "object" if children else "unknown")),
                indexed=bool(spec.get("indexed", spec.get("index", False))),
                example=_example(name, sample, children),
                extra=extra or None,
            )
        )
    return fields


# --- checking -------------------------------------------------------------------------------------


def check_description(name: str, text: Any, prompt: str = "") -> str | None:
    """The problem with one description, or None when it is kept.

    >>> check_description("cadd.phred", "CADD PHRED-scaled deleteriousness score of the variant.")
    >>> check_description("cadd.phred", "Sure, here is the description")
    'filler'
    >>> check_description("dbsnp.rsid", "Keyword")
    'too_short'
    >>> check_description("cadd", "NCBI Entrez Gene id of the gene", prompt="... is described as "
    ...                   '"NCBI Entrez Gene id of the gene (e.g. 1017 for CDK2)."')
    'copies_prompt'
    """
    if not isinstance(text, str) or not text.strip():
        return "empty"
    text = " ".join(text.split())
    if text.lower().strip(".") in (name.lower(), name.rsplit(".", 1)[-1].lower()):
        return "only_the_name"
    if len(text.split()) < MIN_WORDS:
        return "too_short"
    if len(text.split()) > MAX_WORDS:
        return "too_long"
    if FILLER_RE.search(text):
        return "filler"
    if prompt and _norm(text) in _norm(prompt):
        return "copies_prompt"
    return None


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# --- the run --------------------------------------------------------------------------------------


def _schema(names: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {n: {"type": "string"} for n in names},
        "required": names,
        "additionalProperties": False,
    }


def _load_work(path: Path, report) -> dict[str, str]:
    done: dict[str, str] = {}
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            done[row["field"]] = row["description"]
        except (json.JSONDecodeError, KeyError, TypeError):
            report.count("resume", "torn_work_lines")
    return done


class _Annotator:
    """Asks for descriptions batch by batch, records each kept one in the work file."""

    def __init__(self, client, system: str, work_path: Path, done: dict, report, settings):
        self.client = client
        self.system = system
        self.work_path = work_path
        self.done = done
        self.report = report
        self.settings = settings

    def ask(self, batch: list[FieldInfo], round_: int) -> list[FieldInfo]:
        """Describe one batch; returns the fields still missing (raises EndpointUnavailable)."""
        names = [f.name for f in batch]
        user = load_template("annotate_user").format(items="\n".join(f.line() for f in batch))
        messages = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": user.strip()},
        ]
        try:
            data = self.client.complete(
                messages,
                _schema(names),
                name="descriptions",
                max_tokens=60 * len(batch) + 20,
                temperature=None if round_ == 0 else max(self.settings.temperature, 0.5),
                seed=self.settings.seed + round_,
            )
        except BadOutput as exc:  # the whole batch is asked again
            self.report.reject("annotate", "bad_json", str(exc))
            return list(batch)
        extra = set(data) - set(names)
        if extra:
            self.report.count("annotate", "unknown_keys_ignored", len(extra))
        missing, seen = [], set()
        with open(self.work_path, "a", encoding="utf-8") as fh:
            for f in batch:
                problem = check_description(f.name, data.get(f.name), self.system)
                if problem is None and _norm(str(data[f.name])) in seen:
                    problem = "same_as_another_field"
                if problem:
                    self.report.reject("annotate", problem, f"{f.name}: {data.get(f.name)!r}")
                    missing.append(f)
                    continue
                text = " ".join(str(data[f.name]).split())
                seen.add(_norm(text))
                self.done[f.name] = text
                fh.write(json.dumps({"field": f.name, "description": text}) + "\n")
                self.report.count("annotate", "described")
        return missing


def annotate(
    settings: Settings,
    fields: list[FieldInfo],
    out: Path,
    api_name: str,
    batch_size: int = 20,
    retries: int = 2,
    limit: int | None = None,
    endpoint=None,
    timeout: float = 120.0,
    start_timeout: float = 180.0,
    progress: bool = False,
):
    """Describe every field (see the module docstring); returns ``(output, report)``.

    Round 1 asks in batches of ``batch_size``; each further round (``retries``) asks again for
    the fields still missing, in batches half as big. ``endpoint`` (an already running server)
    skips starting one.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    report = Report()
    work_path = out.with_name(out.name + WORK_SUFFIX)
    done = _load_work(work_path, report)
    report.count("resume", "already_described", len([f for f in fields if f.name in done]))
    todo = [f for f in fields if f.name not in done]
    if limit is not None and len(todo) > limit:
        report.count("annotate", "left_for_next_run", len(todo) - limit)
        todo = todo[:limit]
    t0 = time.perf_counter()
    stopped = None
    if todo:
        opener = (
            nullcontext(endpoint)
            if endpoint is not None
            else open_endpoint(
                settings,
                log_path=out.with_name(out.name + ".server.log"),
                start_timeout=start_timeout,
            )
        )
        with opener as ep:
            client = JsonClient(
                ep, timeout=timeout, temperature=settings.temperature, seed=settings.seed
            )
            system = load_template("annotate_system").format(api=api_name).strip()
            annotator = _Annotator(client, system, work_path, done, report, settings)
            pending, size = todo, max(1, batch_size)
            for round_ in range(retries + 1):
                if not pending or stopped:
                    break
                if round_:
                    report.count("annotate", "re_asked", len(pending))
                batches = [pending[i : i + size] for i in range(0, len(pending), size)]
                missing: list[FieldInfo] = []
                desc = f"annotate round {round_ + 1}"
                for batch in tqdm(batches, desc=desc, disable=not progress, leave=False):
                    try:
                        missing += annotator.ask(batch, round_)
                    except EndpointUnavailable as exc:
                        stopped = str(exc)
                        report.reject("annotate", "server_unavailable", stopped)
                        break
                pending, size = missing, max(1, size // 2)
            report.info["llm"] = {"calls": client.calls, "seconds": round(client.seconds, 2)}
            report.info["writer"] = ep.describe or ep.model
    output = _write_output(out, fields, done)
    still = [f.name for f in fields if not output[f.name]["description"]]
    report.info.update(
        fields=len(fields),
        described=len(fields) - len(still),
        still_missing=still,
        seconds=round(time.perf_counter() - t0, 2),
        complete=not still,
    )
    if stopped:
        report.info["stopped"] = f"the server went away ({stopped}); rerun to resume"
    report.save(out.with_name(out.stem + ".report.json"))
    return output, report


def _write_output(out: Path, fields: list[FieldInfo], done: dict[str, str]) -> dict:
    """Every input field, in input order, one per line (empty description = still missing)."""
    output = {}
    for f in fields:
        row = {"type": f.type, "indexed": f.indexed, "description": done.get(f.name, "")}
        if f.extra:
            row.update(f.extra)
        output[f.name] = row
    if set(output) != {f.name for f in fields}:  # cannot happen; guards the promise above
        raise AssertionError("a field was lost on the way to the output")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in output.items()]
    tmp.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    tmp.replace(out)
    return output


# --- command line ---------------------------------------------------------------------------------

EPILOG = """\
Writes the shape of data/schema/mygene_fields.json ({field: {type, indexed, description}}), which
retrieval and the prompts read. Every input field is checked to be in the output; missing or bad
descriptions are asked again in smaller batches, and any still missing are listed (exit status 1).
Uses OpenAI when QA_OPENAI_API_KEY is set (.env), else a llama_cpp.server on --model.
The reviewed MyGene annotation in data/schema/mygene_fields.json was made this way, then reviewed.

example: python -m assistant annotate --fields ../shared/data/seed/schema/myvariant_fields.json \\
             --sample variant.json --out data/logs/myvariant_fields.json --model qwen2.5-coder-1.5b
"""


def add_commands(sub) -> None:
    p = sub.add_parser(
        "annotate",
        help="Write a one-line description of every field of an API (resumable).",
        description="Write a one-line description of every field of a BioThings API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--fields", type=Path, required=True, help="The API's field list (JSON).")
    p.add_argument("--sample", type=Path, default=None, help="A sample document (JSON).")
    p.add_argument("--out", type=Path, required=True, help="Output JSON file.")
    p.add_argument("--api", default=None, help="API name for the prompt (default: from --fields).")
    p.add_argument("--batch-size", type=int, default=20, help="Fields per request.")
    p.add_argument("--retries", type=int, default=2, help="Rounds re-asking missing fields.")
    p.add_argument("--limit", type=int, default=None, help="Describe at most N new fields.")
    add_endpoint_arguments(p)
    p.set_defaults(func=_cmd_annotate)


def api_name(path: Path) -> str:
    """``myvariant_fields.json`` → ``MyVariant``.

    >>> api_name(Path("myvariant_fields.json")), api_name(Path("mygene_fields.json"))
    ('MyVariant', 'MyGene')
    """
    stem = path.stem.split("_")[0]
    return "My" + stem[2:].capitalize() if stem.lower().startswith("my") else stem


def _cmd_annotate(args) -> int:
    from .datagen.cli import quiet_http_logs

    quiet_http_logs()
    settings = settings_from_args(args)
    fields = load_field_list(args.fields, load_sample(args.sample))
    output, report = annotate(
        settings,
        fields,
        args.out,
        args.api or api_name(args.fields),
        batch_size=args.batch_size,
        retries=max(0, args.retries),
        limit=args.limit,
        timeout=args.timeout,
        start_timeout=args.start_timeout,
        progress=sys.stderr.isatty(),
    )
    print(report.text())
    info = report.info
    print(
        f"\n{info['described']} of {info['fields']} fields described in {info['seconds']} s; wrote {args.out}"
    )
    if info["still_missing"]:
        shown = ", ".join(info["still_missing"][:20])
        more = len(info["still_missing"]) - 20
        print(
            f"still missing ({len(info['still_missing'])}): {shown}"
            + (f" and {more} more" if more > 0 else "")
            + " — rerun to ask again",
            file=sys.stderr,
        )
        return 1
    return 0
