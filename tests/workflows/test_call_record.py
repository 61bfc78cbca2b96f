"""The call record and the post-call inputs, shaped from what the workflow collected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callflow.models import Outcome, TranscriptTurn, Usage
from callflow.ports import CallAnalysis
from workflows.call_record import (
    analysis_transcript,
    build_call_record,
    call_cost,
    call_minutes,
    latency_summary,
    memory_note,
    with_stages,
)
from workflows.messages import (
    AgentReady,
    AgentReport,
    PriceTable,
    Stage,
    StageMark,
    TranscriptTurnSignal,
    TurnLatency,
)

T0 = datetime(2026, 11, 27, 7, 30, tzinfo=UTC)
PRICES = PriceTable(
    stt_per_minute=0.01,
    llm_per_1k_prompt_tokens=0.001,
    llm_per_1k_completion_tokens=0.002,
    tts_per_1k_characters=0.03,
    livekit_per_minute=0.004,
)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def stages(*marks: tuple[Stage, float]) -> list[StageMark]:
    return [StageMark(stage, at(s)) for stage, s in marks]


ANSWERED = stages(
    (Stage.SCHEDULED, 0),
    (Stage.LOADING_USER, 0),
    (Stage.RINGING, 1),
    (Stage.AWAITING_JOIN, 2),
    (Stage.IN_CALL, 12),
)
REPORT = AgentReport(
    event_id="r",
    stt_seconds=90,
    llm_prompt_tokens=2000,
    llm_completion_tokens=500,
    tts_characters=1500,
    turn_latencies=[
        TurnLatency(end_of_utterance_ms=300, llm_ttft_ms=400, tts_ttfb_ms=100, total_ms=900),
        TurnLatency(end_of_utterance_ms=500, llm_ttft_ms=600, tts_ttfb_ms=300, total_ms=None),
    ],
    tools_called=["get_battery_level"],
)
ANALYSIS = CallAnalysis(
    summary="Ada ran twice.",
    mood="good",
    new_commitments=[],
    commitment_updates=[],
    topics_next_time=["pacing", "sleep"],
    provider="offline analyzer",
)
TURNS = [
    # arrived out of order: the user's turn first
    TranscriptTurnSignal("t1", "user", "I ran twice.", started_at=105.0, ended_at=107.0),
    TranscriptTurnSignal("t0", "agent", "Did you run?", started_at=100.0, ended_at=102.0),
]


def record(**overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "call_id": "c-1",
        "user_id": "u-1",
        "outcome": Outcome.COMPLETED,
        "attempts": 1,
        "stages": ANSWERED,
        "now": T0 + timedelta(seconds=192),  # three minutes after the phone joined
        "failure_reason": None,
        "memory_degraded": False,
        "analysis": ANALYSIS,
        "turns": TURNS,
        "agent_ready": AgentReady("ready", "room", first_audio_ms=420.0),
        "agent_report": REPORT,
        "prices": PRICES,
    }
    fields.update(overrides)
    return build_call_record(**fields)


def test_cost_adds_every_provider_and_the_room_minutes() -> None:
    usage = Usage(
        stt_seconds=90, llm_prompt_tokens=2000, llm_completion_tokens=500, tts_characters=1500
    )
    # 1.5 min STT 0.015 + prompt 0.002 + completion 0.001 + 1.5k chars TTS 0.045 + 3 min 0.012
    assert call_cost(usage, 3.0, PRICES) == pytest.approx(0.075, abs=1e-9)
    assert call_cost(usage, 0.0, PriceTable()) == 0.0
    assert call_cost(Usage(stt_seconds=1), 0.0, PriceTable(stt_per_minute=1e-9)) == 0.0  # rounded


def test_a_completed_call_records_usage_cost_latency_and_the_ordered_transcript() -> None:
    rec = record()

    assert rec.outcome == "completed" and rec.attempts == 1
    assert rec.started_at == at(0) and rec.ended_at == at(192)
    assert rec.usage == Usage(
        stt_seconds=90, llm_prompt_tokens=2000, llm_completion_tokens=500, tts_characters=1500
    )
    assert rec.cost_usd == pytest.approx(0.075, abs=1e-9)
    assert rec.latency == {
        "first_audio_ms": 420.0,
        "end_of_utterance_ms_avg": 400.0,
        "llm_ttft_ms_avg": 500.0,
        "tts_ttfb_ms_avg": 200.0,
    }
    assert rec.transcript == [
        TranscriptTurn("agent", "Did you run?", 100.0, 102.0),
        TranscriptTurn("user", "I ran twice.", 105.0, 107.0),
    ]
    assert rec.summary == "Ada ran twice." and rec.mood == "good"
    assert rec.analysis_provider == "offline analyzer"
    assert rec.tools_called == ["get_battery_level"]
    assert rec.tools_called is not REPORT.tools_called  # the record owns its list
    assert rec.failure_reason is None and rec.stages == []


def test_a_missed_call_records_no_usage_cost_or_transcript() -> None:
    rec = record(
        outcome=Outcome.MISSED,
        attempts=3,
        stages=stages((Stage.SCHEDULED, 0), (Stage.RINGING, 1), (Stage.AWAITING_JOIN, 2)),
        failure_reason="no answer after 3 attempt(s)",
        analysis=None,
        turns=[],
        agent_ready=None,
        agent_report=None,
    )

    assert rec.outcome == "missed" and rec.attempts == 3
    assert rec.failure_reason == "no answer after 3 attempt(s)"
    assert rec.usage is None and rec.cost_usd is None
    assert rec.latency == {} and rec.transcript == [] and rec.tools_called == []
    assert rec.summary is None and rec.mood is None and rec.analysis_provider is None


def test_a_call_whose_agent_never_reported_has_first_audio_but_no_cost() -> None:
    rec = record(agent_report=None, analysis=None, failure_reason="analysis failed: boom")

    assert rec.usage is None and rec.cost_usd is None
    assert rec.latency == {"first_audio_ms": 420.0}
    assert rec.failure_reason == "analysis failed: boom"
    assert [t.text for t in rec.transcript] == ["Did you run?", "I ran twice."]


def test_a_cancelled_call_with_a_report_pays_no_room_minutes() -> None:
    # Never in the call: only the providers' usage is priced.
    rec = record(
        outcome=Outcome.CANCELLED,
        stages=stages((Stage.SCHEDULED, 0), (Stage.RINGING, 1)),
        analysis=None,
        memory_degraded=True,
    )
    assert rec.outcome == "cancelled" and rec.memory_degraded is True
    assert rec.cost_usd == pytest.approx(0.063, abs=1e-9)


def test_call_minutes_run_from_the_join_and_never_go_negative() -> None:
    assert call_minutes(ANSWERED, T0 + timedelta(seconds=72)) == 1.0
    assert call_minutes(ANSWERED, T0) == 0.0  # a clock before the join
    assert call_minutes(stages((Stage.SCHEDULED, 0)), T0 + timedelta(hours=1)) == 0.0


def test_latency_without_turns_is_first_audio_only() -> None:
    assert latency_summary(None, AgentReport("r")) == {}
    assert latency_summary(AgentReady("a", "room", 250.0), None) == {"first_audio_ms": 250.0}


def test_with_stages_lists_the_stages_on_a_copy() -> None:
    rec = record()
    saved = with_stages(rec, [*ANSWERED[:2], StageMark(Stage.SAVING_RECORD, at(200))])

    assert saved.stages == [
        {"stage": "scheduled", "at": at(0)},
        {"stage": "loading_user", "at": at(0)},
        {"stage": "saving_record", "at": at(200)},
    ]
    assert rec.stages == [] and saved.cost_usd == rec.cost_usd


def test_post_call_inputs() -> None:
    assert analysis_transcript(TURNS) == [
        {"role": "agent", "text": "Did you run?"},
        {"role": "user", "text": "I ran twice."},
    ]
    assert memory_note(ANALYSIS) == "Ada ran twice.\nTopics for next time: pacing; sleep"
    no_topics = CallAnalysis("Short call.", "ok", [], [], [], "offline analyzer")
    assert memory_note(no_topics) == "Short call."
