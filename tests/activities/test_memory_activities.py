"""fetch_memory and write_memory on PostgresMemory over embedded Postgres."""

from __future__ import annotations

import uuid

from temporalio.testing import ActivityEnvironment

from activities.memory import FetchMemoryInput, MemoryActivities, WriteMemoryInput
from callflow.memory.postgres import PostgresMemory


async def test_write_memory_twice_keeps_one_memory(
    env: ActivityEnvironment, pg_memory: PostgresMemory, call_id: str
) -> None:
    user_id = f"u-{uuid.uuid4().hex[:8]}"
    acts = MemoryActivities(pg_memory)
    write = WriteMemoryInput(
        user_id,
        call_id,
        "Sam ran on Tuesday and Thursday and will meditate ten minutes every morning.",
        {"mood": "good", "outcome": "completed"},
    )

    assert (await env.run(acts.write_memory, write)).written
    assert (await env.run(acts.write_memory, write)).written  # a retried activity

    assert await pg_memory.count(user_id) == 1
    found = await env.run(acts.fetch_memory, FetchMemoryInput(user_id, "meditate every morning"))
    assert [(m.content, m.source_call_id) for m in found.items] == [(write.content, call_id)]
    assert found.items[0].score > 0


async def test_fetch_memory_is_scoped_to_the_user(
    env: ActivityEnvironment, pg_memory: PostgresMemory
) -> None:
    acts = MemoryActivities(pg_memory)
    mine, theirs = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    await env.run(
        acts.write_memory,
        WriteMemoryInput(theirs, str(uuid.uuid4()), "Alex wants to stop smoking.", {}),
    )
    found = await env.run(acts.fetch_memory, FetchMemoryInput(mine, "smoking"))
    assert found.items == []
    await env.run(
        acts.write_memory, WriteMemoryInput(mine, str(uuid.uuid4()), "Sam plays chess.", {})
    )
    found = await env.run(acts.fetch_memory, FetchMemoryInput(mine, "smoking"))
    # Nothing matches the query: the recency fallback returns only this user's memories.
    assert [m.content for m in found.items] == ["Sam plays chess."]
