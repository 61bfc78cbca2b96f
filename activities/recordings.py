"""Activities of the recordings' retention: delete recordings older than the retention period.

Deleting is idempotent both ways (an object already gone is not an error, and a cleared key is
not listed again), so a retried batch redoes nothing that was done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio import activity

from callflow.ports import RecordingRecords, RecordingStore


@dataclass
class DeleteExpiredInput:
    ended_before: str  # ISO-8601 UTC: recordings of calls that ended before this go
    limit: int = 100  # one batch


@dataclass
class DeleteExpiredOutput:
    deleted_call_ids: list[str] = field(default_factory=list)
    more: bool = False  # the batch was full: there may be more to delete


class RecordingActivities:
    def __init__(self, records: RecordingRecords, store: RecordingStore | None) -> None:
        self._records = records
        self._store = store

    @activity.defn
    async def delete_expired_recordings(self, input: DeleteExpiredInput) -> DeleteExpiredOutput:
        if self._store is None:
            # Recordings are off on this worker: nothing was stored, so nothing expires.
            activity.logger.info("recordings storage not configured; nothing to clean up")
            return DeleteExpiredOutput()
        expired = await self._records.expired_recordings(input.ended_before, input.limit)
        deleted: list[str] = []
        for call_id, key in expired:
            await self._store.delete(key)  # the object first: a cleared key is never retried
            await self._records.clear_recording(call_id, datetime.now(UTC).isoformat())
            deleted.append(call_id)
            activity.heartbeat(len(deleted))
        return DeleteExpiredOutput(deleted_call_ids=deleted, more=len(expired) >= input.limit)
