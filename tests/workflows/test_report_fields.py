"""What the workflow leaves in the record for `callflow report`: the memory fetch time, the
per-turn latency the agent reported, the pushes sent, and the post-call webhook's result."""

from __future__ import annotations

from tests.workflows.fakes import turn
from tests.workflows.test_call_workflow import Harness, h  # noqa: F401 (the fixture)
from workflows.messages import AgentReady, AgentReport, RoomFinished, TurnLatency, workflow_id_for


async def test_the_record_carries_the_report_figures(h: Harness) -> None:  # noqa: F811
    async def talk(call_id: str, room: str) -> None:
        handle = h.env.client.get_workflow_handle(workflow_id_for(call_id))
        await handle.signal("agent_ready", AgentReady(f"ready-{room}", room, 420.0))
        await handle.signal("transcript_turn", turn(1, "agent", "Hi, did you run?"))
        await handle.signal("transcript_turn", turn(2, "user", "Yes, twice."))
        report = AgentReport(
            event_id=f"report-{room}",
            turn_latencies=[
                TurnLatency(tts_ttfb_ms=90.0),  # the greeting: no user turn before it
                TurnLatency(end_of_utterance_ms=200.0, total_ms=612.34),
            ],
        )
        await handle.signal("agent_report", report)
        await handle.signal("room_finished", RoomFinished(f"fin-{room}", room))

    result, _ = await h.run(["answer"], on_answer=talk)

    assert result.outcome == "completed"
    record = h.records.calls[result.call_id]
    assert record.turn_latencies_ms == [612.3]
    assert record.pushes_sent == 1
    assert record.webhook_delivered is True
    assert 0 <= record.latency["memory_fetch_ms"] < 400


async def test_an_undelivered_webhook_is_recorded_as_such(h: Harness) -> None:  # noqa: F811
    async def refuse(event: object) -> bool:
        return False

    h.notifier.post_call = refuse  # type: ignore[method-assign]
    result, _ = await h.run(["answer"])

    assert result.post_call_webhook_delivered is False
    assert h.records.calls[result.call_id].webhook_delivered is False
