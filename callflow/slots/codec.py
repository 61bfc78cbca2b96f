"""What both slot adapters check before asking the database, and how they read its answer.

The SQL functions check the same things (so a caller of the functions themselves is held to
them); checking here first names the field without a round trip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from callflow.ports import AgentWorkerReport, SlotGrant, SlotRequest
from callflow.slots.errors import InvalidSlotRequest, SlotsError

MAX_SECONDS = 366 * 86400.0  # what the SQL functions accept as a hold or a ttl


def utc(value: str, name: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime; one without an offset is read as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidSlotRequest(f"{name} must be an ISO-8601 time, got {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def seconds(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSlotRequest(f"{name} must be a number of seconds, got {value!r}")
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise InvalidSlotRequest(f"{name} must be more than 0 and at most a year, got {value!r}")
    return float(value)


def required(value: str, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSlotRequest(f"{name} is required, got {value!r}")
    return value


def check_request(request: SlotRequest) -> tuple[str, str, datetime, float]:
    """(call_id, user_id, due_at in UTC, hold_s), or InvalidSlotRequest naming the field."""
    return (
        required(request.call_id, "call_id"),
        required(request.user_id, "user_id"),
        utc(request.due_at, "due_at"),
        seconds(request.hold_s, "hold_s"),
    )


def check_report(report: AgentWorkerReport, ttl_s: float) -> tuple[str, int, int, float]:
    """(worker_id, capacity, active, ttl_s), or InvalidSlotRequest naming the field."""
    for name in ("capacity", "active"):
        value = getattr(report, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidSlotRequest(f"{name} must be a whole number >= 0, got {value!r}")
    return (
        required(report.worker_id, "worker_id"),
        report.capacity,
        report.active,
        seconds(ttl_s, "ttl_s"),
    )


def iso_utc(value: Any) -> str | None:
    """The ISO-8601 UTC text of a time from the database (a datetime or ISO text), or None."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else utc(str(value), "expires_at")
    return moment.astimezone(UTC).isoformat()


def grant_from_json(data: Any, operation: str = "acquire_agent_slot") -> SlotGrant:
    """The `acquire_agent_slot` function's JSON answer as a `SlotGrant`."""
    if not isinstance(data, Mapping):
        raise SlotsError(f"{operation} answered {data!r}, expected a grant object")
    try:
        return SlotGrant(
            granted=bool(data["granted"]),
            capacity=int(data["capacity"]),
            held=int(data["held"]),
            waiting_ahead=int(data.get("waiting_ahead") or 0),
            expires_at=iso_utc(data.get("expires_at")) if data["granted"] else None,
        )
    except (KeyError, TypeError, ValueError, InvalidSlotRequest) as exc:
        raise SlotsError(f"{operation} answered {data!r}, expected a grant object") from exc
