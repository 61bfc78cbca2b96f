"""Signed LiveKit webhooks created too long ago are acknowledged and ignored (issue 13, item 5)."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from livekit.protocol.webhook import WebhookEvent

from callflow.service.livekit_webhook import Ignored, WorkflowSignal, signal_for
from tests.service.conftest import KNOWN_USER, Stack
from tests.service.helpers import received, room_of, start_call
from tests.service.livekit_signing import event_body, signed_headers

THIRTY_DAYS_S = 30 * 86_400


def joined_at(created_at: int) -> WebhookEvent:
    event = WebhookEvent(event="participant_joined", id="EV_1", created_at=created_at)
    event.room.name = "callflow-abc-a1"
    event.participant.identity = "u1"
    return event


def test_age_beyond_the_limit_is_ignored_and_says_how_old() -> None:
    now = 1_800_000_000
    fresh = signal_for(joined_at(now - 299), now=now)
    stale = signal_for(joined_at(now - 301), now=now)
    tighter = signal_for(joined_at(now - 61), now=now, max_age_s=60)

    assert isinstance(fresh, WorkflowSignal)
    assert isinstance(stale, Ignored) and "created 301s ago" in stale.reason
    assert isinstance(tighter, Ignored) and "more than the 60s allowed" in tighter.reason


async def post_webhook(stack: Stack, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.server.url, timeout=10) as livekit:
        return await livekit.post("/livekit/webhook", content=body, headers=signed_headers(body))


@pytest.mark.parametrize("event", ["room_finished", "participant_joined"])
async def test_a_month_old_signed_event_changes_nothing(
    stack: Stack, event: str, caplog: pytest.LogCaptureFixture
) -> None:
    call_id = await start_call(stack)
    body = event_body(
        event,
        room_of(call_id),
        identity=KNOWN_USER,
        event_id=f"EV_old_{event}_{call_id}",
        created_at=int(time.time()) - THIRTY_DAYS_S,
    )

    with caplog.at_level(logging.INFO, logger="callflow.service.routes"):
        response = await post_webhook(stack, body)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ignored"
    assert "stale" in response.json()["reason"]
    assert (await received(stack, call_id)).signals == []
    logged = [r.getMessage() for r in caplog.records if "stale" in r.getMessage()]
    assert logged and "created 25920" in logged[0]  # 30 days, a second or so more
