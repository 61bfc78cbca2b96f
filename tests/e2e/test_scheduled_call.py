"""A user's schedule fires the real CallWorkflow on the dev server, which prepares, sleeps until
the due time (the schedule's time + its lead) and rings the phone through the whole stack."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest

from callflow.local.demo import seed_user
from callflow.local.stack.local import LocalStack
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.spec import CallSchedule
from workflows.call import SCHEDULED_START

pytestmark = pytest.mark.e2e
LEAD_S = 3.0


async def test_a_schedule_fires_a_call_that_rings_at_its_due_time(stack: LocalStack) -> None:
    user = await seed_user(stack, f"sched-{uuid.uuid4().hex[:6]}")
    manager = ScheduleManager(stack.client, stack.settings, lead_s=LEAD_S)
    schedule = CallSchedule.parse(
        {"timezone": "Europe/London", "days": ["mon"], "times": ["07:30"]}
    )
    await manager.create(user.user_id, schedule)
    try:
        await manager.trigger(user.user_id)
        prefix = f"call-sched-{user.user_id}-"
        workflow_id = None
        for _ in range(100):
            async for wf in stack.client.list_workflows(f"CallUserId = '{user.user_id}'"):
                workflow_id = wf.id
            if workflow_id:
                break
            await asyncio.sleep(0.1)
        assert workflow_id is not None and workflow_id.startswith(prefix)
        handle = stack.client.get_workflow_handle(workflow_id)
        result = await asyncio.wait_for(handle.result(), 120)
        described = await handle.describe()
    finally:
        await manager.delete(user.user_id)

    assert result["outcome"] == "no_agent"  # this stack runs no voice agent
    assert result["call_id"] == workflow_id.removeprefix("call-")
    stages = {m["stage"]: datetime.fromisoformat(m["at"]) for m in result["stages"]}
    # prepared first, then slept until the due time, then rang
    assert stages["fetching_memory"] < stages["waiting_due"] < stages["ringing"]
    fired_for = described.typed_search_attributes.get(SCHEDULED_START)
    assert fired_for is not None
    assert stages["ringing"] >= fired_for + timedelta(seconds=LEAD_S)
    record = await stack.records.get_call(result["call_id"])
    assert record is not None and record.outcome == "no_agent"


async def test_the_call_api_of_the_local_stack_manages_schedules(stack: LocalStack) -> None:
    user_id = f"sched-{uuid.uuid4().hex[:6]}"
    async with stack.api_client() as http:
        unknown = await http.put(
            f"/users/{user_id}/schedule",
            json={"timezone": "Asia/Tokyo", "days": ["tue"], "times": ["08:00"]},
        )
        assert unknown.status_code == 404  # no schedule for a user the records do not know
        await seed_user(stack, user_id)
        bad = await http.put(
            f"/users/{user_id}/schedule",
            json={"timezone": "Mars/Olympus", "days": ["mon"], "times": ["07:30"]},
        )
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "timezone"
        good = await http.put(
            f"/users/{user_id}/schedule",
            json={"timezone": "Asia/Tokyo", "days": ["tue", "thu"], "times": ["08:00"]},
        )
        assert good.status_code == 201
        gone = await http.delete(f"/users/{user_id}/schedule")
        assert gone.status_code == 204
