"""The rules of commitments, pure (no I/O): when one falls due, what one call's outcome does to a
user's commitments, and when a new commitment is one the user already has.

`apply_call_outcome` returns a `CommitmentChanges` (rows to upsert, check-ins to add) that
`RecordsStore.apply_commitment_changes` writes in one transaction.

Due
    A commitment is due on a call when it is `open` and its `due_date <= the user's local date at
    call time` (the caller passes that date to `RecordsStore.due_commitments`). Every stored
    commitment has a due date: the one the user gave (if it is not already past), else
    `default_due_date`: the user's next scheduled call date when known, else the next day.

Recurrence
    `daily`, `weekdays` (Monday to Friday) or `weekly`, only where the user said so. A recurring
    commitment ends on `until`: the end the user stated, else `DEFAULT_HORIZON_DAYS` (30) days
    after the call that created it.

Verdicts (one per due commitment per call; the first one the analysis gives counts)
    - `unclear`: a check-in is recorded; the commitment stays open and due, so the next call asks
      again.
    - `cancelled`: the user called it off; it closes, recurring or not.
    - `kept` / `broken` / `partly` on a one-off commitment: that becomes its status.
    - `kept` / `broken` / `partly` on a recurring commitment: the check-in is recorded and it stays
      `open`, due on its next occurrence after the call's local date (`next_occurrence`); when
      that would fall after `until`, it closes with this last verdict.
    A verdict naming a commitment that was not due on the call, or that is not a verdict value,
    is ignored.

Silent calls
    The caller passes `user_spoke` (`has_user_speech(transcript)`: some user turn has text). When it
    is False nothing changes: no status, no check-in, no new commitment, whatever the analysis
    said.

The same commitment restated (`same_commitment`)
    Both texts are reduced to content words: lowercased; "10,000" -> "10000", "10k" -> "10000";
    number words become digits ("ten" -> "10", "twenty five" -> "25"); stop words, auxiliaries
    ("I'll", "going to", "try to") and when/how-often words ("today", "tomorrow", "every",
    "daily", "week") dropped; a light suffix stemming ("meditating", "meditated" and "meditate"
    are one word). Two texts state the same commitment when
    - their action verb, the first non-number content word, is the same,
    - the numbers they both state agree (if both state any: "run 5k" is not "run 10k"), and
    - their content words overlap by at least `MATCH_THRESHOLD` (0.6), measured as
      2 * |A & B| / (|A| + |B|) (Dice).
    So "meditate for ten minutes every morning" restates "Meditate 10 minutes each morning"
    (overlap 1.0) and "meditate every morning" (0.67), but "call mum" is not "call the bank"
    (0.5). A new commitment is matched against the user's commitments that are still open after
    this call's verdicts, and against those created earlier in the same call; on a match the
    existing row is kept (its due date, due time, recurrence and end take what the restatement
    states anew) and no row is added.

Ids
    A new commitment's id is uuid5 of (call id, its index in the analysis's list), and a
    check-in's of (call id, commitment id): a commitment gets at most one check-in per call. So a
    retried save upserts the same rows; a retry that finds this call's own commitments already
    stored recreates them by index rather than matching them as restatements.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, time, timedelta
from typing import Protocol

from callflow.models import CheckIn, Commitment, CommitmentChanges, Recurrence, TranscriptTurn

STATUSES = ("open", "kept", "broken", "partly", "unclear", "cancelled")
VERDICTS = frozenset(STATUSES) - {"open"}
RECURRENCES = tuple(r.value for r in Recurrence)  # daily, weekdays, weekly
DEFAULT_HORIZON_DAYS = 30
MATCH_THRESHOLD = 0.6

_NAMESPACE = uuid.NAMESPACE_URL


class VerdictLike(Protocol):
    """The analysis's verdict on one due commitment (ports.CommitmentUpdate); an `evidence`
    attribute, where present, is the user's words it rests on."""

    @property
    def commitment_id(self) -> str: ...
    @property
    def status(self) -> str: ...


