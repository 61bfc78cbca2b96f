"""Quiet hours and the next scheduled call date, in the user's own clock."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows.call_windows import next_call_date, quiet_hours_end


def test_outside_the_window_or_without_quiet_hours_nothing_waits() -> None:
    noon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert quiet_hours_end(noon, "Europe/London", "22:00-07:00") is None
    assert quiet_hours_end(noon, "Europe/London", None) is None
    assert quiet_hours_end(noon, "Europe/London", "09:00-09:00") is None  # empty window


def test_a_window_past_midnight_ends_the_next_local_morning() -> None:
    # 23:30 in Berlin (UTC+1 in December) is in 22:00-07:00; it ends 07:00 Berlin = 06:00 UTC.
    late = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    assert quiet_hours_end(late, "Europe/Berlin", "22:00-07:00") == datetime(
        2026, 12, 2, 6, 0, tzinfo=UTC
    )
    # 05:00 Berlin, the morning part of the same kind of window: ends that morning.
    early = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
    assert quiet_hours_end(early, "Europe/Berlin", "22:00-07:00") == datetime(
        2026, 12, 2, 6, 0, tzinfo=UTC
    )


def test_the_window_is_the_users_local_time_not_utc() -> None:
    # 12:30 UTC is 07:30 in New York: inside 07:00-09:00 there, outside it in UTC.
    at = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    end = quiet_hours_end(at, "America/New_York", "07:00-09:00")
    assert end == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert quiet_hours_end(at, "UTC", "07:00-09:00") is None
    # the end is exclusive
    assert (
        quiet_hours_end(datetime(2026, 12, 1, 14, 0, tzinfo=UTC), "America/New_York", "07:00-09:00")
        is None
    )


def test_the_next_call_date_follows_the_schedules_days() -> None:
    # 2026-12-01 is a Tuesday.
    assert next_call_date("2026-12-01", ["mon", "wed", "fri"]) == "2026-12-02"
    assert next_call_date("2026-12-04", ["mon", "wed", "fri"]) == "2026-12-07"
    assert next_call_date("2026-12-01", ["tue"]) == "2026-12-08"
    assert next_call_date("2026-12-01", []) is None
