"""The ElevenLabs import end to end: the real SDK against the local API, the import workflow on
the dev server, the Postgres records and memory adapters."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from datetime import UTC, datetime

import asyncpg
from temporalio.client import Client

from callflow.importer.runner import ImportTarget, run_import
from callflow.models import User
from callflow.records.postgres import PostgresRecords
from tests.importer.conftest import ImportWorkers, wait_until
from tests.importer.elevenlabs_server import ElevenLabsServer, conversation_body
from workflows.import_messages import ImportInput, ImportReport, ImportSource

# Monday 2 March 2026, 09:00 UTC (10:00 in Berlin): "tomorrow" is Tuesday the 3rd.
MONDAY = int(datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp())
DAY = 86400


async def seed(records: PostgresRecords, server: ElevenLabsServer, agent: str) -> dict[str, str]:
    """Two users, five conversations: three mapped, one with no `user_id` variable, one naming
    a user callflow does not have."""
    tag = secrets.token_hex(3)
    users = {"ada": f"ada-{tag}", "bo": f"bo-{tag}"}
    for name, user_id in users.items():
        await records.upsert_user(User(user_id, name.title(), None, timezone="Europe/Berlin"))
    said = [
        ("agent", "Good morning! What will you do this week?"),
        ("user", "Tomorrow I will go for a 5 km run."),
        ("agent", "A 5 km run tomorrow, noted."),
    ]
    server.add(
        conversation_body(
            f"conv-a1-{tag}",
            agent_id=agent,
            start_unix_s=MONDAY,
            turns=said,
            dynamic_variables={"user_id": users["ada"], "name": "Ada"},
            summary="Ada plans a 5 km run for tomorrow.",
        )
    )
    server.add(
        conversation_body(
            f"conv-a2-{tag}",
            agent_id=agent,
            start_unix_s=MONDAY + 2 * DAY,
            turns=[("agent", "How was the run?"), ("user", "It went well, thanks.")],
            dynamic_variables={"user_id": users["ada"]},
        )
    )
    server.add(
        conversation_body(
            f"conv-b1-{tag}",
            agent_id=agent,
            start_unix_s=MONDAY + DAY,
            turns=[("agent", "Hi Bo"), ("user", "Starting today I will meditate every morning.")],
            dynamic_variables={"user_id": users["bo"]},
        )
    )
    server.add(
        conversation_body(
            f"conv-x1-{tag}",
            agent_id=agent,
            start_unix_s=MONDAY + 3 * DAY,
            turns=[("agent", "Hello?"), ("user", "Hi.")],
            dynamic_variables={"name": "someone"},
        )
    )
    server.add(
        conversation_body(
            f"conv-x2-{tag}",
            agent_id=agent,
            start_unix_s=MONDAY + 4 * DAY,
            turns=[("agent", "Hello?"), ("user", "Hi.")],
            dynamic_variables={"user_id": f"nobody-{tag}"},
        )
    )
    return {**users, "tag": tag}


def elevenlabs_input(workers: ImportWorkers, agent: str, **changes: object) -> ImportInput:
    default = ImportInput(
        run_id=f"el-{secrets.token_hex(4)}",
        source=ImportSource(kind="elevenlabs", agent_id=agent),
        page_size=2,  # five conversations: three pages, two continue-as-new
        batch_size=2,
        rate_per_s=0,
    )
    return dataclasses.replace(default, **changes)  # type: ignore[arg-type]


async def run(workers: ImportWorkers, input: ImportInput) -> ImportReport:
    target = ImportTarget(workers.client, workers.settings.task_queue, workers.settings)
    return await asyncio.wait_for(run_import(target, input), 120)


async def written(db: asyncpg.Connection, tag: str) -> dict[str, int]:
    like = f"%-{tag}"
    return {
        "calls": await db.fetchval("select count(*) from calls where call_id like $1", like),
        "memories": await db.fetchval("select count(*) from memories where call_id like $1", like),
        "commitments": await db.fetchval(
            "select count(*) from commitments where source_call_id like $1", like
        ),
    }


async def test_full_import_then_a_second_run_writes_nothing_new(
    import_workers: ImportWorkers,
    elevenlabs: ElevenLabsServer,
    records: PostgresRecords,
    db: asyncpg.Connection,
) -> None:
    agent = f"agent-{secrets.token_hex(3)}"
    seeded = await seed(records, elevenlabs, agent)
    tag = seeded["tag"]
    elevenlabs.throttle(1)  # the first request is answered 429 with Retry-After

    async with import_workers.running():
        first = await run(import_workers, elevenlabs_input(import_workers, agent))
        after_first = await written(db, tag)
        second = await run(import_workers, elevenlabs_input(import_workers, agent))

    c = first.counts
    assert (c.imported, c.skipped, c.unmapped, c.failed) == (3, 0, 2, 0), first
    assert first.done and first.pages == 3 and first.error is None
    unmapped = {r.item_id: r.reason or "" for r in first.reasons}
    assert "dynamic variable `user_id` is not set" in unmapped[f"conv-x1-{tag}"]
    assert "not in the records store" in unmapped[f"conv-x2-{tag}"]

    # The SDK sent the key, was throttled once and retried after Retry-After.
    assert elevenlabs.throttled_answers == 1
    assert all(s.headers.get("xi-api-key") for s in elevenlabs.seen)

    record = await records.get_call(f"conv-a1-{tag}")
    assert record is not None and record.outcome == "imported"
    assert record.user_id == seeded["ada"]
    assert datetime.fromisoformat(record.started_at) == datetime.fromtimestamp(MONDAY, UTC)
    assert record.summary == "Ada plans a 5 km run for tomorrow."
    assert [t.role for t in record.transcript] == ["agent", "user", "agent"]
    source = await db.fetchval("select source from calls where call_id = $1", record.call_id)
    assert source == "elevenlabs"

    memory_ids = await db.fetch(
        "select memory_id from memories where user_id = $1 order by memory_id", seeded["ada"]
    )
    assert [r["memory_id"] for r in memory_ids] == [f"call-conv-a1-{tag}", f"call-conv-a2-{tag}"]

    # "Tomorrow" on Monday 2 March is the 3rd; "starting today ... every morning" on the 3rd.
    ada = await records.open_commitments(seeded["ada"])
    assert [(c.text, c.due_date) for c in ada] == [("go for a 5 km run", "2026-03-03")]
    bo = await records.open_commitments(seeded["bo"])
    assert [(c.due_date, c.recurrence) for c in bo] == [("2026-03-03", "daily")]

    stored = await import_workers.ports.history_import.ledger.get_report(first.run_id)  # type: ignore[union-attr]
    assert stored is not None and stored.done and stored.counts == first.counts

    # The second run: everything already there is skipped, the unmapped still reported.
    c2 = second.counts
    assert (c2.imported, c2.skipped, c2.unmapped, c2.failed) == (0, 3, 2, 0), second
    assert await written(db, tag) == after_first == {"calls": 3, "memories": 3, "commitments": 2}


async def test_a_worker_stopped_mid_import_resumes_without_duplicates(
    import_workers: ImportWorkers,
    elevenlabs: ElevenLabsServer,
    records: PostgresRecords,
    db: asyncpg.Connection,
    temporal_client: Client,
) -> None:
    agent = f"agent-{secrets.token_hex(3)}"
    seeded = await seed(records, elevenlabs, agent)
    tag = seeded["tag"]
    elevenlabs.get_delay_s = 0.4  # slow enough to stop the worker between conversations
    input = elevenlabs_input(import_workers, agent, batch_size=1)
    target = ImportTarget(
        temporal_client, import_workers.settings.task_queue, import_workers.settings
    )

    first_worker = import_workers.new()
    worker_task = asyncio.create_task(first_worker.run())
    waiting = asyncio.create_task(run_import(target, input))

    async def some_imported() -> bool:
        return bool(
            await db.fetchval("select count(*) from import_items where run_id = $1", input.run_id)
        )

    await wait_until(some_imported, what="a first conversation imported")
    worker_task.cancel()  # the worker goes away mid-import, activities in flight cancelled
    await asyncio.gather(worker_task, return_exceptions=True)
    partial = await db.fetchval("select count(*) from import_items where run_id = $1", input.run_id)
    assert partial < 5

    elevenlabs.get_delay_s = 0.0
    async with import_workers.running():  # a new worker picks the run up
        report = await asyncio.wait_for(waiting, 120)

    c = report.counts
    assert (c.imported, c.skipped, c.unmapped, c.failed) == (3, 0, 2, 0), report
    assert await written(db, tag) == {"calls": 3, "memories": 3, "commitments": 2}


async def test_unknown_agent_and_malformed_conversation_are_reported(
    import_workers: ImportWorkers,
    elevenlabs: ElevenLabsServer,
    records: PostgresRecords,
) -> None:
    agent = f"agent-{secrets.token_hex(3)}"
    seeded = await seed(records, elevenlabs, agent)
    tag = seeded["tag"]
    broken = elevenlabs.conversations[f"conv-a2-{tag}"]
    broken["transcript"][0]["role"] = "narrator"  # not a role the API has

    async with import_workers.running():
        unknown = await run(import_workers, elevenlabs_input(import_workers, f"ghost-{tag}"))
        report = await run(import_workers, elevenlabs_input(import_workers, agent))

    assert unknown.done and unknown.error is not None and f"ghost-{tag}" in unknown.error
    assert "404" in unknown.error
    c = report.counts
    assert (c.imported, c.unmapped, c.failed) == (2, 2, 1), report
    failed = [r for r in report.reasons if r.status == "failed"]
    assert failed[0].item_id == f"conv-a2-{tag}"
    assert f"conv-a2-{tag}" in (failed[0].reason or "") and "narrator" in (failed[0].reason or "")


async def test_a_dry_run_since_a_date_reads_and_writes_nothing(
    import_workers: ImportWorkers,
    elevenlabs: ElevenLabsServer,
    records: PostgresRecords,
    db: asyncpg.Connection,
) -> None:
    agent = f"agent-{secrets.token_hex(3)}"
    seeded = await seed(records, elevenlabs, agent)
    since = ImportSource(kind="elevenlabs", agent_id=agent, since_unix_s=MONDAY + DAY)

    async with import_workers.running():
        report = await run(
            import_workers, elevenlabs_input(import_workers, agent, source=since, dry_run=True)
        )

    c = report.counts
    # Monday's conversation is before --since; the API leaves it out of the list.
    assert (c.imported, c.skipped, c.unmapped, c.failed) == (2, 0, 2, 0), report
    assert report.dry_run and report.done
    assert await written(db, seeded["tag"]) == {"calls": 0, "memories": 0, "commitments": 0}
    listed = [s for s in elevenlabs.seen if s.path == "/v1/convai/conversations"]
    assert all(("call_start_after_unix", str(MONDAY + DAY)) in s.query for s in listed)