class StatedCommitment(Protocol):
    """A commitment the user made on the call (ports.NewCommitment); `recurrence`, `due_time`
    and `until` attributes are read where present."""

    @property
    def text(self) -> str: ...
    @property
    def due_date(self) -> str | None: ...


# --- ids


def new_commitment_id(call_id: str, index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"callflow:{call_id}:commitment:{index}"))


def check_in_id(call_id: str, commitment_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"callflow:{call_id}:check-in:{commitment_id}"))


# --- dates


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an ISO date like 2026-11-27, got {value!r}") from None


def stated_day(value: object) -> date | None:
    """A date the analysis may have given: None when absent or not an ISO date."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def default_due_date(local_date: str, next_call_date: str | None = None) -> str:
    """The due date of a commitment the user gave none for: the user's next scheduled call date
    when known (and after `local_date`), else the day after `local_date`. Never None."""
    today = _day(local_date, "local_date")
    if next_call_date:
        upcoming = _day(next_call_date, "next_call_date")
        if upcoming > today:
            return upcoming.isoformat()
    return (today + timedelta(days=1)).isoformat()


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:  # Saturday, Sunday
        day += timedelta(days=1)
    return day


def next_occurrence(recurrence: str, due: date, after: date) -> date:
    """The first occurrence of the series due on `due` that falls after `after` (a call's local
    date): daily, the next day; weekdays, the next Monday to Friday; weekly, `due` plus whole
    weeks (the weekday stays). A `due` already after `after` is returned as it is."""
    if due > after:
        return due
    if recurrence == "daily":
        return after + timedelta(days=1)
    if recurrence == "weekdays":
        return _weekday_on_or_after(after + timedelta(days=1))
    if recurrence == "weekly":
        weeks = (after - due).days // 7 + 1
        return due + timedelta(days=7 * weeks)
    raise ValueError(f"recurrence must be one of {RECURRENCES}, got {recurrence!r}")


# --- matching

_NUMBER_WORDS = {
    word: n
    for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
        " fifteen sixteen seventeen eighteen nineteen".split()
    )
} | {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000}
_STOP_WORDS = frozenset(
    # articles, pronouns, prepositions, conjunctions
    "a an the this that these those it its my me myself i we our you your to for of and or but"
    " at in on by with from into up out off about around over some any all least"
    # auxiliaries and intent ("I'll try to ...", "I'm going to ...", "make sure to ...")
    " will ll shall would should must can could am m is are be been being do does did have has"
    " going gonna want wanna plan need try trying start starting begin keep continue promise"
    " commit sure definitely actually really just also again more than"
    # when and how often: the due date and recurrence carry these
    " today tomorrow tonight next every each per daily weekly weekday weekdays everyday day days"
    " week weeks once twice".split()
)
_DOUBLED = frozenset("bdgmnprt")  # running -> run, jogging -> jog (not calling -> cal)
_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def _stem(word: str) -> str:
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) >= 3 and word[-1] == word[-2] and word[-1] in _DOUBLED:
                word = word[:-1]
            break
    else:
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith(("ches", "shes", "sses", "xes", "zes")):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _numbers_as_digits(tokens: list[str]) -> list[str]:
    out: list[str] = []
    total = current = 0
    in_number = False

    def flush() -> None:
        nonlocal total, current, in_number
        if in_number:
            out.append(str(total + current))
        total = current = 0
        in_number = False

    for token in tokens:
        if token in _NUMBER_WORDS:
            current += _NUMBER_WORDS[token]
            in_number = True
        elif token in _SCALES and in_number:
            if _SCALES[token] == 100:
                current *= 100
            else:
                total, current = (total + current) * _SCALES[token], 0
        else:
            flush()
            out.append(token)
    flush()
    return out


def content_words(text: str) -> list[str]:
    """The words `same_commitment` compares, in order (see the module docstring)."""
    lowered = text.lower().replace("\u2019", "'")
    lowered = re.sub(r"(?<=\d),(?=\d{3})", "", lowered)  # 10,000 -> 10000
    lowered = re.sub(r"(\d+)\s*k\b", lambda m: str(int(m.group(1)) * 1000), lowered)
    tokens = _numbers_as_digits(_TOKEN.findall(lowered))
    words: list[str] = []
    for token in tokens:
        if token in _STOP_WORDS or (len(token) == 1 and not token.isdigit()):
            continue
        words.append(_stem(token))
    return words


def _is_number(word: str) -> bool:
    return word.replace(".", "", 1).isdigit()


def match_score(a: str, b: str) -> float:
    """How surely `a` and `b` state the same commitment: 0 when the verbs or the numbers
    differ, else the content-word overlap (Dice)."""
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 1.0 if " ".join(a.lower().split()) == " ".join(b.lower().split()) else 0.0
    verb_a = next((w for w in wa if not _is_number(w)), None)
    verb_b = next((w for w in wb if not _is_number(w)), None)
    if verb_a != verb_b:
        return 0.0
    numbers_a = {w for w in wa if _is_number(w)}
    numbers_b = {w for w in wb if _is_number(w)}
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return 0.0
    set_a, set_b = set(wa), set(wb)
    return 2 * len(set_a & set_b) / (len(set_a) + len(set_b))


def same_commitment(a: str, b: str) -> bool:
    return match_score(a, b) >= MATCH_THRESHOLD


def find_restated(text: str, open_commitments: Iterable[Commitment]) -> Commitment | None:
    """The open commitment `text` restates (the best-scoring one; the earliest listed on a tie),
    or None."""
    best: Commitment | None = None
    best_score = MATCH_THRESHOLD
    for c in open_commitments:
        if c.status != "open":
            continue
        score = match_score(text, c.text)
        if score >= best_score and (best is None or score > best_score):
            best, best_score = c, score
    return best


# --- one call's outcome


def has_user_speech(transcript: Iterable[TranscriptTurn | Mapping[str, str]]) -> bool:
    """Whether any user turn of the transcript has text (turns as dataclasses or dicts)."""
    for turn in transcript:
        role = turn.role if isinstance(turn, TranscriptTurn) else turn.get("role")
        text = turn.text if isinstance(turn, TranscriptTurn) else turn.get("text")
        if role == "user" and isinstance(text, str) and text.strip():
            return True
    return False


def stated_time(value: object) -> str | None:
    """A stated clock time as stored: "HH:MM" (or "HH:MM:SS" with seconds), else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = time.fromisoformat(value)
    except ValueError:
        return None
    return t.replace(tzinfo=None).isoformat(timespec="minutes" if t.second == 0 else "seconds")


