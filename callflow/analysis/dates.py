"""Relative dates in what a user says, resolved against the call's local date.

Both analyzers follow the same rules, `DATE_RULES`: the LLM's prompt states them word for word
and the offline analyzer applies them here (`parse_when`, `When.due`)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from callflow.analysis.text import NUMBER_WORDS
from callflow.zones import zone_or_utc

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
RECURRENCES = ("daily", "weekdays", "weekly")


def weekday_name(day: date) -> str:
    """ "Tuesday": English, whatever the machine's locale (the agent speaks English)."""
    return WEEKDAYS[day.weekday()].capitalize()


def month_name(month: int) -> str:
    return MONTHS[month - 1].capitalize()


def month_number(name: str) -> int | None:
    """1-12 for an English month name in any case, None for anything else."""
    lowered = name.lower()
    return MONTHS.index(lowered) + 1 if lowered in MONTHS else None


DATE_RULES = """\
All dates are relative to the user's local date D at the time of the call (in their time zone).
- "today", "tonight", "this morning/afternoon/evening", "right after this call": D.
- "tomorrow": D+1. "the day after tomorrow": D+2. "in N days": D+N. "in a week": D+7.
- "next week": the Monday after D (the first day of the next Monday-Sunday week).
  "the week after next": that Monday + 7 days.
- "this week", "by the end of the week": the Sunday that ends D's week (D itself on a Sunday).
- "this weekend", "by the weekend": the Saturday on or after D (D itself on a Sunday).
  "next weekend": the Saturday of next week.
- A weekday alone or with on/by/before ("by Friday", "on Monday", "Thursday"): the first such
  day after D, so "by Friday" said on a Friday is a week later. "this Friday": the Friday on or
  after D. "next Friday": the Friday of next week. A weekday with "next week" ("Monday next
  week"): that day of next week.
- A day of the month ("on the 15th", "Saturday the second", "December 3rd"): its first
  occurrence on or after D. "next month": the 1st of the next month; "end of the month": its
  last day.
- Several dates for one commitment ("Monday, Wednesday and Friday"): the earliest.
- Recurrence: "every day/morning/evening/night", "daily", "N times a day" -> daily;
  "every weekday", "on weekdays", "weeknights" -> weekdays; "every week", "weekly", "once a
  week", "every Sunday", "on Sundays" -> weekly; anything else -> null. A recurring commitment
  is due on its first occurrence: the date said with it ("starting Monday", "from tonight"),
  else daily -> D+1 ("every morning" starts tomorrow unless the user said today or tonight),
  weekdays -> the first Monday-Friday after D, weekly on named days -> the first such day
  after D, weekly with no day -> D+7.
- No date at all: the default due date given with the call (the user's next scheduled call),
  else D+1. A due date is always given.
- A time ("at nine", "at 7:30 pm", "at noon") -> due_time "HH:MM" (24 h); without am/pm,
  morning words mean am, evening words (tonight, evening, night, after work) pm, otherwise
  7-11 am and 12-6 pm. No time said -> null.
"""

_WD = "|".join(WEEKDAYS)
_MONTH_ALT = "|".join(
    [m for m in MONTHS]
    + ["jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct"]
    + ["nov", "dec"]
)
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "twenty-first": 21,
    "twenty-second": 22,
    "twenty-third": 23,
    "twenty-fourth": 24,
    "twenty-fifth": 25,
    "twenty-sixth": 26,
    "twenty-seventh": 27,
    "twenty-eighth": 28,
    "twenty-ninth": 29,
    "thirtieth": 30,
    "thirty-first": 31,
}
_ORD_ALT = "|".join(sorted(_ORDINALS, key=len, reverse=True))
_DAY_NUM = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORD_ALT})"
# "twice" and the like are frequencies, not counts of days or hours.
_PLAIN_NUMBERS = {
    w: n for w, n in NUMBER_WORDS.items() if w not in ("once", "twice", "thrice", "none")
}
_COUNTS = {w: n for w, n in _PLAIN_NUMBERS.items() if 1 <= n <= 10} | {
    "a couple of": 2,
    "a few": 3,
}
_COUNT_ALT = r"a couple of|a few|an|a|one|two|three|four|five|six|seven|eight|nine|ten|\d+"
_HOURS = {w: n for w, n in _PLAIN_NUMBERS.items() if 1 <= n <= 12 and w not in ("a", "an")}
_MINUTES = {"fifteen": 15, "thirty": 30, "forty-five": 45, "half": 30}

