"""The commitment cases both records adapters must pass, each checked against what the database
holds (`db` is a plain connection to the adapter's database): test_postgres_records.py and
test_supabase_records.py run each of them on their adapter."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from callflow.commitments import apply_call_outcome, check_in_id, new_commitment_id
from callflow.models import Commitment, CommitmentChanges, User
from callflow.ports import RecordsStore
from callflow.records.errors import InvalidRecord


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Said:
    """A verdict as the analysis gives it, with the user's words."""

    commitment_id: str
    status: str
    evidence: str | None = None


@dataclass
class Promised:
    """A new commitment as the analysis gives it."""

    text: str
    due_date: str | None = None
    recurrence: str | None = None
    due_time: str | None = None
    until: str | None = None


async def a_user(store: RecordsStore, timezone: str = "UTC") -> str:
    user_id = uid("u")
    await store.upsert_user(User(user_id, "Ada", "tok", timezone))
    return user_id


async def commitment_rows(db: asyncpg.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "select commitment_id, text, due_date::text, due_time::text, recurrence, until::text,"
        " status, source_call_id from commitments where user_id = $1 order by created_at, text",
        user_id,
    )
    return [dict(r) for r in rows]


async def check_in_rows(db: asyncpg.Connection, user_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "select check_in_id, commitment_id, call_id, verdict, evidence, asked_on::text"
        " from commitment_check_ins where user_id = $1 order by asked_on, check_in_id",
        user_id,
    )
    return [dict(r) for r in rows]


async def call(
    store: RecordsStore,
    user_id: str,
    call_id: str,
    local_date: str,
    *,
    verdicts: list[Said] | None = None,
    new: list[Promised] | None = None,
    spoke: bool = True,
) -> CommitmentChanges:
    """One call's save, as the records activity does it: the due set is read at call time, the
    open set at save time, and the changes are written in one go."""
    due = await store.due_commitments(user_id, local_date)
    changes = apply_call_outcome(
        user_id=user_id,
        call_id=call_id,
        local_date=local_date,
        due=due,
        verdicts=verdicts or [],
        new=new or [],
        open_commitments=await store.open_commitments(user_id),
        user_spoke=spoke,
    )
    await store.apply_commitment_changes(changes)
    return changes


# --- the cases


async def no_null_due_date_can_be_stored(store: RecordsStore, db: asyncpg.Connection) -> None:
    user_id = await a_user(store)
    with pytest.raises(InvalidRecord, match=r"Commitment\.due_date is required"):
        await store.upsert_commitments([Commitment(uid("c"), user_id, "someday", None)])
    changes = CommitmentChanges(user_id, uid("call"), [Commitment(uid("c"), user_id, "x", "")])
    with pytest.raises(InvalidRecord, match=r"Commitment\.due_date is required"):
        await store.apply_commitment_changes(changes)
    # Nor past the adapter: the column refuses it.
    with pytest.raises(asyncpg.NotNullViolationError):
        await db.execute(
            "insert into commitments (commitment_id, user_id, text) values ($1, $2, 'x')",
            uid("c"),
            user_id,
        )
    assert await commitment_rows(db, user_id) == []


async def due_set_is_by_the_users_local_date(store: RecordsStore, db: asyncpg.Connection) -> None:
    user_id = await a_user(store, "Pacific/Auckland")
    await store.upsert_commitments(
        [
            Commitment(uid("c"), user_id, "stretch", "2026-11-27"),
            Commitment(uid("c"), user_id, "call mum", "2026-11-28"),
            Commitment(uid("c"), user_id, "file taxes", "2026-11-29"),
            Commitment(uid("c"), user_id, "read", "2026-11-20", status="kept"),
        ]
    )
    # 20:00 UTC on the 27th is already the 28th in Auckland: "call mum" is due.
    at = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    local_date = at.astimezone(ZoneInfo("Pacific/Auckland")).date().isoformat()
    assert local_date == "2026-11-28"
    due = await store.due_commitments(user_id, local_date)
    assert [c.text for c in due] == ["stretch", "call mum"]
    held = await db.fetch(
        "select text from commitments where user_id = $1 and status = 'open'"
        " and due_date <= $2::text::date order by due_date",
        user_id,
        local_date,
    )
    assert [r["text"] for r in held] == ["stretch", "call mum"]
    assert [c.text for c in await store.due_commitments(user_id, "2026-11-27")] == ["stretch"]
    assert [c.text for c in await store.open_commitments(user_id)] == [
        "stretch",
        "call mum",
        "file taxes",
    ]