def _stated_recurrence(value: object) -> str | None:
    text = str(value).lower() if value is not None else ""
    return text if text in RECURRENCES else None


def _evidence(verdict: VerdictLike) -> str | None:
    words = getattr(verdict, "evidence", None)
    if not isinstance(words, str):
        return None
    return words.strip() or None


def _restate(
    existing: Commitment,
    due: date | None,
    due_time: str | None,
    recurrence: str | None,
    until: date | None,
    today: date,
) -> Commitment:
    updated = existing
    if due is not None:
        updated = replace(updated, due_date=due.isoformat())
    if due_time is not None:
        updated = replace(updated, due_time=due_time)
    if recurrence is not None and recurrence != existing.recurrence:
        end = until or stated_day(existing.until) or today + timedelta(days=DEFAULT_HORIZON_DAYS)
        updated = replace(updated, recurrence=recurrence, until=end.isoformat())
    elif until is not None and updated.recurrence is not None:
        updated = replace(updated, until=until.isoformat())
    return updated


def apply_call_outcome(
    *,
    user_id: str,
    call_id: str,
    local_date: str,
    due: Sequence[Commitment],
    verdicts: Sequence[VerdictLike],
    new: Sequence[StatedCommitment],
    open_commitments: Sequence[Commitment],
    user_spoke: bool,
    next_call_date: str | None = None,
) -> CommitmentChanges:
    """What one call does to `user_id`'s commitments (the rules are in the module docstring).

    `due`: the commitments that were due on the call (asked about); `verdicts` and `new`: the
    analysis's; `open_commitments`: the user's open commitments now (for restatements);
    `local_date`: the call's date in the user's time zone; `user_spoke`: False for a call in
    which the user said nothing, which changes nothing; `next_call_date`: the user's next
    scheduled call date, when known (the default due date of a new commitment).
    """
    changes = CommitmentChanges(user_id=user_id, call_id=call_id)
    if not user_spoke:
        return changes
    today = _day(local_date, "local_date")
    rows: dict[str, Commitment] = {}  # commitment_id -> the row to upsert

    asked = {c.commitment_id: c for c in due if c.user_id == user_id and c.status == "open"}
    for verdict in verdicts:
        cid, status = verdict.commitment_id, str(verdict.status)
        if cid not in asked or cid in changes.judged_ids or status not in VERDICTS:
            continue
        changes.judged_ids.append(cid)
        changes.check_ins.append(
            CheckIn(
                check_in_id=check_in_id(call_id, cid),
                commitment_id=cid,
                call_id=call_id,
                verdict=status,
                evidence=_evidence(verdict),
                asked_on=today.isoformat(),
            )
        )
        c = asked[cid]
        if status == "unclear":
            continue  # still open and due: asked again next call
        if status == "cancelled" or c.recurrence not in RECURRENCES:
            rows[cid] = replace(c, status=status)
            continue
        current = stated_day(c.due_date) or today
        upcoming = next_occurrence(str(c.recurrence), current, today)
        end = stated_day(c.until)
        if end is None or upcoming <= end:
            rows[cid] = replace(c, status="open", due_date=upcoming.isoformat())
        else:
            rows[cid] = replace(c, status=status)

    # This call's own commitments, stored by an earlier try of the same save, are recreated by
    # their index below rather than matched.
    still_open: dict[str, Commitment] = {}
    for c in open_commitments:
        c = rows.get(c.commitment_id, c)
        if c.user_id == user_id and c.status == "open" and c.source_call_id != call_id:
            still_open[c.commitment_id] = c
    for index, stated in enumerate(new):
        text = (stated.text or "").strip()
        if not text:
            continue
        due_day = stated_day(stated.due_date)
        if due_day is not None and due_day < today:
            due_day = None  # a date already past is no due date
        due_time = stated_time(getattr(stated, "due_time", None))
        recurrence = _stated_recurrence(getattr(stated, "recurrence", None))
        until = stated_day(getattr(stated, "until", None))
        match = find_restated(text, still_open.values())
        if match is not None:
            updated = _restate(match, due_day, due_time, recurrence, until, today)
            if updated != match:
                rows[match.commitment_id] = updated
                still_open[match.commitment_id] = updated
            if match.commitment_id not in changes.restated_ids:
                changes.restated_ids.append(match.commitment_id)
            continue
        if due_day is None:
            due_day = date.fromisoformat(default_due_date(local_date, next_call_date))
        if recurrence == "weekdays":
            due_day = _weekday_on_or_after(due_day)
        if recurrence is not None and until is None:
            until = today + timedelta(days=DEFAULT_HORIZON_DAYS)
        cid = new_commitment_id(call_id, index)
        row = Commitment(
            commitment_id=cid,
            user_id=user_id,
            text=text,
            due_date=due_day.isoformat(),
            status="open",
            source_call_id=call_id,
            due_time=due_time,
            recurrence=recurrence,
            until=until.isoformat() if recurrence is not None and until is not None else None,
        )
        rows[cid] = row
        still_open[cid] = row
        changes.created_ids.append(cid)

    changes.commitments = list(rows.values())
    return changes
