"""`MemoryStore` over Postgres full-text search (the local default; same database as records).

Search ORs the query's stemmed words and ranks with `ts_rank`, because the agent asks in natural
language ("how did the run go and what about sleep") and an AND of every word rarely matches.
When nothing matches, the user's most recent memories come back instead (score 0), so the agent
still has context. One memory per call: its id is `call-<call_id>` and a rewrite updates it.
"""

from __future__ import annotations

import json

from callflow.memory.errors import (
    InvalidMemory,
    MemoryAuthError,
    MemoryStoreError,
    MemoryUnavailable,
)
from callflow.memory.ids import check_write, memory_id_for
from callflow.models import MemoryItem
from callflow.pg import PgErrors, PgStore

_SEARCH = """
with q as (
    select to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) as query
      from unnest(tsvector_to_array(to_tsvector('english', $2))) as lexeme
)
select m.content, m.call_id, ts_rank(m.content_tsv, q.query) as score
  from memories m, q
 where q.query is not null and m.user_id = $1 and m.content_tsv @@ q.query
 order by score desc, m.created_at desc, m.memory_id
 limit $3
"""

_RECENT = """
select content, call_id, 0.0::real as score
  from memories
 where user_id = $1
 order by created_at desc, memory_id
 limit $2
"""

_WRITE = """
insert into memories (memory_id, user_id, call_id, content, metadata)
values ($1, $2, $3, $4, $5::text::jsonb)
on conflict (memory_id) do update
   set content = excluded.content, metadata = excluded.metadata
 where memories.user_id = excluded.user_id
returning memory_id
"""


class PostgresMemory(PgStore):
    errors = PgErrors(
        store="memory store",
        base=MemoryStoreError,
        unavailable=MemoryUnavailable,
        auth=MemoryAuthError,
        invalid=InvalidMemory,
    )

    async def search(self, user_id: str, query: str, limit: int = 5) -> list[MemoryItem]:
        if limit < 1:
            return []
        with self._translate("search"):
            rows = await self._pool.fetch(_SEARCH, user_id, query, limit)
            if not rows:
                rows = await self._pool.fetch(_RECENT, user_id, limit)
        return [
            MemoryItem(content=r["content"], score=float(r["score"]), source_call_id=r["call_id"])
            for r in rows
        ]

    async def write(
        self, user_id: str, call_id: str, content: str, metadata: dict[str, str]
    ) -> None:
        check_write(user_id, call_id, content)
        memory_id = memory_id_for(call_id)
        meta = {**metadata, "call_id": call_id}
        with self._translate("write"):
            written = await self._pool.fetchval(
                _WRITE, memory_id, user_id, call_id, content, json.dumps(meta)
            )
        if written is None:
            raise InvalidMemory(
                f"call_id {call_id!r} already has a memory for another user; "
                "a call belongs to exactly one user_id"
            )

    async def count(self, user_id: str | None = None) -> int:
        with self._translate("count"):
            n = await self._pool.fetchval(
                "select count(*) from memories where ($1::text is null or user_id = $1)", user_id
            )
        return int(n)
