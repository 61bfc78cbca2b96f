"""Calls with the voice agent through the whole real local stack: the agent worker runs as its
own process, the phone simulator answers the real VoIP push, hears the agent, speaks its
scripted lines with espeak-ng and serves the device RPC methods; livekit-server's webhooks and
the agent's signals drive the workflow, and the record lands in embedded Postgres."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agent.offline.llm import BATTERY_TOOL
from agent.offline.script import get_script
from callflow.local.bench.agent import workflow_signals
from callflow.local.demo import place_call, run_call, seed_user
from callflow.local.phone.device import DeviceState, device_rpc_handlers
from callflow.local.stack.local import LocalStack, StackOptions, start_local_stack
from callflow.settings import Settings
from workflows.call import CallWorkflow
from workflows.messages import TranscriptTurnSignal

pytestmark = pytest.mark.e2e

CALL_TIMEOUT_S = 150.0


async def test_an_agent_call_completes_with_transcript_tools_cost_and_latency(
    agent_stack: LocalStack,
) -> None:
    # A device state of our own, so the test sees the battery RPC arrive at the phone.
    device = DeviceState(battery_level=0.64)
    agent_stack.phone.rpc_handlers = device_rpc_handlers(device)
    user = await seed_user(agent_stack, f"e2e-agent-{uuid.uuid4().hex[:6]}")

    summary = await asyncio.wait_for(run_call(agent_stack, user.user_id), CALL_TIMEOUT_S)

    assert summary["outcome"] == "completed"
    assert summary["ended_by"] == "room_finished"  # the real webhook, not the probe or the cap
    phone = agent_stack.phone.calls[summary["call_id"]]
    assert phone.joined_at is not None and phone.first_agent_audio_at is not None
    assert phone.first_agent_audio_at > phone.joined_at  # the phone heard the greeting
    assert phone.left_because == "hook_done"  # it hung up after the agent's goodbye
    # The tool ran on the phone, and the agent reported it to the workflow.
    assert BATTERY_TOOL in summary["tools_called"]
    assert device.calls == ["device.battery"]
    assert summary["agent_first_audio_ms"] is not None and summary["agent_first_audio_ms"] > 0

    record = await agent_stack.records.get_call(summary["call_id"])
    assert record is not None and record.outcome == "completed"
    roles = [t.role for t in record.transcript]
    assert len(roles) >= 4 and set(roles) == {"agent", "user"}
    assert len(roles) == summary["transcript_turns"]
    assert roles[0] == "agent"  # the greeting comes first
    script = get_script(None)
    user_lines = [t.text for t in record.transcript if t.role == "user"]
    assert user_lines == list(script.phone_lines)  # exactly what the phone said, in order
    spoken = agent_stack.phone_logs[summary["call_id"]].lines_spoken
    assert spoken == list(script.phone_lines)
    assert any("64 percent" in t.text for t in record.transcript if t.role == "agent")
    # The agent's report reached the workflow: usage, so a cost, and the latency figures.
    assert record.usage is not None and record.usage.tts_characters > 0
    assert record.usage.llm_completion_tokens > 0 and record.usage.stt_seconds > 0
    assert record.cost_usd is not None and record.cost_usd > 0
    assert record.tools_called == [BATTERY_TOOL]
    assert record.latency["first_audio_ms"] == pytest.approx(summary["agent_first_audio_ms"])
    for name in ("end_of_utterance_ms_avg", "llm_ttft_ms_avg", "tts_ttfb_ms_avg"):
        assert record.latency[name] > 0, name
    assert record.summary  # the post-call analysis ran on the transcript


@pytest_asyncio.fixture(loop_scope="session")
async def crash_stack() -> AsyncIterator[LocalStack]:
    """A stack of its own: the crash test kills its agent, which no other test may need."""
    state = Path(tempfile.mkdtemp(prefix="callflow-e2e-crash-"))
    running = await start_local_stack(
        Settings(_env_file=None),  # type: ignore[call-arg]
        StackOptions(state_dir=state, with_agent=True, departure_timeout_s=1),
    )
    try:
        yield running
    finally:
        await running.stop()


async def _wait_for_turns(handle: object, at_least: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await handle.query(CallWorkflow.status)  # type: ignore[attr-defined]
        if status.transcript_turns >= at_least:
            return int(status.transcript_turns)
        if status.outcome is not None or time.monotonic() > deadline:
            raise AssertionError(f"only {status.transcript_turns} turn(s) reached the workflow")
        await asyncio.sleep(0.1)


async def test_an_agent_crash_mid_call_loses_no_finished_turn(crash_stack: LocalStack) -> None:
    user = await seed_user(crash_stack, f"e2e-crash-{uuid.uuid4().hex[:6]}")
    started = await place_call(crash_stack, user.user_id)
    handle = crash_stack.client.get_workflow_handle(started["workflow_id"])
    await _wait_for_turns(handle, 2, timeout_s=60)
    # What the workflow holds right now; anything signalled after this only adds turns.
    before_kill = await workflow_signals(
        crash_stack.client, started["workflow_id"], "transcript_turn", TranscriptTurnSignal
    )
    agent = crash_stack.agent_process
    assert agent is not None
    # The worker and its job processes share the session it was started in.
    os.killpg(agent.pid, signal.SIGKILL)
    agent.wait(timeout=10)
    killed_at = time.monotonic()

    result = await asyncio.wait_for(handle.result(), 90)
    ended_after_s = time.monotonic() - killed_at

    assert len(before_kill) >= 2
    assert result["outcome"] == "completed"
    # The phone hangs up when the agent leaves; the empty room closes; the webhook ends the call.
    assert result["ended_by"] == "room_finished"
    phone = crash_stack.phone.calls[started["call_id"]]
    assert phone.left_because == "agent_left"
    record = await crash_stack.records.get_call(started["call_id"])
    assert record is not None and record.outcome == "completed"
    kept = {(t.role, t.text, t.started_at) for t in record.transcript}
    for turn in before_kill:
        assert (turn.role, turn.text, turn.started_at) in kept, turn
    assert record.tools_called == []  # no report came: the agent died before sending it
    assert record.usage is None and record.cost_usd is None
    # Measured ~32 s: livekit-server notices the dead agent's peer connection after ~21 s,
    # the empty room closes after its 1 s departure timeout, then the workflow waits its 10 s
    # grace for the agent report that never comes.
    assert ended_after_s < 60, ended_after_s
