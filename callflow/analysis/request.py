"""What an LLM analyzer sends about a call (the instructions, the call's dates, the due
commitments and the transcript), and the answer for a call in which the user said nothing: one
request for every provider, so the OpenAI and Anthropic analyzers judge the same input."""

from __future__ import annotations

import json
from datetime import date, timedelta

from callflow.analysis.dates import (
    DATE_RULES,
    call_local_date,
    default_due,
    next_monday,
    weekday_name,
)
from callflow.models import Commitment
from callflow.ports import CallAnalysis

SYSTEM_PROMPT = (
    "You analyse a finished accountability phone call between a coach (the agent) and a user. "
    "Only use what the transcript says, and only the user's own words as evidence.\n"
    "- summary: two or three sentences.\n"
    "- mood: the user's mood; mind negation (\"I'm not happy\" is not good).\n"
    "- commitment_updates: one per due commitment, by its commitment_id. status: kept (the "
    'user did it), broken (did not, or not yet), partly (did some of it: "some days", '
    '"half", "three out of five", "most days but not..."), unclear (the user did not '
    "say). Attribute each answer to the commitment the coach had just asked about. When the "
    'user corrects themself ("yes, well, no, actually I skipped it") the last stance counts. '
    "evidence: the user's words, quoted from the transcript, that justify the status (empty "
    "when unclear).\n"
    "- new_commitments: every new commitment the user made, or a proposal of the coach the "
    'user accepted. Not commitments: hedges ("maybe", "I\'ll think about it", "I might"), '
    'turns of phrase ("I\'m going to be honest", "I\'ll let you know"), travel ("I\'m going '
    'to Lisbon"). text: the action in a few words; due_date: an ISO date, always given, '
    'resolved by the rules below; due_time: "HH:MM" when the user said a time, else null; '
    "recurrence: daily, weekdays, weekly or null.\n"
    "- topics_next_time: what the coach should follow up on.\n"
    "If the user said nothing at all, there are no updates and no new commitments.\n\n"
    "Resolve dates with these rules, against the local date, weekday and time zone given "
    "with the call (never UTC); `calendar` lists the coming days:\n" + DATE_RULES
)


def call_context(
    local_date: str | None, timezone: str, default_due_date: str | None
) -> dict[str, object]:
    """What the model is told about the call's date, so it resolves "tomorrow" and "by
    Friday" against the user's day rather than its own."""
    today = call_local_date(local_date, timezone)
    return {
        "local_date": today.isoformat(),
        "weekday": weekday_name(today),
        "timezone": timezone,
        "default_due_date": default_due(today, default_due_date).isoformat(),
        "next_week_starts": next_monday(today).isoformat(),
        "calendar": [_day(today + timedelta(days=n)) for n in range(15)],
    }


def _day(d: date) -> str:
    return f"{weekday_name(d)} {d.isoformat()}"


def silent_call(transcript: list[dict[str, str]], provider: str) -> CallAnalysis | None:
    """The analysis of a call in which the user said nothing (no need to ask a model), or
    None when there is a conversation to analyse."""
    if any(t.get("role") == "user" and (t.get("text") or "").strip() for t in transcript):
        return None
    return CallAnalysis(
        summary="The call connected but no conversation was transcribed.",
        mood="neutral",
        provider=provider,
    )


def request_text(
    transcript: list[dict[str, str]], due_commitments: list[Commitment], context: dict[str, object]
) -> str:
    """The user message: the call's dates, the due commitments and the transcript, as JSON."""
    return json.dumps(
        {
            "call": context,
            "due_commitments": [
                {"commitment_id": c.commitment_id, "text": c.text, "due_date": c.due_date}
                for c in due_commitments
            ],
            "transcript": transcript,
        }
    )
