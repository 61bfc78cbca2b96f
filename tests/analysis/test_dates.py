"""Relative dates resolved against the call's local date: month and year ends, leap years, time
zones, and the rules both analyzers share."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from callflow.analysis.dates import DATE_RULES, call_local_date, default_due, parse_when, resolve

FAR = date(2099, 1, 1)  # a default due date no rule should produce


def when(text: str, today: str) -> tuple[str, str | None, str | None]:
    return resolve(text, date.fromisoformat(today), FAR)


@pytest.mark.parametrize(
    ("text", "today", "due"),
    [
        ("tomorrow", "2026-12-31", "2027-01-01"),  # year end
        ("tomorrow", "2027-02-28", "2027-03-01"),  # February, common year
        ("tomorrow", "2028-02-28", "2028-02-29"),  # leap year
        ("the day after tomorrow", "2028-02-28", "2028-03-01"),
        ("tonight", "2027-06-30", "2027-06-30"),
        ("this evening", "2027-06-30", "2027-06-30"),
        ("in two days", "2026-12-30", "2027-01-01"),
        ("in a week", "2026-12-28", "2027-01-04"),
        ("next week", "2026-12-30", "2027-01-04"),  # Wednesday -> Monday, across the year
        ("next week", "2027-01-03", "2027-01-04"),  # Sunday -> the next day
        ("next week", "2027-01-04", "2027-01-11"),  # Monday -> a week later
        ("the week after next", "2026-12-30", "2027-01-11"),
        ("by Friday", "2026-12-01", "2026-12-04"),
        ("by Friday", "2026-12-04", "2026-12-11"),  # said on a Friday: the next one
        ("this Friday", "2026-12-04", "2026-12-04"),
        ("next Friday", "2026-12-01", "2026-12-11"),  # the Friday of next week
        ("on Monday", "2026-11-29", "2026-11-30"),
        ("Monday and Wednesday next week", "2026-12-04", "2026-12-07"),
        ("Monday, Wednesday, Friday", "2027-06-12", "2027-06-14"),  # the earliest
        ("this weekend", "2026-11-26", "2026-11-28"),
        ("this weekend", "2026-11-29", "2026-11-29"),  # on a Sunday: today
        ("by the weekend", "2027-10-11", "2027-10-16"),
        ("next weekend", "2027-03-28", "2027-04-03"),
        ("by the end of the week", "2027-03-03", "2027-03-07"),
        ("on the fifteenth", "2026-12-20", "2027-01-15"),  # past this month: next month
        ("on the 31st", "2027-02-10", "2027-03-31"),  # February has none
        ("by Saturday the second", "2026-12-27", "2027-01-02"),
        ("on December 3rd", "2026-12-10", "2027-12-03"),
        ("on the 3rd of January", "2026-12-10", "2027-01-03"),
        ("next month", "2026-12-10", "2027-01-01"),
        ("by the end of the month", "2028-02-10", "2028-02-29"),
    ],
)
def test_one_off_dates(text: str, today: str, due: str) -> None:
    assert when(f"I'll do it {text}", today) == (due, None, None)


@pytest.mark.parametrize(
    ("text", "today", "due", "recurrence"),
    [
        ("every morning", "2026-12-31", "2027-01-01", "daily"),  # starts tomorrow
        ("every morning starting today", "2026-12-31", "2026-12-31", "daily"),
        ("every night, from tonight", "2027-03-31", "2027-03-31", "daily"),
        ("every day from Monday", "2027-10-02", "2027-10-04", "daily"),
        ("twice a day", "2027-01-31", "2027-02-01", "daily"),
        ("every weekday", "2026-12-04", "2026-12-07", "weekdays"),  # Friday -> Monday
        ("on weekdays, next week", "2026-12-30", "2027-01-04", "weekdays"),
        ("every weekday morning", "2027-09-22", "2027-09-23", "weekdays"),
        ("on weeknights", "2027-08-02", "2027-08-03", "weekdays"),
        ("every Sunday", "2026-12-05", "2026-12-06", "weekly"),
        ("every Sunday", "2026-12-27", "2027-01-03", "weekly"),  # said on a Sunday
        ("twice a week, Tuesdays and Fridays", "2027-01-04", "2027-01-05", "weekly"),
        ("once a week", "2026-12-28", "2027-01-04", "weekly"),  # no day: a week later
        ("weekly", "2027-06-30", "2027-07-07", "weekly"),
    ],
)
def test_recurrences(text: str, today: str, due: str, recurrence: str) -> None:
    assert when(f"I'll do it {text}", today) == (due, None, recurrence)


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("tomorrow at 7:30 pm", "19:30"),
        ("tomorrow at 7am", "07:00"),
        ("tomorrow at nine", "09:00"),
        ("tonight at nine", "21:00"),
        ("tomorrow at six", "18:00"),
        ("tomorrow morning at six", "06:00"),
        ("tomorrow at noon", "12:00"),
        ("tomorrow at seven thirty", "07:30"),
    ],
)
def test_times(text: str, time: str) -> None:
    assert when(f"I'll call {text}", "2026-12-01")[1] == time


def test_no_date_is_the_default_due_date() -> None:
    today = date(2026, 12, 31)
    assert resolve("I'll clean the garage", today, date(2027, 1, 5))[0] == "2027-01-05"
    assert default_due(today, None) == date(2027, 1, 1)
    assert default_due(today, "2027-01-05") == date(2027, 1, 5)
    assert not parse_when("I'll clean the garage", today).said_anything


@pytest.mark.parametrize(
    ("zone", "local"),
    [
        ("Pacific/Auckland", "2027-01-01"),  # UTC+13 in summer: already new year
        ("Asia/Tokyo", "2027-01-01"),
        ("UTC", "2026-12-31"),
        ("America/Los_Angeles", "2026-12-31"),
        ("Pacific/Pago_Pago", "2026-12-31"),
        ("Not/A_Zone", "2026-12-31"),  # unknown: read as UTC
    ],
)
def test_local_date_is_today_in_the_users_time_zone(zone: str, local: str) -> None:
    now = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
    assert call_local_date(None, zone, now=now).isoformat() == local
    # A local date the caller gives wins over the clock.
    assert call_local_date("2026-06-01", zone, now=now) == date(2026, 6, 1)


def test_time_zone_changes_what_tomorrow_is() -> None:
    now = datetime(2026, 12, 31, 15, 30, tzinfo=UTC)
    auckland = call_local_date(None, "Pacific/Auckland", now=now)
    honolulu = call_local_date(None, "Pacific/Honolulu", now=now)
    assert resolve("tomorrow", auckland, FAR)[0] == "2027-01-02"
    assert resolve("tomorrow", honolulu, FAR)[0] == "2027-01-01"


def test_the_rules_the_llm_is_given_name_the_choices() -> None:
    for phrase in ('"next week": the Monday after D', '"by Friday" said on a Friday', "D+1"):
        assert phrase in DATE_RULES