_DAY_AFTER_TOMORROW = re.compile(r"\b(?:the )?day after tomorrow\b")
_TOMORROW = re.compile(r"\btomorrow\b")
_TODAY = re.compile(
    r"\b(?:today|tonight|this (?:morning|afternoon|evening)|later on today|later today"
    r"|(?:right )?after (?:this|the) call|straight away|right away)\b"
)
_IN_N = re.compile(rf"\bin ({_COUNT_ALT}) (days?|weeks?)\b")
_WEEK_AFTER_NEXT = re.compile(r"\bthe week after next\b")
_NEXT_WEEKEND = re.compile(r"\bnext weekend\b")
_WEEKEND = re.compile(r"\b(?:this|the) weekend\b")
_NEXT_WEEK = re.compile(r"\bnext week\b")
_THIS_WEEK = re.compile(r"\b(?:this week|end of (?:the|this) week|later this week)\b")
_NEXT_MONTH = re.compile(r"\bnext month\b")
_END_OF_MONTH = re.compile(r"\bend of (?:the|this) month\b")
_MONTH_DAY = re.compile(
    rf"\b(?P<m1>{_MONTH_ALT})\.? (?:the )?(?P<d1>{_DAY_NUM})\b"
    rf"|\b(?:the )?(?P<d2>{_DAY_NUM}) (?:of )?(?P<m2>{_MONTH_ALT})\b"
)
_DAY_OF_MONTH = re.compile(
    rf"\b(?P<pre>on|by|before|until|till|for|(?:{_WD})) the (?P<d>{_DAY_NUM})\b"
    r"(?! (?:one|time|thing))"
)
_WEEKDAY = re.compile(rf"\b(?:(?P<mod>next|this|coming|every|each) )?(?P<wd>{_WD})(?P<pl>s)?\b")

_WEEKDAYS_RECUR = re.compile(
    r"\b(?:every|each|on) (?:single )?(?:week ?days?|work ?days?|working days?|week ?nights?)\b"
    r"|\bweekdays\b|\bweeknights\b"
    r"|\b(?:monday (?:to|through|till|until) friday)\b"
)
_WEEKLY_RECUR = re.compile(
    rf"\b(?:every|each) (?:single )?(?:week|weekend|(?P<wd>{_WD}))\b|\bweekly\b|\bonce a week\b"
    rf"|\b(?:twice|\w+ times) a week\b|\b(?:on )?(?P<pl>{_WD})s\b"
)
_DAILY_RECUR = re.compile(
    r"\b(?:every|each) (?:single )?(?:day|morning|evening|night|afternoon|lunch(?:time)?"
    r"|breakfast|dinner)\b|\bdaily\b|\bnightly\b|\b(?:once|twice|\w+ times) a day\b"
    r"|(?<!\bin )\ba day\b(?! off)"
)

_TIME_DIGITS = re.compile(
    r"\b(?:at|by|around|before) (?P<h>\d{1,2})(?::(?P<m>\d{2}))? ?(?P<mer>am|pm|a\.m\.|p\.m\.)?"
    r"(?![\d:])"
)
_TIME_WORDS = re.compile(
    rf"\b(?:at|by|around|before) (?P<h>{'|'.join(_HOURS)})"
    rf"(?: (?P<m>{'|'.join(_MINUTES)}))?(?: ?(?P<mer>am|pm|a\.m\.|p\.m\.|o'clock))?\b"
)
_NOON = re.compile(r"\b(?:at|by|around|before) (?P<w>noon|midday|midnight)\b")
_MORNING_CONTEXT = re.compile(r"\b(?:morning|breakfast|wake|get up|am|a\.m\.)\b")
_EVENING_CONTEXT = re.compile(
    r"\b(?:tonight|evening|night|after work|dinner|pm|p\.m\.|afternoon|bed)\b"
)


