"""The per-user cap on calls started through the call API: at most N per rolling 24 h.

Counted in the records store's database (migrations/0013_call_requests.sql), never in process
memory, so it holds across every API replica: `claim_call_request` decides under a per-user
advisory lock. Postgres (DATABASE_URL) and Supabase (rpc) adapters call the same function.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from callflow.pg import PgErrors, PgStore
from callflow.service.errors import RecordsUnavailable, ServiceError
from callflow.supabase_rest import SupabaseErrors, SupabaseStore

WINDOW_S = 24 * 3600


class CallCapError(Exception):
    """The cap's store failed; the call API answers 503 (retry later)."""


class TooManyCalls(ServiceError):
    status = 429
    code = "call_cap_reached"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, field="user_id")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class CapDecision:
    allowed: bool
    limit: int
    count: int | None = None
    retry_after_s: int | None = None


class CallCap(Protocol):
    async def claim(self, user_id: str, call_id: str, limit: int, window_s: float) -> CapDecision:
        """Count `call_id` against the user's cap, or refuse it; a known call id is allowed."""
        ...

    async def release(self, call_id: str) -> None:
        """Give back the place of a request whose call never started."""
        ...


def decision_from(answer: Any) -> CapDecision:
    data = json.loads(answer) if isinstance(answer, str) else answer
    if not isinstance(data, dict) or not isinstance(data.get("allowed"), bool):
        raise CallCapError(f"claim_call_request answered {answer!r}")
    retry = data.get("retry_after_s")
    return CapDecision(
        allowed=data["allowed"],
        limit=int(data["limit"]),
        count=None if data.get("count") is None else int(data["count"]),
        retry_after_s=None if retry is None else int(retry),
    )


async def enforce(
    cap: CallCap, user_id: str, call_id: str, *, limit: int, window_s: float = WINDOW_S
) -> None:
    """Raise TooManyCalls (429, Retry-After) past the cap; RecordsUnavailable if the store fails."""
    try:
        decision = await cap.claim(user_id, call_id, limit, window_s)
    except CallCapError as e:
        raise RecordsUnavailable(
            f"the records store failed counting calls ({type(e).__name__}); retry later"
        ) from e
    if not decision.allowed:
        retry = decision.retry_after_s or 1
        raise TooManyCalls(
            f"user {user_id!r} has had {decision.limit} calls in the last "
            f"{window_s / 3600:g} h, the limit (CALLFLOW_CALL_CAP_PER_DAY={decision.limit}); "
            f"retry in {retry} s",
            retry_after_s=retry,
        )


class PostgresCallCap(PgStore):
    errors = PgErrors(
        store="records store (call cap)",
        base=CallCapError,
        unavailable=CallCapError,
        auth=CallCapError,
        invalid=CallCapError,
    )
    max_pool_size = 3

    async def claim(self, user_id: str, call_id: str, limit: int, window_s: float) -> CapDecision:
        with self._translate("claim_call_request"):
            answer = await self._pool.fetchval(
                "select claim_call_request($1, $2, $3, $4)::text", user_id, call_id, limit, window_s
            )
        return decision_from(answer)

    async def release(self, call_id: str) -> None:
        with self._translate("release_call_request"):
            await self._pool.fetchval("select release_call_request($1)", call_id)


class SupabaseCallCap(SupabaseStore):
    errors = SupabaseErrors(
        base=CallCapError, unavailable=CallCapError, auth=CallCapError, invalid=CallCapError
    )
    what = "the call cap store"

    async def claim(self, user_id: str, call_id: str, limit: int, window_s: float) -> CapDecision:
        params = {
            "p_user_id": user_id,
            "p_call_id": call_id,
            "p_limit": limit,
            "p_window_s": window_s,
        }
        with self._translate("claim_call_request"):
            resp = await self._db.rpc("claim_call_request", params).execute()
        return decision_from(resp.data)

    async def release(self, call_id: str) -> None:
        with self._translate("release_call_request"):
            await self._db.rpc("release_call_request", {"p_call_id": call_id}).execute()
