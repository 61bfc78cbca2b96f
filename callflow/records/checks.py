"""Argument checks every records adapter makes before it talks to its store."""

from __future__ import annotations

from datetime import date

from callflow.records.codec import parse_date
from callflow.records.errors import InvalidRecord


def check_attempt(attempt: int) -> None:
    if attempt < 1:
        raise InvalidRecord(f"push attempt must be >= 1 (attempts count from 1), got {attempt}")


def required_date(value: str, field: str) -> date:
    """An ISO date the caller must give (parse_date lets an empty value through as None)."""
    day = parse_date(value, field)
    if day is None:
        raise InvalidRecord(f"{field} must be an ISO date like 2026-11-27, got ''")
    return day


def check_limit(limit: int) -> int:
    if limit < 1:
        raise InvalidRecord(f"limit must be >= 1, got {limit}")
    return limit


def history_key(commitment_id: str | None, user_id: str | None) -> tuple[str, str]:
    """("commitment_id" | "user_id", value) for commitment_history: exactly one must be given."""
    if commitment_id is not None and user_id is None:
        return "commitment_id", commitment_id
    if user_id is not None and commitment_id is None:
        return "user_id", user_id
    raise InvalidRecord("commitment_history takes a commitment_id or a user_id, exactly one")
