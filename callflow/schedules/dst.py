"""What daylight-saving changes do to a schedule, as measured on Temporal's dev server.

Temporal evaluates calendar specs in the schedule's time zone (measured with server 1.32):
- a local time that does not exist (02:30 on America/New_York's spring-forward day) does not
  match, so that day's firing is skipped;
- a local time that happens twice (01:30 on the fall-back day) matches twice, one hour apart,
  and each firing starts its own workflow (the ids differ by the appended time).

`due_time` lets a scheduled workflow drop the second firing of a repeated local time and ring
at the intended local wall-clock time; `dst_notes` warns about skipped days before they happen.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callflow.schedules.spec import TEMPORAL_DAY, CallSchedule, parse_hhmm


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    # A wall time in a gap does not survive a round trip through UTC.
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def _repeated(naive: datetime, zone: ZoneInfo) -> bool:
    return (
        naive.replace(tzinfo=zone, fold=0).utcoffset()
        != naive.replace(tzinfo=zone, fold=1).utcoffset()
    ) and _exists(naive, zone)


def due_time(scheduled_start: datetime, timezone: str, lead_s: float) -> datetime | None:
    """The UTC time a scheduled call should ring, or None for a duplicate firing.

    `scheduled_start` is the firing's nominal time (the `TemporalScheduledStartTime` search
    attribute). The due time is the firing's local wall time plus the lead, so a lead that
    spans a daylight-saving change still rings at the local time the user chose. The second
    firing of a repeated local time (fall back) returns None: the call already happened.
    """
    zone = ZoneInfo(timezone)
    local = scheduled_start.astimezone(zone)
    naive = local.replace(tzinfo=None)
    if local.fold == 1 and _repeated(naive, zone):
        return None
    due_naive = naive + timedelta(seconds=lead_s)
    return due_naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def dst_notes(schedule: CallSchedule, lead_s: float, start: date, days: int = 366) -> list[str]:
    """Human-readable warnings for calls that daylight saving will skip or shift."""
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
                notes.append(
                    f"{day.isoformat()} {t} does not exist in {schedule.timezone} "
                    "(clocks spring forward): no call that day"
                )
            elif not _exists(fire, zone):
                notes.append(
                    f"{day.isoformat()} {t}: the firing {int(lead_s)}s ahead falls in the "
                    f"spring-forward gap of {schedule.timezone}: no call that day"
                )
            elif _repeated(fire, zone):
                what = t if fire == call else f"{t} (its firing at {fire.time().isoformat()})"
                notes.append(
                    f"{day.isoformat()} {what} happens twice in {schedule.timezone} (clocks "
                    "fall back): Temporal fires twice; the workflow drops the second (due_time)"
                )
    return notes
