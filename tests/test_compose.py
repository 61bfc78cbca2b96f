"""docker-compose.yml: valid Compose, and it passes exactly the variables Settings reads.

No Docker engine exists here, so the file is checked, not run: against the Compose
specification's JSON schema, and by resolving its `${VAR:-default}` references the way Compose
does and loading the result into `Settings`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from callflow.local.stack.temporal import venv_bin
from callflow.settings import Settings
from tests.test_env_example import example_assignments, settings_env_names

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = {
    "worker": ["python", "worker.py"],
    "agent": ["python", "-m", "agent.worker", "start"],
    "api": ["callflow", "serve-api"],
    "codec": ["callflow", "codec-server"],
}
# `$${x}` is an escaped dollar (a shell variable in a command), not interpolation.
REFERENCE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+]([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation for the forms this file uses: ${V}, ${V:-default}, $$."""

    def resolve(match: re.Match[str]) -> str:
        return env.get(match.group(1)) or (match.group(2) or "")

    return REFERENCE.sub(resolve, text).replace("$$", "$")


def compose(env: dict[str, str] | None = None) -> dict[str, Any]:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env or {}))


def test_valid_against_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(venv_bin("check-jsonschema")),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_interpolated_variable_is_one_settings_reads() -> None:
    referenced = {m.group(1) for m in REFERENCE.finditer(COMPOSE.read_text())}
    unknown = referenced - set(settings_env_names())
    assert not unknown, f"docker-compose.yml interpolates variables Settings never reads: {unknown}"


def test_app_services_get_every_setting_and_every_env_example_variable() -> None:
    services = compose()["services"]
    expected = set(settings_env_names())
    documented = {name for name, _ in example_assignments()}
    for name, command in APP_SERVICES.items():
        service = services[name]
        assert service["command"] == command
        assert service["build"] == "."
        passed = set(service["environment"])
        assert passed == expected, f"{name}: missing {expected - passed}, extra {passed - expected}"
        assert documented <= passed


def test_the_stack_has_every_part() -> None:
    services = compose()["services"]
    images = {name: str(s.get("image", "")) for name, s in services.items()}
    assert images["temporal"].startswith("temporalio/auto-setup:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["environment"]["POSTGRES_SEEDS"] == "temporal-db"
    assert images["temporal-db"].startswith("postgres:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert images["livekit"] == "livekit/livekit-server:v1.13.5"
    assert "records-db" in services
    setup = " ".join(services["temporal-setup"]["command"])
    for attribute in ("CallStage=Keyword", "CallUserId=Keyword", "CallAttempt=Int"):
        assert attribute in setup
    assert "${attribute%%=*}" in setup  # `$$` reached the shell as one `$`


def test_defaults_load_into_settings_pointing_at_the_compose_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in settings_env_names():
        monkeypatch.delenv(name, raising=False)
    environment = compose()["services"]["worker"]["environment"]
    for name, value in environment.items():
        if value not in ("", None):  # Compose passes empty; Settings ignores empty values
            monkeypatch.setenv(name, str(value))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.temporal_address == "temporal:7233"
    assert settings.livekit_url == "ws://livekit:7880"
    assert settings.database_url == "postgresql://callflow:callflow@records-db:5432/callflow"
    assert settings.api_host == "0.0.0.0"
    assert settings.telemetry_enabled is False and settings.codec_enabled is False
    assert settings.max_attempts == Settings(_env_file=None).max_attempts  # type: ignore[call-arg]


def test_livekit_sends_signed_webhooks_to_the_api_route() -> None:
    for env in ({}, {"LIVEKIT_API_KEY": "teamkey", "LIVEKIT_API_SECRET": "s" * 40}):
        services = compose(env)["services"]
        config = yaml.safe_load(services["livekit"]["environment"]["LIVEKIT_CONFIG"])
        app_env = services["api"]["environment"]
        key, secret = app_env["LIVEKIT_API_KEY"], app_env["LIVEKIT_API_SECRET"]
        assert config["keys"] == {key: secret}  # the secret the api verifies webhooks with
        assert config["webhook"]["api_key"] == key
        # the api service's public listener, which serves the webhook alone
        assert config["webhook"]["urls"] == [
            f"http://api:{app_env['CALLFLOW_WEBHOOK_PORT']}/livekit/webhook"
        ]
        assert app_env["CALLFLOW_WEBHOOK_PORT"] != app_env["CALLFLOW_API_PORT"]
    default_secret = Settings(_env_file=None).livekit_api_secret.get_secret_value()  # type: ignore[call-arg]
    assert compose()["services"]["api"]["environment"]["LIVEKIT_API_SECRET"] == default_secret
    routes = (ROOT / "callflow" / "service" / "app.py").read_text()
    assert 'Route("/livekit/webhook"' in routes


def test_prometheus_and_grafana_run_with_the_rules_and_the_dashboard() -> None:
    services = compose()["services"]
    assert str(services["prometheus"]["image"]).startswith("prom/prometheus:")
    assert str(services["grafana"]["image"]).startswith("grafana/grafana:")
    mounted = [v.split(":")[0] for n in ("prometheus", "grafana") for v in services[n]["volumes"]]
    for source in (s for s in mounted if s.startswith("./")):
        assert (ROOT / source).exists(), f"compose mounts {source}, which is not in the repo"
    assert "./deploy/monitoring/alerts.yml" in mounted
    assert "./deploy/monitoring/grafana/dashboards" in mounted
    scrape = yaml.safe_load((ROOT / "deploy/monitoring/prometheus.yml").read_text())
    jobs = scrape["scrape_configs"]
    targets = {t for job in jobs for c in job["static_configs"] for t in c["targets"]}
    env = services["worker"]["environment"]
    assert f"worker:{env['CALLFLOW_METRICS_BIND'].rsplit(':', 1)[1]}" in targets
    assert f"agent:{env['CALLFLOW_AGENT_METRICS_BIND'].rsplit(':', 1)[1]}" in targets


def test_dockerfile_builds_the_app_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "uv sync --frozen" in dockerfile
    assert "espeak-ng sox" in dockerfile
    for path in ("callflow", "workflows", "activities", "agent", "worker.py", "uv.lock"):
        assert path in dockerfile
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()
