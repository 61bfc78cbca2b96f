"""The system instructions of the call, built from memory and the commitments that fall due.

Any LLM (the offline scripted one included) learns about the user only from this text, so the
due commitments are listed one per line under a fixed heading.
"""

from __future__ import annotations

from workflows.agent_job import AgentJob, JobCommitment

DUE_HEADING = "Commitments that fall due now:"
MEMORY_HEADING = "What you remember from earlier calls:"
NAME_PREFIX = "You are calling "


def commitment_line(commitment: JobCommitment) -> str:
    due = f" (due {commitment.due_date})" if commitment.due_date else ""
    return f"- {commitment.text}{due}"


def build_instructions(job: AgentJob) -> str:
    """The agent introduces itself with the job's caller name: the one the VoIP push showed."""
    user = job.user
    lines = [
        f"You are {job.caller_name}, a warm, brief accountability coach on a phone call.",
        f"{NAME_PREFIX}{user.display_name or 'there'} (time zone {user.timezone or 'UTC'}).",
        "Speak in short, plain sentences: this is a voice call, so no lists, markdown or emoji.",
        "",
        DUE_HEADING,
    ]
    if job.due_commitments:
        lines += [commitment_line(c) for c in job.due_commitments]
        lines.append(
            "Your first question is about these commitments: ask whether each was done, "
            "one at a time, before anything else."
        )
    else:
        lines.append("- none")
        lines.append("Nothing falls due: open by asking what they want to commit to next.")
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
        "Before the call ends, help them make one new concrete commitment with a due date, "
        "repeat it back, then say goodbye.",
        "You can use the phone's device tools (battery, flashlight, vibrate, location, "
        "screenshot) when they help; if a tool fails, say so plainly and carry on.",
    ]
    return "\n".join(lines)


def parse_due_commitments(instructions: str) -> list[str]:
    """The commitment texts listed under DUE_HEADING (how the scripted LLM reads them)."""
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
            if text != "none":
                out.append(text)
    return out


def parse_display_name(instructions: str) -> str | None:
    for line in instructions.splitlines():
        if line.startswith(NAME_PREFIX):
            return line[len(NAME_PREFIX) :].split(" (", 1)[0].strip() or None
    return None
