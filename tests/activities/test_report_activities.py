"""What the activities add for `callflow report`: fetch_memory measures the store's search, and
record_webhook_result writes the webhook's result into the saved record (Postgres)."""

from __future__ import annotations

import uuid

from temporalio.testing import ActivityEnvironment

from activities.memory import FetchMemoryInput, MemoryActivities
from activities.records import RecordsActivities, WebhookResultInput
from callflow.memory.postgres import PostgresMemory
from callflow.models import CallRecord
from callflow.records.postgres import PostgresRecords


async def test_fetch_memory_reports_how_long_the_search_took(
    env: ActivityEnvironment, pg_memory: PostgresMemory
) -> None:
    found = await env.run(
        MemoryActivities(pg_memory).fetch_memory, FetchMemoryInput(f"u-{uuid.uuid4().hex}", "x")
    )
    assert found.elapsed_ms is not None and 0 < found.elapsed_ms < 5000


async def test_the_webhook_result_lands_in_the_saved_record(
    env: ActivityEnvironment, records: PostgresRecords, call_id: str
) -> None:
    acts = RecordsActivities(records)
    await records.save_call(
        CallRecord(
            call_id,
            "report-user",
            "completed",
            1,
            "2026-11-28T09:00:00+00:00",
            "2026-11-28T09:05:00+00:00",
            summary="kept",
        )
    )

    out = await env.run(acts.record_webhook_result, WebhookResultInput(call_id, delivered=False))
    again = await env.run(acts.record_webhook_result, WebhookResultInput(call_id, delivered=False))

    assert out.recorded and again.recorded
    saved = await records.get_call(call_id)
    assert saved is not None and saved.webhook_delivered is False and saved.summary == "kept"
    missing = WebhookResultInput("no-such-call", delivered=True)
    assert not (await env.run(acts.record_webhook_result, missing)).recorded
