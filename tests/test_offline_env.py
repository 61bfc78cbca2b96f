"""Tests run offline whatever the machine's environment holds: no provider variable reaches a
test, a session fixture or a subprocess, so Settings() selects the local adapters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.offline.llm import ScriptedLLM
from agent.providers import build_llm
from callflow.runtime import build_analyzer
from callflow.settings import Settings, get_settings
from tests.conftest import PROVIDER_ENV_NAMES, provider_env_names

ROOT = Path(__file__).resolve().parents[1]
LEAKED = {
    "OPENAI_API_KEY": "sk-leaked",
    "OPENAI_BASE_URL": "https://openai.invalid/v1",
    "CARTESIA_API_KEY": "sk_car_leaked",
    "ANTHROPIC_API_KEY": "sk-ant-leaked",
    "SUPERMEMORY_API_KEY": "sm_leaked",
    "SUPERMEMORY_BASE_URL": "https://supermemory.invalid",
    "SUPABASE_URL": "https://project.supabase.invalid",
    "SUPABASE_SERVICE_ROLE_KEY": "service-role-leaked",
    "APNS_KEY_PATH": "/leaked/AuthKey.p8",
    "APNS_KEY_ID": "ABCDEFGHIJ",
    "APNS_TEAM_ID": "TEAM123456",
}


@pytest.fixture(scope="session")
def env_seen_by_session_fixtures() -> list[str]:
    """What a session fixture (set up before any function fixture) finds in the environment."""
    return provider_env_names(os.environ)


def assert_no_provider_selected(settings: Settings) -> None:
    assert settings.openai_api_key is None
    assert settings.openai_base_url is None
    assert settings.cartesia_api_key is None
    assert settings.anthropic_api_key is None
    assert settings.supermemory_api_key is None
    assert settings.supermemory_base_url is None
    assert settings.supabase_url is None
    assert settings.supabase_service_role_key is None
    assert not settings.uses_production_apns
    assert settings.apns_key_path is None


def test_provider_variables_are_absent_and_settings_select_no_provider(
    env_seen_by_session_fixtures: list[str],
) -> None:
    assert env_seen_by_session_fixtures == []
    assert provider_env_names(os.environ) == []
    assert PROVIDER_ENV_NAMES.isdisjoint(os.environ)
    settings = Settings()
    assert_no_provider_selected(settings)
    assert isinstance(build_llm(settings)[0], ScriptedLLM)
    assert (
        build_analyzer(settings).description
        == "offline heuristic analyzer (no OPENAI_API_KEY or ANTHROPIC_API_KEY)"
    )


TEST_INSIDE = test_provider_variables_are_absent_and_settings_select_no_provider


def test_a_subprocess_of_a_test_gets_no_provider_variable() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import json, os; print(json.dumps(sorted(os.environ)))"],
        capture_output=True,
        check=True,
        text=True,
    )
    assert provider_env_names(dict.fromkeys(json.loads(out.stdout), "")) == []


def test_a_key_a_test_sets_itself_is_seen_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-this-test")
    key = get_settings().openai_api_key
    assert key is not None and key.get_secret_value() == "sk-this-test"


def test_the_settings_cache_does_not_carry_a_key_into_the_next_test() -> None:
    # The test above cached Settings with its key; the fixture dropped that cache.
    assert get_settings().openai_api_key is None
    assert_no_provider_selected(get_settings())


def test_keys_in_the_environment_pytest_starts_in_are_cleared_at_collection(
    tmp_path: Path,
) -> None:
    """A pytest run started with provider keys set, and a `.env` with more in its working
    directory: its session fixtures and tests see none of them."""
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\nCARTESIA_API_KEY=sk_car_env\n")
    inner = f"{Path(__file__).resolve()}::{TEST_INSIDE.__name__}"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={ROOT}",
            inner,
        ],
        cwd=tmp_path,
        env={**os.environ, **LEAKED},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 passed" in run.stdout
