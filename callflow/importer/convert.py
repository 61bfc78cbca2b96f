"""A source conversation as callflow keeps it: the call record, the memory note, the transcript
the analyzer reads. Pure functions."""

from __future__ import annotations

from datetime import timedelta

from callflow.importer.conversation import SourceConversation
from callflow.models import IMPORTED_OUTCOME, CallRecord, TranscriptTurn
from callflow.ports import CallAnalysis
from callflow.zones import local_date_at

MEMORY_TRANSCRIPT_CHARS = 4000  # of the user's and the agent's words kept in the memory note


def analyzer_transcript(conversation: SourceConversation) -> list[dict[str, str]]:
    return [{"role": t.role, "text": t.text} for t in conversation.transcript if t.text.strip()]


def conversation_local_date(conversation: SourceConversation, timezone: str) -> str:
    """The conversation's date in the user's zone: relative dates in it resolve on this day."""
    return local_date_at(conversation.started_at, timezone)


def call_record(
    conversation: SourceConversation, user_id: str, analysis: CallAnalysis
) -> CallRecord:
    start = conversation.started_at
    start_s = start.timestamp()
    last_turn_s = max((t.time_in_call_s for t in conversation.transcript), default=0.0)
    end = start + timedelta(seconds=max(conversation.duration_s, last_turn_s))
    turns = conversation.transcript
    return CallRecord(
        call_id=conversation.conversation_id,
        user_id=user_id,
        outcome=IMPORTED_OUTCOME,
        attempts=1,
        started_at=start.isoformat(),
        ended_at=end.isoformat(),
        summary=conversation.summary or analysis.summary,
        mood=analysis.mood,
        transcript=[
            TranscriptTurn(
                role=t.role,
                text=t.text,
                started_at=start_s + t.time_in_call_s,
                # A turn ends where the next one starts (the source gives start times only).
                ended_at=start_s
                + (turns[n + 1].time_in_call_s if n + 1 < len(turns) else last_turn_s),
            )
            for n, t in enumerate(turns)
            if t.text.strip()
        ],
        analysis_provider=analysis.provider or None,
        topics_next_time=list(analysis.topics_next_time),
    )


def memory_note(conversation: SourceConversation, local_date: str, analysis: CallAnalysis) -> str:
    summary = conversation.summary or analysis.summary
    lines = [f"Conversation on {local_date} (imported): {summary}"]
    if analysis.new_commitments:
        lines.append(
            "Commitments: "
            + "; ".join(f"{c.text} (due {c.due_date})" for c in analysis.new_commitments)
        )
    if analysis.topics_next_time:
        lines.append("Topics for next time: " + "; ".join(analysis.topics_next_time))
    words = "\n".join(f"{t.role}: {t.text}" for t in conversation.transcript if t.text.strip())
    if words:
        lines.append("Transcript:\n" + words[:MEMORY_TRANSCRIPT_CHARS])
    return "\n".join(lines)
