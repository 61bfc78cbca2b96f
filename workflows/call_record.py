"""What a call leaves behind, shaped from what `CallWorkflow` collected: the call record (usage,
cost, latency, transcript) and the inputs of the post-call steps.

Pure functions over plain data: no clock (the caller passes `now`), no I/O, deterministic, so
the workflow calls them inside its sandbox and tests call them directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from callflow.models import CallRecord, Outcome, TranscriptTurn, Usage
from callflow.ports import CallAnalysis
from workflows.messages import (
    AgentReady,
    AgentReport,
    PriceTable,
    Stage,
    StageMark,
    TranscriptTurnSignal,
)


def call_cost(usage: Usage, minutes: float, prices: PriceTable) -> float:
    """USD for the providers' usage plus the LiveKit room minutes, rounded to 6 places."""
    cost = (
        usage.stt_seconds / 60 * prices.stt_per_minute
        + usage.llm_prompt_tokens / 1000 * prices.llm_per_1k_prompt_tokens
        + usage.llm_completion_tokens / 1000 * prices.llm_per_1k_completion_tokens
        + usage.tts_characters / 1000 * prices.tts_per_1k_characters
        + minutes * prices.livekit_per_minute
    )
    return round(cost, 6)


def usage_of(report: AgentReport | None) -> Usage | None:
    """The providers' usage the agent reported; None when no report arrived."""
    if report is None:
        return None
    return Usage(
        stt_seconds=report.stt_seconds,
        llm_prompt_tokens=report.llm_prompt_tokens,
        llm_completion_tokens=report.llm_completion_tokens,
        tts_characters=report.tts_characters,
    )


def latency_summary(ready: AgentReady | None, report: AgentReport | None) -> dict[str, float]:
    """First-audio time and the per-turn averages (only the figures that were measured)."""
    latency: dict[str, float] = {}
    if ready is not None:
        latency["first_audio_ms"] = ready.first_audio_ms
    if report and report.turn_latencies:
        turns = report.turn_latencies
        n = len(turns)
        latency["end_of_utterance_ms_avg"] = sum(t.end_of_utterance_ms for t in turns) / n
        latency["llm_ttft_ms_avg"] = sum(t.llm_ttft_ms for t in turns) / n
        latency["tts_ttfb_ms_avg"] = sum(t.tts_ttfb_ms for t in turns) / n
    return latency


def ordered_turns(turns: Iterable[TranscriptTurnSignal]) -> list[TranscriptTurnSignal]:
    """The transcript in speaking order (signals may arrive in any order)."""
    return sorted(turns, key=lambda t: (t.started_at, t.ended_at))


def call_minutes(stages: list[StageMark], now: datetime) -> float:
    """Minutes since the call entered `in_call`; 0 for a call that never got there."""
    joined = next((s for s in stages if s.stage == Stage.IN_CALL), None)
    if joined is None:
        return 0.0
    return max(0.0, (now - datetime.fromisoformat(joined.at)).total_seconds() / 60)


def analysis_transcript(turns: Iterable[TranscriptTurnSignal]) -> list[dict[str, str]]:
    return [{"role": t.role, "text": t.text} for t in ordered_turns(turns)]


def memory_note(analysis: CallAnalysis) -> str:
    """What the call leaves in the user's memory: the summary and the topics for next time."""
    content = analysis.summary
    if analysis.topics_next_time:
        content += "\nTopics for next time: " + "; ".join(analysis.topics_next_time)
    return content


def build_call_record(
    *,
    call_id: str,
    user_id: str,
    outcome: Outcome,
    attempts: int,
    stages: list[StageMark],
    now: datetime,
    failure_reason: str | None,
    memory_degraded: bool,
    analysis: CallAnalysis | None,
    turns: Iterable[TranscriptTurnSignal],
    agent_ready: AgentReady | None,
    agent_report: AgentReport | None,
    prices: PriceTable,
) -> CallRecord:
    """The record of a call that ends `now` (its stages are added with `with_stages`)."""
    usage = usage_of(agent_report)
    return CallRecord(
        call_id=call_id,
        user_id=user_id,
        outcome=outcome.value,
        attempts=attempts,
        started_at=stages[0].at,
        ended_at=now.isoformat(),
        failure_reason=failure_reason,
        memory_degraded=memory_degraded,
        summary=analysis.summary if analysis else None,
        mood=analysis.mood if analysis else None,
        transcript=[
            TranscriptTurn(t.role, t.text, t.started_at, t.ended_at) for t in ordered_turns(turns)
        ],
        usage=usage,
        cost_usd=call_cost(usage, call_minutes(stages, now), prices) if usage else None,
        latency=latency_summary(agent_ready, agent_report),
        tools_called=list(agent_report.tools_called) if agent_report else [],
        analysis_provider=analysis.provider if analysis else None,
    )


def with_stages(record: CallRecord, stages: list[StageMark]) -> CallRecord:
    """A copy of `record` listing `stages` (the record is saved in a stage of its own)."""
    return dataclasses.replace(record, stages=[{"stage": s.stage, "at": s.at} for s in stages])
