"""Daylight saving, as Temporal's dev server computes it for America/New_York in 2026
(spring forward Sunday 8 March 02:00 -> 03:00, fall back Sunday 1 November 02:00 -> 01:00): one
call per local call time and day (callflow/schedules/dst.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callflow.schedules.dst import dst_notes, due_for_firing, is_calendar_firing
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.spec import DAYS, CallSchedule

NY = ZoneInfo("America/New_York")
LEAD = 120


def _daily(time: str) -> CallSchedule:
    return CallSchedule.parse(
        {
            "timezone": "America/New_York",
            "days": list(DAYS),
            "times": [time],
        }
    )


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_a_call_in_the_spring_forward_gap_rings_past_the_gap(
    manager: ScheduleManager, user_id: str
):
    await manager.create(user_id, _daily("02:30"))
    fires = await manager.matching_times(user_id, _utc(2026, 3, 6), _utc(2026, 3, 11))
    dues = [_due(f, "02:30") for f in fires]
    # 02:30 does not exist on 8 March: its dated calendar fires the lead before 03:30 EDT.
    assert [d.astimezone(NY).replace(tzinfo=None) for d in dues if d] == [
        datetime(2026, 3, 6, 2, 30),
        datetime(2026, 3, 7, 2, 30),
        datetime(2026, 3, 8, 3, 30),
        datetime(2026, 3, 9, 2, 30),
        datetime(2026, 3, 10, 2, 30),
    ]
    assert all(
        d is not None and f == d - timedelta(seconds=LEAD) for f, d in zip(fires, dues, strict=True)
    )
    assert any(
        "2026-03-08 02:30 does not exist" in n and "rings at 03:30" in n
        for n in dst_notes(_daily("02:30"), LEAD, date(2026, 1, 1))
    )
    await manager.delete(user_id)


async def test_a_repeated_wall_time_fires_twice_and_the_workflow_keeps_one(
    manager: ScheduleManager, user_id: str
):
    await manager.create(user_id, _daily("01:30"))
    fires = await manager.matching_times(user_id, _utc(2026, 10, 31), _utc(2026, 11, 3))
    on_the_day = [f for f in fires if f.astimezone(NY).date() == date(2026, 11, 1)]
    # 01:28 EDT (05:28Z) and 01:28 EST (06:28Z): two firings, one hour apart.
    assert on_the_day == [_utc(2026, 11, 1, 5, 28), _utc(2026, 11, 1, 6, 28)]
    assert _due(on_the_day[0], "01:30") == _utc(2026, 11, 1, 5, 30)
    assert _due(on_the_day[1], "01:30") is None
    # Ordinary days keep one firing each, and their due time is the firing + the lead.
    others = [f for f in fires if f not in on_the_day]
    assert len(others) == 2
    assert all(_due(f, "01:30") == f + timedelta(seconds=LEAD) for f in others)
    await manager.delete(user_id)


def _due(fire: datetime, time: str) -> datetime | None:
    return due_for_firing(fire, "America/New_York", [time], DAYS, LEAD)


def test_a_lead_across_fall_back_still_rings_at_the_local_time():
    # A 02:01 call (02:01 EST, 07:01Z) fires at 01:59 local, which happens twice: the EST one
    # (06:59Z) is its firing; the EDT one (05:59Z) would ring at 01:01 EST, an hour early.
    assert _due(_utc(2026, 11, 1, 6, 59), "02:01") == _utc(2026, 11, 1, 7, 1)
    assert _due(_utc(2026, 11, 1, 5, 59), "02:01") is None


def test_a_firing_in_the_gap_gets_a_dated_calendar():
    # 03:01 on 8 March 2026 is 07:01Z; its firing 120 s ahead is 06:59Z = 01:59 EST, where the
    # daily calendar (02:59, in the gap) never fires.
    spec = _daily("03:01").to_temporal_spec(LEAD, today=date(2026, 6, 1))
    dated = [c for c in spec.calendars if c.year]
    assert (2026, 3, 8, 1, 59) in {
        (
            c.year[0].start,
            c.month[0].start,
            c.day_of_month[0].start,
            c.hour[0].start,
            c.minute[0].start,
        )
        for c in dated
    }
    assert _due(_utc(2026, 3, 8, 6, 59), "03:01") == _utc(2026, 3, 8, 7, 1)
    assert _daily("12:00").to_temporal_spec(LEAD, today=date(2026, 6, 1)).calendars[1:] == []


def test_dst_notes_name_each_affected_day():
    notes = dst_notes(_daily("02:30"), LEAD, date(2026, 1, 1))
    assert notes == [
        "2026-03-08 02:30 does not exist in America/New_York (clocks spring forward): the call "
        "rings at 03:30 instead"
    ]
    assert any("2026-11-01 01:30" in n for n in dst_notes(_daily("01:30"), LEAD, date(2026, 1, 1)))
    assert dst_notes(_daily("12:00"), LEAD, date(2026, 1, 1)) == []
    utc = CallSchedule.parse({"timezone": "UTC", "days": ["sun"], "times": ["02:30"]})
    assert dst_notes(utc, LEAD, date(2026, 1, 1)) == []


def test_only_a_calendar_duplicate_is_dropped_not_an_operator_trigger():
    # The EDT 01:58 firing of a 02:00 call (lead 120) is a calendar time that is no call's own.
    dup = _utc(2026, 11, 1, 5, 58)
    assert _due(dup, "02:00") is None
    assert is_calendar_firing(dup, "America/New_York", ["02:00"], LEAD)
    # A trigger fires at any instant: not a calendar time, so it rings its lead later.
    trigger = datetime(2026, 12, 1, 13, 33, 7, 123456, tzinfo=UTC)
    assert _due(trigger, "02:00") is None
    assert not is_calendar_firing(trigger, "America/New_York", ["02:00"], LEAD)
