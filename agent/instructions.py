"""The system instructions of the call, built from memory and the commitments that fall due.

Any LLM (the offline scripted one included) learns about the user only from this text, so its
facts sit on fixed lines that `parse_*` below read back: the caller's name on the first line,
the user's name and their date at the call under it, the due commitments one per line under a
fixed heading, each as "- <text> (due <date>[, <recurrence>]; <history>)".
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from callflow.analysis.dates import month_name, month_number, weekday_name
from callflow.zones import zone_or_utc
from workflows.agent_job import AgentJob, JobCheckIn, JobCommitment

DUE_HEADING = "Commitments that fall due now:"
MEMORY_HEADING = "What you remember from earlier calls:"
LAST_CALL_HEADING = "From the last call:"
CALLER_PREFIX = "You are "
NAME_PREFIX = "You are calling "
TODAY_PREFIX = "Today is "
TODAY_SUFFIX = " for them."

# How many earlier check-ins a commitment line spells out (the job carries a few more).
SHOWN_HISTORY = 5
VERDICT_WORDS = {
    "kept": "kept",
    "broken": "broken",
    "partly": "partly kept",
    "unclear": "no clear answer",
    "cancelled": "called off",
}
RECURRENCE_WORDS = {"daily": "daily", "weekdays": "every weekday", "weekly": "weekly"}
_EVIDENCE_CHARS = 120
_TODAY_LINE = re.compile(
    rf"^{TODAY_PREFIX}[A-Za-z]+ (?P<d>\d{{1,2}}) (?P<m>[A-Za-z]+) (?P<y>\d{{4}})"
    rf"{re.escape(TODAY_SUFFIX)}$"
)
_DETAIL_STARTS = ("due ", "no due date")


def call_date(job: AgentJob, now: datetime | None = None) -> date:
    """The user's date at the call: the job's `local_date`, else (a job from an older workflow)
    today's date in the user's time zone."""
    if job.local_date:
        try:
            return date.fromisoformat(job.local_date)
        except ValueError:
            pass
    return (now or datetime.now(UTC)).astimezone(zone_or_utc(job.user.timezone)).date()


def today_line(day: date) -> str:
    """ "Today is Tuesday 1 December 2026 for them." """
    return (
        f"{TODAY_PREFIX}{weekday_name(day)} {day.day} {month_name(day.month)} {day.year}"
        f"{TODAY_SUFFIX}"
    )


def check_in_words(check_in: JobCheckIn) -> str:
    verdict = VERDICT_WORDS.get(check_in.verdict, check_in.verdict)
    return f"{verdict} on {check_in.asked_on}" if check_in.asked_on else verdict


def history_words(history: list[JobCheckIn]) -> str:
    """ "so far: kept on 2026-11-30, broken on 2026-11-29" (newest first)."""
    if not history:
        return "not asked about before"
    words = ", ".join(check_in_words(c) for c in history[:SHOWN_HISTORY])
    earlier = len(history) - SHOWN_HISTORY
    more = f", and {earlier} earlier" if earlier > 0 else ""
    said = _evidence(history[0].evidence)
    return f"so far: {words}{more}" + (f"; last time they said: {said}" if said else "")


def _evidence(evidence: str | None) -> str:
    """The user's words, made safe for the line format (no parentheses) and kept short."""
    text = " ".join((evidence or "").replace("(", ",").replace(")", ",").split()).strip(" ,")
    if len(text) > _EVIDENCE_CHARS:
        text = text[: _EVIDENCE_CHARS - 3].rsplit(" ", 1)[0] + "..."
    return f'"{text}"' if text else ""


def commitment_line(commitment: JobCommitment) -> str:
    details = f"due {commitment.due_date}" if commitment.due_date else "no due date"
    if commitment.recurrence:
        details += f", {RECURRENCE_WORDS.get(commitment.recurrence, commitment.recurrence)}"
    return f"- {commitment.text} ({details}; {history_words(commitment.history)})"


