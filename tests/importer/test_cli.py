"""The acceptance: `callflow import file FILE --json` from the project root, with no database
configured, runs against the local stack's records (the demo's embedded Postgres) and ends
with one JSON line of counts."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import psutil
import pytest

from callflow.local.records_access import demo_records_dir
from callflow.local.stack.postgres import start_postgres
from callflow.models import User
from callflow.records.postgres import PostgresRecords
from callflow.settings import Settings
from tests.importer.test_file_import import write_export

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_import_file_json_runs_on_the_demo_records() -> None:
    # Under the system temp dir: the embedded Postgres user must reach it (tests/support).
    state = Path(tempfile.mkdtemp(prefix="callflow-import-cli-"))
    try:
        postgres = await start_postgres(demo_records_dir(Settings(state_dir=state)))
        tag = secrets.token_hex(3)
        records = await PostgresRecords.connect(postgres.dsn)
        await records.upsert_user(User(f"cli-{tag}", "Cli", None))
        await records.close()
        export = state / "export.jsonl"
        write_export(export, tag, f"cli-{tag}")
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "SUPABASE_URL") and not k.startswith("CALLFLOW_")
        }
        env["CALLFLOW_STATE_DIR"] = str(state)
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "callflow"),
                "import",
                "file",
                str(export),
                "--json",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        last = json.loads(done.stdout.strip().splitlines()[-1])
        counts = {k: last[k] for k in ("imported", "skipped", "unmapped", "failed")}
        assert counts == {"imported": 3, "skipped": 0, "unmapped": 1, "failed": 2}
        postgres.stop()
    finally:
        shutil.rmtree(state, ignore_errors=True)


@pytest.mark.slow
async def test_a_killed_import_run_again_imports_the_rest_once() -> None:
    """SIGKILL of `callflow import file` mid-run; the same command again skips what was
    imported and imports the rest, each conversation once; the killed run's Temporal dev
    server does not outlive it."""
    state = Path(tempfile.mkdtemp(prefix="callflow-import-kill-"))
    postgres = None
    try:
        postgres = await start_postgres(demo_records_dir(Settings(state_dir=state)))
        tag = secrets.token_hex(3)
        user_id = f"kill-{tag}"
        records = await PostgresRecords.connect(postgres.dsn)
        await records.upsert_user(User(user_id, "Kill", None))
        export = state / "export.jsonl"
        write_export(export, tag, user_id)
        env = _cli_env(state)
        env["CALLFLOW_IMPORT_RATE_PER_S"] = "1"  # slow enough to be killed mid-run
        env["CALLFLOW_IMPORT_BATCH_SIZE"] = "1"
        killed = subprocess.Popen(
            [_callflow(), "import", "file", str(export), "--json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(state / "killed.log").open("wb"),
        )
        conn = await asyncpg.connect(postgres.dsn)
        try:
            for _ in range(1200):
                calls = await conn.fetchval(
                    "select count(*) from calls where user_id = $1", user_id
                )
                if calls:
                    break
                await asyncio.sleep(0.1)
            temporal = [
                p
                for p in psutil.Process(killed.pid).children(recursive=True)
                if "temporal" in " ".join(_cmdline(p))
            ]
            killed.kill()
            killed.wait(10)
            imported_before = await conn.fetchval(
                "select count(*) from calls where user_id = $1", user_id
            )
            assert 1 <= imported_before < 3, (state / "killed.log").read_text()[-3000:]

            env["CALLFLOW_IMPORT_RATE_PER_S"] = "0"
            again = subprocess.run(
                [_callflow(), "import", "file", str(export), "--json"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=240,
            )
            assert again.returncode == 0, again.stderr[-3000:]
            last = json.loads(again.stdout.strip().splitlines()[-1])
            assert last["skipped"] == imported_before
            assert last["imported"] == 3 - imported_before
            assert (
                await conn.fetchval("select count(*) from calls where user_id = $1", user_id) == 3
            )
            memories = await conn.fetchval(
                "select count(*) from memories where user_id = $1", user_id
            )
            assert memories == 3
        finally:
            await conn.close()
            await records.close()
        assert temporal, "the killed command had started a Temporal dev server"
        _, alive = psutil.wait_procs(temporal, timeout=30)
        assert not alive, "the killed command's Temporal dev server outlived it"
    finally:
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(state, ignore_errors=True)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _callflow() -> str:
    return str(Path(sys.executable).parent / "callflow")


def _cli_env(state: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "SUPABASE_URL") and not k.startswith("CALLFLOW_")
    }
    env["CALLFLOW_STATE_DIR"] = str(state)
    return env
