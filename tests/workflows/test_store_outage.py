"""A records-store outage around a call's due time makes the call late, not failed: on the dev
server (real time), with Postgres stopped for ~20 s around the due time, the call rings once
the store is back, once, and its record says how late."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client

from callflow.local.stack.postgres import LocalPostgres, start_scratch_postgres
from callflow.models import User
from callflow.records.postgres import PostgresRecords
from callflow.runtime import Ports, create_worker
from callflow.settings import Settings
from tests.support.outage import start_postgres_again, stop_postgres
from tests.workflows.fakes import (
    FakePhone,
    FakeRooms,
    MemoryMemory,
    RecordingNotifier,
    ScriptedAnalyzer,
)
from workflows.call import CallWorkflow
from workflows.messages import CallInput, CallTimings, workflow_id_for

pytestmark = pytest.mark.slow
DUE_IN_S = 25.0
OUTAGE_BEFORE_DUE_S = 10.0
OUTAGE_S = 20.0


@pytest_asyncio.fixture(loop_scope="session")
async def own_postgres() -> AsyncIterator[LocalPostgres]:
    """A server of this test's own: it is stopped and started again."""
    pg = await start_scratch_postgres(prefix="callflow-outage-pg-")
    try:
        yield pg
    finally:
        pg.stop()


async def test_postgres_away_around_the_due_time_rings_once_late(
    own_postgres: LocalPostgres, temporal_client: Client
) -> None:
    records = await PostgresRecords.connect(own_postgres.dsn)
    user_id = f"outage-{uuid.uuid4().hex[:6]}"
    await records.upsert_user(User(user_id, "Ada", voip_token="ab" * 32))
    phone = FakePhone(temporal_client, ["answer"], user_id)
    ports = Ports(
        records, MemoryMemory(), phone, FakeRooms(), ScriptedAnalyzer(), RecordingNotifier()
    )
    task_queue = f"outage-{uuid.uuid4().hex[:8]}"
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    due = datetime.now(UTC) + timedelta(seconds=DUE_IN_S)
    timings = CallTimings(join_timeout_s=45, max_attempts=1, ring_arm_s=5.0)
    try:
        async with create_worker(temporal_client, ports, Settings(task_queue=task_queue)):
            handle = await temporal_client.start_workflow(
                CallWorkflow.run,
                CallInput(
                    call_id=call_id,
                    user_id=user_id,
                    timings=timings,
                    scheduled_for=due.isoformat(),
                ),
                id=workflow_id_for(call_id),
                task_queue=task_queue,
            )
            stop_at = due - timedelta(seconds=OUTAGE_BEFORE_DUE_S)
            await asyncio.sleep((stop_at - datetime.now(UTC)).total_seconds())
            await stop_postgres(own_postgres)
            stopped = datetime.now(UTC)
            await asyncio.sleep(OUTAGE_S)
            await start_postgres_again(own_postgres)
            back = datetime.now(UTC)
            result = await asyncio.wait_for(handle.result(), 120)
        assert stopped < due < back
        assert result.outcome == "completed", result.failure_reason
        assert result.pushes_sent == 1 and len(phone.pushes) == 1
        record = await records.get_call(call_id)
        assert record is not None and record.outcome == "completed"
        # Rang after the store came back, and the record says how late that was.
        late_ms = record.latency["ring_late_ms"]
        assert (back - due).total_seconds() * 1000 - 1000 <= late_ms <= 30_000
    finally:
        await records.close()
