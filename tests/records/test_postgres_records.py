"""PostgresRecords against a real embedded Postgres with the repository's migrations."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from callflow.local.stack.postgres import (
    LocalPostgres,
    apply_migrations,
    dsn_for,
    migration_files,
    start_scratch_postgres,
)
from callflow.models import CallRecord, Commitment, TranscriptTurn, Usage, User
from callflow.records.errors import InvalidRecord, RecordsAuthError, RecordsUnavailable
from callflow.records.postgres import PostgresRecords
from tests.records.commitment_cases import CASES
from tests.support.postgres import start_postgres_blocking


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def a_call(call_id: str, user_id: str, **overrides: object) -> CallRecord:
    record = CallRecord(
        call_id=call_id,
        user_id=user_id,
        outcome="completed",
        attempts=2,
        started_at="2026-11-27T07:30:00Z",
        ended_at="2026-11-27T07:34:10.250000+00:00",
        summary="Talked about the morning run.",
        mood="upbeat",
        transcript=[
            TranscriptTurn("agent", "Did you run today?", 1.0, 2.5),
            TranscriptTurn("user", "Yes, 5k before work.", 3.0, 4.75),
        ],
        usage=Usage(
            stt_seconds=12.5, llm_prompt_tokens=900, llm_completion_tokens=120, tts_characters=640
        ),
        cost_usd=0.012345,
        latency={"first_audio_ms": 812.0, "p50_turn_ms": 640.5},
        tools_called=["battery_level"],
        analysis_provider="offline analyzer",
        stages=[{"stage": "ringing", "at": "2026-11-27T07:30:00Z"}],
    )
    for key, value in overrides.items():
        setattr(record, key, value)
    return record


async def test_user_round_trip_and_update(records: PostgresRecords) -> None:
    user_id = uid("u")
    assert await records.get_user(user_id) is None
    await records.upsert_user(User(user_id, "Ada", "tok-1", "Europe/Paris", "fr-FR"))
    assert await records.get_user(user_id) == User(user_id, "Ada", "tok-1", "Europe/Paris", "fr-FR")
    await records.upsert_user(User(user_id, "Ada L.", None))
    assert await records.get_user(user_id) == User(user_id, "Ada L.", None, "UTC", "en-US")
    assert user_id in {u.user_id for u in await records.list_users()}


async def test_due_commitments_only_open_due_on_or_before_for_that_user(
    records: PostgresRecords,
) -> None:
    me, other = uid("u"), uid("u")
    for user_id in (me, other):
        await records.upsert_user(User(user_id, "Someone", "tok"))
    await records.upsert_commitments(
        [
            Commitment(uid("c"), me, "run 5k", "2026-11-26"),
            Commitment(uid("c"), me, "call mum", "2026-11-27"),
            Commitment(uid("c"), me, "file taxes", "2026-11-28"),  # not due yet
            Commitment(uid("c"), me, "stretch", "2026-11-20", status="kept"),  # closed
            Commitment(uid("c"), other, "other's", "2026-11-01"),  # another user
        ]
    )
    due = await records.due_commitments(me, "2026-11-27")
    assert [c.text for c in due] == ["run 5k", "call mum"]
    assert all(c.user_id == me and c.status == "open" for c in due)
    assert due[0].due_date == "2026-11-26"


async def test_commitment_upsert_updates_status(records: PostgresRecords) -> None:
    user_id, cid = uid("u"), uid("c")
    await records.upsert_user(User(user_id, "Bo", "tok"))
    await records.upsert_commitments([Commitment(cid, user_id, "read", "2026-11-01")])
    await records.upsert_commitments(
        [Commitment(cid, user_id, "read", "2026-11-01", "broken", "call-9")]
    )
    assert await records.due_commitments(user_id, "2026-12-31") == []


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_commitments(
    records: PostgresRecords,
    db: asyncpg.Connection,
    case: Callable[[PostgresRecords, asyncpg.Connection], Awaitable[None]],
) -> None:
    await case(records, db)


async def test_commitment_for_unknown_user_is_invalid(records: PostgresRecords) -> None:
    with pytest.raises(InvalidRecord, match="upsert_commitments"):
        await records.upsert_commitments([Commitment(uid("c"), uid("ghost"), "x", "2026-11-27")])


async def test_bad_values_name_the_field(records: PostgresRecords) -> None:
    with pytest.raises(InvalidRecord, match=r"Commitment\.due_date .*ISO date"):
        await records.upsert_commitments([Commitment("c", "u", "x", "tomorrow")])
    with pytest.raises(InvalidRecord, match=r"CallRecord\.outcome"):
        await records.save_call(a_call(uid("call"), "u", outcome="great"))
    with pytest.raises(InvalidRecord, match=r"CallRecord\.started_at"):
        await records.save_call(a_call(uid("call"), "u", started_at="at seven"))
    with pytest.raises(InvalidRecord, match="on_or_before"):
        await records.due_commitments("u", "27/11/2026")


async def test_save_call_round_trips_nested_values(records: PostgresRecords) -> None:
    call_id, user_id = uid("call"), uid("u")
    record = a_call(call_id, user_id)
    await records.save_call(record)
    got = await records.get_call(call_id)
    assert got is not None
    assert got.transcript == record.transcript
    assert isinstance(got.transcript[0], TranscriptTurn)
    assert got.usage == record.usage
    assert got.cost_usd == pytest.approx(0.012345)
    assert got.latency == record.latency
    assert got.tools_called == ["battery_level"]
    assert got.stages == record.stages
    assert got.started_at == "2026-11-27T07:30:00+00:00"
    assert got.ended_at == "2026-11-27T07:34:10.250000+00:00"
    assert (got.summary, got.mood, got.attempts) == (record.summary, "upbeat", 2)


async def test_save_call_twice_keeps_one_row_with_latest_values(
    records: PostgresRecords, area_database: LocalPostgres
) -> None:
    call_id, user_id = uid("call"), uid("u")
    await records.save_call(a_call(call_id, user_id))
    await records.save_call(
        a_call(
            call_id,
            user_id,
            outcome="missed",
            attempts=3,
            ended_at="",
            usage=None,
            cost_usd=None,
            transcript=[],
            memory_degraded=True,
        )
    )
    conn = await asyncpg.connect(area_database.dsn)
    try:
        assert await conn.fetchval("select count(*) from calls where call_id = $1", call_id) == 1
    finally:
        await conn.close()
    got = await records.get_call(call_id)
    assert got is not None
    assert (got.outcome, got.attempts, got.ended_at) == ("missed", 3, "")
    assert (got.usage, got.cost_usd, got.transcript, got.memory_degraded) == (None, None, [], True)
    assert [c.call_id for c in await records.list_calls(user_id)] == [call_id]


async def test_claim_push_semantics(records: PostgresRecords) -> None:
    call_id = uid("call")
    sent_before = await records.count_pushes("sent")
    assert await records.claim_push(call_id, 1) is True
    # Crashed between claim and send: the retry may claim again and send.
    assert await records.claim_push(call_id, 1) is True
    await records.mark_push_sent(call_id, 1, "apns-1")
    assert await records.claim_push(call_id, 1) is False
    await records.mark_push_sent(call_id, 1, "apns-1")  # idempotent
    assert await records.claim_push(call_id, 2) is True  # next attempt is its own push
    assert await records.count_pushes("sent") == sent_before + 1
    with pytest.raises(InvalidRecord, match="attempt"):
        await records.claim_push(call_id, 0)


async def test_a_withheld_push_can_never_be_claimed(records: PostgresRecords) -> None:
    call_id = uid("call")
    assert await records.withhold_push(call_id, 1) is True  # before any claim
    assert await records.claim_push(call_id, 1) is False
    assert await records.claim_push(call_id, 2) is True
    assert await records.withhold_push(call_id, 2) is True  # claimed, not sent: still withheld
    assert await records.claim_push(call_id, 2) is False
    assert await records.claim_push(call_id, 3) is True
    await records.mark_push_sent(call_id, 3, "apns-3")
    assert await records.withhold_push(call_id, 3) is False  # too late: it was sent


async def test_concurrent_claims_never_claim_a_sent_push(records: PostgresRecords) -> None:
    call_id = uid("call")
    await records.mark_push_sent(call_id, 1, "apns-x")
    results = await asyncio.gather(*(records.claim_push(call_id, 1) for _ in range(20)))
    assert not any(results)


async def test_migrations_are_idempotent(area_database: LocalPostgres) -> None:
    assert area_database.applied_migrations == [p.stem for p in migration_files()]
    assert await apply_migrations(area_database.dsn) == []
    # Even re-running every file's SQL (as on a Supabase project that already has it) is safe.
    conn = await asyncpg.connect(area_database.dsn)
    try:
        for path in migration_files():
            await conn.execute(path.read_text())
        versions = await conn.fetch("select version from schema_migrations")
    finally:
        await conn.close()
    assert sorted(r["version"] for r in versions) == [p.stem for p in migration_files()]


async def test_restart_on_same_dir_keeps_data() -> None:
    first = await start_scratch_postgres()
    data_dir, scratch = first.data_dir, first.delete_on_stop
    first.delete_on_stop = None  # keep the data across the restart
    store = await PostgresRecords.connect(first.dsn)
    await store.upsert_user(User("kept", "Kept", "tok"))
    await store.close()
    first.stop()
    # The synchronous entry point, called from inside a running event loop.
    second = start_postgres_blocking(data_dir)
    try:
        assert second.applied_migrations == []
        store = await PostgresRecords.connect(second.dsn)
        assert (await store.get_user("kept")) == User("kept", "Kept", "tok")
        await store.close()
    finally:
        second.stop()
        assert scratch is not None
        shutil.rmtree(scratch)


async def test_unreachable_and_wrong_database_are_translated(
    tmp_path: Path, area_database: LocalPostgres
) -> None:
    with pytest.raises(RecordsUnavailable):
        await PostgresRecords.connect(dsn_for(tmp_path, 5432, "callflow"))
    with pytest.raises(RecordsAuthError, match="DATABASE_URL"):
        await PostgresRecords.connect(
            dsn_for(area_database.socket_dir, area_database.port, "no_such_db")
        )


async def test_0003_backfills_null_due_dates(
    scratch_postgres: LocalPostgres, tmp_path: Path
) -> None:
    """Rows stored under 0001/0002 without a due date fall due the day after their updated_at
    (a date in the user's zone, UTC for an unknown zone); then the column refuses NULL."""
    name = f"backfill_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(scratch_postgres.admin_dsn)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    dsn = dsn_for(scratch_postgres.socket_dir, scratch_postgres.port, name)
    before = tmp_path / "before_0003"
    before.mkdir()
    for path in migration_files():
        if path.stem < "0003":
            (before / path.name).write_text(path.read_text())
    assert await apply_migrations(dsn, before) == ["0001_core", "0002_withheld_push"]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "insert into users (user_id, display_name, timezone) values"
            " ('la', 'LA', 'America/Los_Angeles'), ('mars', 'Mars', 'Mars/Olympus')"
        )
        await conn.execute(
            "insert into commitments (commitment_id, user_id, text, due_date, status, updated_at)"
            " values"
            # 06:00 UTC on the 27th is still the 26th in Los Angeles
            " ('c-la', 'la', 'meditate', null, 'open', '2026-11-27 06:00+00'),"
            # an unknown zone counts in UTC
            " ('c-mars', 'mars', 'stretch', null, 'open', '2026-11-27 23:30+00'),"
            " ('c-dated', 'la', 'run', '2026-12-05', 'kept', '2026-11-20 12:00+00')"
        )
        assert (await apply_migrations(dsn))[0] == "0003_commitments"
        rows = await conn.fetch(
            "select commitment_id, due_date::text, status, created_at = updated_at as same"
            " from commitments order by commitment_id"
        )
        assert [tuple(r) for r in rows] == [
            ("c-dated", "2026-12-05", "kept", True),
            ("c-la", "2026-11-27", "open", True),
            ("c-mars", "2026-11-28", "open", True),
        ]
        assert await conn.fetchval(
            "select attnotnull from pg_attribute"
            " where attrelid = 'commitments'::regclass and attname = 'due_date'"
        )
        with pytest.raises(asyncpg.NotNullViolationError):
            await conn.execute(
                "insert into commitments (commitment_id, user_id, text) values ('c-x', 'la', 'x')"
            )
        # The old statuses still hold, the new ones are allowed, anything else is not.
        await conn.execute("update commitments set status = 'partly' where commitment_id = 'c-la'")
        await conn.execute(
            "update commitments set status = 'cancelled' where commitment_id = 'c-mars'"
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "update commitments set status = 'maybe' where commitment_id = 'c-la'"
            )
        # Re-running it (as on a Supabase project that already has it) changes nothing.
        await conn.execute(migration_files()[-1].read_text())
        again = await conn.fetch(
            "select commitment_id, due_date::text from commitments order by commitment_id"
        )
        assert [tuple(r) for r in again] == [
            ("c-dated", "2026-12-05"),
            ("c-la", "2026-11-27"),
            ("c-mars", "2026-11-28"),
        ]
    finally:
        await conn.close()
        admin = await asyncpg.connect(scratch_postgres.admin_dsn)
        try:
            await admin.execute(f'drop database "{name}" with (force)')
        finally:
            await admin.close()


