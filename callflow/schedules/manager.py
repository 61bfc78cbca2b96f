"""One Temporal Schedule per user, firing `CallWorkflow` ahead of each local call time.

The schedule id is `callflow-user-{user_id}`; each firing starts workflow
`call-sched-{user_id}-{nominal time}` (Temporal appends the time), so ids are deterministic and
a retried firing cannot start a second call. The intent is also saved through a
`ScheduleIntentStore` when one is given.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from callflow.call_inputs import call_input_from
from callflow.schedules.dst import SCHEDULE_MEMO_KEY, due_for_firing
from callflow.schedules.errors import (
    ScheduleAlreadyExists,
    ScheduleError,
    ScheduleInvalid,
    ScheduleNotFound,
    SchedulerUnavailable,
)
from callflow.schedules.intents import ScheduleIntentStore
from callflow.schedules.spec import TEMPORAL_DAY_NAME, CallSchedule
from callflow.settings import Settings
from workflows.messages import WORKFLOW_ID_PREFIX, WORKFLOW_TYPE, CallInput

SCHEDULE_ID_PREFIX = "callflow-user-"
DEFAULT_LEAD_S = 300.0
OPT_OUT_NOTE = "paused: the user opted out of calls"
RESUME_NOTE = "resumed"
MEMO_KEY = SCHEDULE_MEMO_KEY  # the workflow reads the local spec from it (dst.py)
_USER_ID = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")


def schedule_id_for(user_id: str) -> str:
    return f"{SCHEDULE_ID_PREFIX}{user_id}"


def workflow_id_base_for(user_id: str) -> str:
    """Temporal appends `-{nominal time, RFC 3339}` to this for each firing."""
    return f"{WORKFLOW_ID_PREFIX}sched-{user_id}"


def check_user_id(user_id: str) -> str:
    if not _USER_ID.match(user_id or ""):
        raise ScheduleInvalid(
            "user_id",
            f"user id {user_id!r} must be 1-128 letters, digits or _.@:+- (no spaces)",
        )
    return user_id


@dataclass
class ScheduleView:
    """What Temporal holds for one user's schedule, readable by people and JSON."""

    schedule_id: str
    user_id: str
    schedule: CallSchedule | None  # the intent, from the action's memo
    time_zone: str
    calendars: list[str]
    overlap: str
    jitter_s: float
    lead_s: float
    paused: bool
    note: str | None
    workflow_id_base: str
    next_fire_times: list[datetime] = field(default_factory=list)
    recent_workflow_ids: list[str] = field(default_factory=list)

    @property
    def next_call_times(self) -> list[datetime]:
        """When the next firings ring: each one's local call time (a duplicate firing of a
        repeated wall time rings nothing: dst.py)."""
        if self.schedule is None:
            return [t + timedelta(seconds=self.lead_s) for t in self.next_fire_times]
        s = self.schedule
        dues = (
            due_for_firing(t, s.timezone, s.times, s.days, self.lead_s, s.jitter_s)
            for t in self.next_fire_times
        )
        return [d for d in dues if d is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule_id": self.schedule_id,
            "user_id": self.user_id,
            "schedule": self.schedule.model_dump(mode="json") if self.schedule else None,
            "time_zone": self.time_zone,
            "calendars": self.calendars,
            "overlap": self.overlap,
            "jitter_s": self.jitter_s,
            "lead_s": self.lead_s,
            "paused": self.paused,
            "note": self.note,
            "workflow_id_base": self.workflow_id_base,
            "next_fire_times": [t.isoformat() for t in self.next_fire_times],
            "next_call_times": [t.isoformat() for t in self.next_call_times],
            "recent_workflow_ids": self.recent_workflow_ids,
        }


def describe_calendar(cal: ScheduleCalendarSpec) -> str:
    """`sun,mon 07:28:00` for a calendar spec of single values (the ones this package makes);
    `2027-03-14 01:57:00` for a dated daylight-saving calendar."""
    h, m, s = (cal.hour[0].start, cal.minute[0].start, cal.second[0].start)
    if cal.year:
        y, mo, d = (cal.year[0].start, cal.month[0].start, cal.day_of_month[0].start)
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{m:02d}:{s:02d}"
    days = ",".join(
        TEMPORAL_DAY_NAME[d]
        for r in cal.day_of_week
        for d in range(r.start, r.end + 1, r.step or 1)
    )
    return f"{days} {h:02d}:{m:02d}:{s:02d}"


