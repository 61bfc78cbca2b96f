"""Request bodies of the call API, validated into small dataclasses.

Every rejection names the field and says what to send instead (422), so an app developer can fix
a request from the error alone.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from callflow.service.errors import MalformedBody, ValidationFailed
from callflow.strict_json import (
    UNSTORABLE_TEXT,
    StrictJsonError,
    TooDeep,
    UnstorableText,
    loads_strict,
)

MAX_ID_LENGTH = 200
ON_DEMAND = "on_demand"
# Fixed namespace: the same (user, idempotency key) maps to the same call id on every replica.
CALL_ID_NAMESPACE = uuid.UUID("6c1f5b8e-0a52-4e55-9a86-3c2f0e8b7d41")
START_CALL_FIELDS = ("user_id", "idempotency_key", "reason", "scheduled_for")


def parse_json_object(
    body: bytes, *, allowed: Collection[str], allow_empty: bool = False
) -> dict[str, object]:
    """The body as a JSON object holding only the `allowed` fields.

    A misspelt field is refused rather than ignored: an ignored `idempotencyKey` would make a
    retried request a second call.
    """
    if not body.strip():
        if allow_empty:
            return {}
        raise MalformedBody('request body is empty: send a JSON object, e.g. {"user_id": "u1"}')
    try:
        data = loads_strict(body)
    except UnstorableText as e:
        raise ValidationFailed(e.message, field=e.field) from None
    except (TooDeep, StrictJsonError) as e:
        raise MalformedBody(e.message) from None
    if not isinstance(data, dict):
        raise MalformedBody(f"request body must be a JSON object, not {type(data).__name__}")
    for name in data:
        if name not in allowed:
            raise ValidationFailed(_unknown_field_message(name, allowed), field=name)
    return data


def _unknown_field_message(name: str, allowed: Collection[str]) -> str:
    fields = ", ".join(f"`{a}`" for a in sorted(allowed))
    spelt = name.replace("-", "_").lower()
    close = [a for a in allowed if a.replace("_", "") == spelt.replace("_", "")]
    close = close or difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"`{name}` is not a field of this request: {hint}send only {fields}"


def _text(data: dict[str, object], name: str, *, required: bool, hint: str) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ValidationFailed(f"`{name}` is required: {hint}", field=name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"`{name}` must be a non-empty string: {hint}", field=name)
    if len(value) > MAX_ID_LENGTH:
        raise ValidationFailed(
            f"`{name}` is {len(value)} characters; send at most {MAX_ID_LENGTH}", field=name
        )
    return value.strip()


def parse_scheduled_for(
    value: object, *, now: datetime, horizon: timedelta, name: str = "scheduled_for"
) -> datetime:
    """An ISO 8601 instant with an offset, in the future and within `horizon`, as UTC."""
    example = (now + timedelta(hours=2)).replace(microsecond=0).isoformat()
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(
            f"`{name}` must be an ISO 8601 date-time with an offset, e.g. {example!r}", field=name
        )
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            f"`{name}` {value!r} is not an ISO 8601 date-time: send e.g. {example!r}", field=name
        ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValidationFailed(
            f"`{name}` {value!r} has no UTC offset: add one (e.g. {example!r}) so the call rings "
            "at the instant meant",
            field=name,
        )
    at = at.astimezone(UTC)
    if at <= now:
        raise ValidationFailed(
            f"`{name}` {value!r} is in the past: send a future time, or leave it out to call now",
            field=name,
        )
    if at > now + horizon:
        raise ValidationFailed(
            f"`{name}` {value!r} is more than {horizon.days} days ahead: book at most "
            f"{horizon.days} days ahead (CALLFLOW_BOOKING_HORIZON_DAYS), or use a schedule",
            field=name,
        )
    return at


@dataclass(frozen=True)
class StartCallRequest:
    user_id: str
    idempotency_key: str | None = None
    reason: str = ON_DEMAND
    scheduled_for: datetime | None = None  # UTC; None rings now

    @classmethod
    def parse(
        cls,
        body: bytes,
        *,
        header_key: str | None = None,
        now: datetime | None = None,
        booking_horizon: timedelta = timedelta(days=30),
    ) -> StartCallRequest:
        """`idempotency_key` may also come from the `Idempotency-Key` header (the body wins).
        `scheduled_for` books the call for later (it prepares ahead and rings on time)."""
        data = parse_json_object(body, allowed=START_CALL_FIELDS)
        user_id = _text(data, "user_id", required=True, hint="send the id of an existing user")
        assert user_id is not None
        key = _text(
            data,
            "idempotency_key",
            required=False,
            hint="send a unique string per intended call, or leave it out",
        )
        reason = _text(data, "reason", required=False, hint=f'send "{ON_DEMAND}"') or ON_DEMAND
        if reason != ON_DEMAND:
            raise ValidationFailed(
                f'`reason` must be "{ON_DEMAND}" (scheduled calls come from schedules), '
                f"not {reason!r}",
                field="reason",
            )
        if key is None and header_key and header_key.strip():
            key = header_key.strip()[:MAX_ID_LENGTH]
        scheduled_for = None
        if data.get("scheduled_for") is not None:
            scheduled_for = parse_scheduled_for(
                data["scheduled_for"], now=now or datetime.now(UTC), horizon=booking_horizon
            )
        return cls(user_id=user_id, idempotency_key=key, reason=reason, scheduled_for=scheduled_for)

    def call_id(self) -> str:
        """Deterministic for an idempotency key (scoped to the user), random without one."""
        if self.idempotency_key is None:
            return uuid.uuid4().hex
        return uuid.uuid5(CALL_ID_NAMESPACE, f"{self.user_id}\x1f{self.idempotency_key}").hex


@dataclass(frozen=True)
class CancelCallRequest:
    reason: str
    requested_by: str = "operator"

    @classmethod
    def parse(cls, body: bytes) -> CancelCallRequest:
        data = parse_json_object(body, allowed=("reason", "requested_by"))
        reason = _text(
            data, "reason", required=True, hint='say why, e.g. {"reason": "user asked to stop"}'
        )
        assert reason is not None
        requested_by = (
            _text(data, "requested_by", required=False, hint="name who cancels, or leave it out")
            or "operator"
        )
        return cls(reason=reason, requested_by=requested_by)


@dataclass(frozen=True)
class DeclineCallRequest:
    event_id: str
    reason: str | None = None

    @classmethod
    def parse(cls, body: bytes, *, idempotency_key: str | None) -> DeclineCallRequest:
        """The body is optional; the `Idempotency-Key` header makes retries one decline."""
        data = parse_json_object(body, allowed=("reason",), allow_empty=True)
        reason = _text(data, "reason", required=False, hint="describe the decline, or omit it")
        key = (idempotency_key or "").strip()[:MAX_ID_LENGTH]
        return cls(
            event_id=f"decline-{key}" if key else f"decline-{uuid.uuid4().hex}", reason=reason
        )


def path_id(request_path_params: Mapping[str, Any], name: str) -> str:
    """An id from the URL path, held to the same rules as body strings: a NUL or an unpaired
    surrogate cannot name anything the stores hold (and Postgres refuses to compare them)."""
    value = str(request_path_params[name])
    if UNSTORABLE_TEXT.search(value) or len(value) > MAX_ID_LENGTH:
        raise ValidationFailed(
            f"`{name}` in the path must be at most {MAX_ID_LENGTH} characters of plain text "
            "(no NUL, no unpaired surrogate): send the id as POST /calls returned it",
            field=name,
        )
    return value
