"""Retention: the cleanup workflow (run by its Temporal Schedule) deletes recordings older than
the retention period from the storage and clears their keys in the call records; newer ones stay.
Real Temporal dev server, real Postgres with the migrations, real S3-compatible server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.error_edge import ErrorEdge
from activities.recordings import RecordingActivities
from callflow.models import CallRecord, Recording, User
from callflow.recordings.audio import recording_key
from callflow.recordings.retention import CLEANUP_SCHEDULE_ID, ensure_cleanup_schedule
from callflow.recordings.s3 import S3RecordingStore
from callflow.records.postgres import PostgresRecords
from callflow.settings import Settings
from workflows.recording_cleanup import RecordingCleanupInput, RecordingCleanupWorkflow


async def _recorded_call(
    records: PostgresRecords, store: S3RecordingStore, user_id: str, days_ago: float
) -> str:
    call_id = uuid.uuid4().hex
    ended = datetime.now(UTC) - timedelta(days=days_ago)
    key = recording_key(call_id)
    await store.put(key, b"OggS" + bytes(1000), "audio/ogg")
    await records.save_call(
        CallRecord(
            call_id=call_id,
            user_id=user_id,
            outcome="completed",
            attempts=1,
            started_at=(ended - timedelta(minutes=2)).isoformat(),
            ended_at=ended.isoformat(),
            recording=Recording(
                key=key,
                duration_s=118.5,
                size_bytes=1004,
                channels=2,
                started_at=(ended - timedelta(minutes=2)).isoformat(),
            ),
        )
    )
    return call_id


async def _user(records: PostgresRecords) -> str:
    user_id = f"retention-{uuid.uuid4().hex[:8]}"
    await records.upsert_user(User(user_id, "Retained", voip_token=None))
    return user_id


def _worker(
    client: Client, queue: str, records: PostgresRecords, store: S3RecordingStore
) -> Worker:
    activities = RecordingActivities(records, store)
    return Worker(
        client,
        task_queue=queue,
        workflows=[RecordingCleanupWorkflow],
        activities=[activities.delete_expired_recordings],
        interceptors=[ErrorEdge()],
    )


async def test_cleanup_deletes_old_recordings_and_clears_their_keys(
    temporal_client: Client, records: PostgresRecords, store: S3RecordingStore
) -> None:
    user_id = await _user(records)
    old = await _recorded_call(records, store, user_id, days_ago=31)
    older = await _recorded_call(records, store, user_id, days_ago=400)
    recent = await _recorded_call(records, store, user_id, days_ago=29)
    queue = f"cleanup-{uuid.uuid4().hex[:8]}"

    async with _worker(temporal_client, queue, records, store):
        result = await temporal_client.execute_workflow(
            RecordingCleanupWorkflow.run,
            RecordingCleanupInput(retention_days=30, batch_size=1),  # batches of one: it loops
            id=f"cleanup-test-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )

    assert {old, older} <= set(result.deleted_call_ids)
    assert recent not in result.deleted_call_ids
    for call_id in (old, older):
        assert await store.size(recording_key(call_id)) is None  # the object is gone
        record = await records.get_call(call_id)
        assert record is not None and record.recording is not None
        assert record.recording.key is None  # the record's key is cleared ...
        assert record.recording.deleted_at is not None  # ... and says when
        assert record.recording.duration_s == 118.5  # what there was stays on record
    kept = await records.get_call(recent)
    assert kept is not None and kept.recording is not None
    assert kept.recording.key == recording_key(recent)
    assert await store.size(recording_key(recent)) == 1004


async def test_the_schedule_runs_the_cleanup_with_the_retention_setting(
    temporal_client: Client, records: PostgresRecords, store: S3RecordingStore
) -> None:
    user_id = await _user(records)
    expired = await _recorded_call(records, store, user_id, days_ago=8)
    kept = await _recorded_call(records, store, user_id, days_ago=6)
    queue = f"cleanup-{uuid.uuid4().hex[:8]}"
    settings = Settings(_env_file=None, task_queue=queue, recording_retention_days=7)  # type: ignore[call-arg]

    handle = await ensure_cleanup_schedule(temporal_client, settings)
    try:
        await ensure_cleanup_schedule(temporal_client, settings)  # a second worker: updated
        described = await handle.describe()
        assert described.id == CLEANUP_SCHEDULE_ID
        async with _worker(temporal_client, queue, records, store):
            await handle.trigger()
            for _ in range(200):  # the triggered run, as the daily firing would start it
                record = await records.get_call(expired)
                if record and record.recording and record.recording.key is None:
                    break
                await asyncio.sleep(0.1)
        record = await records.get_call(expired)
        assert record is not None and record.recording is not None
        assert record.recording.key is None
        assert await store.size(recording_key(expired)) is None
        assert await store.size(recording_key(kept)) is not None
    finally:
        await handle.delete()
