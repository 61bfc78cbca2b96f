"""The `schedules` click group against the dev server (sync tests: the CLI runs its own loop)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from callflow.local.stack.postgres import LocalPostgres
from callflow.schedules.cli import schedules
from callflow.settings import Settings, get_settings


@pytest.fixture
def cli_env(
    settings: Settings, area_database: LocalPostgres, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("CALLFLOW_TEMPORAL_ADDRESS", settings.temporal_address)
    monkeypatch.setenv("CALLFLOW_TASK_QUEUE", settings.task_queue)
    monkeypatch.setenv("DATABASE_URL", area_database.dsn)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str) -> Result:
    return CliRunner().invoke(schedules, list(args), catch_exceptions=False)


def test_create_update_pause_resume_list_delete(cli_env: None, user_id: str):
    out = run(
        "create", "--user", user_id, "--tz", "America/New_York", "--days", "mon,sun",
        "--times", "02:30,19:00", "--quiet-hours", "22:00-01:00", "--jitter", "60",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert f"{user_id}  [active]" in out.output
    assert "calls 02:30,19:00 on mon,sun (America/New_York)" in out.output
    assert "overlap SKIP" in out.output
    assert "does not exist in America/New_York" in out.output  # the DST warning

    out = run("update", "--user", user_id, "--times", "08:00")
    assert out.exit_code == 0, out.output
    assert "calls 08:00 on mon,sun (America/New_York)" in out.output  # the rest kept
    assert "warning" not in out.output

    out = run("pause", "--user", user_id)
    assert out.exit_code == 0 and "[PAUSED]" in out.output and "opted out" in out.output
    out = run("resume", "--user", user_id)
    assert out.exit_code == 0 and "[active]" in out.output

    out = run("list")
    assert out.exit_code == 0  # the list is eventually consistent; describe is not
    out = run("describe", "--user", user_id)
    assert out.exit_code == 0 and "next call" in out.output

    out = run("delete", "--user", user_id)
    assert out.exit_code == 0 and "deleted" in out.output
    out = run("describe", "--user", user_id)
    assert out.exit_code == 1 and "no call schedule" in out.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tz", "Mars/Base", "--days", "mon", "--times", "07:00"], "invalid --tz (timezone)"),
        (["--tz", "UTC", "--days", "mon", "--times", "25:00"], "invalid --times (times)"),
        (["--tz", "UTC", "--days", "", "--times", "07:00"], "invalid --days (days)"),
        (
            ["--tz", "UTC", "--days", "mon", "--times", "06:00", "--quiet-hours", "22:00-07:00"],
            "invalid --quiet-hours (quiet_hours)",
        ),
        (["--tz", "UTC", "--days", "mon", "--times", "07:00", "--jitter", "2000"], "--jitter"),
        (["--days", "mon", "--times", "07:00"], "--tz is required"),
    ],
)
def test_bad_input_names_the_option(cli_env: None, user_id: str, args: list[str], expected: str):
    out = run("create", "--user", user_id, *args)
    assert out.exit_code == 1
    assert expected in out.output
