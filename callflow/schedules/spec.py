"""A user's recurring call schedule and its translation into a Temporal `ScheduleSpec`.

Times are local wall-clock times in the user's IANA time zone; Temporal's calendar spec
evaluates them in that zone. Around daylight-saving changes a few firings are added as dated
calendars (dst.py says which, and how the workflow keeps one call per local day).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from temporalio.client import ScheduleCalendarSpec, ScheduleRange, ScheduleSpec

from callflow.schedules.errors import ScheduleInvalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Temporal numbers days of the week from Sunday = 0.
TEMPORAL_DAY = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
TEMPORAL_DAY_NAME = {v: k for k, v in TEMPORAL_DAY.items()}
MAX_JITTER_S = 900
DAY_S = 86_400
# Dated daylight-saving calendars reach this many years ahead (re-saving a schedule renews them).
DATED_YEARS = 10
_HHMM = re.compile(r"^(\d{2}):(\d{2})$")


@functools.cache
def _iana_zones() -> frozenset[str]:
    # The host's tz folder also holds names that are not IANA zones: `localtime` (whatever
    # this machine's clock is set to, so another host reads it differently), `posixrules`
    # and `Factory`.
    return frozenset(available_timezones() - {"localtime", "posixrules", "Factory"})


def is_iana_zone(name: str) -> bool:
    return isinstance(name, str) and name in _iana_zones()


def _invalid(message: str) -> PydanticCustomError:
    # A custom error keeps pydantic from prefixing "Value error, " to our message.
    return PydanticCustomError("schedule_invalid", message)


def parse_hhmm(value: str, what: str) -> tuple[int, int]:
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise _invalid(f"{what} {value!r} is not HH:MM: write it like 07:30 (24-hour clock)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise _invalid(f"{what} {value!r} is out of range: use 00:00 to 23:59")
    return hour, minute


class QuietHours(BaseModel):
    """Local hours when the user must not be called; `end` may be past midnight (22:00-07:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        h, m = parse_hhmm(v, "quiet hours bound")
        return f"{h:02d}:{m:02d}"

    def covers(self, hhmm: str) -> bool:
        """True when the local time `hhmm` falls inside [start, end)."""
        start, end, t = (_minutes(x) for x in (self.start, self.end, hhmm))
        if start == end:
            return False
        if start < end:
            return start <= t < end
        return t >= start or t < end

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


def _minutes(hhmm: str) -> int:
    h, m = parse_hhmm(hhmm, "time")
    return h * 60 + m


class CallSchedule(BaseModel):
    """What the user asked for. Build it with `CallSchedule.parse` to get `ScheduleInvalid`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Field order matters: quiet_hours is checked against the already validated times.
    timezone: str
    days: list[str]
    times: list[str]
    quiet_hours: QuietHours | None = None
    jitter_s: int = 0
    paused: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            if not is_iana_zone(v):
                raise ValueError(v)
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid(
                f"unknown time zone {v!r}: use an IANA name such as Europe/Paris or "
                "America/New_York"
            ) from None
        return v

    @field_validator("days")
    @classmethod
    def _weekdays(cls, v: list[str]) -> list[str]:
        if not v:
            raise _invalid("no days given: list at least one of mon, tue, wed, thu, fri, sat, sun")
        days = {d.strip().lower() for d in v}
        unknown = sorted(days - set(DAYS))
        if unknown:
            raise _invalid(f"unknown day {unknown[0]!r}: use mon, tue, wed, thu, fri, sat or sun")
        return [d for d in DAYS if d in days]

    @field_validator("times")
    @classmethod
    def _local_times(cls, v: list[str]) -> list[str]:
        if not v:
            raise _invalid("no call times given: list at least one local time such as 07:30")
        normalised = set()
        for t in v:
            h, m = parse_hhmm(t, "call time")
            normalised.add(f"{h:02d}:{m:02d}")
        return sorted(normalised)

    @field_validator("quiet_hours")
    @classmethod
    def _not_during_quiet_hours(cls, v: QuietHours | None, info: Any) -> QuietHours | None:
        times = info.data.get("times") or []
        if v is not None:
            for t in times:
                if v.covers(t):
                    raise _invalid(
                        f"quiet hours {v} cover the call time {t}: move the call out of the "
                        "quiet hours or shorten them"
                    )
        return v

    @field_validator("jitter_s")
    @classmethod
    def _jitter_range(cls, v: int) -> int:
        if not 0 <= v <= MAX_JITTER_S:
            raise _invalid(f"jitter {v}s is out of range: use 0 to {MAX_JITTER_S} seconds")
        return v

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> CallSchedule:
        """Validate `data`; the first problem becomes a `ScheduleInvalid` naming its field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _as_invalid(exc) from None

    def to_temporal_spec(self, lead_s: float, today: date | None = None) -> ScheduleSpec:
        """Calendar specs firing `lead_s` seconds before each local call time, in `timezone`.

        Subtracting the lead may cross midnight, which moves the firing to the previous day of
        the week. Around daylight-saving changes the wall-clock calendars miss some firings
        (dst.py): one dated calendar each, from a year before `today` to DATED_YEARS after,
        fires those. Jitter only delays the firing; the workflow's due time is the local call
        time the nominal (unjittered) firing is for, so jitter spreads preparation, not the
        ring time.
        """
        lead = _whole_seconds(lead_s)
        calendars = []
        for t in self.times:
            h, m = parse_hhmm(t, "call time")
            day_shift, fire_s = divmod(h * 3600 + m * 60 - lead, DAY_S)
            fire_days = sorted({(TEMPORAL_DAY[d] + day_shift) % 7 for d in self.days})
            calendars.append(
                ScheduleCalendarSpec(
                    second=[ScheduleRange(fire_s % 60)],
                    minute=[ScheduleRange(fire_s // 60 % 60)],
                    hour=[ScheduleRange(fire_s // 3600)],
                    day_of_week=[ScheduleRange(d) for d in fire_days],
                    comment=f"call at {t} on {','.join(self.days)}, fires {lead}s ahead",
                )
            )
        calendars += _dated_calendars(self, lead, today or date.today())
        return ScheduleSpec(
            calendars=calendars,
            time_zone_name=self.timezone,
            jitter=timedelta(seconds=self.jitter_s) if self.jitter_s else None,
        )


def _dated_calendars(
    schedule: CallSchedule, lead_s: int, today: date
) -> list[ScheduleCalendarSpec]:
    from callflow.schedules.dst import off_calendar_firings  # dst.py builds on this module

    zone = ZoneInfo(schedule.timezone)
    start = today - timedelta(days=366)
    end = today + timedelta(days=366 * DATED_YEARS)
    calendars = []
    for fire in off_calendar_firings(schedule, lead_s, start, end):
        local = fire.astimezone(zone)
        calendars.append(
            ScheduleCalendarSpec(
                second=[ScheduleRange(local.second)],
                minute=[ScheduleRange(local.minute)],
                hour=[ScheduleRange(local.hour)],
                day_of_month=[ScheduleRange(local.day)],
                month=[ScheduleRange(local.month)],
                year=[ScheduleRange(local.year)],
                comment=f"daylight-saving firing {fire.isoformat()}, {lead_s}s ahead of its call",
            )
        )
    return calendars


def _whole_seconds(lead_s: float) -> int:
    if not 0 <= lead_s < DAY_S or lead_s != int(lead_s):
        raise ScheduleInvalid(
            "lead_s", f"lead {lead_s}s must be whole seconds from 0 to {DAY_S - 1}"
        )
    return int(lead_s)


_PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a schedule field: use timezone, days, times, quiet_hours, "
    "jitter_s, paused",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "model_type": "must be an object",
    "dict_type": "must be an object",
}


def _as_invalid(exc: ValidationError) -> ScheduleInvalid:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = ".".join(loc) if loc else "body"
    if error["type"] == "schedule_invalid":
        message = error["msg"]
    else:
        message = f"{field} {_PLAIN_MESSAGES.get(error['type'], error['msg'])}"
    return ScheduleInvalid(field, message)