@dataclass(frozen=True)
class When:
    """What one phrase says about a commitment's timing."""

    day: date | None = None  # the date said, if any
    time: str | None = None  # "HH:MM"
    recurrence: str | None = None  # daily | weekdays | weekly
    anchors: tuple[int, ...] = ()  # weekdays (0 = Monday) a weekly recurrence falls on

    @property
    def said_anything(self) -> bool:
        return self.day is not None or self.time is not None or self.recurrence is not None

    def due(self, today: date, default: date) -> date:
        """The first due date: what was said, the recurrence's first occurrence, or `default`."""
        start = self.day
        if self.recurrence == "weekly" and self.anchors:
            first = start or today + timedelta(days=1)
            return min(on_or_after(first, a) for a in self.anchors)
        if self.recurrence == "weekdays":
            d = start or today + timedelta(days=1)
            while d.weekday() >= 5:
                d += timedelta(days=1)
            return d
        if start is not None:
            return start
        if self.recurrence == "daily":
            return today + timedelta(days=1)
        if self.recurrence == "weekly":
            return today + timedelta(days=7)
        return default

    def merged(self, later: When) -> When:
        """`self` completed by what a later phrase about the same commitment says."""
        return When(
            day=later.day or self.day,
            time=later.time or self.time,
            recurrence=later.recurrence or self.recurrence,
            anchors=later.anchors if later.recurrence else self.anchors,
        )


def call_local_date(local_date: str | None, timezone: str, now: datetime | None = None) -> date:
    """The call's local date: `local_date` when given, else today's date in `timezone`."""
    if local_date:
        return date.fromisoformat(local_date)
    tz = zone_or_utc(timezone)
    return (now or datetime.now(tz)).astimezone(tz).date()


def default_due(today: date, default_due_date: str | None) -> date:
    """Where a commitment with no date lands: the next scheduled call, else the next day."""
    if default_due_date:
        return date.fromisoformat(default_due_date)
    return today + timedelta(days=1)


def on_or_after(d: date, weekday: int) -> date:
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _day_number(raw: str) -> int:
    raw = raw.lower()
    if raw in _ORDINALS:
        return _ORDINALS[raw]
    return int(re.sub(r"(st|nd|rd|th)$", "", raw))


def _month_number(raw: str) -> int:
    raw = raw.lower().rstrip(".")
    for i, name in enumerate(MONTHS, start=1):
        if name.startswith(raw[:3]):
            return i
    raise ValueError(raw)


def _next_day_of_month(today: date, day: int, month: int | None = None) -> date | None:
    """The first date on or after `today` with that day (and month, when given)."""
    if not 1 <= day <= 31:
        return None
    year, m = today.year, month or today.month
    for _ in range(25):
        if day <= calendar.monthrange(year, m)[1]:
            candidate = date(year, m, day)
            if candidate >= today:
                return candidate
        if month is None:
            m = m % 12 + 1
            year += 1 if m == 1 else 0
        else:
            year += 1
    return None


def _time_of(text: str) -> str | None:
    noon = _NOON.search(text)
    if noon:
        return "00:00" if noon.group("w") == "midnight" else "12:00"
    match = _TIME_DIGITS.search(text) or _TIME_WORDS.search(text)
    if not match:
        return None
    h_raw, m_raw, mer = match.group("h"), match.group("m"), match.group("mer")
    hour = int(h_raw) if h_raw.isdigit() else _HOURS[h_raw]
    if m_raw is None:
        minute = 0
    elif m_raw.isdigit():
        minute = int(m_raw)
    else:
        minute = _MINUTES[m_raw]
    if hour > 23 or minute > 59:
        return None
    if mer and mer.startswith("p") and hour < 12:
        hour += 12
    elif mer and mer.startswith("a") and hour == 12:
        hour = 0
    elif not mer or mer == "o'clock":
        if 1 <= hour <= 11:
            if _EVENING_CONTEXT.search(text) and not _MORNING_CONTEXT.search(text):
                hour += 12
            elif not _MORNING_CONTEXT.search(text) and hour <= 6:
                hour += 12
    return f"{hour:02d}:{minute:02d}"


