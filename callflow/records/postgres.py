"""`RecordsStore` over Postgres with asyncpg (the embedded server locally, any Postgres in prod).

Writes are upserts keyed by the natural id, so a retried activity rewrites the same row.
JSON columns go through `::text::jsonb` and come back as text, so the adapter works on any pool,
whatever jsonb codec its connections have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callflow.models import (
    CallRecord,
    CheckIn,
    Commitment,
    CommitmentChanges,
    Recording,
    User,
)
from callflow.pg import PgErrors, PgStore
from callflow.records.checks import check_attempt, check_limit, history_key, required_date
from callflow.records.codec import (
    call_from_row,
    call_row,
    changes_rows,
    check_in_from_row,
    commitment_from_row,
    commitment_row,
    parse_timestamp,
    recording_row,
    user_from_row,
    user_row,
)
from callflow.records.errors import (
    InvalidRecord,
    RecordsAuthError,
    RecordsError,
    RecordsUnavailable,
)

_JSON_COLUMNS = (
    "transcript",
    "usage",
    "latency",
    "tools_called",
    "stages",
    "topics_next_time",
    "turn_latencies_ms",
)
_CALL_COLUMNS = (
    "call_id, user_id, outcome, attempts, started_at, ended_at, failure_reason, memory_degraded, "
    "summary, mood, transcript::text as transcript, usage::text as usage, cost_usd, "
    "latency::text as latency, tools_called::text as tools_called, analysis_provider, "
    "stages::text as stages, topics_next_time::text as topics_next_time, agent_redispatches, "
    "turn_latencies_ms::text as turn_latencies_ms, pushes_sent, webhook_delivered, "
    "recording_key, recording_duration_s, recording_size_bytes, recording_channels, "
    "recording_started_at, recording_deleted_at"
)
_USER_COLUMNS = (
    "user_id, display_name, voip_token, timezone, locale, quiet_hours, recording_consent"
)
_COMMITMENT_COLUMNS = (
    "commitment_id, user_id, text, due_date, status, source_call_id, due_time, recurrence,"
    " until, created_at"
)
_CHECK_IN_COLUMNS = "check_in_id, commitment_id, call_id, verdict, evidence, asked_on, created_at"


def _decode_call(row: Mapping[str, Any]) -> CallRecord:
    data = dict(row)
    for column in _JSON_COLUMNS:
        if data[column] is not None:
            data[column] = json.loads(data[column])
    return call_from_row(data)


class PostgresRecords(PgStore):
    errors = PgErrors(
        store="records store",
        base=RecordsError,
        unavailable=RecordsUnavailable,
        auth=RecordsAuthError,
        invalid=InvalidRecord,
    )
    max_pool_size = 10

    # --- users

    async def get_user(self, user_id: str) -> User | None:
        with self._translate("get_user"):
            row = await self._pool.fetchrow(
                f"select {_USER_COLUMNS} from users where user_id = $1", user_id
            )
        return user_from_row(dict(row)) if row is not None else None

    async def upsert_user(self, user: User) -> None:
        r = user_row(user)
        with self._translate("upsert_user"):
            await self._pool.execute(
                "insert into users (user_id, display_name, voip_token, timezone, locale,"
                " quiet_hours) values ($1, $2, $3, $4, $5, $6)"
                " on conflict (user_id) do update set display_name = excluded.display_name,"
                " voip_token = excluded.voip_token, timezone = excluded.timezone,"
                " locale = excluded.locale, quiet_hours = excluded.quiet_hours",
                r["user_id"],
                r["display_name"],
                r["voip_token"],
                r["timezone"],
                r["locale"],
                r["quiet_hours"],
            )

    async def set_recording_consent(self, user_id: str, consent: bool) -> bool:
        """Set the user's consent; False when there is no such user."""
        with self._translate("set_recording_consent"):
            status = await self._pool.execute(
                "update users set recording_consent = $2 where user_id = $1", user_id, consent
            )
        return status != "UPDATE 0"

    async def list_users(self) -> list[User]:
        with self._translate("list_users"):
            rows = await self._pool.fetch(f"select {_USER_COLUMNS} from users order by user_id")
        return [user_from_row(dict(r)) for r in rows]

    # --- commitments

    async def due_commitments(self, user_id: str, on_or_before: str) -> list[Commitment]:
        """Open commitments of `user_id` due on or before the ISO date, earliest first."""
        day = required_date(on_or_before, "on_or_before")
        with self._translate("due_commitments"):
            rows = await self._pool.fetch(
                f"select {_COMMITMENT_COLUMNS} from commitments"
                " where user_id = $1 and status = 'open' and due_date <= $2"
                " order by due_date, commitment_id",
                user_id,
                day,
            )
        return [commitment_from_row(dict(r)) for r in rows]

    async def upsert_commitments(self, commitments: list[Commitment]) -> None:
        rows = [commitment_row(c) for c in commitments]
        if not rows:
            return
        with self._translate("upsert_commitments"):
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.executemany(
                    "insert into commitments (commitment_id, user_id, text, due_date, status,"
                    " source_call_id, due_time, recurrence, until)"
                    " values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " on conflict (commitment_id) do update set user_id = excluded.user_id,"
                    " text = excluded.text, due_date = excluded.due_date,"
                    " status = excluded.status, source_call_id = excluded.source_call_id,"
                    " due_time = excluded.due_time, recurrence = excluded.recurrence,"
                    " until = excluded.until, updated_at = now()",
                    [
                        (
                            r["commitment_id"],
                            r["user_id"],
                            r["text"],
                            r["due_date"],
                            r["status"],
                            r["source_call_id"],
                            r["due_time"],
                            r["recurrence"],
                            r["until"],
                        )
                        for r in rows
                    ],
                )

    async def open_commitments(self, user_id: str) -> list[Commitment]:
        """Every open commitment of `user_id`, due or not, earliest due first."""
        with self._translate("open_commitments"):
            rows = await self._pool.fetch(
                f"select {_COMMITMENT_COLUMNS} from commitments"
                " where user_id = $1 and status = 'open'"
                " order by due_date, created_at, commitment_id",
                user_id,
            )
        return [commitment_from_row(dict(r)) for r in rows]

    async def apply_commitment_changes(self, changes: CommitmentChanges) -> None:
        """Upsert one call's commitment rows and check-ins in one transaction (one call of the
        `apply_commitment_changes` SQL function, the same the Supabase adapter calls)."""
        user_id, commitments, check_ins = changes_rows(changes)
        if not commitments and not check_ins:
            return
        with self._translate("apply_commitment_changes"):
            await self._pool.fetchval(
                "select apply_commitment_changes($1, $2::text::jsonb, $3::text::jsonb)",
                user_id,
                json.dumps(commitments),
                json.dumps(check_ins),
            )

    async def commitment_history(
        self,
        commitment_id: str | None = None,
        *,
        user_id: str | None = None,
        limit: int = 20,
    ) -> list[CheckIn]:
        """Check-ins of one commitment, or of all of one user's, newest first."""
        column, value = history_key(commitment_id, user_id)
        with self._translate("commitment_history"):
            rows = await self._pool.fetch(
                f"select {_CHECK_IN_COLUMNS} from commitment_check_ins where {column} = $1"
                " order by asked_on desc, created_at desc, check_in_id limit $2",
                value,
                check_limit(limit),
            )
        return [check_in_from_row(dict(r)) for r in rows]

    # --- calls

    async def save_call(self, record: CallRecord) -> None:
        r = call_row(record)
        with self._translate("save_call"):
            await self._pool.execute(
                "insert into calls (call_id, user_id, outcome, attempts, started_at, ended_at,"
                " failure_reason, memory_degraded, summary, mood, transcript, usage, cost_usd,"
                " latency, tools_called, analysis_provider, stages, topics_next_time,"
                " agent_redispatches, turn_latencies_ms, pushes_sent, webhook_delivered)"
                " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb,"
                " $12::text::jsonb, $13, $14::text::jsonb, $15::text::jsonb, $16,"
                " $17::text::jsonb, $18::text::jsonb, $19, $20::text::jsonb, $21, $22)"
                " on conflict (call_id) do update set user_id = excluded.user_id,"
                " outcome = excluded.outcome, attempts = excluded.attempts,"
                " started_at = excluded.started_at, ended_at = excluded.ended_at,"
                " failure_reason = excluded.failure_reason,"
                " memory_degraded = excluded.memory_degraded, summary = excluded.summary,"
                " mood = excluded.mood, transcript = excluded.transcript,"
                " usage = excluded.usage, cost_usd = excluded.cost_usd,"
                " latency = excluded.latency, tools_called = excluded.tools_called,"
                " analysis_provider = excluded.analysis_provider, stages = excluded.stages,"
                " topics_next_time = excluded.topics_next_time,"
                " agent_redispatches = excluded.agent_redispatches,"
                " turn_latencies_ms = excluded.turn_latencies_ms,"
                " pushes_sent = excluded.pushes_sent,"
                " webhook_delivered = excluded.webhook_delivered,"
                " updated_at = now()",
                r["call_id"],
                r["user_id"],
                r["outcome"],
                r["attempts"],
                r["started_at"],
                r["ended_at"],
                r["failure_reason"],
                r["memory_degraded"],
                r["summary"],
                r["mood"],
                json.dumps(r["transcript"]),
                json.dumps(r["usage"]) if r["usage"] is not None else None,
                r["cost_usd"],
                json.dumps(r["latency"]),
                json.dumps(r["tools_called"]),
                r["analysis_provider"],
                json.dumps(r["stages"]),
                json.dumps(r["topics_next_time"]),
                r["agent_redispatches"],
                json.dumps(r["turn_latencies_ms"]),
                r["pushes_sent"],
                r["webhook_delivered"],
            )
        if record.recording is not None:
            await self._save_recording(record.call_id, record.recording)

    async def _save_recording(self, call_id: str, recording: Recording) -> None:
        r = recording_row(recording)
        with self._translate("save_call"):
            await self._pool.execute(
                "update calls set recording_key = $2, recording_duration_s = $3,"
                " recording_size_bytes = $4, recording_channels = $5,"
                " recording_started_at = $6, recording_deleted_at = $7 where call_id = $1",
                call_id,
                r["recording_key"],
                r["recording_duration_s"],
                r["recording_size_bytes"],
                r["recording_channels"],
                r["recording_started_at"],
                r["recording_deleted_at"],
            )

    async def expired_recordings(
        self, ended_before: str, limit: int = 100
    ) -> list[tuple[str, str]]:
        """Calls that ended before the cut-off and still have a recording, oldest first."""
        cutoff = parse_timestamp(ended_before, "ended_before")
        with self._translate("expired_recordings"):
            rows = await self._pool.fetch(
                "select call_id, recording_key from calls"
                " where recording_key is not null and ended_at < $1"
                " order by ended_at limit $2",
                cutoff,
                check_limit(limit),
            )
        return [(str(r["call_id"]), str(r["recording_key"])) for r in rows]

    async def clear_recording(self, call_id: str, deleted_at: str) -> None:
        with self._translate("clear_recording"):
            await self._pool.execute(
                "update calls set recording_key = null, recording_deleted_at = $2"
                " where call_id = $1",
                call_id,
                parse_timestamp(deleted_at, "deleted_at"),
            )

    async def get_call(self, call_id: str) -> CallRecord | None:
        with self._translate("get_call"):
            row = await self._pool.fetchrow(
                f"select {_CALL_COLUMNS} from calls where call_id = $1", call_id
            )
        return _decode_call(dict(row)) if row is not None else None

    async def list_calls(self, user_id: str | None = None, limit: int = 100) -> list[CallRecord]:
        """Most recent calls first, of one user or of everyone."""
        with self._translate("list_calls"):
            rows = await self._pool.fetch(
                f"select {_CALL_COLUMNS} from calls where ($1::text is null or user_id = $1)"
                " order by started_at desc nulls last, call_id limit $2",
                user_id,
                limit,
            )
        return [_decode_call(dict(r)) for r in rows]

    async def calls_since(self, since: datetime) -> list[CallRecord]:
        """Every call that started at or after `since`, oldest first (`callflow report`)."""
        with self._translate("calls_since"):
            rows = await self._pool.fetch(
                f"select {_CALL_COLUMNS} from calls where started_at >= $1"
                " order by started_at, call_id",
                since,
            )
        return [_decode_call(dict(r)) for r in rows]

    async def count_calls(self, outcome: str | None = None) -> int:
        with self._translate("count_calls"):
            n = await self._pool.fetchval(
                "select count(*) from calls where ($1::text is null or outcome = $1)", outcome
            )
        return int(n)

    # --- push log

    async def claim_push(self, call_id: str, attempt: int) -> bool:
        """True when the push may be sent now; False when it was already sent."""
        check_attempt(attempt)
        with self._translate("claim_push"):
            claimed = await self._pool.fetchval("select claim_push($1, $2)", call_id, attempt)
        return bool(claimed)

    async def withhold_push(self, call_id: str, attempt: int) -> bool:
        check_attempt(attempt)
        with self._translate("withhold_push"):
            withheld = await self._pool.fetchval("select withhold_push($1, $2)", call_id, attempt)
        return bool(withheld)

    async def mark_push_sent(self, call_id: str, attempt: int, apns_id: str) -> None:
        check_attempt(attempt)
        with self._translate("mark_push_sent"):
            await self._pool.execute(
                "insert into push_log (call_id, attempt, apns_id, state, sent_at)"
                " values ($1, $2, $3, 'sent', now())"
                " on conflict (call_id, attempt) do update set apns_id = excluded.apns_id,"
                " state = 'sent', sent_at = coalesce(push_log.sent_at, excluded.sent_at)",
                call_id,
                attempt,
                apns_id,
            )

    async def count_pushes(self, state: str | None = "sent") -> int:
        """Rows in the push log in `state` ('claimed' | 'sent'), or all rows for None."""
        with self._translate("count_pushes"):
            n = await self._pool.fetchval(
                "select count(*) from push_log where ($1::text is null or state = $1)", state
            )
        return int(n)
