""".env.example documents exactly the variables Settings reads, with the local defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from callflow.settings import Settings, settings_env_names

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def example_assignments() -> list[tuple[str, str]]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return [m.groups() for line in lines if (m := ASSIGNMENT.match(line.strip()))]  # type: ignore[misc]


def test_names_exactly_the_settings_variables() -> None:
    names = [name for name, _ in example_assignments()]
    assert len(names) == len(set(names)), "a variable appears twice in .env.example"
    expected = set(settings_env_names())
    assert not expected - set(names), f"document these in .env.example: {expected - set(names)}"
    assert not set(names) - expected, f"Settings does not read these: {set(names) - expected}"


def test_secrets_are_empty() -> None:
    fields = settings_env_names()
    for name, value in example_assignments():
        annotation = str(Settings.model_fields[fields[name]].annotation)
        if "SecretStr" in annotation:
            assert value == "", f"{name} is a secret: leave it empty in .env.example"


def test_loading_it_gives_the_local_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    loaded = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert loaded.model_dump() == defaults.model_dump()
    assert isinstance(loaded.livekit_api_secret, SecretStr)
