"""What a call leaves behind, shaped from what `CallWorkflow` collected: the call record (usage,
cost, latency, transcript) and the inputs of the post-call steps.

Pure functions over plain data: no clock (the caller passes `now`), no I/O, deterministic, so
the workflow calls them inside its sandbox and tests call them directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from callflow.commitments import (
    RECURRENCES,
    VERDICTS,
    has_user_speech,
    new_commitment_id,
    stated_day,
    stated_time,
)
from callflow.models import CallRecord, Commitment, Outcome, TranscriptTurn, Usage
from callflow.ports import CallAnalysis, PostCallCommitment, PostCallEvent, PostCallVerdict
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
    agent_redispatches: int = 0,
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
        topics_next_time=list(analysis.topics_next_time) if analysis else [],
        transcript=[
            TranscriptTurn(t.role, t.text, t.started_at, t.ended_at) for t in ordered_turns(turns)
        ],
        usage=usage,
        cost_usd=call_cost(usage, call_minutes(stages, now), prices) if usage else None,
        latency=latency_summary(agent_ready, agent_report),
        tools_called=list(agent_report.tools_called) if agent_report else [],
        analysis_provider=analysis.provider if analysis else None,
        agent_redispatches=agent_redispatches,
        turn_latencies_ms=turn_latencies_ms(agent_report),
    )


def turn_latencies_ms(report: AgentReport | None) -> list[float]:
    """Each agent reply to a user turn: the user's end of speech -> the agent's first audio
    (the agent's `total_ms`; the greeting and replies after a tool call have none)."""
    if report is None:
        return []
    return [round(t.total_ms, 1) for t in report.turn_latencies if t.total_ms is not None]


def with_stages(record: CallRecord, stages: list[StageMark]) -> CallRecord:
    """A copy of `record` listing `stages` (the record is saved in a stage of its own)."""
    return dataclasses.replace(record, stages=[{"stage": s.stage, "at": s.at} for s in stages])


def post_call_event(
    record: CallRecord,
    *,
    analysis: CallAnalysis | None,
    due_commitments: Sequence[Commitment],
    pushes_sent: int,
    created_commitment_ids: Collection[str] = (),
) -> PostCallEvent:
    """The post-call webhook's body (docs/post-call-webhook.md) for the call `record` describes
    (the record `build_call_record` made; its stages are not read).

    `analysis`: the call's, None when none ran or it failed; `due_commitments`: those asked about
    on the call (a verdict on any other, a repeated one, or one that is not a verdict value is
    left out, as the save leaves it); `created_commitment_ids`: the ids the record's save
    reported creating (`SaveRecordOutput.new_commitment_ids`), which become the new
    commitments' `commitment_id` (None for a restated one, or when the save failed). A call in
    which the user said nothing reports no verdicts and no new commitments (it changes none)."""
    judged = analysis if analysis is not None and has_user_speech(record.transcript) else None
    return PostCallEvent(
        call_id=record.call_id,
        user_id=record.user_id,
        outcome=record.outcome,
        attempts=record.attempts,
        summary=record.summary,
        ended_at=record.ended_at,
        started_at=record.started_at,
        duration_s=conversation_seconds(record.transcript),
        reason=record.failure_reason,
        mood=record.mood,
        topics_next_time=list(analysis.topics_next_time) if analysis else [],
        verdicts=_verdicts(judged, record.user_id, due_commitments) if judged else [],
        new_commitments=(
            _stated_commitments(judged, record.call_id, created_commitment_ids) if judged else []
        ),
        cost_usd=record.cost_usd,
        memory_degraded=record.memory_degraded,
        pushes_sent=pushes_sent,
    )


def conversation_seconds(transcript: Sequence[TranscriptTurn]) -> float | None:
    """From the first transcribed turn's start to the last one's end; None with no turn."""
    if not transcript:
        return None
    start = min(t.started_at for t in transcript)
    end = max(t.ended_at for t in transcript)
    return round(max(0.0, end - start), 3)


def _verdicts(
    analysis: CallAnalysis, user_id: str, due: Sequence[Commitment]
) -> list[PostCallVerdict]:
    asked = {c.commitment_id: c for c in due if c.user_id == user_id and c.status == "open"}
    verdicts: list[PostCallVerdict] = []
    for update in analysis.commitment_updates:
        cid, status = update.commitment_id, str(update.status)
        if (
            cid not in asked
            or status not in VERDICTS
            or any(v.commitment_id == cid for v in verdicts)
        ):
            continue
        evidence = getattr(update, "evidence", None)
        verdicts.append(
            PostCallVerdict(
                commitment_id=cid,
                text=asked[cid].text,
                verdict=status,
                evidence=(evidence.strip() or None) if isinstance(evidence, str) else None,
            )
        )
    return verdicts


def _stated_commitments(
    analysis: CallAnalysis, call_id: str, created_ids: Collection[str]
) -> list[PostCallCommitment]:
    stated: list[PostCallCommitment] = []
    for index, new in enumerate(analysis.new_commitments):  # the index the save's ids are of
        text = (new.text or "").strip()
        if not text:
            continue
        cid = new_commitment_id(call_id, index)
        recurrence = str(getattr(new, "recurrence", None) or "").lower()
        stated.append(
            PostCallCommitment(
                text=text,
                due_date=day.isoformat() if (day := stated_day(new.due_date)) else None,
                due_time=stated_time(getattr(new, "due_time", None)),
                recurrence=recurrence if recurrence in RECURRENCES else None,
                commitment_id=cid if cid in created_ids else None,
            )
        )
    return stated
