"""load_call_context and save_call_record on PostgresRecords over embedded Postgres."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment

from activities.error_edge import to_application_error
from activities.records import (
    CallContext,
    LoadContextInput,
    RecordsActivities,
    SaveRecordInput,
)
from callflow.commitments import new_commitment_id
from callflow.models import CallRecord, Commitment, TranscriptTurn, User
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment
from callflow.records.errors import UserNotFound
from callflow.records.postgres import PostgresRecords

TODAY = "2026-11-27"


async def a_user(records: PostgresRecords) -> User:
    user = User(f"u-{uuid.uuid4().hex[:8]}", "Sam", "ab" * 32, "Europe/Paris")
    await records.upsert_user(user)
    return user


def commitment(user: User, text: str, due: str, status: str = "open") -> Commitment:
    return Commitment(f"c-{uuid.uuid4().hex[:8]}", user.user_id, text, due, status)


def ids(commitments: list[Commitment]) -> list[str]:
    return [c.commitment_id for c in commitments]


def record(call_id: str, user: User, **overrides: object) -> CallRecord:
    fields: dict[str, object] = {
        "call_id": call_id,
        "user_id": user.user_id,
        "outcome": "completed",
        "attempts": 1,
        "started_at": "2026-11-27T07:30:00+00:00",
        "ended_at": "2026-11-27T07:34:10+00:00",
        "summary": "Ran twice, will meditate.",
        "mood": "good",
        "transcript": [TranscriptTurn("user", "Yes I did it", 1.0, 2.0)],
        "analysis_provider": "offline rule-based analyzer (no LLM)",
        "topics_next_time": ["sleep before midnight"],
    }
    fields.update(overrides)
    return CallRecord(**fields)  # type: ignore[arg-type]


async def test_unknown_user_is_a_non_retryable_user_not_found(
    env: ActivityEnvironment, records: PostgresRecords
) -> None:
    acts = RecordsActivities(records)
    with pytest.raises(UserNotFound) as raised:
        await env.run(acts.load_call_context, LoadContextInput("u-nobody-7f3a", TODAY))
    # What the worker's error edge reports to the workflow:
    reported = to_application_error(raised.value)
    assert reported.type == "UserNotFound" and reported.non_retryable
    assert "u-nobody-7f3a" in reported.message


async def test_context_has_the_user_and_only_open_commitments_due_by_today(
    env: ActivityEnvironment, records: PostgresRecords
) -> None:
    user = await a_user(records)
    overdue = commitment(user, "Call the bank", "2026-11-20")
    due_today = commitment(user, "Go running twice", TODAY)
    later = commitment(user, "Book the dentist", "2026-12-05")
    done = commitment(user, "Clean the garage", "2026-11-25", status="kept")
    await records.upsert_commitments([later, due_today, overdue, done])

    context = await env.run(
        RecordsActivities(records).load_call_context,
        LoadContextInput(user.user_id, TODAY, at="2026-11-27T07:30:00+00:00"),
    )
    assert context.user == user
    assert ids(context.due_commitments) == ids([overdue, due_today])
    assert context.local_date == TODAY
    assert context.history == {overdue.commitment_id: [], due_today.commitment_id: []}


async def test_the_due_set_follows_each_users_own_date_at_the_same_instant(
    env: ActivityEnvironment, records: PostgresRecords
) -> None:
    # 11:30 UTC on 27 November is already the 28th in Auckland and still the 27th in LA.
    instant = "2026-11-27T11:30:00+00:00"
    due_on_the_28th: dict[str, Commitment] = {}
    for zone in ("Pacific/Auckland", "America/Los_Angeles"):
        user = User(f"u-{uuid.uuid4().hex[:8]}", "Sam", "ab" * 32, zone)
        await records.upsert_user(user)
        due_on_the_28th[zone] = commitment(user, "Send the report", "2026-11-28")
        await records.upsert_commitments([due_on_the_28th[zone]])

    contexts: dict[str, CallContext] = {}
    for zone, c in due_on_the_28th.items():
        contexts[zone] = await env.run(
            RecordsActivities(records).load_call_context,
            LoadContextInput(c.user_id, "2026-11-27", at=instant),
        )

    auckland, los_angeles = contexts["Pacific/Auckland"], contexts["America/Los_Angeles"]
    assert (auckland.local_date, los_angeles.local_date) == ("2026-11-28", "2026-11-27")
    assert ids(auckland.due_commitments) == ids([due_on_the_28th["Pacific/Auckland"]])
    assert los_angeles.due_commitments == []


async def test_save_call_record_twice_keeps_one_row_and_one_set_of_commitments(
    env: ActivityEnvironment, records: PostgresRecords, pool: asyncpg.Pool, call_id: str
) -> None:
    user = await a_user(records)
    run = commitment(user, "Go running twice", TODAY)
    read = commitment(user, "Read every evening", "2026-11-26")
    await records.upsert_commitments([run, read])
    analysis = CallAnalysis(
        summary="Ran twice, skipped reading.",
        mood="good",
        new_commitments=[
            NewCommitment("Meditate ten minutes every morning", "2026-12-04"),
            NewCommitment("Call mum on Sunday", None),
        ],
        commitment_updates=[
            CommitmentUpdate(run.commitment_id, "kept"),
            CommitmentUpdate(read.commitment_id, "broken"),
            # Not in due_commitments (an LLM inventing ids): must be ignored.
            CommitmentUpdate("c-not-due", "kept"),
        ],
        provider="openai:gpt-4o-mini",
    )
    save = SaveRecordInput(
        record(call_id, user), analysis, due_commitments=[run, read], local_date=TODAY
    )
    acts = RecordsActivities(records)

    first = await env.run(acts.save_call_record, save)
    second = await env.run(acts.save_call_record, save)  # a retried activity

    assert first == second
    expected_new = [new_commitment_id(call_id, 0), new_commitment_id(call_id, 1)]
    assert first.new_commitment_ids == expected_new
    assert first.updated_commitment_ids == [run.commitment_id, read.commitment_id]
    assert await pool.fetchval("select count(*) from calls where call_id = $1", call_id) == 1
    saved = await records.get_call(call_id)
    assert saved == record(call_id, user)
    rows = await pool.fetch(
        "select commitment_id, status from commitments where user_id = $1", user.user_id
    )
    statuses = {r["commitment_id"]: r["status"] for r in rows}
    assert statuses == {
        run.commitment_id: "kept",
        read.commitment_id: "broken",
        expected_new[0]: "open",
        expected_new[1]: "open",
    }
    assert "c-not-due" not in statuses
    new_rows = await pool.fetch(
        "select text, due_date::text as due, source_call_id from commitments"
        " where source_call_id = $1 order by text",
        call_id,
    )
    assert [tuple(r) for r in new_rows] == [
        ("Call mum on Sunday", "2026-11-28", call_id),  # no date said: the next day
        ("Meditate ten minutes every morning", "2026-12-04", call_id),
    ]
    # The next call sees each new commitment once it falls due, and not the closed ones.
    due_next_day = await records.due_commitments(user.user_id, "2026-11-28")
    assert [c.commitment_id for c in due_next_day] == [expected_new[1]]
    due_later = await records.due_commitments(user.user_id, "2026-12-04")
    assert {c.commitment_id for c in due_later} == set(expected_new)


async def test_a_call_in_which_the_user_said_nothing_changes_no_commitment(
    env: ActivityEnvironment, records: PostgresRecords, pool: asyncpg.Pool, call_id: str
) -> None:
    user = await a_user(records)
    run = commitment(user, "Go running twice", TODAY)
    await records.upsert_commitments([run])
    silent = record(call_id, user, transcript=[TranscriptTurn("agent", "Hello? Sam?", 1.0, 2.0)])
    analysis = CallAnalysis(
        summary="No answer from the user.",
        mood="neutral",
        commitment_updates=[CommitmentUpdate(run.commitment_id, "unclear")],
    )

    out = await env.run(
        RecordsActivities(records).save_call_record,
        SaveRecordInput(silent, analysis, due_commitments=[run], local_date=TODAY),
    )

    assert out.updated_commitment_ids == [] and out.new_commitment_ids == []
    still_due = await records.due_commitments(user.user_id, TODAY)
    assert [(c.commitment_id, c.status, c.due_date) for c in still_due] == [
        (run.commitment_id, "open", TODAY)
    ]
    checked_in = await pool.fetchval(
        "select count(*) from commitment_check_ins where call_id = $1", call_id
    )
    assert checked_in == 0


async def test_new_commitment_ids_are_deterministic_per_call_and_index() -> None:
    a = new_commitment_id("call-1", 0)
    assert a == new_commitment_id("call-1", 0)
    assert len({a, new_commitment_id("call-1", 1), new_commitment_id("call-2", 0)}) == 3
    uuid.UUID(a)  # a valid UUID, like every other id


async def test_save_without_analysis_writes_only_the_record(
    env: ActivityEnvironment, records: PostgresRecords, pool: asyncpg.Pool, call_id: str
) -> None:
    user = await a_user(records)
    missed = record(
        call_id, user, outcome="missed", attempts=3, summary=None, mood=None, transcript=[]
    )
    out = await env.run(RecordsActivities(records).save_call_record, SaveRecordInput(missed))
    assert out.new_commitment_ids == [] and out.updated_commitment_ids == []
    assert await records.get_call(call_id) == missed
    n = await pool.fetchval("select count(*) from commitments where source_call_id = $1", call_id)
    assert n == 0


async def test_the_context_carries_the_last_conversations_summary_and_topics(
    env: ActivityEnvironment, records: PostgresRecords
) -> None:
    user = await a_user(records)
    talked = record(f"call-{uuid.uuid4().hex[:8]}", user, started_at="2026-11-25T07:30:00+00:00")
    missed_later = record(
        f"call-{uuid.uuid4().hex[:8]}",
        user,
        outcome="missed",
        summary=None,
        started_at="2026-11-26T07:30:00+00:00",
    )
    for r in (talked, missed_later):
        await records.save_call(r)

    context = await env.run(
        RecordsActivities(records).load_call_context,
        LoadContextInput(user.user_id, TODAY, at="2026-11-27T07:30:00+00:00"),
    )

    assert context.last_call_summary == "Ran twice, will meditate."
    assert context.topics == ["sleep before midnight"]
