"""Pure builders of Temporal visibility queries over the call search attributes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from callflow.operator.errors import BadArgument
from workflows.messages import CALL_OUTCOME, CALL_STAGE, CALL_USER_ID, WORKFLOW_TYPE

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def literal(value: str) -> str:
    """A visibility-query string literal (single quotes, escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def timestamp(at: datetime) -> str:
    return literal(at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def calls_query(
    *,
    user_id: str | None = None,
    stage: str | None = None,
    outcome: str | None = None,
    running_only: bool = False,
) -> str:
    """E.g. `WorkflowType = 'CallWorkflow' AND CallStage = 'awaiting_join' AND ...`."""
    clauses = [f"WorkflowType = {literal(WORKFLOW_TYPE)}"]
    if user_id:
        clauses.append(f"{CALL_USER_ID.name} = {literal(user_id)}")
    if stage:
        clauses.append(f"{CALL_STAGE.name} = {literal(stage)}")
    if outcome:
        clauses.append(f"{CALL_OUTCOME.name} = {literal(outcome)}")
    if running_only:
        clauses.append("ExecutionStatus = 'Running'")
    return " AND ".join(clauses)


def stuck_candidates_query(started_before: datetime) -> str:
    """Running calls started before `started_before`: a stage older than N minutes can only
    belong to a call that started more than N minutes ago (the stage age is checked after)."""
    return f"{calls_query(running_only=True)} AND StartTime < {timestamp(started_before)}"


def parse_duration(text: str, field: str = "--older-than") -> timedelta:
    """`90s`, `5m`, `2h`, `1h30m`; a bare number means minutes."""
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        return timedelta(minutes=int(cleaned))
    match = _DURATION.match(cleaned)
    if not cleaned or not match:
        raise BadArgument(field, f"{text!r} is not a duration: write it like 90s, 5m or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)
