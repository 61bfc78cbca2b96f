"""The commitment rules (callflow/commitments.py), no store involved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from callflow import commitments as rules
from callflow.commitments import (
    apply_call_outcome,
    check_in_id,
    content_words,
    default_due_date,
    find_restated,
    has_user_speech,
    new_commitment_id,
    next_occurrence,
    same_commitment,
)
from callflow.models import Commitment as C
from callflow.models import CommitmentChanges, CommitmentStatus, TranscriptTurn
from callflow.ports import CommitmentUpdate, NewCommitment
from callflow.records import codec

USER, CALL, TODAY = "u-1", "call-7", "2026-11-27"  # a Friday


@dataclass
class Said:
    commitment_id: str
    status: str
    evidence: str | None = None


@dataclass
class Promised:
    text: str
    due_date: str | None = None
    recurrence: str | None = None
    due_time: str | None = None
    until: str | None = None


def outcome(
    *,
    due: list[C] | None = None,
    verdicts: list[Said] | list[CommitmentUpdate] | None = None,
    new: list[Promised] | list[NewCommitment] | None = None,
    open_commitments: list[C] | None = None,
    spoke: bool = True,
    local_date: str = TODAY,
    next_call_date: str | None = None,
    call_id: str = CALL,
) -> CommitmentChanges:
    due = due or []
    return apply_call_outcome(
        user_id=USER,
        call_id=call_id,
        local_date=local_date,
        due=due,
        verdicts=verdicts or [],
        new=new or [],
        open_commitments=due if open_commitments is None else open_commitments,
        user_spoke=spoke,
        next_call_date=next_call_date,
    )


# --- due dates and occurrences


def test_default_due_date_is_the_next_call_else_the_next_day() -> None:
    assert default_due_date(TODAY) == "2026-11-28"
    assert default_due_date("2026-12-31") == "2027-01-01"
    assert default_due_date(TODAY, "2026-11-30") == "2026-11-30"
    # A next call date that is not after today is stale: the next day instead.
    assert default_due_date(TODAY, TODAY) == "2026-11-28"
    assert default_due_date(TODAY, "") == "2026-11-28"
    with pytest.raises(ValueError, match="local_date"):
        default_due_date("27/11/2026")


@pytest.mark.parametrize(
    ("recurrence", "due", "after", "expected"),
    [
        ("daily", "2026-11-27", "2026-11-27", "2026-11-28"),
        ("daily", "2026-11-20", "2026-11-27", "2026-11-28"),  # missed days are not owed
        ("weekdays", "2026-11-27", "2026-11-27", "2026-11-30"),  # Friday -> Monday
        ("weekdays", "2026-11-26", "2026-11-28", "2026-11-30"),  # asked on a Saturday
        ("weekdays", "2026-11-24", "2026-11-24", "2026-11-25"),
        ("weekly", "2026-11-27", "2026-11-27", "2026-12-04"),
        ("weekly", "2026-11-23", "2026-11-25", "2026-11-30"),  # keeps its weekday
        ("weekly", "2026-11-02", "2026-11-27", "2026-11-30"),
        ("daily", "2026-11-30", "2026-11-27", "2026-11-30"),  # not due yet: unchanged
    ],
)
def test_next_occurrence(recurrence: str, due: str, after: str, expected: str) -> None:
    got = next_occurrence(recurrence, date.fromisoformat(due), date.fromisoformat(after))
    assert got.isoformat() == expected


def test_next_occurrence_refuses_an_unknown_recurrence() -> None:
    with pytest.raises(ValueError, match="recurrence"):
        next_occurrence("monthly", date(2026, 11, 1), date(2026, 11, 27))


# --- the same commitment restated


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("meditate for ten minutes every morning", "Meditate 10 minutes each morning"),
        ("meditate for ten minutes every morning", "meditate every morning"),
        ("meditate for ten minutes every morning", "I'll try meditating 10 minutes in the morning"),
        ("walk 10,000 steps daily", "walk ten thousand steps every day"),
        ("walk 10k steps", "Walk 10000 steps a day"),
        ("call mum", "Call my mum tomorrow"),
        ("go running twice a week", "go running"),
    ],
)
def test_restatements_match(a: str, b: str) -> None:
    assert same_commitment(a, b) and same_commitment(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("call mum", "call the bank"),  # overlap 0.5
        ("run 5k", "run 10k"),  # the numbers differ
        ("read a book", "write a book"),  # another verb
        ("meditate for ten minutes", "meditate for twenty minutes"),
        ("stretch", "run"),
    ],
)
def test_different_commitments_do_not_match(a: str, b: str) -> None:
    assert not same_commitment(a, b)


def test_content_words_are_normalised() -> None:
    assert content_words("I'm going to meditate for twenty five minutes every morning") == [
        "meditat",
        "25",
        "minut",
        "morn",
    ]
    assert content_words("Walk 10,000 steps") == content_words("walk ten thousand step")


def test_find_restated_takes_the_best_open_match() -> None:
    loose = C("c-1", USER, "meditate in the evening", TODAY)
    close = C("c-2", USER, "meditate ten minutes every morning", TODAY)
    done = C("c-3", USER, "meditate 10 minutes each morning", TODAY, status="kept")
    assert find_restated("Meditate 10 minutes every morning", [loose, close, done]) is close
    assert find_restated("call the bank", [loose, close]) is None


# --- ids


def test_ids_are_deterministic() -> None:
    assert new_commitment_id(CALL, 0) == new_commitment_id(CALL, 0)
    assert len({new_commitment_id(CALL, 0), new_commitment_id(CALL, 1)}) == 2
    assert new_commitment_id(CALL, 0) != new_commitment_id("call-8", 0)
    assert check_in_id(CALL, "c-1") == check_in_id(CALL, "c-1") != check_in_id(CALL, "c-2")


# --- verdicts


def test_a_verdict_on_a_one_off_commitment_sets_its_status() -> None:
    read = C("c-1", USER, "read", "2026-11-26")
    changes = outcome(due=[read], verdicts=[Said("c-1", "partly", "Half the chapter.")])
    assert changes.commitments == [C("c-1", USER, "read", "2026-11-26", "partly")]
    [ci] = changes.check_ins
    assert (ci.check_in_id, ci.commitment_id, ci.call_id) == (check_in_id(CALL, "c-1"), "c-1", CALL)
    assert (ci.verdict, ci.evidence, ci.asked_on) == ("partly", "Half the chapter.", TODAY)
    assert changes.judged_ids == ["c-1"]


def test_a_verdict_on_a_recurring_commitment_moves_it_to_the_next_occurrence() -> None:
    daily = C("c-1", USER, "meditate", TODAY, recurrence="daily", until="2026-12-27")
    workday = C("c-2", USER, "stand-up", TODAY, recurrence="weekdays", until="2026-12-27")
    changes = outcome(due=[daily, workday], verdicts=[Said("c-1", "kept"), Said("c-2", "broken")])
    assert [(c.commitment_id, c.status, c.due_date) for c in changes.commitments] == [
        ("c-1", "open", "2026-11-28"),
        ("c-2", "open", "2026-11-30"),  # Friday -> Monday
    ]
    assert [ci.verdict for ci in changes.check_ins] == ["kept", "broken"]


def test_a_recurring_commitment_closes_with_its_last_verdict_after_until() -> None:
    weekly = C("c-1", USER, "swim", TODAY, recurrence="weekly", until="2026-12-03")
    changes = outcome(due=[weekly], verdicts=[Said("c-1", "kept")])
    assert [(c.status, c.due_date) for c in changes.commitments] == [("kept", TODAY)]
    # On its last day it still moves on when the next one is within until.
    weekly.until = "2026-12-04"
    changes = outcome(due=[weekly], verdicts=[Said("c-1", "kept")])
    assert [(c.status, c.due_date) for c in changes.commitments] == [("open", "2026-12-04")]


def test_unclear_only_records_a_check_in() -> None:
    daily = C("c-1", USER, "meditate", TODAY, recurrence="daily", until="2026-12-27")
    read = C("c-2", USER, "read", TODAY)
    changes = outcome(due=[daily, read], verdicts=[Said("c-1", "unclear"), Said("c-2", "unclear")])
    assert changes.commitments == []
    assert [(ci.commitment_id, ci.verdict) for ci in changes.check_ins] == [
        ("c-1", "unclear"),
        ("c-2", "unclear"),
    ]


def test_cancelled_closes_even_a_recurring_commitment() -> None:
    daily = C("c-1", USER, "meditate", TODAY, recurrence="daily", until="2026-12-27")
    changes = outcome(due=[daily], verdicts=[Said("c-1", "cancelled", "Let's drop that one.")])
    assert [(c.status, c.due_date) for c in changes.commitments] == [("cancelled", TODAY)]


def test_verdicts_that_do_not_apply_are_ignored() -> None:
    read = C("c-1", USER, "read", TODAY)
    closed = C("c-2", USER, "run", TODAY, status="kept")
    changes = outcome(
        due=[read, closed],
        verdicts=[
            Said("c-9", "kept"),  # not asked on this call
            Said("c-2", "broken"),  # not open
            Said("c-1", "open"),  # not a verdict
            Said("c-1", "kept"),  # the first verdict for c-1 counts
            Said("c-1", "broken"),
        ],
    )
    assert [(c.commitment_id, c.status) for c in changes.commitments] == [("c-1", "kept")]
    assert [ci.verdict for ci in changes.check_ins] == ["kept"]


def test_the_ports_analysis_types_are_accepted() -> None:
    read = C("c-1", USER, "read", TODAY)
    changes = outcome(
        due=[read],
        verdicts=[CommitmentUpdate("c-1", "broken")],
        new=[NewCommitment("run 5k", "2026-12-01")],
    )
    assert [(c.text, c.status, c.due_date) for c in changes.commitments] == [
        ("read", "broken", TODAY),
        ("run 5k", "open", "2026-12-01"),
    ]
    assert changes.check_ins[0].evidence is None


# --- silent calls


def test_a_silent_call_changes_nothing() -> None:
    read = C("c-1", USER, "read", TODAY)
    changes = outcome(
        due=[read], verdicts=[Said("c-1", "unclear")], new=[Promised("run 5k")], spoke=False
    )
    assert changes == CommitmentChanges(USER, CALL) and changes.empty


def test_has_user_speech() -> None:
    assert not has_user_speech([])
    assert not has_user_speech(
        [TranscriptTurn("agent", "Hi!", 0, 1), TranscriptTurn("user", " ", 1, 2)]
    )
    assert not has_user_speech([{"role": "user", "text": ""}, {"role": "agent", "text": "Hello?"}])
    assert has_user_speech([TranscriptTurn("user", "Yes.", 1, 2)])
    assert has_user_speech([{"role": "user", "text": "I did it"}])


# --- new commitments


def test_a_new_commitment_always_gets_a_due_date() -> None:
    changes = outcome(
        new=[
            Promised("call mum"),
            Promised("file taxes", "2026-12-15"),
            Promised("stretch", "2026-11-01"),  # already past: the default instead
            Promised("  "),  # nothing said: skipped, its index still counts
            Promised("water the plants", "not a date", due_time="18:30"),
        ],
        next_call_date="2026-11-29",
    )
    assert [(c.text, c.due_date, c.due_time) for c in changes.commitments] == [
        ("call mum", "2026-11-29", None),
        ("file taxes", "2026-12-15", None),
        ("stretch", "2026-11-29", None),
        ("water the plants", "2026-11-29", "18:30"),
    ]
    assert changes.created_ids == [new_commitment_id(CALL, i) for i in (0, 1, 2, 4)]
    assert all(
        c.status == "open" and c.source_call_id == CALL and c.user_id == USER
        for c in changes.commitments
    )


def test_a_recurring_new_commitment_gets_an_end() -> None:
    changes = outcome(
        new=[
            Promised("meditate every morning", recurrence="daily"),
            Promised("stand-up practice", recurrence="weekdays"),
            Promised("swim", "2026-12-02", recurrence="weekly", until="2027-01-31"),
            Promised("floss", recurrence="hourly"),  # not a recurrence: a one-off
        ]
    )
    assert [(c.text, c.due_date, c.recurrence, c.until) for c in changes.commitments] == [
        ("meditate every morning", "2026-11-28", "daily", "2026-12-27"),
        ("stand-up practice", "2026-11-30", "weekdays", "2026-12-27"),  # the 28th is a Saturday
        ("swim", "2026-12-02", "weekly", "2027-01-31"),
        ("floss", "2026-11-28", None, None),
    ]


def test_a_restated_commitment_adds_no_row() -> None:
    meditate = C(
        "c-1",
        USER,
        "meditate for ten minutes every morning",
        "2026-11-28",
        source_call_id="call-6",
    )
    changes = outcome(
        new=[Promised("Meditate 10 minutes each morning")], open_commitments=[meditate]
    )
    assert changes.commitments == [] and changes.created_ids == []
    assert changes.restated_ids == ["c-1"]


def test_a_restatement_updates_the_due_date_and_recurrence_it_states() -> None:
    meditate = C("c-1", USER, "meditate every morning", "2026-11-28", source_call_id="call-6")
    changes = outcome(
        new=[Promised("meditate each morning", "2026-11-30", recurrence="daily", due_time="07:00")],
        open_commitments=[meditate],
    )
    assert changes.commitments == [
        C(
            "c-1",
            USER,
            "meditate every morning",
            "2026-11-30",
            source_call_id="call-6",
            due_time="07:00",
            recurrence="daily",
            until="2026-12-27",
        )
    ]


def test_two_restatements_in_one_call_make_one_row() -> None:
    changes = outcome(new=[Promised("call mum"), Promised("call my mum")])
    assert [c.text for c in changes.commitments] == ["call mum"]
    assert changes.created_ids == [new_commitment_id(CALL, 0)]
    assert changes.restated_ids == [new_commitment_id(CALL, 0)]


def test_a_commitment_closed_on_this_call_is_not_restated() -> None:
    read = C("c-1", USER, "read a chapter", TODAY)
    changes = outcome(
        due=[read], verdicts=[Said("c-1", "kept")], new=[Promised("read a chapter", "2026-11-28")]
    )
    assert [(c.commitment_id, c.status) for c in changes.commitments] == [
        ("c-1", "kept"),
        (new_commitment_id(CALL, 0), "open"),
    ]


def test_a_recurring_one_advanced_on_this_call_absorbs_its_restatement() -> None:
    daily = C("c-1", USER, "meditate", TODAY, recurrence="daily", until="2026-12-27")
    changes = outcome(due=[daily], verdicts=[Said("c-1", "kept")], new=[Promised("meditate")])
    assert [(c.commitment_id, c.due_date) for c in changes.commitments] == [("c-1", "2026-11-28")]
    assert changes.restated_ids == ["c-1"]


def test_other_users_commitments_are_never_touched() -> None:
    theirs = C("c-9", "u-2", "call mum", TODAY)
    changes = outcome(
        due=[theirs],
        verdicts=[Said("c-9", "kept")],
        new=[Promised("call mum")],
        open_commitments=[theirs],
    )
    assert [c.commitment_id for c in changes.commitments] == [new_commitment_id(CALL, 0)]
    assert changes.check_ins == []


def test_a_retry_after_the_rows_were_written_computes_the_same_changes() -> None:
    older = C("c-1", USER, "call the bank", TODAY, source_call_id="call-6")
    first = outcome(
        new=[Promised("call the bank manager"), Promised("call mum")], open_commitments=[older]
    )
    # The retry finds this call's own new row among the open commitments.
    stored = [older, *[c for c in first.commitments if c.commitment_id != "c-1"]]
    again = outcome(
        new=[Promised("call the bank manager"), Promised("call mum")], open_commitments=stored
    )
    assert again == first


# --- the vocabulary matches the store's


def test_statuses_and_recurrences_match_the_store() -> None:
    assert rules.STATUSES == codec.COMMITMENT_STATUSES
    assert set(rules.VERDICTS) == set(codec.CHECK_IN_VERDICTS)
    assert rules.RECURRENCES == codec.RECURRENCES
    assert {s.value for s in CommitmentStatus} <= set(rules.STATUSES)
