"""The agent's own sight of the phone reaches the workflow as a join, a source of the answer
apart from LiveKit's webhook (which can be lost)."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc
from livekit.agents.testing import fake_job_context

from agent.call_session import run_call
from agent.metadata import CallContext, UserProfile
from agent.offline.script import get_script
from agent.providers import build_providers
from agent.signals import InMemoryWorkflowSignals, phone_seen_event_id
from callflow.local.phone.simulator import PhoneSimulator
from callflow.local.stack.livekit import LocalLiveKit
from callflow.settings import Settings
from tests.agent.conftest import new_room, push_payload, token
from workflows.messages import ParticipantEvent, SignalName


async def test_phone_seen_is_a_participant_joined_signal_with_its_own_event_id() -> None:
    signals = InMemoryWorkflowSignals()
    signals.phone_seen("callflow-c1-a1", "user-1", 1_800_000_000.5)
    assert await signals.drain(2.0)
    assert signals.payloads(SignalName.PARTICIPANT_JOINED) == [
        ParticipantEvent(
            phone_seen_event_id("callflow-c1-a1", "user-1"),
            "callflow-c1-a1",
            "user-1",
            "standard",
            1_800_000_000.5,
        )
    ]
    await signals.aclose()


@pytest.mark.e2e
async def test_the_agent_signals_the_phone_it_sees_in_the_room(
    livekit_server: LocalLiveKit,
) -> None:
    room_name = new_room()
    call = CallContext(
        call_id="c-seen",
        workflow_id="call-c-seen",
        user=UserProfile(user_id="user-seen", display_name="Ada"),
    )
    settings = Settings()
    providers = build_providers(settings, get_script(None))
    signals = InMemoryWorkflowSignals()
    phone = PhoneSimulator(stay_s=2.0)  # answers, stays silent for 2 s, hangs up
    room = rtc.Room()
    await room.connect(livekit_server.url, token(livekit_server, room_name, "agent-s", agent=True))
    try:
        with fake_job_context(room=room):
            agent_task = asyncio.create_task(
                run_call(room, call, settings=settings, providers=providers, signals=signals)
            )
            await phone.on_push(push_payload(livekit_server, room_name, call.phone_identity))
            await asyncio.wait_for(agent_task, 60)
    finally:
        await phone.close()
        await room.disconnect()

    [seen] = signals.payloads(SignalName.PARTICIPANT_JOINED)
    assert (seen.room, seen.identity, seen.kind) == (room_name, "user-seen", "standard")
    assert seen.event_id == phone_seen_event_id(room_name, "user-seen")
    names = [o.name for o in signals.delivered]
    assert names.index(SignalName.PARTICIPANT_JOINED) < names.index(SignalName.AGENT_REPORT)
