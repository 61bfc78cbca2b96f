"""Calls through the whole real local stack: the phone simulator answers the real VoIP push,
joins the real LiveKit room, and livekit-server's own webhooks drive the workflow."""

from __future__ import annotations

import uuid

import pytest

from callflow.local.demo import place_call, run_call, seed_user
from callflow.local.stack.local import LocalStack

pytestmark = pytest.mark.e2e


async def test_an_answered_call_with_no_agent_ends_no_agent_from_real_webhooks(
    stack: LocalStack,
) -> None:
    # This stack runs no voice agent: the phone answers into silence and hangs up.
    user = await seed_user(stack, f"e2e-{uuid.uuid4().hex[:6]}")

    summary = await run_call(stack, user.user_id)

    assert summary["outcome"] == "no_agent"
    assert summary["pushes_received"] == 1
    assert summary["record_saved"] and summary["post_call_webhook_delivered"]
    assert not summary["memory_written"]  # nothing was said: nothing to remember
    record = await stack.records.get_call(summary["call_id"])
    assert record is not None and record.outcome == "no_agent" and record.attempts == 1
    assert "no agent greeted" in (record.failure_reason or "")
    push = next(p for p in stack.apns.received if p.payload["call_id"] == summary["call_id"])
    assert push.payload["provider"] == "livekit"
    assert push.payload["livekit_url"] == stack.settings.livekit_url
    assert push.payload["room"] == f"callflow-{summary['call_id']}-a1"
    assert summary["phone"]["left_because"] == "stay_elapsed"


async def test_a_declined_call_goes_through_the_call_api(stack: LocalStack) -> None:
    user = await seed_user(stack, f"e2e-{uuid.uuid4().hex[:6]}")
    stack.phone.set_mode("decline", user_id=user.user_id)

    started = await place_call(stack, user.user_id)
    result = await stack.client.get_workflow_handle(started["workflow_id"]).result()

    assert result["outcome"] == "declined"
    record = await stack.records.get_call(started["call_id"])
    assert record is not None and record.outcome == "declined"
    assert any(e.event["call_id"] == started["call_id"] for e in stack.receiver.events)


async def test_with_no_agent_worker_the_call_is_dispatched_again_then_ends_no_agent(
    stack: LocalStack,
) -> None:
    # This stack runs no agent worker, and the phone stays on the line (as a person would,
    # for a while): the workflow dispatches once more, then closes the room.
    user = await seed_user(stack, f"e2e-{uuid.uuid4().hex[:6]}")
    stack.phone.stay_s = 120.0
    try:
        summary = await run_call(stack, user.user_id)
    finally:
        stack.phone.stay_s = 1.0

    assert summary["outcome"] == "no_agent"
    record = await stack.records.get_call(summary["call_id"])
    assert record is not None and record.outcome == "no_agent"
    assert record.agent_redispatches == 1
    assert "nor of a second dispatch" in (record.failure_reason or "")
    assert summary["phone"]["left_because"] != "stay_elapsed"  # the room was closed on it