async def new_commitment_without_a_date_falls_due_and_a_restatement_adds_no_row(
    store: RecordsStore, db: asyncpg.Connection
) -> None:
    user_id = await a_user(store)
    call_1, call_2 = uid("call"), uid("call")
    await call(store, user_id, call_1, "2026-11-27", new=[Promised("call mum")])
    cid = new_commitment_id(call_1, 0)
    assert await commitment_rows(db, user_id) == [
        {
            "commitment_id": cid,
            "text": "call mum",
            "due_date": "2026-11-28",  # the next day: no next call date was given
            "due_time": None,
            "recurrence": None,
            "until": None,
            "status": "open",
            "source_call_id": call_1,
        }
    ]
    # Restated on a call before it falls due, with a time this time: still one row.
    changes = await call(
        store, user_id, call_2, "2026-11-27", new=[Promised("Call my mum", due_time="18:30")]
    )
    assert changes.created_ids == [] and changes.restated_ids == [cid]
    rows = await commitment_rows(db, user_id)
    assert [(r["commitment_id"], r["due_date"], r["due_time"]) for r in rows] == [
        (cid, "2026-11-28", "18:30:00")
    ]
    assert [c.text for c in await store.due_commitments(user_id, "2026-11-28")] == ["call mum"]


async def recurring_commitment_advances_and_keeps_its_history(
    store: RecordsStore, db: asyncpg.Connection
) -> None:
    user_id = await a_user(store)
    call_1, call_2, call_3 = uid("call"), uid("call"), uid("call")
    await call(
        store,
        user_id,
        call_1,
        "2026-11-27",
        new=[Promised("meditate for ten minutes every morning", recurrence="daily")],
    )
    cid = new_commitment_id(call_1, 0)
    [row] = await commitment_rows(db, user_id)
    assert (row["due_date"], row["recurrence"], row["until"]) == (
        "2026-11-28",
        "daily",
        "2026-12-27",  # 30 days after the call that made it
    )
    # Call 2, on the day it falls due: it is asked, kept, and restated (no second row).
    changes = await call(
        store,
        user_id,
        call_2,
        "2026-11-28",
        verdicts=[Said(cid, "kept", "Yes, ten minutes before breakfast.")],
        new=[Promised("Meditate 10 minutes each morning")],
    )
    assert changes.judged_ids == [cid] and changes.restated_ids == [cid]
    [row] = await commitment_rows(db, user_id)
    assert (row["commitment_id"], row["status"], row["due_date"]) == (cid, "open", "2026-11-29")
    # Call 3: broken; it moves on to the next day again, and both check-ins are kept.
    await call(
        store, user_id, call_3, "2026-11-29", verdicts=[Said(cid, "broken", "No, I overslept.")]
    )
    [row] = await commitment_rows(db, user_id)
    assert (row["status"], row["due_date"]) == ("open", "2026-11-30")
    assert await check_in_rows(db, user_id) == [
        {
            "check_in_id": check_in_id(call_2, cid),
            "commitment_id": cid,
            "call_id": call_2,
            "verdict": "kept",
            "evidence": "Yes, ten minutes before breakfast.",
            "asked_on": "2026-11-28",
        },
        {
            "check_in_id": check_in_id(call_3, cid),
            "commitment_id": cid,
            "call_id": call_3,
            "verdict": "broken",
            "evidence": "No, I overslept.",
            "asked_on": "2026-11-29",
        },
    ]
    history = await store.commitment_history(cid)
    assert [(h.call_id, h.verdict, h.asked_on) for h in history] == [
        (call_3, "broken", "2026-11-29"),
        (call_2, "kept", "2026-11-28"),
    ]
    assert all(h.created_at for h in history)
    assert [h.call_id for h in await store.commitment_history(user_id=user_id, limit=1)] == [call_3]


async def recurring_commitment_closes_after_its_end(
    store: RecordsStore, db: asyncpg.Connection
) -> None:
    user_id = await a_user(store)
    cid = uid("c")
    await store.upsert_commitments(
        [Commitment(cid, user_id, "swim", "2026-11-27", recurrence="weekly", until="2026-12-01")]
    )
    await call(store, user_id, uid("call"), "2026-11-27", verdicts=[Said(cid, "partly")])
    [row] = await commitment_rows(db, user_id)
    assert (row["status"], row["due_date"]) == ("partly", "2026-11-27")


async def unclear_leaves_it_due(store: RecordsStore, db: asyncpg.Connection) -> None:
    user_id = await a_user(store)
    cid, call_id = uid("c"), uid("call")
    await store.upsert_commitments([Commitment(cid, user_id, "read", "2026-11-27")])
    before = await commitment_rows(db, user_id)
    await call(store, user_id, call_id, "2026-11-27", verdicts=[Said(cid, "unclear", "Hmm.")])
    assert await commitment_rows(db, user_id) == before
    assert [r["verdict"] for r in await check_in_rows(db, user_id)] == ["unclear"]
    assert [c.commitment_id for c in await store.due_commitments(user_id, "2026-11-28")] == [cid]


