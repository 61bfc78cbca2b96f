"""Record CallWorkflow histories for the replay test (tests/workflows/test_replay.py).

    python -m tests.workflows.record_histories LABEL

runs a few calls of the checked-out code on the time-skipping server and writes each
history to tests/workflows/histories/LABEL-SCENARIO.json. Record a new label after a
change to the workflow that is guarded by `workflow.patched`; never re-record an old
label: those files are what calls started by an earlier deploy have in their histories.
To record an older commit, copy this file and callflow/local/stack/temporal.py into a checkout
of it (only the workflow code decides what a history holds).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from callflow.models import Commitment, User
from callflow.runtime import Ports, create_worker
from callflow.settings import Settings
from tests.support.temporal import start_time_skipping_server
from tests.workflows.fakes import (
    FakePhone,
    FakeRooms,
    MemoryMemory,
    MemoryRecords,
    RecordingNotifier,
    ScriptedAnalyzer,
)
from workflows.call import CallWorkflow
from workflows.messages import (
    CallInput,
    CallResult,
    CallTimings,
    CancelRequest,
    workflow_id_for,
)

HISTORIES = Path(__file__).parent / "histories"
USER = "user-1"
TIMINGS = CallTimings(
    join_timeout_s=45,
    max_attempts=3,
    retry_backoff_s=[120, 300],
    max_call_s=900,
    room_probe_interval_s=30,
    memory_budget_ms=400,
)

During = Callable[[WorkflowHandle[CallWorkflow, CallResult]], Awaitable[None]]
Fields = Callable[[datetime], dict[str, object]]


def _no_fields(now: datetime) -> dict[str, object]:
    return {}


def _due_in(delay: timedelta) -> Fields:
    def fields(now: datetime) -> dict[str, object]:
        return {"scheduled_for": (now + delay).isoformat()}

    return fields


async def _cancel_soon(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
    while (await handle.query(CallWorkflow.status)).stage != "waiting_due":
        await asyncio.sleep(0.02)
    await asyncio.sleep(1)  # time is not skipped while the test waits: the ring is armed
    await handle.execute_update(CallWorkflow.cancel, CancelRequest("user paused calls"))


async def _cancel_while_awaiting_join(handle: WorkflowHandle[CallWorkflow, CallResult]) -> None:
    while (await handle.query(CallWorkflow.status)).stage != "awaiting_join":
        await asyncio.sleep(0.02)
    await handle.cancel()


async def record(label: str) -> list[Path]:
    env = await start_time_skipping_server()
    try:
        # Time skips while a call runs (an hour after the first one here): each scenario
        # reads the clock just before it starts.
        scenarios: dict[str, tuple[list[str], Fields, During | None]] = {
            "answered-now": (["answer"], _no_fields, None),
            "due-in-2h-answered": (["answer"], _due_in(timedelta(hours=2)), None),
            # Due within ring_arm_s: since armed rings, the ring is armed when the cancel comes.
            "cancelled-before-due": (["answer"], _due_in(timedelta(seconds=6)), _cancel_soon),
            "missed-3-attempts": (["ignore"], _no_fields, None),
            "cancelled-from-temporal": (["ignore"], _no_fields, _cancel_while_awaiting_join),
        }
        written = []
        for name, (actions, fields, during) in scenarios.items():
            history = await _run(env, actions, fields(await env.get_current_time()), during)
            path = HISTORIES / f"{label}-{name}.json"
            path.write_text(history + "\n")
            written.append(path)
        return written
    finally:
        await env.shutdown()


async def _run(
    env: WorkflowEnvironment,
    actions: list[str],
    fields: dict[str, object],
    during: During | None,
) -> str:
    records = MemoryRecords()
    await records.upsert_user(User(USER, "Ada", voip_token="ab" * 32))
    await records.upsert_commitments(
        [Commitment("cm-1", USER, "walk 10k steps daily", "2020-01-01")]
    )
    phone = FakePhone(env.client, actions, USER)  # type: ignore[arg-type]
    ports = Ports(
        records, MemoryMemory(), phone, FakeRooms(), ScriptedAnalyzer(), RecordingNotifier()
    )
    call_id = f"c-{uuid.uuid4().hex[:10]}"
    task_queue = f"record-{uuid.uuid4().hex[:8]}"
    async with create_worker(env.client, ports, Settings(task_queue=task_queue)):
        handle = await env.client.start_workflow(
            CallWorkflow.run,
            CallInput(call_id=call_id, user_id=USER, timings=TIMINGS, **fields),  # type: ignore[arg-type]
            id=workflow_id_for(call_id),
            task_queue=task_queue,
        )
        if during is not None:
            await during(handle)
        await handle.result()
        return (await handle.fetch_history()).to_json()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.workflows.record_histories LABEL")
    for path in asyncio.run(record(sys.argv[1])):
        print(path, flush=True)
    # Skip interpreter teardown: the SDK's threads can abort it.
    os._exit(0)
