"""The accountability loop on the whole local stack with the voice agent: the first call takes a
commitment, the second call's agent is told about it and asks, and the verdict is saved, once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType

from activities.ring import RingInput
from agent.instructions import build_instructions
from agent.metadata import parse_call_context
from callflow.local.demo import run_call, run_followup_call, seed_user
from callflow.local.stack.local import LocalStack
from workflows.messages import workflow_id_for

pytestmark = pytest.mark.e2e

CALL_TIMEOUT_S = 150.0
MEDITATION = "meditate for ten minutes every morning"


async def _agent_instructions(stack: LocalStack, call_id: str) -> str:
    """The instructions the second call's agent built from the job the workflow dispatched."""
    history = await stack.client.get_workflow_handle(workflow_id_for(call_id)).fetch_history()
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        scheduled = event.activity_task_scheduled_event_attributes
        if scheduled.activity_type.name == "ring":
            (ring,) = await stack.client.data_converter.decode(
                scheduled.input.payloads, [RingInput]
            )
            return build_instructions(parse_call_context(ring.agent_metadata))
    raise AssertionError(f"call {call_id} never rang")


async def test_the_second_call_asks_about_the_first_calls_commitment(
    agent_stack: LocalStack,
) -> None:
    user = await seed_user(agent_stack, f"e2e-loop-{uuid.uuid4().hex[:6]}")

    first = await asyncio.wait_for(run_call(agent_stack, user.user_id), CALL_TIMEOUT_S)
    second = await asyncio.wait_for(run_followup_call(agent_stack, user), CALL_TIMEOUT_S)

    assert first["outcome"] == second["outcome"] == "completed"
    # The first call's new commitment reached the second call's agent, which asked about it.
    assert MEDITATION in await _agent_instructions(agent_stack, second["call_id"])
    record = await agent_stack.records.get_call(second["call_id"])
    assert record is not None
    assert any(MEDITATION in t.text for t in record.transcript if t.role == "agent")
    # The verdict is saved with the user's words, and the commitment exists once.
    check_ins = [
        c
        for c in await agent_stack.records.commitment_history(user_id=user.user_id)
        if c.call_id == second["call_id"]
    ]
    open_now = await agent_stack.records.open_commitments(user.user_id)
    meditations = [c for c in open_now if c.text == MEDITATION]
    assert len(meditations) == 1
    assert [(c.commitment_id, c.verdict) for c in check_ins] == [
        (meditations[0].commitment_id, "kept")
    ]
    assert check_ins[0].evidence and "meditated" in check_ins[0].evidence
    # Daily: kept today, it stays open and falls due again tomorrow.
    assert meditations[0].recurrence == "daily"
    assert meditations[0].due_date is not None and meditations[0].due_date > check_ins[0].asked_on
    # Both rang only with an agent slot held (reported by the agent worker), freed after.
    assert "wait_for_agent_ms" in record.latency
    conn = await asyncpg.connect(agent_stack.postgres.dsn)
    try:
        left = await conn.fetchval(
            "select count(*) from agent_slots where call_id = any($1::text[])",
            [first["call_id"], second["call_id"]],
        )
        capacity = await conn.fetchval(
            "select coalesce(sum(capacity), 0) from agent_workers where expires_at > now()"
        )
    finally:
        await conn.close()
    assert left == 0 and capacity >= 1
