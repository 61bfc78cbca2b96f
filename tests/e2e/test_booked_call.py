"""A call booked through the call API with `scheduled_for` prepares at once, waits, and rings at
its time on the whole local stack; a cancel while it waits withholds the push."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from callflow.local.demo import seed_user
from callflow.local.stack.local import LocalStack
from workflows.messages import workflow_id_for

pytestmark = pytest.mark.e2e


async def _book(stack: LocalStack, user_id: str, at: datetime) -> str:
    async with stack.api_client() as http:
        response = await http.post(
            "/calls", json={"user_id": user_id, "scheduled_for": at.isoformat()}
        )
    assert response.status_code == 201, response.text
    return str(response.json()["call_id"])


def _pushes_for(stack: LocalStack, call_id: str) -> list[float]:
    return [p.received_at_wall for p in stack.apns.received if p.payload.get("call_id") == call_id]


async def test_a_booked_call_rings_at_its_time_not_before(stack: LocalStack) -> None:
    user = await seed_user(stack, f"booked-{uuid.uuid4().hex[:6]}")
    due = datetime.now(UTC) + timedelta(seconds=6)
    call_id = await _book(stack, user.user_id, due)

    await asyncio.sleep(2)
    assert _pushes_for(stack, call_id) == []  # booked, prepared, not rung yet
    handle = stack.client.get_workflow_handle(workflow_id_for(call_id))
    result = await asyncio.wait_for(handle.result(), 120)

    assert result["outcome"] == "no_agent"  # this stack runs no voice agent
    pushes = _pushes_for(stack, call_id)
    assert len(pushes) == 1
    assert pushes[0] >= due.timestamp()
    stages = {m["stage"]: datetime.fromisoformat(m["at"]) for m in result["stages"]}
    assert stages["fetching_memory"] < due  # prepared ahead of the due time


async def test_a_booked_call_cancelled_while_it_waits_never_rings(stack: LocalStack) -> None:
    user = await seed_user(stack, f"booked-{uuid.uuid4().hex[:6]}")
    call_id = await _book(stack, user.user_id, datetime.now(UTC) + timedelta(seconds=30))
    async with stack.api_client(operator=True) as http:  # cancel needs the operator scope
        cancelled = await http.post(f"/calls/{call_id}/cancel", json={"reason": "user asked"})
    assert cancelled.status_code == 200, cancelled.text

    result = await asyncio.wait_for(
        stack.client.get_workflow_handle(workflow_id_for(call_id)).result(), 60
    )
    assert result["outcome"] == "cancelled"
    assert _pushes_for(stack, call_id) == []
    record = await stack.records.get_call(call_id)
    assert record is not None and record.outcome == "cancelled"
