"""SupabaseRecords against a local server that enforces PostgREST's protocol over the area's real
Postgres database (no PostgREST here)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from callflow.commitments import apply_call_outcome, new_commitment_id
from callflow.models import CallRecord, Commitment, TranscriptTurn, Usage, User
from callflow.records.errors import (
    InvalidRecord,
    RecordsAuthError,
    RecordsError,
    RecordsUnavailable,
)
from callflow.records.supabase import SupabaseRecords
from callflow.settings import ConfigurationError
from tests.records.commitment_cases import CASES, Promised, Said
from tests.records.conftest import SERVICE_KEY
from tests.records.postgrest_server import PostgrestServer


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_requests_carry_the_service_key_and_upsert_headers(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer
) -> None:
    user_id = uid("u")
    await supabase_records.upsert_user(User(user_id, "Ada", "tok"))
    post = postgrest.seen[-1]
    assert (post.method, post.path) == ("POST", "/rest/v1/users")
    assert post.headers["apikey"] == SERVICE_KEY
    assert post.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert "resolution=merge-duplicates" in post.headers["prefer"]
    assert ("on_conflict", "user_id") in post.query
    assert post.body == {
        "user_id": user_id,
        "display_name": "Ada",
        "voip_token": "tok",
        "timezone": "UTC",
        "locale": "en-US",
        "quiet_hours": None,
    }
    assert await supabase_records.get_user(user_id) == User(user_id, "Ada", "tok")
    get = postgrest.seen[-1]
    assert get.method == "GET" and ("user_id", f"eq.{user_id}") in get.query
    assert await supabase_records.get_user(uid("nobody")) is None


async def test_due_commitments_filters_on_the_server(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer
) -> None:
    me = uid("u")
    await supabase_records.upsert_user(User(me, "Me", "tok"))
    await supabase_records.upsert_commitments(
        [
            Commitment(uid("c"), me, "run", "2026-11-26"),
            Commitment(uid("c"), me, "later", "2026-12-01"),
            Commitment(uid("c"), me, "done", "2026-11-01", status="kept"),
        ]
    )
    batch = postgrest.seen[-1]
    assert ("on_conflict", "commitment_id") in batch.query
    assert isinstance(batch.body, list) and len(batch.body) == 3
    due = await supabase_records.due_commitments(me, "2026-11-27")
    assert [c.text for c in due] == ["run"]
    query = postgrest.seen[-1].query
    assert ("status", "eq.open") in query and ("due_date", "lte.2026-11-27") in query


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
async def test_commitments(
    supabase_records: SupabaseRecords,
    db: asyncpg.Connection,
    case: Callable[[SupabaseRecords, asyncpg.Connection], Awaitable[None]],
) -> None:
    await case(supabase_records, db)


async def test_commitment_changes_are_one_rpc(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer
) -> None:
    user_id, call_id, cid = uid("u"), uid("call"), uid("c")
    await supabase_records.upsert_user(User(user_id, "Ada", "tok"))
    await supabase_records.upsert_commitments([Commitment(cid, user_id, "read", "2026-11-27")])
    changes = apply_call_outcome(
        user_id=user_id,
        call_id=call_id,
        local_date="2026-11-27",
        due=await supabase_records.due_commitments(user_id, "2026-11-27"),
        verdicts=[Said(cid, "kept", "Done.")],
        new=[Promised("stretch", due_time="07:30")],
        open_commitments=await supabase_records.open_commitments(user_id),
        user_spoke=True,
    )
    postgrest.reset()
    await supabase_records.apply_commitment_changes(changes)
    [rpc] = postgrest.seen
    assert (rpc.method, rpc.path) == ("POST", "/rest/v1/rpc/apply_commitment_changes")
    assert set(rpc.body) == {"p_user_id", "p_commitments", "p_check_ins"}
    assert rpc.body["p_user_id"] == user_id
    assert [c["commitment_id"] for c in rpc.body["p_commitments"]] == [
        cid,
        new_commitment_id(call_id, 0),
    ]
    assert rpc.body["p_commitments"][1]["due_time"] == "07:30:00"
    assert [(c["verdict"], c["evidence"]) for c in rpc.body["p_check_ins"]] == [("kept", "Done.")]
    # Nothing to write (a silent call): no request at all.
    postgrest.reset()
    silent = apply_call_outcome(
        user_id=user_id,
        call_id=uid("call"),
        local_date="2026-11-28",
        due=[],
        verdicts=[],
        new=[Promised("run")],
        open_commitments=[],
        user_spoke=False,
    )
    await supabase_records.apply_commitment_changes(silent)
    assert postgrest.seen == []


async def test_call_upsert_and_round_trip(supabase_records: SupabaseRecords) -> None:
    call_id, user_id = uid("call"), uid("u")
    record = CallRecord(
        call_id=call_id,
        user_id=user_id,
        outcome="completed",
        attempts=1,
        started_at="2026-11-27T07:30:00Z",
        ended_at="2026-11-27T07:33:00Z",
        transcript=[TranscriptTurn("agent", "Hi!", 1.0, 1.5)],
        usage=Usage(stt_seconds=3.5, llm_prompt_tokens=10),
        cost_usd=0.5,
        latency={"first_audio_ms": 700.0},
    )
    await supabase_records.save_call(record)
    record.outcome, record.summary = "failed", "agent crashed"
    await supabase_records.save_call(record)
    got = await supabase_records.get_call(call_id)
    assert got is not None
    assert (got.outcome, got.summary) == ("failed", "agent crashed")
    assert got.transcript == record.transcript and got.usage == record.usage
    assert got.started_at == "2026-11-27T07:30:00+00:00"
    assert [c.call_id for c in await supabase_records.list_calls(user_id)] == [call_id]


async def test_claim_push_uses_the_rpc(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer
) -> None:
    call_id = uid("call")
    assert await supabase_records.claim_push(call_id, 1) is True
    rpc = postgrest.seen[-1]
    assert (rpc.method, rpc.path) == ("POST", "/rest/v1/rpc/claim_push")
    assert rpc.body == {"p_call_id": call_id, "p_attempt": 1}
    assert await supabase_records.claim_push(call_id, 1) is True
    await supabase_records.mark_push_sent(call_id, 1, "apns-1")
    assert ("on_conflict", "call_id,attempt") in postgrest.seen[-1].query
    assert await supabase_records.claim_push(call_id, 1) is False
    assert await supabase_records.claim_push(call_id, 2) is True


async def test_withhold_push_uses_the_rpc(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer
) -> None:
    call_id = uid("call")
    assert await supabase_records.withhold_push(call_id, 1) is True
    rpc = postgrest.seen[-1]
    assert (rpc.method, rpc.path) == ("POST", "/rest/v1/rpc/withhold_push")
    assert rpc.body == {"p_call_id": call_id, "p_attempt": 1}
    assert await supabase_records.claim_push(call_id, 1) is False


async def test_wrong_key_is_an_auth_error(postgrest: PostgrestServer) -> None:
    store = await SupabaseRecords.connect(postgrest.url, "not-the-key")
    try:
        with pytest.raises(RecordsAuthError, match="SUPABASE_SERVICE_ROLE_KEY") as info:
            await store.get_user("u")
        assert "not-the-key" not in str(info.value)
    finally:
        await store.close()


async def test_a_missing_grant_names_the_table_not_the_key(
    supabase_records: SupabaseRecords, db: asyncpg.Connection
) -> None:
    """The stand-in runs every request as service_role: without a grant the database answers
    42501 (HTTP 403), which is a migration to apply, not a key to change."""
    await db.execute("revoke select on table public.users from service_role")
    try:
        with pytest.raises(RecordsError) as info:
            await supabase_records.get_user(uid("u"))
    finally:
        await db.execute("grant select on table public.users to service_role")
    assert not isinstance(info.value, RecordsAuthError)
    assert not info.value.retryable
    message = str(info.value)
    assert "public.users" in message and "grant" in message and "42501" in message
    assert "SUPABASE_SERVICE_ROLE_KEY" not in message


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"message": "boom"}), (503, "upstream unavailable"), (429, {"message": "slow"})],
)
async def test_server_errors_are_retryable(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer, status: int, body: object
) -> None:
    postgrest.fail_next.append((status, body))
    with pytest.raises(RecordsUnavailable, match=str(status)) as info:
        await supabase_records.save_call(
            CallRecord(uid("call"), "u", "missed", 3, "2026-11-27T07:30:00Z", "")
        )
    assert info.value.retryable


async def test_constraint_violation_is_invalid_record(supabase_records: SupabaseRecords) -> None:
    with pytest.raises(InvalidRecord, match="23503"):
        await supabase_records.upsert_commitments(
            [Commitment(uid("c"), uid("ghost"), "x", "2026-11-27")]
        )


async def test_missing_schema_says_to_apply_migrations(
    supabase_records: SupabaseRecords, postgrest: PostgrestServer
) -> None:
    postgrest.fail_next.append(
        (404, {"code": "PGRST202", "message": "Could not find the function", "hint": None})
    )
    with pytest.raises(RecordsError, match="apply migrations"):
        await supabase_records.claim_push(uid("call"), 1)


async def test_unreachable_server_is_retryable() -> None:
    from callflow.local.stack.temporal import free_port

    store = await SupabaseRecords.connect(f"http://127.0.0.1:{free_port()}", SERVICE_KEY)
    try:
        with pytest.raises(RecordsUnavailable, match="unreachable"):
            await store.get_user("u")
    finally:
        await store.close()


async def test_bad_configuration_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="SUPABASE_URL"):
        await SupabaseRecords.connect("project.supabase.co", SERVICE_KEY)