class ScheduleManager:
    """Create, change, pause, resume, delete and read users' call schedules."""

    def __init__(
        self,
        client: Client,
        settings: Settings,
        records: ScheduleIntentStore | None = None,
        *,
        lead_s: float = DEFAULT_LEAD_S,
        input_template: CallInput | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self._records = records
        self._lead_s = lead_s
        self._template = input_template

    @property
    def lead_s(self) -> float:
        return self._lead_s

    # --- writes --------------------------------------------------------------------------

    async def create(self, user_id: str, schedule: CallSchedule) -> ScheduleView:
        check_user_id(user_id)
        built = self._build(user_id, schedule)
        try:
            await self._client.create_schedule(schedule_id_for(user_id), built)
        except ScheduleAlreadyRunningError:
            raise ScheduleAlreadyExists(user_id) from None
        except RPCError as exc:
            raise _translate(exc, user_id) from exc
        if self._records is not None:
            await self._records.save_schedule(user_id, schedule)
        return await self.describe(user_id)

    async def update(self, user_id: str, schedule: CallSchedule) -> ScheduleView:
        check_user_id(user_id)
        built = self._build(user_id, schedule)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=built)

        await self._call(user_id, lambda h: h.update(replace))
        if self._records is not None:
            await self._records.save_schedule(user_id, schedule)
        return await self.describe(user_id)

    async def put(self, user_id: str, schedule: CallSchedule) -> tuple[ScheduleView, bool]:
        """Create or replace; the flag says whether the schedule was created."""
        try:
            return await self.create(user_id, schedule), True
        except ScheduleAlreadyExists:
            return await self.update(user_id, schedule), False

    async def pause(self, user_id: str, note: str = OPT_OUT_NOTE) -> ScheduleView:
        check_user_id(user_id)
        await self._call(user_id, lambda h: h.pause(note=note))
        if self._records is not None:
            await self._records.set_schedule_paused(user_id, True)
        return await self.describe(user_id)

    async def resume(self, user_id: str, note: str = RESUME_NOTE) -> ScheduleView:
        check_user_id(user_id)
        await self._call(user_id, lambda h: h.unpause(note=note))
        if self._records is not None:
            await self._records.set_schedule_paused(user_id, False)
        return await self.describe(user_id)

    async def delete(self, user_id: str) -> None:
        check_user_id(user_id)
        await self._call(user_id, lambda h: h.delete())
        if self._records is not None:
            await self._records.delete_schedule(user_id)

    async def trigger(self, user_id: str) -> None:
        """Fire now (the operator's "call me now with my schedule's settings")."""
        check_user_id(user_id)
        await self._call(user_id, lambda h: h.trigger())

    # --- reads ---------------------------------------------------------------------------

    async def describe(self, user_id: str) -> ScheduleView:
        check_user_id(user_id)
        description = await self._call(user_id, lambda h: h.describe())
        return await self._view(user_id, description)

    async def list(self) -> list[ScheduleView]:
        """Every callflow user schedule (Temporal's schedule list is eventually consistent)."""
        user_ids: list[str] = []
        try:
            async for entry in await self._client.list_schedules():
                if entry.id.startswith(SCHEDULE_ID_PREFIX):
                    user_ids.append(entry.id[len(SCHEDULE_ID_PREFIX) :])
        except RPCError as exc:
            raise _translate(exc, "*") from exc
        views = []
        for user_id in sorted(user_ids):
            try:
                views.append(await self.describe(user_id))
            except ScheduleNotFound:
                continue  # deleted since the (eventually consistent) list was read
        return views

    async def matching_times(
        self, user_id: str, start: datetime, end: datetime
    ) -> builtins.list[datetime]:
        """The firing times Temporal computes in [start, end), paused or not."""
        check_user_id(user_id)
        start_ts, end_ts = Timestamp(), Timestamp()
        start_ts.FromDatetime(start.astimezone(UTC))
        end_ts.FromDatetime(end.astimezone(UTC))
        request = ListScheduleMatchingTimesRequest(
            namespace=self._client.namespace,
            schedule_id=schedule_id_for(user_id),
            start_time=start_ts,
            end_time=end_ts,
        )
        try:
            response = await self._client.workflow_service.list_schedule_matching_times(request)
        except RPCError as exc:
            raise _translate(exc, user_id) from exc
        return [t.ToDatetime(tzinfo=UTC) for t in response.start_time]

    # --- helpers -------------------------------------------------------------------------

    def call_input(self, user_id: str, schedule: CallSchedule | None = None) -> CallInput:
        """The input every firing passes to `CallWorkflow` (call id derived from workflow id),
        with the schedule's quiet hours (checked at every ring) and days (the next call date
        is a new commitment's default due date)."""
        s = self._settings
        base = self._template or call_input_from(s, call_id="", user_id=user_id, reason="scheduled")
        return dataclasses.replace(
            base,
            call_id="",
            user_id=user_id,
            reason="scheduled",
            ring_lead_s=self._lead_s,
            quiet_hours=str(schedule.quiet_hours) if schedule and schedule.quiet_hours else None,
            call_days=[str(d) for d in schedule.days] if schedule else [],
        )

    def _build(self, user_id: str, schedule: CallSchedule) -> Schedule:
        if schedule.jitter_s and schedule.jitter_s >= self._lead_s:
            raise ScheduleInvalid(
                "jitter_s",
                f"jitter {schedule.jitter_s}s must be shorter than the {self._lead_s:.0f}s the "
                "schedule fires ahead of the call, or the call would ring late: lower it",
            )
        action = ScheduleActionStartWorkflow(
            WORKFLOW_TYPE,
            self.call_input(user_id, schedule),
            id=workflow_id_base_for(user_id),
            task_queue=self._settings.task_queue,
            memo={MEMO_KEY: schedule.model_dump(mode="json")},
        )
        return Schedule(
            action=action,
            spec=schedule.to_temporal_spec(self._lead_s),
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP,
                # After an outage, a call whose preparation window has passed is missed, not
                # rung hours late.
                catchup_window=timedelta(seconds=max(60.0, self._lead_s)),
            ),
            state=ScheduleState(
                paused=schedule.paused, note=OPT_OUT_NOTE if schedule.paused else None
            ),
        )

    async def _call(self, user_id: str, operation: Any) -> Any:
        handle: ScheduleHandle = self._client.get_schedule_handle(schedule_id_for(user_id))
        try:
            return await operation(handle)
        except RPCError as exc:
            raise _translate(exc, user_id) from exc

    async def _view(self, user_id: str, d: ScheduleDescription) -> ScheduleView:
        spec = d.schedule.spec
        action = d.schedule.action
        intent = None
        if isinstance(action, ScheduleActionStartWorkflow) and action.memo:
            payload = action.memo.get(MEMO_KEY)
            if payload is not None:
                intent = CallSchedule.parse(await self._decode(payload, None))
        recent = [getattr(r.action, "workflow_id", "") for r in d.info.recent_actions]
        return ScheduleView(
            schedule_id=d.id,
            user_id=user_id,
            schedule=intent,
            time_zone=spec.time_zone_name or "UTC",
            calendars=[describe_calendar(c) for c in spec.calendars],
            overlap=ScheduleOverlapPolicy(d.schedule.policy.overlap).name,
            jitter_s=spec.jitter.total_seconds() if spec.jitter else 0.0,
            lead_s=await self._lead_of(action),
            paused=d.schedule.state.paused,
            note=d.schedule.state.note,
            workflow_id_base=getattr(action, "id", ""),
            next_fire_times=list(d.info.next_action_times),
            recent_workflow_ids=[w for w in recent if w],
        )

    async def _lead_of(self, action: Any) -> float:
        args: Sequence[Any] = getattr(action, "args", ())
        if args:
            try:
                value = await self._decode(args[0], CallInput)
                return float(value.ring_lead_s)
            except (TypeError, ValueError, KeyError, AttributeError):
                # An input written by an older shape of CallInput: fall back to ours.
                return self._lead_s
        return self._lead_s

    async def _decode(self, payload: Any, type_hint: Any) -> Any:
        # Schedule descriptions come back as stored: decode (decrypt, with the codec on)
        # before converting, exactly as the workflow's own inputs are.
        (value,) = await self._client.data_converter.decode(
            [payload], [type_hint] if type_hint is not None else None
        )
        return value


def _translate(exc: RPCError, user_id: str) -> ScheduleError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return ScheduleNotFound(user_id)
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        return ScheduleInvalid("schedule", f"Temporal rejected the schedule: {exc.message}")
    return SchedulerUnavailable(f"Temporal schedule request failed ({exc.status.name}): {exc}")
