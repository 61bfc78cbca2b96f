"""Recurring calls as Temporal Schedules, one per user."""

from callflow.schedules.errors import (
    IntentStoreError,
    ScheduleAlreadyExists,
    ScheduleError,
    ScheduleInvalid,
    ScheduleNotFound,
    SchedulerUnavailable,
)
from callflow.schedules.manager import (
    DEFAULT_LEAD_S,
    ScheduleManager,
    ScheduleView,
    schedule_id_for,
    workflow_id_base_for,
)
from callflow.schedules.spec import CallSchedule, QuietHours

__all__ = [
    "DEFAULT_LEAD_S",
    "CallSchedule",
    "IntentStoreError",
    "QuietHours",
    "ScheduleAlreadyExists",
    "ScheduleError",
    "ScheduleInvalid",
    "ScheduleManager",
    "ScheduleNotFound",
    "ScheduleView",
    "SchedulerUnavailable",
    "schedule_id_for",
    "workflow_id_base_for",
]
