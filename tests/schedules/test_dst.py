"""Daylight saving, as Temporal's dev server computes it for America/New_York in 2026
(spring forward Sunday 8 March 02:00 -> 03:00, fall back Sunday 1 November 02:00 -> 01:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from callflow.schedules.dst import dst_notes, due_time
from callflow.schedules.manager import ScheduleManager
from callflow.schedules.spec import CallSchedule

NY = ZoneInfo("America/New_York")
LEAD = 120


def _daily(time: str) -> CallSchedule:
    return CallSchedule.parse(
        {
            "timezone": "America/New_York",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "times": [time],
        }
    )


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_call_in_the_spring_forward_gap_is_skipped_that_day(
    manager: ScheduleManager, user_id: str
):
    await manager.create(user_id, _daily("02:30"))
    fires = await manager.matching_times(user_id, _utc(2026, 3, 6), _utc(2026, 3, 11))
    calls = [(f + timedelta(seconds=LEAD)).astimezone(NY) for f in fires]
    # 02:30 does not exist on 8 March: Temporal fires on the other days only.
    assert [c.date() for c in calls] == [
        date(2026, 3, 6),
        date(2026, 3, 7),
        date(2026, 3, 9),
        date(2026, 3, 10),
    ]
    assert {(c.hour, c.minute) for c in calls} == {(2, 30)}
    # The UTC firing moves by an hour across the change (EST -> EDT).
    assert fires[1] == _utc(2026, 3, 7, 7, 28) and fires[2] == _utc(2026, 3, 9, 6, 28)
    assert any(
        "2026-03-08 02:30 does not exist" in n
        for n in dst_notes(_daily("02:30"), LEAD, date(2026, 1, 1))
    )
    await manager.delete(user_id)


async def test_call_in_the_fall_back_overlap_fires_twice_and_the_second_is_dropped(
    manager: ScheduleManager, user_id: str
):
    await manager.create(user_id, _daily("01:30"))
    fires = await manager.matching_times(user_id, _utc(2026, 10, 31), _utc(2026, 11, 3))
    on_the_day = [f for f in fires if f.astimezone(NY).date() == date(2026, 11, 1)]
    # 01:28 EDT (05:28Z) and 01:28 EST (06:28Z): two firings, one hour apart.
    assert on_the_day == [_utc(2026, 11, 1, 5, 28), _utc(2026, 11, 1, 6, 28)]
    assert due_time(on_the_day[0], "America/New_York", LEAD) == _utc(2026, 11, 1, 5, 30)
    assert due_time(on_the_day[1], "America/New_York", LEAD) is None
    # Ordinary days keep one firing each, and their due time is the firing + the lead.
    others = [f for f in fires if f not in on_the_day]
    assert len(others) == 2
    assert all(due_time(f, "America/New_York", LEAD) == f + timedelta(seconds=LEAD) for f in others)
    await manager.delete(user_id)


def test_due_time_keeps_the_local_wall_time_when_the_lead_spans_fall_back():
    # A 02:01 call fires at 01:59 local, which happens twice; the first firing (05:59Z, EDT)
    # must ring at 02:01 EST (07:01Z), not 06:01Z (= 01:01 EST).
    assert due_time(_utc(2026, 11, 1, 5, 59), "America/New_York", LEAD) == _utc(2026, 11, 1, 7, 1)
    assert due_time(_utc(2026, 11, 1, 6, 59), "America/New_York", LEAD) is None


def test_dst_notes_name_each_affected_day():
    notes = dst_notes(_daily("03:01"), LEAD, date(2026, 1, 1))
    assert notes == [
        "2026-03-08 03:01: the firing 120s ahead falls in the spring-forward gap of "
        "America/New_York: no call that day"
    ]
    assert dst_notes(_daily("12:00"), LEAD, date(2026, 1, 1)) == []
    utc = CallSchedule.parse({"timezone": "UTC", "days": ["sun"], "times": ["02:30"]})
    assert dst_notes(utc, LEAD, date(2026, 1, 1)) == []
