"""`RecordingCleanupWorkflow`: deletes the recordings older than the retention period.

Started by the Temporal Schedule `recording-cleanup` (callflow/recordings/retention.py) once a
day; each run deletes batch after batch until none is left. Orchestration only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.recordings import DeleteExpiredInput, RecordingActivities

RECORDING_CLEANUP_WORKFLOW = "RecordingCleanupWorkflow"
# Enough for a day's recordings of a large user base in one run, bounded so a run ends.
MAX_BATCHES = 1000


@dataclass
class RecordingCleanupInput:
    retention_days: int
    batch_size: int = 100


@dataclass
class RecordingCleanupResult:
    ended_before: str
    deleted_call_ids: list[str] = field(default_factory=list)


@workflow.defn(name=RECORDING_CLEANUP_WORKFLOW)
class RecordingCleanupWorkflow:
    @workflow.run
    async def run(self, input: RecordingCleanupInput) -> RecordingCleanupResult:
        cutoff = (workflow.now() - timedelta(days=input.retention_days)).isoformat()
        result = RecordingCleanupResult(ended_before=cutoff)
        for _ in range(MAX_BATCHES):
            batch = await workflow.execute_activity_method(
                RecordingActivities.delete_expired_recordings,
                DeleteExpiredInput(ended_before=cutoff, limit=input.batch_size),
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            result.deleted_call_ids.extend(batch.deleted_call_ids)
            if not batch.more:
                break
        return result
