"""A worker killed while it holds an armed ring: another worker rings the phone, once, on time.

Real parts: the Temporal dev server, Postgres (push claims), livekit-server, the local APNs
endpoint, and the worker as its own process (SIGKILLed, then a second one started).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState

from callflow.local.bench.phones import PhoneBehaviour, SimulatedPhones, voip_token_for
from callflow.local.bench.stack import bench_stack, start_worker_process
from callflow.models import User
from workflows.call import CallWorkflow
from workflows.messages import CallInput, CallTimings, workflow_id_for

pytestmark = pytest.mark.e2e

TIMINGS = CallTimings(
    join_timeout_s=30,
    max_attempts=1,
    max_call_s=60,
    room_probe_interval_s=10,
    ring_arm_s=30,
    ring_heartbeat_timeout_s=2,
)


async def test_a_worker_killed_while_armed_rings_once_from_another_worker() -> None:
    async with bench_stack() as stack:
        call_id = f"armed-{uuid.uuid4().hex[:8]}"
        user_id = f"user-{call_id}"
        await stack.records.upsert_user(User(user_id, "Kim", voip_token_for(user_id)))
        phones = SimulatedPhones(stack.client, PhoneBehaviour(0.5, 0.5))
        phones.register(stack.apns, [user_id])
        due = datetime.now(UTC) + timedelta(seconds=10)
        handle = await stack.client.start_workflow(
            CallWorkflow.run,
            CallInput(call_id, user_id, timings=TIMINGS, scheduled_for=due.isoformat()),
            id=workflow_id_for(call_id),
            task_queue=stack.task_queue,
        )

        async def armed() -> None:
            while True:
                pending = (await handle.describe()).raw_description.pending_activities
                if any(
                    a.activity_type.name == "ring"
                    and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    for a in pending
                ):
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(armed(), timeout=8)
        os.kill(stack.worker.pid, signal.SIGKILL)
        await stack.worker.process.wait()
        second = await start_worker_process(stack.worker_settings, stack.state_dir / "worker-2.log")
        try:
            result = await asyncio.wait_for(handle.result(), timeout=60)
        finally:
            await second.stop()
        await phones.settle()

        pushes = [p for p in stack.apns.received if p.payload.get("call_id") == call_id]
        assert len(pushes) == 1  # rung once, by the second worker
        assert pushes[0].received_at_wall >= due.timestamp()  # and not before it was due
        # Its phones answer with no agent in the room: rung once, then ended as such.
        assert result.outcome == "no_agent" and result.pushes_sent == 1
        history = (await handle.fetch_history()).events
        ring_attempts = [
            e.activity_task_started_event_attributes.attempt
            for e in history
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        ]
        assert 2 in ring_attempts  # the ring was retried after the heartbeat timeout
        assert await stack.records.count_pushes("sent") == 1
