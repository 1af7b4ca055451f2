"""Settings: env prefix, .env, CLI flags, and the README table generated from them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from assistant.config import ROOT, Settings, add_settings_arguments, settings_from_args
from assistant.config_cli import with_table
from assistant.errors import ConfigError


def test_env_prefix_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("QA_PORT=8811\nQA_STORE_SPECIES=human\n")
    assert Settings().port == 8811
    monkeypatch.setenv("QA_PORT", "8822")  # the environment beats .env
    assert Settings().port == 8822 and Settings().store_species == "human"


def test_cli_flags_win(monkeypatch):
    monkeypatch.setenv("QA_PORT", "8822")
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, ["port", "store_path"])
    args = parser.parse_args(["--port", "9000", "--store-path", "/tmp/x.sqlite"])
    s = settings_from_args(args)
    assert s.port == 9000 and s.store_path == Path("/tmp/x.sqlite")
    assert "QA_PORT" in parser.format_help()


def test_a_refused_flag_is_a_config_error():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, ["n_threads"])
    with pytest.raises(
        ConfigError, match="invalid setting: n_threads: Input should be greater than or equal to 1"
    ):
        settings_from_args(parser.parse_args(["--n-threads", "0"]))


def test_readme_configuration_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert with_table(readme) == readme, "run: python -m assistant config --write README.md"
