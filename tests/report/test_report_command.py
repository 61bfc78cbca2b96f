"""`callflow report` end to end: records with known values in a real Postgres, the command as a
subprocess, its JSON line, and its HTML page opened in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from callflow.local.stack.postgres import LocalPostgres, start_postgres
from callflow.records.postgres import PostgresRecords
from tests.report.records_with_known_values import known_records
from tests.support.browser import dump_dom, screenshot
from tests.support.postgres import database_for

# The known records are dated late in 2026: a window that reaches back far enough for any run.
SINCE = "5000w"


def run_report(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callflow.cli", "report", "--since", SINCE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def json_line(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in {stdout!r}"
    data = json.loads(lines[-1])
    assert isinstance(data, dict)
    return data


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Under the system temp dir, not tmp_path: the embedded Postgres user must reach its files.
    folder = Path(tempfile.mkdtemp(prefix="callflow-report-"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="session")
async def known_calls(scratch_postgres: LocalPostgres) -> AsyncIterator[str]:
    """A database of this test's own holding exactly the known records."""
    database = await database_for(scratch_postgres, "report")
    records = await PostgresRecords.connect(database.dsn)
    try:
        for record in known_records():
            await records.save_call(record)
    finally:
        await records.close()
    yield database.dsn


def base_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SUPABASE_URL")}
    return {**env, "CALLFLOW_STATE_DIR": str(state_dir)}


async def test_report_json_from_the_records(known_calls: str, state_dir: Path) -> None:
    done = run_report({**base_env(state_dir), "DATABASE_URL": known_calls}, "--json")

    assert done.returncode == 0, done.stderr
    data = json_line(done.stdout)
    assert data["calls"] == 10
    assert data["completion_rate"] == 0.75
    assert data["first_audio_ms"] == {"p50": 300.0, "p95": 600.0}
    assert data["memory_fetch_ms"] == {"p50": 150.0, "p95": 400.0}
    assert data["turn_latency_ms"] == {"p50": 500.0, "p95": 1000.0}
    assert data["webhook_delivery_rate"] == 0.8889
    assert data["cost_per_minute_usd"] == 0.05
    assert data["baseline_per_minute_usd"] == {"low": 0.1, "high": 0.3}
    assert data["outcomes"] == {
        "completed": 6, "failed": 1, "cancelled": 1, "no_agent": 1, "missed": 1
    }  # fmt: skip
    assert data["targets"]["completion_rate"] == {"min": 0.95}
    assert "call completion rate" in done.stderr  # the human summary goes to stderr


async def test_report_html_renders_its_charts_in_the_browser(
    known_calls: str, state_dir: Path
) -> None:
    page = state_dir / "report.html"
    done = run_report({**base_env(state_dir), "DATABASE_URL": known_calls}, "--html", str(page))
    assert done.returncode == 0, done.stderr

    dom = dump_dom(page.as_uri(), wait_ms=1000)
    assert dom.count("<img") == 3 and "data:image/png;base64," in dom
    assert "call completion rate" in dom and "2026-11-29" in dom
    shot = screenshot(page.as_uri(), state_dir / "report.png", wait_ms=1000)
    # A page of tables only is a few KB of PNG; the three charts make it far larger.
    assert shot.stat().st_size > 50_000


async def test_without_a_database_it_reads_the_demo_stacks_records(state_dir: Path) -> None:
    local = await start_postgres(state_dir / "demo" / "postgres")
    try:
        records = await PostgresRecords.connect(local.dsn)
        try:
            for record in known_records()[:3]:
                await records.save_call(record)
        finally:
            await records.close()
        done = run_report(base_env(state_dir), "--json")
    finally:
        local.stop()

    assert done.returncode == 0, done.stderr
    data = json_line(done.stdout)
    assert data["calls"] == 3 and data["outcomes"] == {"completed": 3}
    assert "local demo stack" in str(data["source"])


def test_without_a_database_or_a_demo_it_says_what_to_do(state_dir: Path) -> None:
    done = run_report(base_env(state_dir), "--json")

    assert done.returncode != 0
    assert "run `callflow demo` first" in done.stderr
