"""The Temporal Schedule that deletes recordings past the retention period.

One Schedule, `recording-cleanup`, runs `RecordingCleanupWorkflow` every day at 03:17 UTC
(off the hour, away from other jobs) with `CALLFLOW_RECORDING_RETENTION_DAYS`. Every worker
ensures it at start: created when missing, updated when the retention changed.
"""

from __future__ import annotations

import logging

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from callflow.settings import Settings
from workflows.recording_cleanup import (
    RECORDING_CLEANUP_WORKFLOW,
    RecordingCleanupInput,
)

log = logging.getLogger("callflow.recordings.retention")

CLEANUP_SCHEDULE_ID = "recording-cleanup"
CLEANUP_WORKFLOW_ID = "recording-cleanup"  # the Schedule appends the firing time
CLEANUP_AT = (3, 17)  # UTC hour, minute


def cleanup_schedule(settings: Settings) -> Schedule:
    hour, minute = CLEANUP_AT
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RECORDING_CLEANUP_WORKFLOW,
            RecordingCleanupInput(retention_days=settings.recording_retention_days),
            id=CLEANUP_WORKFLOW_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_cleanup_schedule(client: Client, settings: Settings) -> ScheduleHandle:
    """Create the cleanup Schedule, or bring an existing one to the current settings."""
    schedule = cleanup_schedule(settings)
    try:
        handle = await client.create_schedule(CLEANUP_SCHEDULE_ID, schedule)
        log.info(
            "created schedule %s: recordings older than %d days deleted daily",
            CLEANUP_SCHEDULE_ID,
            settings.recording_retention_days,
        )
        return handle
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(CLEANUP_SCHEDULE_ID)

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(update)
        return handle
