"""Where a user's schedule intent is kept besides Temporal: the records store's `schedules` table.

Temporal's schedule is what fires; the intent row is what the app shows and what a rebuilt
Temporal cluster is re-created from.
"""

from __future__ import annotations

import json
from typing import Protocol

import asyncpg

from callflow.schedules.errors import IntentStoreError
from callflow.schedules.spec import CallSchedule


class ScheduleIntentStore(Protocol):
    async def save_schedule(self, user_id: str, schedule: CallSchedule) -> None: ...
    async def set_schedule_paused(self, user_id: str, paused: bool) -> None: ...
    async def delete_schedule(self, user_id: str) -> None: ...
    async def get_schedule(self, user_id: str) -> CallSchedule | None: ...


class PostgresScheduleIntentStore:
    """`ScheduleIntentStore` over asyncpg and migrations/0001_core.sql's `schedules` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PostgresScheduleIntentStore:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        except (OSError, asyncpg.PostgresError) as exc:
            raise IntentStoreError(f"cannot reach the records database: {exc}") from exc
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def save_schedule(self, user_id: str, schedule: CallSchedule) -> None:
        spec = schedule.model_dump(mode="json", exclude={"paused"})
        await self._execute(
            "insert into schedules (user_id, spec, paused, updated_at)"
            " values ($1, $2::jsonb, $3, now())"
            " on conflict (user_id) do update set spec = excluded.spec,"
            " paused = excluded.paused, updated_at = now()",
            user_id,
            json.dumps(spec),
            schedule.paused,
        )

    async def set_schedule_paused(self, user_id: str, paused: bool) -> None:
        await self._execute(
            "update schedules set paused = $2, updated_at = now() where user_id = $1",
            user_id,
            paused,
        )

    async def delete_schedule(self, user_id: str) -> None:
        await self._execute("delete from schedules where user_id = $1", user_id)

    async def get_schedule(self, user_id: str) -> CallSchedule | None:
        try:
            row = await self._pool.fetchrow(
                "select spec, paused from schedules where user_id = $1", user_id
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise IntentStoreError(f"reading the schedule of {user_id!r} failed: {exc}") from exc
        if row is None:
            return None
        spec = json.loads(row["spec"]) if isinstance(row["spec"], str) else dict(row["spec"])
        return CallSchedule.parse({**spec, "paused": row["paused"]})

    async def _execute(self, sql: str, *args: object) -> None:
        try:
            await self._pool.execute(sql, *args)
        except (OSError, asyncpg.PostgresError) as exc:
            raise IntentStoreError(f"saving the schedule intent failed: {exc}") from exc
