"""A whole offline call on a real livekit-server: the agent (scripted STT/LLM, espeak-ng TTS,
silero VAD, local turn detector) talks with the phone simulator, which speaks real audio."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc
from livekit.agents.testing import fake_job_context

from agent.call_session import run_call
from agent.metadata import CallContext, DueCommitment, UserProfile
from agent.offline.script import get_script
from agent.providers import build_providers
from agent.signals import (
    SIGNAL_AGENT_READY,
    SIGNAL_AGENT_REPORT,
    SIGNAL_TRANSCRIPT_TURN,
    InMemoryWorkflowSignals,
)
from callflow.local.phone.device import DeviceState
from callflow.local.phone.simulator import PhoneSimulator
from callflow.local.phone.voice import phone_app
from callflow.local.stack.livekit import LocalLiveKit
from callflow.ports import AgentPresence
from callflow.rooms import LiveKitRooms
from callflow.settings import Settings
from tests.agent.conftest import new_room, push_payload, token
from workflows.messages import AgentReady, AgentReport

pytestmark = pytest.mark.e2e


async def presence_within(server: LocalLiveKit, room: str, timeout_s: float) -> AgentPresence:
    """The agent's presence as the ring sees it, once it speaks or `timeout_s` passes."""
    rooms = LiveKitRooms(server.url, server.api_key, server.api_secret)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while (presence := await rooms.agent_presence(room)) is not AgentPresence.SPEAKING:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        return presence
    finally:
        await rooms.close()


async def test_offline_call_end_to_end(livekit_server: LocalLiveKit) -> None:
    room_name = new_room()
    call = CallContext(
        call_id="c-e2e",
        workflow_id="call-c-e2e",
        user=UserProfile(user_id="user-e2e", display_name="Ada"),
        memory=["Ada is training for a half marathon"],
        due_commitments=[DueCommitment("k-1", "Run three times this week", "2026-11-27")],
    )
    settings = Settings()
    script = get_script(None)
    providers = build_providers(settings, script)
    signals = InMemoryWorkflowSignals()
    state = DeviceState(battery_level=0.55)
    handlers, on_connected, logs = phone_app(state)
    phone = PhoneSimulator(rpc_handlers=handlers, on_connected=on_connected, max_call_s=90)

    room = rtc.Room()
    await room.connect(
        livekit_server.url, token(livekit_server, room_name, "agent-e2e", agent=True)
    )
    try:
        with fake_job_context(room=room):
            agent_task = asyncio.create_task(
                run_call(room, call, settings=settings, providers=providers, signals=signals)
            )
            # The ring pushes only once LiveKit lists the agent's voice (activities/ring.py):
            # the agent publishes it before any phone is in the room.
            assert await presence_within(livekit_server, room_name, 10.0) is AgentPresence.SPEAKING
            assert not room.remote_participants
            [published] = room.local_participant.track_publications.values()
            assert published.kind == rtc.TrackKind.KIND_AUDIO
            await phone.on_push(push_payload(livekit_server, room_name, call.phone_identity))
            phone_log = await phone.wait_for(room_name, timeout_s=90)
            report = await asyncio.wait_for(agent_task, 30)
    finally:
        await phone.close()
        await room.disconnect()

    convo = logs[room_name]
    assert phone_log.errors == [], phone_log.errors
    assert phone_log.left_because == "hook_done"
    assert convo.lines_spoken == list(script.phone_lines)
    assert phone_log.first_agent_audio_at is not None and phone_log.joined_at is not None
    heard_after_s = phone_log.first_agent_audio_at - phone_log.joined_at
    assert 0 < heard_after_s < 10

    ready = signals.payloads(SIGNAL_AGENT_READY)
    assert len(ready) == 1 and isinstance(ready[0], AgentReady)
    assert 0 < ready[0].first_audio_ms < 10_000

    turns = signals.payloads(SIGNAL_TRANSCRIPT_TURN)
    user_lines = [t.text for t in turns if t.role == "user"]
    assert user_lines == list(script.phone_lines)
    agent_lines = [t.text for t in turns if t.role == "agent"]
    assert "Run three times this week" in agent_lines[0]
    assert any("55 percent" in line for line in agent_lines)
    assert "Goodbye" in agent_lines[-1]
    assert [t.event_id for t in turns] == [f"{room_name}:turn:{n}" for n in range(len(turns))]

    (sent,) = signals.payloads(SIGNAL_AGENT_REPORT)
    assert sent == report and isinstance(report, AgentReport)
    assert report.tools_called == ["get_battery_level"]
    assert state.calls == ["device.battery"]
    assert report.tts_characters >= sum(len(line) for line in agent_lines) * 0.9
    assert report.stt_seconds > 3.0
    assert report.llm_completion_tokens > 0 and report.llm_prompt_tokens > 0
    assert report.providers["llm"] == "offline scripted LLM"
    assert report.providers["tts"].startswith("offline espeak-ng TTS")
    assert report.providers["stt"].startswith("offline scripted STT")
    assert len(report.turn_latencies) == len(agent_lines)
    replies = report.turn_latencies[1:]  # the greeting follows no user turn
    assert any(lat.end_of_utterance_ms > 0 for lat in replies)
    # VAD's end of speech ends an offline turn: no 2.5 s wait for an unsure turn detector.
    answered = [lat for lat in replies if lat.total_ms is not None]
    assert answered and max(lat.end_of_utterance_ms for lat in answered) < 1_500
    # The greeting's audio was synthesized while the phone rang (agent/greeting.py); every reply
    # is synthesized in the turn.
    assert all(lat.tts_ttfb_ms > 0 for lat in replies)
    print("\nfirst audio (agent side) ms:", round(ready[0].first_audio_ms))
    print("first audio (phone side) ms:", round(heard_after_s * 1000))
    print("latencies:", report.turn_latencies)
    print(
        "usage:",
        report.stt_seconds,
        report.llm_prompt_tokens,
        report.llm_completion_tokens,
        report.tts_characters,
    )
