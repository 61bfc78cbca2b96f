"""The background signal queue: order, retry, give-up, and the Temporal delivery."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from agent.signals import (
    SIGNAL_TRANSCRIPT_TURN,
    InMemoryWorkflowSignals,
    RetryPolicy,
    TemporalWorkflowSignals,
    turn_event_id,
)
from workflows.messages import AgentReady, AgentReport, TranscriptTurnSignal


def turn(n: int) -> TranscriptTurnSignal:
    return TranscriptTurnSignal(
        event_id=turn_event_id("room-1", n), role="user", text=f"line {n}", started_at=1, ended_at=2
    )


async def test_enqueue_never_blocks_and_keeps_order_through_retries() -> None:
    signals = InMemoryWorkflowSignals(fail_next=3)
    for n in range(5):
        signals.transcript_turn(turn(n))  # returns at once, nothing awaited
    assert signals.delivered == []
    assert await signals.drain(5)
    assert [t.event_id for t in signals.payloads(SIGNAL_TRANSCRIPT_TURN)] == [
        f"room-1:turn:{n}" for n in range(5)
    ]
    assert signals.attempts == 8  # 3 failures retried, then 5 deliveries
    await signals.aclose()


async def test_gives_up_after_max_attempts_and_moves_on() -> None:
    signals = InMemoryWorkflowSignals(
        fail_next=2, retry=RetryPolicy(first_delay_s=0.01, max_attempts=2)
    )
    signals.transcript_turn(turn(0))
    signals.transcript_turn(turn(1))
    assert await signals.drain(5)
    assert [o.payload.event_id for o, _ in signals.failed] == ["room-1:turn:0"]
    assert [t.event_id for t in signals.payloads(SIGNAL_TRANSCRIPT_TURN)] == ["room-1:turn:1"]
    await signals.aclose()


# --- Temporal delivery, against the time-skipping test server from the venv ------------


@workflow.defn(sandboxed=False)
class SignalSink:
    """Records the agent's signals, deduplicating by event_id as CallWorkflow does."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.done = False

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return self.seen

    def _record(self, event_id: str) -> None:
        if event_id not in self.seen:
            self.seen.append(event_id)

    @workflow.signal
    def agent_ready(self, msg: AgentReady) -> None:
        self._record(msg.event_id)

    @workflow.signal
    def transcript_turn(self, msg: TranscriptTurnSignal) -> None:
        self._record(msg.event_id)

    @workflow.signal
    def agent_report(self, msg: AgentReport) -> None:
        self._record(msg.event_id)
        self.done = True


async def test_temporal_signals_reach_the_workflow_and_resends_dedupe(
    time_env: WorkflowEnvironment,
) -> None:
    client: Client = time_env.client
    async with Worker(client, task_queue="agent-signals", workflows=[SignalSink]):
        wf_id = f"call-{uuid.uuid4().hex[:8]}"
        handle = await client.start_workflow(
            SignalSink.run,
            id=wf_id,
            task_queue="agent-signals",
            execution_timeout=timedelta(minutes=1),
        )
        signals = TemporalWorkflowSignals(wf_id, client=client)
        signals.agent_ready(AgentReady(event_id="r:agent_ready", room="r", first_audio_ms=420.0))
        signals.transcript_turn(turn(0))
        signals.transcript_turn(turn(0))  # a resend: same event id
        signals.agent_report(
            AgentReport(event_id="r:agent_report", tools_called=["get_battery_level"])
        )
        assert await signals.drain(10)
        assert signals.failed == []
        seen = await asyncio.wait_for(handle.result(), 10)
        assert seen == ["r:agent_ready", "room-1:turn:0", "r:agent_report"]
        await signals.aclose()


async def test_temporal_signal_to_a_missing_workflow_is_given_up_not_retried_forever(
    time_env: WorkflowEnvironment,
) -> None:
    signals = TemporalWorkflowSignals("call-does-not-exist", client=time_env.client)
    signals.transcript_turn(turn(0))
    assert await signals.drain(10)
    assert len(signals.failed) == 1
    assert "not running any more" in signals.failed[0][1]
    await signals.aclose()
