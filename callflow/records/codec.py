"""Rows <-> domain dataclasses, shared by the Postgres and Supabase adapters.

Values are checked here, before any store sees them, so a bad record fails with an error naming
the field and the fix instead of a database error code. Reading accepts both what asyncpg returns
(date, datetime, Decimal) and what PostgREST returns (ISO strings, JSON numbers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from callflow.models import (
    IMPORTED_OUTCOME,
    CallRecord,
    CheckIn,
    Commitment,
    CommitmentChanges,
    Outcome,
    Recording,
    Recurrence,
    TranscriptTurn,
    Usage,
    User,
)
from callflow.records.errors import InvalidRecord

T = TypeVar("T")

_OUTCOMES = {o.value for o in Outcome} | {IMPORTED_OUTCOME}
# The check constraints of migrations/0003_commitments.sql.
COMMITMENT_STATUSES = ("open", "kept", "broken", "partly", "unclear", "cancelled")
CHECK_IN_VERDICTS = ("kept", "broken", "partly", "unclear", "cancelled")
RECURRENCES = tuple(r.value for r in Recurrence)


def _require_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(f"{field} must be a non-empty string, got {value!r}")
    return value


def parse_date(value: str | None, field: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidRecord(f"{field} must be an ISO date like 2026-11-27, got {value!r}") from None


def parse_time(value: str | None, field: str) -> time | None:
    if value is None or value == "":
        return None
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidRecord(f"{field} must be a time like 07:30, got {value!r}") from None


def parse_timestamp(value: str | None, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidRecord(
            f"{field} must be an ISO-8601 timestamp like 2026-11-27T07:30:00Z, got {value!r}"
        ) from None
    # Naive timestamps are UTC by the CallRecord contract.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso_date(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _iso_time(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = time.fromisoformat(value)
    if isinstance(value, time):
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    return str(value)


def _iso_timestamp_or_none(value: object) -> str | None:
    return _iso_timestamp(value) if value is not None else None


def _iso_timestamp(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    # Ignore keys a newer writer added, so old readers keep working.
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def json_ready(row: dict[str, Any]) -> dict[str, Any]:
    """The row with dates and times as ISO strings, for a JSON body (PostgREST)."""
    return {k: v.isoformat() if isinstance(v, (date, time)) else v for k, v in row.items()}


# --- users


def user_row(user: User) -> dict[str, Any]:
    return {
        "user_id": _require_text(user.user_id, "User.user_id"),
        "display_name": _require_text(user.display_name, "User.display_name"),
        "voip_token": user.voip_token or None,
        "timezone": _require_text(user.timezone, "User.timezone"),
        "locale": _require_text(user.locale, "User.locale"),
        "quiet_hours": user.quiet_hours or None,
    }


def user_from_row(row: Mapping[str, Any]) -> User:
    return User(
        user_id=row["user_id"],
        display_name=row["display_name"],
        voip_token=row["voip_token"],
        timezone=row["timezone"],
        locale=row["locale"],
        quiet_hours=row.get("quiet_hours"),
        recording_consent=bool(row.get("recording_consent") or False),
    )


# --- commitments


def commitment_row(c: Commitment) -> dict[str, Any]:
    """The columns a write sets (`created_at` is the store's)."""
    if c.status not in COMMITMENT_STATUSES:
        raise InvalidRecord(
            f"Commitment.status must be one of {list(COMMITMENT_STATUSES)}, got {c.status!r}"
        )
    if c.recurrence is not None and c.recurrence not in RECURRENCES:
        raise InvalidRecord(
            f"Commitment.recurrence must be None or one of {list(RECURRENCES)}, "
            f"got {c.recurrence!r}"
        )
    due_date = parse_date(c.due_date, "Commitment.due_date")
    if due_date is None:
        raise InvalidRecord(
            "Commitment.due_date is required (an ISO date in the user's time zone): give the "
            "date agreed, else callflow.commitments.default_due_date"
        )
    return {
        "commitment_id": _require_text(c.commitment_id, "Commitment.commitment_id"),
        "user_id": _require_text(c.user_id, "Commitment.user_id"),
        "text": _require_text(c.text, "Commitment.text"),
        "due_date": due_date,
        "due_time": parse_time(c.due_time, "Commitment.due_time"),
        "recurrence": c.recurrence,
        "until": parse_date(c.until, "Commitment.until"),
        "status": str(c.status),
        "source_call_id": c.source_call_id,
    }


def commitment_from_row(row: Mapping[str, Any]) -> Commitment:
    return Commitment(
        commitment_id=row["commitment_id"],
        user_id=row["user_id"],
        text=row["text"],
        due_date=_iso_date(row["due_date"]),
        status=row["status"],
        source_call_id=row["source_call_id"],
        due_time=_iso_time(row["due_time"]),
        recurrence=row["recurrence"],
        until=_iso_date(row["until"]),
        created_at=_iso_timestamp_or_none(row["created_at"]),
    )


# --- check-ins


def check_in_row(check_in: CheckIn, user_id: str) -> dict[str, Any]:
    if check_in.verdict not in CHECK_IN_VERDICTS:
        raise InvalidRecord(
            f"CheckIn.verdict must be one of {list(CHECK_IN_VERDICTS)}, got {check_in.verdict!r}"
        )
    asked_on = parse_date(check_in.asked_on, "CheckIn.asked_on")
    if asked_on is None:
        raise InvalidRecord("CheckIn.asked_on is required: the call's date in the user's zone")
    return {
        "check_in_id": _require_text(check_in.check_in_id, "CheckIn.check_in_id"),
        "commitment_id": _require_text(check_in.commitment_id, "CheckIn.commitment_id"),
        "user_id": user_id,
        "call_id": _require_text(check_in.call_id, "CheckIn.call_id"),
        "verdict": check_in.verdict,
        "evidence": check_in.evidence or None,
        "asked_on": asked_on,
    }


def check_in_from_row(row: Mapping[str, Any]) -> CheckIn:
    return CheckIn(
        check_in_id=row["check_in_id"],
        commitment_id=row["commitment_id"],
        call_id=row["call_id"],
        verdict=row["verdict"],
        evidence=row["evidence"],
        asked_on=_iso_date(row["asked_on"]) or "",
        created_at=_iso_timestamp_or_none(row["created_at"]),
    )


def changes_rows(
    changes: CommitmentChanges,
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """(user_id, commitment rows, check-in rows) of one call's changes, JSON-ready, for the
    `apply_commitment_changes` SQL function; every row must be the changes' user's."""
    user_id = _require_text(changes.user_id, "CommitmentChanges.user_id")
    commitments = []
    for c in changes.commitments:
        if c.user_id != user_id:
            raise InvalidRecord(
                f"Commitment {c.commitment_id!r} is user {c.user_id!r}'s, not {user_id!r}'s: "
                "one CommitmentChanges holds one user's rows"
            )
        commitments.append(json_ready(commitment_row(c)))
    check_ins = [json_ready(check_in_row(ci, user_id)) for ci in changes.check_ins]
    return user_id, commitments, check_ins


# --- calls


def call_row(record: CallRecord) -> dict[str, Any]:
    if record.outcome not in _OUTCOMES:
        raise InvalidRecord(
            f"CallRecord.outcome must be one of {sorted(_OUTCOMES)}, got {record.outcome!r}"
        )
    if record.attempts < 0:
        raise InvalidRecord(f"CallRecord.attempts must be >= 0, got {record.attempts}")
    return {
        "call_id": _require_text(record.call_id, "CallRecord.call_id"),
        "user_id": _require_text(record.user_id, "CallRecord.user_id"),
        "outcome": str(record.outcome),
        "attempts": record.attempts,
        "started_at": parse_timestamp(record.started_at, "CallRecord.started_at"),
        "ended_at": parse_timestamp(record.ended_at, "CallRecord.ended_at"),
        "failure_reason": record.failure_reason,
        "memory_degraded": record.memory_degraded,
        "summary": record.summary,
        "mood": record.mood,
        "transcript": [dataclasses.asdict(t) for t in record.transcript],
        "usage": dataclasses.asdict(record.usage) if record.usage is not None else None,
        "cost_usd": record.cost_usd,
        "latency": dict(record.latency),
        "tools_called": list(record.tools_called),
        "analysis_provider": record.analysis_provider,
        "stages": list(record.stages),
        "topics_next_time": list(record.topics_next_time),
        "agent_redispatches": record.agent_redispatches,
        "turn_latencies_ms": [float(ms) for ms in record.turn_latencies_ms],
        "pushes_sent": record.pushes_sent,
        "webhook_delivered": record.webhook_delivered,
        # Only a record that has a recording writes these: a later save never clears them.
        **(recording_row(record.recording) if record.recording is not None else {}),
    }


def call_from_row(row: Mapping[str, Any]) -> CallRecord:
    cost = row["cost_usd"]
    usage = row["usage"]
    return CallRecord(
        call_id=row["call_id"],
        user_id=row["user_id"],
        outcome=row["outcome"],
        attempts=row["attempts"],
        started_at=_iso_timestamp(row["started_at"]),
        ended_at=_iso_timestamp(row["ended_at"]),
        failure_reason=row["failure_reason"],
        memory_degraded=row["memory_degraded"],
        summary=row["summary"],
        mood=row["mood"],
        transcript=[_from_dict(TranscriptTurn, t) for t in row["transcript"] or []],
        usage=_from_dict(Usage, usage) if usage is not None else None,
        cost_usd=float(cost) if isinstance(cost, (int, float, Decimal, str)) else None,
        latency={k: float(v) for k, v in (row["latency"] or {}).items()},
        tools_called=list(row["tools_called"] or []),
        analysis_provider=row["analysis_provider"],
        stages=list(row["stages"] or []),
        topics_next_time=list(row.get("topics_next_time") or []),
        agent_redispatches=int(row.get("agent_redispatches") or 0),
        turn_latencies_ms=[float(ms) for ms in row.get("turn_latencies_ms") or []],
        pushes_sent=None if row.get("pushes_sent") is None else int(row["pushes_sent"]),
        webhook_delivered=row.get("webhook_delivered"),
        recording=recording_from_row(row),
    )


# --- recordings (columns of the call record, migrations/0009_call_recordings.sql)

RECORDING_COLUMNS = (
    "recording_key",
    "recording_duration_s",
    "recording_size_bytes",
    "recording_channels",
    "recording_started_at",
    "recording_deleted_at",
)


def recording_row(recording: Recording) -> dict[str, Any]:
    if recording.duration_s < 0 or recording.size_bytes < 0 or recording.channels < 1:
        raise InvalidRecord(
            "Recording needs duration_s >= 0, size_bytes >= 0 and channels >= 1, got "
            f"{recording.duration_s}, {recording.size_bytes}, {recording.channels}"
        )
    return {
        "recording_key": recording.key or None,
        "recording_duration_s": float(recording.duration_s),
        "recording_size_bytes": int(recording.size_bytes),
        "recording_channels": int(recording.channels),
        "recording_started_at": parse_timestamp(recording.started_at, "Recording.started_at"),
        "recording_deleted_at": parse_timestamp(recording.deleted_at, "Recording.deleted_at"),
    }


def recording_from_row(row: Mapping[str, Any]) -> Recording | None:
    """The record's recording, or None when the call was never recorded."""
    if row.get("recording_duration_s") is None:
        return None
    return Recording(
        key=row.get("recording_key"),
        duration_s=float(row["recording_duration_s"]),
        size_bytes=int(row.get("recording_size_bytes") or 0),
        channels=int(row.get("recording_channels") or 0),
        started_at=_iso_timestamp_or_none(row.get("recording_started_at")),
        deleted_at=_iso_timestamp_or_none(row.get("recording_deleted_at")),
    )
