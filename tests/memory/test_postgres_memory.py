"""PostgresMemory on a real embedded Postgres: idempotent writes, ranked full-text search."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from callflow.local.stack.postgres import LocalPostgres, dsn_for
from callflow.memory.errors import InvalidMemory, MemoryUnavailable
from callflow.memory.postgres import PostgresMemory


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_write_twice_keeps_one_memory_with_latest_content(pg_memory: PostgresMemory) -> None:
    user_id, call_id = uid("u"), uid("call")
    await pg_memory.write(user_id, call_id, "Promised to run 5k on Saturday.", {"mood": "ok"})
    await pg_memory.write(user_id, call_id, "Promised to run 10k on Sunday.", {"mood": "great"})
    assert await pg_memory.count(user_id) == 1
    items = await pg_memory.search(user_id, "run")
    assert [(i.content, i.source_call_id) for i in items] == [
        ("Promised to run 10k on Sunday.", call_id)
    ]


async def test_search_ranks_the_relevant_memory_first(pg_memory: PostgresMemory) -> None:
    user_id = uid("u")
    memories = {
        "sleep": "Slept badly all week; wants to be in bed by 11pm.",
        "running": "Committed to running three mornings a week; ran twice so far.",
        "family": "Will call his mother on Sunday.",
    }
    for topic, text in memories.items():
        await pg_memory.write(user_id, uid(topic), text, {})
    items = await pg_memory.search(user_id, "how is the morning running going?", limit=3)
    assert items[0].content == memories["running"]
    assert items[0].score > 0
    assert all(i.content != memories["family"] for i in items)  # no shared word: not matched


async def test_search_isolates_users(pg_memory: PostgresMemory) -> None:
    alice, bob = uid("alice"), uid("bob")
    await pg_memory.write(alice, uid("call"), "Alice is training for a marathon.", {})
    await pg_memory.write(bob, uid("call"), "Bob is training for a triathlon.", {})
    items = await pg_memory.search(bob, "training marathon triathlon", limit=10)
    assert [i.content for i in items] == ["Bob is training for a triathlon."]


async def test_no_match_falls_back_to_recent_memories(pg_memory: PostgresMemory) -> None:
    user_id = uid("u")
    for n in range(3):
        await pg_memory.write(user_id, uid("call"), f"Check-in number {n} about guitar.", {})
    for query in ("quantum chromodynamics", "the and of", ""):
        items = await pg_memory.search(user_id, query, limit=2)
        assert [i.content for i in items] == [
            "Check-in number 2 about guitar.",
            "Check-in number 1 about guitar.",
        ]
        assert all(i.score == 0.0 for i in items)
    assert await pg_memory.search(uid("stranger"), "guitar") == []


async def test_a_call_belongs_to_one_user(pg_memory: PostgresMemory) -> None:
    call_id = uid("call")
    await pg_memory.write(uid("u"), call_id, "first owner", {})
    with pytest.raises(InvalidMemory, match="another user"):
        await pg_memory.write(uid("u"), call_id, "someone else", {})


async def test_bad_input_names_the_field(pg_memory: PostgresMemory) -> None:
    with pytest.raises(InvalidMemory, match="call_id"):
        await pg_memory.write("u", "", "text", {})
    with pytest.raises(InvalidMemory, match="content"):
        await pg_memory.write("u", "c", "  ", {})


async def test_unreachable_database_is_retryable(
    area_database: LocalPostgres, tmp_path: Path
) -> None:
    with pytest.raises(MemoryUnavailable) as info:
        await PostgresMemory.connect(dsn_for(tmp_path, area_database.port, "callflow"))
    assert info.value.retryable