async def silent_call_changes_nothing(store: RecordsStore, db: asyncpg.Connection) -> None:
    user_id = await a_user(store)
    cid = uid("c")
    await store.upsert_commitments([Commitment(cid, user_id, "read", "2026-11-27")])
    before = await commitment_rows(db, user_id)
    changes = await call(
        store,
        user_id,
        uid("call"),
        "2026-11-27",
        verdicts=[Said(cid, "unclear")],
        new=[Promised("run 5k")],
        spoke=False,
    )
    assert changes.empty
    assert await commitment_rows(db, user_id) == before
    assert await check_in_rows(db, user_id) == []
    assert [c.commitment_id for c in await store.due_commitments(user_id, "2026-11-27")] == [cid]


async def retried_save_upserts_the_same_rows(store: RecordsStore, db: asyncpg.Connection) -> None:
    user_id = await a_user(store)
    cid, call_id = uid("c"), uid("call")
    await store.upsert_commitments([Commitment(cid, user_id, "read", "2026-11-27")])
    due = await store.due_commitments(user_id, "2026-11-27")

    async def save() -> CommitmentChanges:
        changes = apply_call_outcome(
            user_id=user_id,
            call_id=call_id,
            local_date="2026-11-27",
            due=due,  # the call's context, loaded once
            verdicts=[Said(cid, "kept", "Finished it.")],
            new=[Promised("run 5k", "2026-11-30"), Promised("stretch")],
            open_commitments=await store.open_commitments(user_id),
            user_spoke=True,
        )
        await store.apply_commitment_changes(changes)
        return changes

    first = await save()
    rows, check_ins = await commitment_rows(db, user_id), await check_in_rows(db, user_id)
    second = await save()  # sees the first try's rows as open commitments
    assert second.created_ids == first.created_ids and second.restated_ids == []
    assert await commitment_rows(db, user_id) == rows
    assert await check_in_rows(db, user_id) == check_ins
    assert len(rows) == 3 and len(check_ins) == 1


async def changes_are_all_or_nothing(store: RecordsStore, db: asyncpg.Connection) -> None:
    me, other = await a_user(store), await a_user(store)
    theirs = uid("c")
    await store.upsert_commitments([Commitment(theirs, other, "their plan", "2026-11-27")])
    mine = Commitment(uid("c"), me, "my plan", "2026-11-28")
    hijack = Commitment(theirs, me, "not mine", "2026-11-28")
    with pytest.raises(InvalidRecord):
        await store.apply_commitment_changes(CommitmentChanges(me, uid("call"), [mine, hijack]))
    assert await commitment_rows(db, me) == []
    assert [r["text"] for r in await commitment_rows(db, other)] == ["their plan"]


async def commitment_fields_round_trip(store: RecordsStore, db: asyncpg.Connection) -> None:
    user_id = await a_user(store)
    cid = uid("c")
    await store.upsert_commitments(
        [
            Commitment(
                cid,
                user_id,
                "stand-up practice",
                "2026-11-30",
                due_time="07:30",
                recurrence="weekdays",
                until="2026-12-31",
            )
        ]
    )
    [got] = await store.open_commitments(user_id)
    assert (got.due_date, got.due_time, got.recurrence, got.until) == (
        "2026-11-30",
        "07:30",
        "weekdays",
        "2026-12-31",
    )
    assert got.created_at is not None and got.created_at.endswith("+00:00")
    created = await db.fetchval("select created_at from commitments where commitment_id = $1", cid)
    await store.upsert_commitments([Commitment(cid, user_id, "stand-up practice", "2026-12-01")])
    assert (
        await db.fetchval("select created_at from commitments where commitment_id = $1", cid)
        == created
    )
    with pytest.raises(InvalidRecord, match=r"Commitment\.recurrence"):
        await store.upsert_commitments(
            [Commitment(cid, user_id, "x", "2026-12-01", recurrence="monthly")]
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "update commitments set recurrence = 'hourly' where commitment_id = $1", cid
        )
    with pytest.raises(InvalidRecord, match="exactly one"):
        await store.commitment_history()


CASES = [
    no_null_due_date_can_be_stored,
    due_set_is_by_the_users_local_date,
    new_commitment_without_a_date_falls_due_and_a_restatement_adds_no_row,
    recurring_commitment_advances_and_keeps_its_history,
    recurring_commitment_closes_after_its_end,
    unclear_leaves_it_due,
    silent_call_changes_nothing,
    retried_save_upserts_the_same_rows,
    changes_are_all_or_nothing,
    commitment_fields_round_trip,
]
