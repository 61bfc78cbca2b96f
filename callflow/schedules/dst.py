"""Daylight saving: each local call time is called once per local day, at its local time.

What Temporal does with a calendar spec in a time zone (measured with server 1.32): a wall time
that does not exist (02:30 on America/New_York's spring-forward day) does not match, so that
day's firing is skipped; a wall time that happens twice (01:30 on the fall-back day) matches
twice, one hour apart, and each firing starts its own workflow.

So the schedule is not trusted with the local day's call; the spec is (`call_instant`):
- the call is due at the local call time; a time that happens twice means its first occurrence
  (01:30 EDT), and a time inside the spring-forward gap rings as far past the gap as it was
  into it (02:30 -> 03:30 EDT), as clocks that were not moved would show it;
- its firing is exactly the lead before that instant (`firing_instant`). The wall-clock
  calendars hit it on every day but a few around a change; `off_calendar_firings` lists those
  few, and the schedule carries one dated calendar for each;
- a calendar firing that is not some call's firing (the second of a repeated wall time, or the
  calendar's hour-early match on a change) is dropped by the workflow (`due_for_firing` returns
  None and `is_calendar_firing` True); any other start, such as an operator's trigger, rings
  its lead after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callflow.schedules.spec import DAYS, TEMPORAL_DAY, CallSchedule, parse_hhmm

# The schedule's intent travels in the memo of every workflow it starts (manager.py).
SCHEDULE_MEMO_KEY = "call_schedule"


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    # A wall time in a gap does not survive a round trip through UTC.
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def _repeated(naive: datetime, zone: ZoneInfo) -> bool:
    return (
        naive.replace(tzinfo=zone, fold=0).utcoffset()
        != naive.replace(tzinfo=zone, fold=1).utcoffset()
    ) and _exists(naive, zone)


def _instants(naive: datetime, zone: ZoneInfo) -> set[datetime]:
    """The UTC instants a wall time happens at: none (gap), one, or two (fall back)."""
    if not _exists(naive, zone):
        return set()
    return {naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)}


def call_instant(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """When the call at local `hhmm` on `day` rings (UTC): a repeated time at its first
    occurrence, a time inside the gap shifted forward by the gap (fold=0 does both)."""
    h, m = parse_hhmm(hhmm, "call time")
    return datetime(day.year, day.month, day.day, h, m, tzinfo=zone, fold=0).astimezone(UTC)


def firing_instant(day: date, hhmm: str, zone: ZoneInfo, lead_s: float) -> datetime:
    return call_instant(day, hhmm, zone) - timedelta(seconds=lead_s)


def due_for_firing(
    nominal: datetime,
    timezone: str,
    times: Sequence[str],
    days: Iterable[str],
    lead_s: float,
    jitter_s: float = 0.0,
) -> datetime | None:
    """The UTC time a schedule firing should ring, or None when it is no call's firing.

    `nominal` is the firing's `TemporalScheduledStartTime`; up to `jitter_s` after a call's
    firing instant counts as that firing (jitter is always shorter than the lead, and the
    duplicate of a repeated wall time comes an hour later).
    """
    zone = ZoneInfo(timezone)
    lead = timedelta(seconds=lead_s)
    slack = timedelta(seconds=jitter_s + 1)
    wanted = set(days)
    local_day = (nominal + lead).astimezone(zone).date()
    for day in (local_day - timedelta(days=1), local_day, local_day + timedelta(days=1)):
        if DAYS[day.weekday()] not in wanted:
            continue
        for t in times:
            due = call_instant(day, t, zone)
            if due - lead <= nominal < due - lead + slack:
                return due
    return None


def is_calendar_firing(
    nominal: datetime,
    timezone: str,
    times: Sequence[str],
    lead_s: float,
    jitter_s: float = 0.0,
) -> bool:
    """True when `nominal` is a time the schedule's calendars fire at (a call's lead before
    some local call time, on the wall clock or on a dated calendar): such a firing that is no
    call's own is a duplicate. False for anything else, such as an operator's trigger, which
    is rung as firing + lead."""
    zone = ZoneInfo(timezone)
    local = nominal.astimezone(zone)
    at_s = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    slack = jitter_s + 1
    calendar_s = set()
    for t in times:
        h, m = parse_hhmm(t, "call time")
        calendar_s.add((h * 3600 + m * 60 - int(lead_s)) % 86_400)
        for day in (local.date(), local.date() + timedelta(days=1)):
            wall = firing_instant(day, t, zone, lead_s).astimezone(zone)
            calendar_s.add(wall.hour * 3600 + wall.minute * 60 + wall.second)
    return any((at_s - c) % 86_400 < slack for c in calendar_s)


def off_calendar_firings(
    schedule: CallSchedule, lead_s: float, start: date, end: date
) -> list[datetime]:
    """Firing instants in [start, end) that the wall-clock calendars (call time - lead, every
    day) do not hit: days around a clock change where the firing falls in the gap or on the
    other side of the change. The schedule gets a dated calendar for each."""
    zone = ZoneInfo(schedule.timezone)
    wanted = set(schedule.days)
    lead = timedelta(seconds=lead_s)
    found: list[datetime] = []
    day = start
    while day < end:
        before = datetime(day.year, day.month, day.day, tzinfo=zone) - timedelta(days=1)
        after = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=2)
        changes = before.utcoffset() != after.utcoffset()
        if changes and DAYS[day.weekday()] in wanted:
            for t in schedule.times:
                h, m = parse_hhmm(t, "call time")
                wall = datetime(day.year, day.month, day.day, h, m) - lead
                fire = firing_instant(day, t, zone, lead_s)
                if fire not in _instants(wall, zone):
                    found.append(fire)
        day += timedelta(days=1)
    return sorted(found)


def dst_notes(schedule: CallSchedule, lead_s: float, start: date, days: int = 366) -> list[str]:
    """Human-readable notes on calls that daylight saving moves or that Temporal fires twice."""
    zone = ZoneInfo(schedule.timezone)
    wanted = {TEMPORAL_DAY[d] for d in schedule.days}
    notes: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        if (day.isoweekday() % 7) not in wanted:
            continue
        for t in schedule.times:
            h, m = parse_hhmm(t, "call time")
            call = datetime(day.year, day.month, day.day, h, m)
            fire = call - timedelta(seconds=lead_s)
            if not _exists(call, zone):
                rings = call_instant(day, t, zone).astimezone(zone).strftime("%H:%M")
                notes.append(
                    f"{day.isoformat()} {t} does not exist in {schedule.timezone} "
                    f"(clocks spring forward): the call rings at {rings} instead"
                )
            elif _repeated(call, zone) or _repeated(fire, zone):
                notes.append(
                    f"{day.isoformat()} {t} (or its firing {int(lead_s)}s ahead) happens twice "
                    f"in {schedule.timezone} (clocks fall back): Temporal fires twice; the "
                    f"workflow keeps the one due at {t} {_zone_name(call, zone)}, drops the other"
                )
    return notes


def _zone_name(call: datetime, zone: ZoneInfo) -> str:
    return call.replace(tzinfo=zone, fold=0).tzname() or ""
