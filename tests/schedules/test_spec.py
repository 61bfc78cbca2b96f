from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import ScheduleRange

from callflow.schedules.errors import ScheduleInvalid
from callflow.schedules.spec import CallSchedule

GOOD: dict[str, Any] = {
    "timezone": "Europe/Paris",
    "days": ["mon", "wed"],
    "times": ["07:30", "19:00"],
}


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
        ({"timezone": ""}, "timezone", "IANA"),
        ({"days": []}, "days", "at least one"),
        ({"days": ["mon", "funday"]}, "days", "'funday'"),
        ({"times": ["25:00"]}, "times", "00:00 to 23:59"),
        ({"times": ["07:60"]}, "times", "00:00 to 23:59"),
        ({"times": ["7.30"]}, "times", "HH:MM"),
        ({"times": []}, "times", "at least one"),
        ({"quiet_hours": {"start": "22:00", "end": "08:00"}}, "quiet_hours", "07:30"),
        ({"quiet_hours": {"start": "19:00", "end": "19:30"}}, "quiet_hours", "19:00"),
        ({"quiet_hours": {"start": "22", "end": "07:00"}}, "quiet_hours.start", "HH:MM"),
        ({"jitter_s": 901}, "jitter_s", "0 to 900"),
        ({"jitter_s": -1}, "jitter_s", "0 to 900"),
        ({"jitter_s": "soon"}, "jitter_s", "whole number"),
        ({"colour": "blue"}, "colour", "not a schedule field"),
    ],
)
def test_bad_input_names_the_field_and_the_fix(change: dict[str, Any], field: str, hint: str):
    with pytest.raises(ScheduleInvalid) as caught:
        CallSchedule.parse({**GOOD, **change})
    assert caught.value.field == field
    assert hint in caught.value.message


def test_missing_field_is_named():
    with pytest.raises(ScheduleInvalid) as caught:
        CallSchedule.parse({"days": ["mon"], "times": ["07:00"]})
    assert caught.value.field == "timezone"
    assert "required" in caught.value.message


def test_quiet_hours_over_midnight_allow_daytime_calls():
    s = CallSchedule.parse({**GOOD, "quiet_hours": {"start": "22:00", "end": "07:00"}})
    assert s.quiet_hours is not None
    assert s.quiet_hours.covers("06:59") and s.quiet_hours.covers("22:00")
    assert not s.quiet_hours.covers("07:00") and not s.quiet_hours.covers("21:59")


def test_input_is_normalised():
    s = CallSchedule.parse({**GOOD, "days": ["WED", "mon", "mon"], "times": ["19:00", "07:30"]})
    assert s.days == ["mon", "wed"]
    assert s.times == ["07:30", "19:00"]


def test_spec_fires_the_lead_ahead_in_the_users_zone():
    s = CallSchedule.parse({**GOOD, "jitter_s": 60})
    spec = s.to_temporal_spec(120)
    assert spec.time_zone_name == "Europe/Paris"
    assert spec.jitter == timedelta(seconds=60)
    morning, evening = spec.calendars
    assert (morning.hour, morning.minute, morning.second) == (
        [ScheduleRange(7)],
        [ScheduleRange(28)],
        [ScheduleRange(0)],
    )
    assert evening.hour == [ScheduleRange(18)] and evening.minute == [ScheduleRange(58)]
    # Temporal counts days from Sunday = 0: mon = 1, wed = 3.
    assert morning.day_of_week == [ScheduleRange(1), ScheduleRange(3)]


def test_lead_across_midnight_moves_to_the_previous_day():
    s = CallSchedule.parse({"timezone": "UTC", "days": ["mon", "sun"], "times": ["00:01"]})
    (cal,) = s.to_temporal_spec(90).calendars
    assert (cal.hour, cal.minute, cal.second) == (
        [ScheduleRange(23)],
        [ScheduleRange(59)],
        [ScheduleRange(30)],
    )
    # mon -> sun (0), sun -> sat (6)
    assert cal.day_of_week == [ScheduleRange(0), ScheduleRange(6)]


@pytest.mark.parametrize("lead", [-1, 86_400, 1.5])
def test_bad_lead_is_rejected(lead: float):
    s = CallSchedule.parse(GOOD)
    with pytest.raises(ScheduleInvalid) as caught:
        s.to_temporal_spec(lead)
    assert caught.value.field == "lead_s"
