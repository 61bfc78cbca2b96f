"""Users' time zones: one reading of a zone name, shared by the workflow, the activities, the
analysis and the agent. Pure (the tz database only), so the workflow sandbox may import it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The named IANA zone; a missing or unknown name counts as UTC (the records store and the
    schedule API validate zones when they are set)."""
    try:
        return ZoneInfo(name) if name else UTC_ZONE
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def local_date_at(at: datetime, zone: str | None) -> str:
    """The ISO date in `zone` at the instant `at`."""
    return at.astimezone(zone_or_utc(zone)).date().isoformat()