def parse_when(text: str, today: date) -> When:
    """The date, time and recurrence that `text` states, resolved against `today`."""
    t = text.lower().replace("\u2019", "'")
    dates: list[date] = []
    spans: list[tuple[int, int]] = []

    def add(d: date | None, match: re.Match[str]) -> None:
        if d is not None:
            dates.append(d)
            spans.append(match.span())

    def free(match: re.Match[str]) -> bool:
        s, e = match.span()
        return all(e <= a or s >= b for a, b in spans)

    for m in _DAY_AFTER_TOMORROW.finditer(t):
        add(today + timedelta(days=2), m)
    for m in _TOMORROW.finditer(t):
        if free(m):
            add(today + timedelta(days=1), m)
    for m in _TODAY.finditer(t):
        add(today, m)
    for m in _IN_N.finditer(t):
        n = _COUNTS.get(m.group(1)) or (int(m.group(1)) if m.group(1).isdigit() else 0)
        add(today + timedelta(days=n * (7 if m.group(2).startswith("week") else 1)), m)
    for m in _WEEK_AFTER_NEXT.finditer(t):
        add(next_monday(today) + timedelta(days=7), m)
    for m in _NEXT_WEEKEND.finditer(t):
        add(next_monday(today) + timedelta(days=5), m)
    for m in _WEEKEND.finditer(t):
        if free(m):
            add(today if today.weekday() == 6 else on_or_after(today, 5), m)
    next_week = any(free(m) for m in _NEXT_WEEK.finditer(t))
    for m in _THIS_WEEK.finditer(t):
        add(today + timedelta(days=6 - today.weekday()), m)
    for m in _NEXT_MONTH.finditer(t):
        add(date(today.year + today.month // 12, today.month % 12 + 1, 1), m)
    for m in _END_OF_MONTH.finditer(t):
        add(date(today.year, today.month, calendar.monthrange(today.year, today.month)[1]), m)
    for m in _MONTH_DAY.finditer(t):
        month_raw, day_raw = m.group("m1") or m.group("m2"), m.group("d1") or m.group("d2")
        if month_raw == "may" and m.group("m1") and not re.match(r"\d", day_raw):
            continue  # "may the second one..." is the verb, not the month
        add(_next_day_of_month(today, _day_number(day_raw), _month_number(month_raw)), m)
    for m in _DAY_OF_MONTH.finditer(t):
        if free(m):
            add(_next_day_of_month(today, _day_number(m.group("d"))), m)
    weekday_dates: list[tuple[date, re.Match[str]]] = []
    for m in _WEEKDAY.finditer(t):
        if not free(m) or m.group("mod") in ("every", "each") or m.group("pl"):
            continue  # a recurrence's day, or already part of a date ("Saturday the 2nd")
        wd = WEEKDAYS.index(m.group("wd"))
        if m.group("mod") == "next" or next_week:
            d = next_monday(today) + timedelta(days=wd)
        elif m.group("mod") in ("this", "coming"):
            d = on_or_after(today, wd)
        else:
            d = on_or_after(today + timedelta(days=1), wd)
        weekday_dates.append((d, m))
    for d, m in weekday_dates:
        add(d, m)
    if next_week and not weekday_dates:
        dates.append(next_monday(today))

    recurrence: str | None = None
    anchors: tuple[int, ...] = ()
    if _WEEKDAYS_RECUR.search(t):
        recurrence = "weekdays"
    elif _WEEKLY_RECUR.search(t):
        recurrence = "weekly"
        days = {m.group(1) for m in re.finditer(rf"\b({_WD})s?\b", t)}
        anchors = tuple(sorted(WEEKDAYS.index(d) for d in days))
        if not anchors and re.search(r"\bevery (?:single )?weekend\b", t):
            anchors = (5,)
    elif _DAILY_RECUR.search(t):
        recurrence = "daily"
    return When(
        day=min(dates) if dates else None,
        time=_time_of(t),
        recurrence=recurrence,
        anchors=anchors,
    )


def resolve(text: str, today: date, default: date) -> tuple[str, str | None, str | None]:
    """(ISO due date, "HH:MM" or None, recurrence or None) for a commitment phrase."""
    when = parse_when(text, today)
    return when.due(today, default).isoformat(), when.time, when.recurrence