def build_instructions(job: AgentJob, now: datetime | None = None) -> str:
    """The agent introduces itself with the job's caller name: the one the VoIP push showed."""
    user = job.user
    lines = [
        f"{CALLER_PREFIX}{job.caller_name}, a warm, brief accountability coach on a phone call.",
        f"{NAME_PREFIX}{user.display_name or 'there'} (time zone {user.timezone or 'UTC'}).",
        today_line(call_date(job, now)),
        "Speak in short, plain sentences: this is a voice call, so no lists, markdown or emoji.",
        "",
        DUE_HEADING,
    ]
    if job.due_commitments:
        lines += [commitment_line(c) for c in job.due_commitments]
        lines.append(
            "Open by asking about these commitments: ask whether each was done, one at a time "
            "and in this order, waiting for the answer about one before asking about the next. "
            "Ask about every one of them before asking for anything new. Use the history to "
            "encourage them (a streak kept, a pattern of misses) without reading it out."
        )
    else:
        lines.append("- none")
        lines.append("Nothing falls due: open by asking what they want to commit to next.")
    lines += ["", LAST_CALL_HEADING]
    if job.last_call_summary:
        lines.append(f"- Summary: {job.last_call_summary}")
    lines += [f"- Follow up on: {topic}" for topic in job.topics]
    if job.last_call_summary or job.topics:
        lines.append("Bring up what to follow up on briefly, after the commitments.")
    else:
        lines.append("- nothing recorded (this may be your first call with them)")
    lines += ["", MEMORY_HEADING]
    if job.memory:
        lines += [f"- {m}" for m in job.memory]
    else:
        lines.append("- nothing yet")
    if job.memory_degraded:
        lines.append(
            "(Memory could not be loaded for this call: do not pretend to remember details.)"
        )
    lines += [
        "",
        "Then help them make one new concrete commitment with a due date. Confirm it by "
        "repeating it back with its due date in words, worked out from today's date: for "
        'example "by Friday, the 4th" or "tomorrow, Wednesday the 2nd". Then ask whether there '
        "is anything else, and say goodbye.",
        "You can use the phone's device tools (battery, flashlight, vibrate, location, "
        "screenshot) when they help; if a tool fails, say so plainly and carry on.",
    ]
    return "\n".join(lines)


def parse_due_commitments(instructions: str) -> list[str]:
    """The bare commitment texts listed under DUE_HEADING (how the scripted LLM reads them)."""
    out: list[str] = []
    in_section = False
    for line in instructions.splitlines():
        if line.strip() == DUE_HEADING:
            in_section = True
            continue
        if in_section:
            if not line.startswith("- "):
                break
            text = line[2:].strip()
            cut = text.rfind(" (")
            if cut > 0 and text.endswith(")") and text[cut + 2 :].startswith(_DETAIL_STARTS):
                text = text[:cut].strip()
            if text != "none":
                out.append(text)
    return out


def parse_display_name(instructions: str) -> str | None:
    for line in instructions.splitlines():
        if line.startswith(NAME_PREFIX):
            return line[len(NAME_PREFIX) :].split(" (", 1)[0].strip() or None
    return None


def parse_caller_name(instructions: str) -> str | None:
    """Who the agent is, from the first line "You are <name>, ..."."""
    for line in instructions.splitlines():
        if line.startswith(CALLER_PREFIX) and not line.startswith(NAME_PREFIX):
            return line[len(CALLER_PREFIX) :].split(",", 1)[0].strip() or None
    return None


def parse_local_date(instructions: str) -> date | None:
    """The user's date at the call, from "Today is Tuesday 1 December 2026 for them."."""
    for line in instructions.splitlines():
        match = _TODAY_LINE.match(line.strip())
        month = month_number(match.group("m")) if match else None
        if match and month is not None:
            try:
                return date(int(match["y"]), month, int(match["d"]))
            except ValueError:
                return None
    return None
