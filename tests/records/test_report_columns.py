"""The report's per-call figures (migration 0010) round-trip through both records adapters, and
`calls_since` returns the calls of a window, oldest first."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from callflow.models import CallRecord
from callflow.records.postgres import PostgresRecords
from callflow.records.supabase import SupabaseRecords


def report_record(call_id: str, started_at: str) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        user_id="report-columns-user",
        outcome="completed",
        attempts=1,
        started_at=started_at,
        ended_at=started_at,
        latency={"first_audio_ms": 410.0, "memory_fetch_ms": 37.5},
        turn_latencies_ms=[512.5, 640.0],
        pushes_sent=2,
        webhook_delivered=True,
    )


async def round_trip(store: PostgresRecords | SupabaseRecords, prefix: str) -> None:
    old = report_record(f"{prefix}-old", "2031-01-01T08:00:00+00:00")
    new = report_record(f"{prefix}-new", "2031-01-02T08:00:00+00:00")
    legacy = dataclasses.replace(
        report_record(f"{prefix}-legacy", "2031-01-03T08:00:00+00:00"),
        turn_latencies_ms=[], pushes_sent=None, webhook_delivered=None,
    )  # fmt: skip
    for record in (new, legacy, old):
        await store.save_call(record)

    got = await store.get_call(new.call_id)
    assert got is not None
    assert got.turn_latencies_ms == [512.5, 640.0]
    assert got.pushes_sent == 2 and got.webhook_delivered is True
    assert got.latency["memory_fetch_ms"] == 37.5
    unknown = await store.get_call(legacy.call_id)
    assert unknown is not None and unknown.pushes_sent is None and unknown.webhook_delivered is None

    window = await store.calls_since(datetime(2031, 1, 1, 12, tzinfo=UTC))
    mine = [r.call_id for r in window if r.call_id.startswith(prefix)]
    assert mine == [new.call_id, legacy.call_id]


async def test_postgres_keeps_the_report_figures(records: PostgresRecords) -> None:
    await round_trip(records, "pg-report")


async def test_supabase_keeps_the_report_figures(supabase_records: SupabaseRecords) -> None:
    await round_trip(supabase_records, "sb-report")
