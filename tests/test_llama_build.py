"""The portable llama.cpp build: variant choice, the AMX scan of the installed libraries and the
smoke generation that turns a dying build into a one-line message."""

from __future__ import annotations

import json

import pytest

from assistant import llama_build as lb

SAPPHIRE_RAPIDS_VM = set(
    "sse4_2 avx f16c fma avx2 bmi2 avx512f avx512cd avx512vl avx512dq avx512bw avx512vbmi "
    "avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16".split()
)
HASWELL = {"sse4_2", "avx", "f16c", "fma", "avx2", "bmi2"}


def test_amx_is_never_switched_on_even_when_the_cpu_advertises_it():
    variants = lb.choose_variants(SAPPHIRE_RAPIDS_VM)
    assert [v.name for v in variants] == ["avx512", "avx2", "sse42"]
    for v in variants:
        args = v.cmake_args.split()
        assert "-DGGML_NATIVE=OFF" in args
        assert {"-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"} <= set(args)
        assert not any("AMX" in a and a.endswith("=ON") for a in args)
        # batch-invariant products, which the speculative decoder's exactness relies on
        assert {"-DGGML_LLAMAFILE=OFF", "-DGGML_CPU_REPACK=OFF"} <= set(args)
    assert "-DGGML_AVX512_BF16=ON" in variants[0].cmake_args.split()


def test_a_cpu_without_avx512_gets_the_baseline_and_flags_name_the_wheel_folder():
    (best, fallback) = lb.choose_variants(HASWELL)
    assert best.name == "avx2" and "-DGGML_AVX512=OFF" in best.cmake_args.split()
    assert "-DGGML_AVX2=ON" in best.cmake_args.split() and "-DGGML_FMA=ON" in best.cmake_args
    assert fallback.name == "sse42" and "-DGGML_AVX2=OFF" in fallback.cmake_args.split()
    # one folder per set of flags: a wheel is never installed for other flags
    keys = {v.key for v in lb.choose_variants(SAPPHIRE_RAPIDS_VM) + [best]}
    assert len(keys) == 3 and all(k.startswith(lb.llama_version() + "-") for k in keys)
    avx512_vnni_only = lb.choose_variants(HASWELL | lb.AVX512_CPU | {"avx512_vnni"})[0]
    assert avx512_vnni_only.key != lb.choose_variants(SAPPHIRE_RAPIDS_VM)[0].key


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
        "flags\t\t: fpu sse4_2 avx avx2 amx_tile amx_int8\n\nprocessor\t: 1\n"
    )
    model, flags = lb.cpu_info(info)
    assert model == "Intel(R) Xeon(R) Platinum 8480+"
    assert {"amx_tile", "avx2", "sse4_2"} <= flags and "avx512f" not in flags


def test_the_installed_build_was_made_for_this_cpu_and_holds_no_amx():
    record = lb.read_record()
    assert record is not None, "no llama-build.json: run `make setup` (assistant/llama_build.py)"
    assert lb._current(record), "the installed build does not match this CPU: make rebuild-llama"
    assert "-DGGML_NATIVE=OFF" in record["cmake_args"]
    libs = [p.name for p in lb.libraries() if p.name.startswith("libggml")]
    assert any(n.startswith("libggml-cpu") for n in libs), libs
    assert lb.scan_build(allow_avx512="-DGGML_AVX512=ON" in record["cmake_args"]) == []
    assert json.loads(json.dumps(lb.build_info()))["variant"] == record["variant"]


def test_the_scan_finds_amx_instructions(tmp_path):
    """A real object file with AMX tile instructions (assembled by gcc) is refused."""
    import shutil
    import subprocess

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    src = tmp_path / "amx.s"
    src.write_text(
        ".text\n.globl f\nf:\n tilezero %tmm0\n tilerelease\n vpaddd %zmm1, %zmm2, %zmm3\n ret\n"
    )
    obj = tmp_path / "amx.o"
    subprocess.run(["gcc", "-c", str(src), "-o", str(obj)], check=True)
    problems = lb.scan_library(obj, allow_avx512=False)
    assert any("AMX" in p and "tilezero" in p for p in problems), problems
    assert any("AVX-512" in p for p in problems), problems
    assert not any("AVX-512" in p for p in lb.scan_library(obj, allow_avx512=True))


def test_a_generation_that_dies_by_a_signal_is_one_line(tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    died = "import os, signal; os.kill(os.getpid(), signal.SIGILL)"
    message = lb.smoke(model, code=died)
    assert message is not None and "Illegal instruction (SIGILL)" in message
    assert "\n" not in message
    assert lb.smoke(model, code="print('fine')") is None


def test_the_real_build_generates_a_token():
    assert lb.smoke(lb.smoke_model()) is None
