"""When a call may ring, in the user's own clock: quiet hours and the next scheduled call date.

Pure and deterministic (time-zone rules only), so the workflow can ask at every ring.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from callflow.zones import zone_or_utc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def quiet_hours_end(at: datetime, timezone: str, quiet_hours: str | None) -> datetime | None:
    """The instant the quiet window that `at` falls in ends, or None when `at` is outside it
    (or there are no quiet hours). `quiet_hours` is local "HH:MM-HH:MM", end past midnight
    allowed ("22:00-07:00"); the window includes its start and excludes its end."""
    if not quiet_hours:
        return None
    start_s, _, end_s = quiet_hours.partition("-")
    start, end = _minutes(start_s), _minutes(end_s)
    if start == end:
        return None
    zone = zone_or_utc(timezone)
    local = at.astimezone(zone)
    now = local.hour * 60 + local.minute
    inside = start <= now < end if start < end else now >= start or now < end
    if not inside:
        return None
    end_day = local.date()
    if start > end and now >= start:  # in the evening part of a window past midnight
        end_day += timedelta(days=1)
    end_time = time(end // 60, end % 60)
    return datetime.combine(end_day, end_time, tzinfo=zone)


def next_call_date(local_date: str, call_days: list[str]) -> str | None:
    """The first day after `local_date` on which the user's schedule calls, or None."""
    days = {d.lower()[:3] for d in call_days}
    if not days & set(WEEKDAYS):
        return None
    day = date.fromisoformat(local_date)
    for ahead in range(1, 8):
        candidate = day + timedelta(days=ahead)
        if WEEKDAYS[candidate.weekday()] in days:
            return candidate.isoformat()
    return None