async def test_0003_grants_the_service_role_its_table_and_function() -> None:
    """On a server with Supabase's roles: the service role may use commitment_check_ins and call
    apply_commitment_changes; the anon key may not call it. (A cluster of its own: roles are
    cluster-wide.)"""
    pg = await start_scratch_postgres(prefix="callflow-grants-pg-")
    try:
        conn = await asyncpg.connect(pg.dsn)
        try:
            for role in ("anon", "authenticated", "service_role"):
                await conn.execute(f"create role {role} nologin")
            await conn.execute(
                next(p for p in migration_files() if p.stem == "0003_commitments").read_text()
            )
            fn = "apply_commitment_changes(text, jsonb, jsonb)"
            assert await conn.fetchval(
                "select has_table_privilege('service_role', 'commitment_check_ins',"
                " 'select, insert, update, delete')"
            )
            assert await conn.fetchval(
                f"select has_function_privilege('service_role', '{fn}', 'execute')"
            )
            assert not await conn.fetchval(
                f"select has_function_privilege('anon', '{fn}', 'execute')"
            )
            assert not await conn.fetchval(
                f"select has_function_privilege('authenticated', '{fn}', 'execute')"
            )
        finally:
            await conn.close()
    finally:
        pg.stop()  # removes its scratch folder too
