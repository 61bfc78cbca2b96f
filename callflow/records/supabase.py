"""`RecordsStore` over Supabase's REST API (PostgREST) with the `supabase` async client.

The service-role key goes in both `apikey` and `Authorization: Bearer` (the client does this);
it bypasses row level security, which the migrations enable to keep the anon key out.
Upserts name their conflict target (`on_conflict`) and merge duplicates; the push claim is the
`claim_push` SQL function (POST /rest/v1/rpc/claim_push) so check-and-claim is one statement, and
one call's commitment changes are the `apply_commitment_changes` function (one transaction).

HTTP failures are translated in an httpx response hook: postgrest-py's `APIError` does not keep
the status code, and a 401 from the API gateway carries no PostgREST error code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from postgrest.types import ReturnMethod

from callflow.models import CallRecord, CheckIn, Commitment, CommitmentChanges, User
from callflow.records.checks import check_attempt, check_limit, history_key, required_date
from callflow.records.codec import (
    call_from_row,
    call_row,
    changes_rows,
    check_in_from_row,
    commitment_from_row,
    commitment_row,
    json_ready,
    user_from_row,
    user_row,
)
from callflow.records.errors import (
    InvalidRecord,
    RecordsAuthError,
    RecordsError,
    RecordsUnavailable,
)
from callflow.supabase_rest import SupabaseErrors, SupabaseStore

_USER_COLUMNS = "user_id,display_name,voip_token,timezone,locale,quiet_hours,recording_consent"
_COMMITMENT_COLUMNS = (
    "commitment_id,user_id,text,due_date,status,source_call_id,due_time,recurrence,until,created_at"
)
_CHECK_IN_COLUMNS = "check_in_id,commitment_id,call_id,verdict,evidence,asked_on,created_at"
_CALL_COLUMNS = (
    "call_id,user_id,outcome,attempts,started_at,ended_at,failure_reason,memory_degraded,"
    "summary,mood,transcript,usage,cost_usd,latency,tools_called,analysis_provider,stages,"
    "topics_next_time,agent_redispatches,turn_latencies_ms,pushes_sent,webhook_delivered,"
    "recording_key,recording_duration_s,recording_size_bytes,recording_channels,"
    "recording_started_at,recording_deleted_at"
)


CALLS_PAGE = 1000  # PostgREST's usual max-rows


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _rows(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise RecordsError(f"Supabase answered {type(data).__name__} where rows were expected")
    return cast(list[dict[str, Any]], data)


class SupabaseRecords(SupabaseStore):
    errors = SupabaseErrors(
        base=RecordsError,
        unavailable=RecordsUnavailable,
        auth=RecordsAuthError,
        invalid=InvalidRecord,
    )
    what = "the records store"

    # --- users

    async def get_user(self, user_id: str) -> User | None:
        with self._translate("get_user"):
            resp = await (
                self._db.table("users")
                .select(_USER_COLUMNS)
                .eq("user_id", user_id)
                .limit(1)
                .execute()
            )
        rows = _rows(resp.data)
        return user_from_row(rows[0]) if rows else None

    async def upsert_user(self, user: User) -> None:
        row = user_row(user)
        with self._translate("upsert_user"):
            await (
                self._db.table("users")
                .upsert(row, on_conflict="user_id", returning=ReturnMethod.minimal)
                .execute()
            )

    async def set_recording_consent(self, user_id: str, consent: bool) -> bool:
        with self._translate("set_recording_consent"):
            resp = await (
                self._db.table("users")
                .update({"recording_consent": bool(consent)})
                .eq("user_id", user_id)
                .execute()
            )
        return bool(_rows(resp.data))

    async def list_users(self) -> list[User]:
        with self._translate("list_users"):
            resp = await self._db.table("users").select(_USER_COLUMNS).order("user_id").execute()
        return [user_from_row(r) for r in _rows(resp.data)]

    # --- commitments

    async def due_commitments(self, user_id: str, on_or_before: str) -> list[Commitment]:
        day = required_date(on_or_before, "on_or_before")
        with self._translate("due_commitments"):
            resp = await (
                self._db.table("commitments")
                .select(_COMMITMENT_COLUMNS)
                .eq("user_id", user_id)
                .eq("status", "open")
                .lte("due_date", day.isoformat())
                .order("due_date")
                .order("commitment_id")
                .execute()
            )
        return [commitment_from_row(r) for r in _rows(resp.data)]

    async def upsert_commitments(self, commitments: list[Commitment]) -> None:
        now = _now()
        rows = [{**json_ready(commitment_row(c)), "updated_at": now} for c in commitments]
        if not rows:
            return
        with self._translate("upsert_commitments"):
            await (
                self._db.table("commitments")
                .upsert(rows, on_conflict="commitment_id", returning=ReturnMethod.minimal)
                .execute()
            )

    async def open_commitments(self, user_id: str) -> list[Commitment]:
        with self._translate("open_commitments"):
            resp = await (
                self._db.table("commitments")
                .select(_COMMITMENT_COLUMNS)
                .eq("user_id", user_id)
                .eq("status", "open")
                .order("due_date")
                .order("created_at")
                .order("commitment_id")
                .execute()
            )
        return [commitment_from_row(r) for r in _rows(resp.data)]

    async def apply_commitment_changes(self, changes: CommitmentChanges) -> None:
        user_id, commitments, check_ins = changes_rows(changes)
        if not commitments and not check_ins:
            return
        params = {"p_user_id": user_id, "p_commitments": commitments, "p_check_ins": check_ins}
        with self._translate("apply_commitment_changes"):
            resp = await self._db.rpc("apply_commitment_changes", params).execute()
        if not isinstance(resp.data, dict):
            raise RecordsError(
                f"rpc apply_commitment_changes answered {resp.data!r}, expected the row counts"
            )

    async def commitment_history(
        self,
        commitment_id: str | None = None,
        *,
        user_id: str | None = None,
        limit: int = 20,
    ) -> list[CheckIn]:
        column, value = history_key(commitment_id, user_id)
        with self._translate("commitment_history"):
            resp = await (
                self._db.table("commitment_check_ins")
                .select(_CHECK_IN_COLUMNS)
                .eq(column, value)
                .order("asked_on", desc=True)
                .order("created_at", desc=True)
                .order("check_in_id")
                .limit(check_limit(limit))
                .execute()
            )
        return [check_in_from_row(r) for r in _rows(resp.data)]

    # --- calls

    async def save_call(self, record: CallRecord) -> None:
        row = {**json_ready(call_row(record)), "updated_at": _now()}
        with self._translate("save_call"):
            await (
                self._db.table("calls")
                .upsert(row, on_conflict="call_id", returning=ReturnMethod.minimal)
                .execute()
            )

    async def expired_recordings(
        self, ended_before: str, limit: int = 100
    ) -> list[tuple[str, str]]:
        with self._translate("expired_recordings"):
            resp = await (
                self._db.table("calls")
                .select("call_id,recording_key")
                .not_.is_("recording_key", "null")
                .lt("ended_at", ended_before)
                .order("ended_at")
                .limit(check_limit(limit))
                .execute()
            )
        return [(str(r["call_id"]), str(r["recording_key"])) for r in _rows(resp.data)]

    async def clear_recording(self, call_id: str, deleted_at: str) -> None:
        with self._translate("clear_recording"):
            await (
                self._db.table("calls")
                .update({"recording_key": None, "recording_deleted_at": deleted_at})
                .eq("call_id", call_id)
                .execute()
            )

    async def get_call(self, call_id: str) -> CallRecord | None:
        with self._translate("get_call"):
            resp = await (
                self._db.table("calls")
                .select(_CALL_COLUMNS)
                .eq("call_id", call_id)
                .limit(1)
                .execute()
            )
        rows = _rows(resp.data)
        return call_from_row(rows[0]) if rows else None

    async def list_calls(self, user_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        with self._translate("list_calls"):
            query = self._db.table("calls").select(_CALL_COLUMNS)
            if user_id is not None:
                query = query.eq("user_id", user_id)
            resp = await (
                query.order("started_at", desc=True, nullsfirst=False)
                .order("call_id")
                .limit(limit)
                .execute()
            )
        return [call_from_row(r) for r in _rows(resp.data)]

    async def calls_since(self, since: datetime) -> list[CallRecord]:
        """Every call that started at or after `since`, oldest first (`callflow report`), read
        a page at a time (PostgREST caps the rows of one response)."""
        calls: list[CallRecord] = []
        while True:
            with self._translate("calls_since"):
                resp = await (
                    self._db.table("calls")
                    .select(_CALL_COLUMNS)
                    .gte("started_at", since.isoformat())
                    .order("started_at")
                    .order("call_id")
                    .range(len(calls), len(calls) + CALLS_PAGE - 1)
                    .execute()
                )
            page = [call_from_row(r) for r in _rows(resp.data)]
            calls.extend(page)
            if len(page) < CALLS_PAGE:
                return calls

    # --- push log

    async def claim_push(self, call_id: str, attempt: int) -> bool:
        return await self._push_rpc("claim_push", call_id, attempt)

    async def withhold_push(self, call_id: str, attempt: int) -> bool:
        return await self._push_rpc("withhold_push", call_id, attempt)

    async def _push_rpc(self, fn: str, call_id: str, attempt: int) -> bool:
        check_attempt(attempt)
        params = cast(dict[str, str], {"p_call_id": call_id, "p_attempt": attempt})
        with self._translate(fn):
            resp = await self._db.rpc(fn, params).execute()
        if not isinstance(resp.data, bool):
            raise RecordsError(f"rpc {fn} answered {resp.data!r}, expected true or false")
        return resp.data

    async def mark_push_sent(self, call_id: str, attempt: int, apns_id: str) -> None:
        check_attempt(attempt)
        row = {
            "call_id": call_id,
            "attempt": attempt,
            "apns_id": apns_id,
            "state": "sent",
            "sent_at": _now(),
        }
        with self._translate("mark_push_sent"):
            await (
                self._db.table("push_log")
                .upsert(row, on_conflict="call_id,attempt", returning=ReturnMethod.minimal)
                .execute()
            )
