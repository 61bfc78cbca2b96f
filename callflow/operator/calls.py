"""Reading calls from Temporal: lists over visibility, one call's status, stuck calls.

`stuck`: visibility cannot hold "when did this stage start", so the candidates are running
calls that started more than the threshold ago (`stuck_candidates_query`), and each
candidate's `status` query supplies the start of its current stage (its last StageMark).
A call whose status query fails (no worker) is reported stuck with its start time as the age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from callflow.operator.errors import CallNotFound, VisibilityUnavailable
from callflow.operator.queries import stuck_candidates_query
from workflows.messages import (
    CALL_ATTEMPT,
    CALL_OUTCOME,
    CALL_STAGE,
    CALL_USER_ID,
    FINAL_STAGES,
    STATUS_QUERY,
    WORKFLOW_ID_PREFIX,
    CallStatus,
    Stage,
    workflow_id_for,
)

QUERY_TIMEOUT = timedelta(seconds=5)


@dataclass
class CallRow:
    workflow_id: str
    call_id: str
    status: str  # Temporal's execution status: RUNNING, COMPLETED, ... (never shown as the
    # call's result: see `state`)
    stage: str | None
    user_id: str | None
    attempt: int | None
    outcome: str | None
    started_at: datetime | None
    closed_at: datetime | None

    @property
    def state(self) -> str:
        """What operators read first: `running`, else the call's outcome (`cancelled`,
        `missed`, ...). Temporal's status says `completed` for every outcome, so it is shown
        only for an execution that closed without one (`terminated`, `failed`, ...)."""
        if self.status == "RUNNING":
            return "running"
        if self.outcome:
            return self.outcome
        return f"ended without an outcome ({self.status.lower()})"


@dataclass
class CallDetail:
    row: CallRow
    status: CallStatus | None
    query_error: str | None = None


@dataclass
class StuckCall:
    row: CallRow
    stage_since: datetime
    age: timedelta
    stage_age_known: bool


def call_id_of(workflow_id: str) -> str:
    if workflow_id.startswith(WORKFLOW_ID_PREFIX):
        return workflow_id[len(WORKFLOW_ID_PREFIX) :]
    return workflow_id


def _row(wf: WorkflowExecution) -> CallRow:
    sa = wf.typed_search_attributes
    status = wf.status.name if isinstance(wf.status, WorkflowExecutionStatus) else "UNKNOWN"
    return CallRow(
        workflow_id=wf.id,
        call_id=call_id_of(wf.id),
        status=status,
        stage=sa.get(CALL_STAGE),
        user_id=sa.get(CALL_USER_ID),
        attempt=sa.get(CALL_ATTEMPT),
        outcome=sa.get(CALL_OUTCOME),
        started_at=wf.start_time,
        closed_at=wf.close_time,
    )


async def list_calls(client: Client, query: str, limit: int = 50) -> list[CallRow]:
    try:
        return [_row(wf) async for wf in client.list_workflows(query, limit=limit)]
    except RPCError as exc:
        raise VisibilityUnavailable(f"listing calls failed ({exc.status.name}): {exc}") from exc


async def _query_status(client: Client, workflow_id: str) -> tuple[CallStatus | None, str | None]:
    handle = client.get_workflow_handle(workflow_id)
    try:
        status = await handle.query(STATUS_QUERY, result_type=CallStatus, rpc_timeout=QUERY_TIMEOUT)
    except Exception as exc:  # no worker, old code without the query, or a timeout
        return None, f"{type(exc).__name__}: {exc}"
    return status, None


async def call_status(client: Client, call_id: str) -> CallDetail:
    """One call by id (or by workflow id): visibility row plus the live `status` query."""
    workflow_id = call_id if call_id.startswith(WORKFLOW_ID_PREFIX) else workflow_id_for(call_id)
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CallNotFound(call_id) from None
        raise VisibilityUnavailable(f"describing {workflow_id} failed: {exc}") from exc
    status, error = await _query_status(client, workflow_id)
    return CallDetail(row=_row(description), status=status, query_error=error)


def _parse_iso(at: str) -> datetime:
    parsed = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def stuck_calls(
    client: Client, older_than: timedelta, *, now: datetime | None = None, limit: int = 200
) -> list[StuckCall]:
    now = now or datetime.now(UTC)
    cutoff = now - older_than
    stuck: list[StuckCall] = []
    for row in await list_calls(client, stuck_candidates_query(cutoff), limit=limit):
        if row.stage in FINAL_STAGES:
            continue
        status, _ = await _query_status(client, row.workflow_id)
        if status is not None and status.stages:
            if status.stage in FINAL_STAGES:
                continue
            since, known = _parse_iso(status.stages[-1].at), True
            if status.stage == Stage.WAITING_DUE and status.due_at:
                # Waiting for its due time is its job: it is late only once the due time passed.
                since = max(since, _parse_iso(status.due_at))
        else:
            since, known = row.started_at or cutoff, False
        if since < cutoff:
            if status is not None:
                row.stage = status.stage
            stuck.append(
                StuckCall(row=row, stage_since=since, age=now - since, stage_age_known=known)
            )
    return sorted(stuck, key=lambda s: s.stage_since)
