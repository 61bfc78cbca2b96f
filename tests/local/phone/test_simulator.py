"""PhoneSimulator modes that need no LiveKit server: decline, ignore, expired and bad pushes.

Answering a push on a real server is tested in tests/rooms/test_phone_joins.py.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from livekit import api

from callflow.local.phone.simulator import Mode, Outcome, PhoneSimulator
from callflow.local.stack.temporal import free_port


def payload(call_id: str, user_id: str = "user-1", expires_in_s: float = 60) -> dict[str, Any]:
    token = (
        api.AccessToken("devkey", "s" * 40)
        .with_identity(user_id)
        .with_grants(api.VideoGrants(room_join=True, room=f"callflow-{call_id}-a1"))
        .to_jwt()
    )
    expires = datetime.now(UTC) + timedelta(seconds=expires_in_s)
    return {
        "call_id": call_id,
        "provider": "livekit",
        # Nothing listens here: a simulator that tried to join would record an error.
        "livekit_url": f"ws://127.0.0.1:{free_port()}",
        "room": f"callflow-{call_id}-a1",
        "token": token,
        "caller_name": "Callflow Coach",
        "expires_at": expires.isoformat(),
    }


class DeclineRecorder:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.declined: list[str] = []
        self.tokens: list[str] = []

    async def __call__(self, call_id: str, room_token: str) -> None:
        await asyncio.sleep(self.delay_s)  # the call API's round trip
        self.declined.append(call_id)
        self.tokens.append(room_token)


async def test_decline_reports_through_the_callback_without_holding_the_push() -> None:
    decline = DeclineRecorder(delay_s=0.3)
    phone = PhoneSimulator(mode="decline", decline=decline)
    push = payload("c-decline")

    began = time.monotonic()
    await phone.on_push(push)
    assert time.monotonic() - began < 0.05
    assert decline.declined == []  # still in flight

    call = await phone.wait_for("c-decline", timeout_s=5)
    assert decline.declined == ["c-decline"]
    assert decline.tokens == [push["token"]]  # the push's room token proves the decline
    assert call.outcome is Outcome.DECLINED
    assert call.declined_at is not None and call.declined_at >= call.push_received_at + 0.3
    assert call.joined_at is None and call.errors == []


async def test_ignore_does_nothing() -> None:
    decline = DeclineRecorder()
    phone = PhoneSimulator(mode=Mode.IGNORE, decline=decline)
    await phone.on_push(payload("c-ignore"))
    call = await phone.wait_for("c-ignore", timeout_s=5)
    assert call.outcome is Outcome.IGNORED
    assert decline.declined == [] and call.joined_at is None and call.errors == []


async def test_modes_per_user_and_per_call() -> None:
    decline = DeclineRecorder()
    phone = PhoneSimulator(mode="ignore", decline=decline)
    phone.set_mode("decline", user_id="user-grumpy")
    phone.set_mode("ignore", call_id="c-3")  # a call overrides its user

    await phone.on_push(payload("c-1", user_id="user-grumpy"))
    await phone.on_push(payload("c-2", user_id="user-calm"))
    await phone.on_push(payload("c-3", user_id="user-grumpy"))
    outcomes = {cid: (await phone.wait_for(cid)).outcome for cid in ("c-1", "c-2", "c-3")}

    assert outcomes == {"c-1": Outcome.DECLINED, "c-2": Outcome.IGNORED, "c-3": Outcome.IGNORED}
    assert phone.calls["c-1"].identity == "user-grumpy"  # read from the token's subject
    assert decline.declined == ["c-1"]


async def test_expired_push_is_not_answered() -> None:
    phone = PhoneSimulator(mode="answer")
    await phone.on_push(payload("c-late", expires_in_s=-5))
    call = await phone.wait_for("c-late", timeout_s=5)
    assert call.outcome is Outcome.EXPIRED
    assert call.joined_at is None
    assert "expired" in call.errors[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": ""}, "token"),
        ({"livekit_url": None, "room": None}, "livekit_url, room"),
        ({"provider": "elevenlabs"}, "provider"),
        ({"expires_at": "tomorrow"}, "expires_at"),
    ],
)
async def test_invalid_push_names_the_field(change: dict[str, Any], message: str) -> None:
    phone = PhoneSimulator()
    await phone.on_push({**payload("c-bad"), **change})
    call = await phone.wait_for("c-bad", timeout_s=5)
    assert call.outcome is Outcome.INVALID
    assert message in call.errors[0]


async def test_decline_without_a_callback_fails_loudly() -> None:
    phone = PhoneSimulator(mode="decline")
    await phone.on_push(payload("c-nocb"))
    call = await phone.wait_for("c-nocb", timeout_s=5)
    assert call.outcome is Outcome.FAILED
    assert "decline callback" in call.errors[0]


async def test_unreachable_server_is_recorded_as_failed() -> None:
    phone = PhoneSimulator(mode="answer", connect_timeout_s=2)
    await phone.on_push(payload("c-down"))
    call = await phone.wait_for("c-down", timeout_s=30)
    assert call.outcome is Outcome.FAILED
    assert call.joined_at is None and call.left_at is None
    assert call.errors and "ConnectError" in call.errors[0]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'voicemail'"):
        PhoneSimulator(mode="voicemail")
