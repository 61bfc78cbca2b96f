"""The service's only door to Temporal: start, signal, query and update `CallWorkflow` by name.

Handles are untyped (workflow type and handler names as strings) so the service does not import
the workflow module. Every call runs under a time budget because the SDK retries an unreachable
server for about 10 s regardless of `rpc_timeout`; a webhook must fail fast (503) so LiveKit
retries instead of timing out. Temporal exceptions become `callflow.service.errors` here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from callflow.service.errors import (
    CallConflict,
    CallNotFound,
    TemporalTimeout,
    TemporalUnavailable,
    UpstreamError,
)
from workflows.messages import (
    CALL_OUTCOME,
    CANCEL_UPDATE,
    STATUS_QUERY,
    WORKFLOW_TYPE,
    CallInput,
    CallStatus,
    CancelAccepted,
    CancelRequest,
    workflow_id_for,
)

log = logging.getLogger(__name__)

ClientFactory = Callable[[], Awaitable[Client]]


class CallWorkflows:
    """Starts and talks to `CallWorkflow` executions, translating Temporal's errors."""

    def __init__(
        self,
        client: Client | ClientFactory,
        *,
        task_queue: str,
        budget_s: float = 5.0,
    ) -> None:
        self._client = client if isinstance(client, Client) else None
        self._factory = None if isinstance(client, Client) else client
        self._connect_lock = asyncio.Lock()
        self.task_queue = task_queue
        self.budget_s = budget_s

    @property
    def namespace(self) -> str | None:
        return self._client.namespace if self._client else None

    async def client(self) -> Client:
        """The Temporal client, connected on first use when built from a factory."""
        if self._client is not None:
            return self._client
        assert self._factory is not None
        async with self._connect_lock:
            if self._client is None:
                async with self._budget("connecting to Temporal"):
                    try:
                        self._client = await self._factory()
                    except (OSError, RuntimeError, RPCError) as e:
                        raise TemporalUnavailable(f"cannot connect to Temporal: {e}") from e
        return self._client

    async def start(self, call_input: CallInput) -> bool:
        """Start the call's workflow; False when one with this id already exists (any state).

        REJECT_DUPLICATE keeps a finished call from being started again by a retried request
        that reuses the idempotency key.
        """
        client = await self.client()
        async with self._budget("starting the call workflow"):
            try:
                await client.start_workflow(
                    WORKFLOW_TYPE,
                    call_input,
                    id=workflow_id_for(call_input.call_id),
                    task_queue=self.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )
            except WorkflowAlreadyStartedError:
                return False
        return True

    async def signal(self, call_id: str, name: str, arg: Any) -> None:
        """Signal the call; CallNotFound for unknown calls, CallConflict for finished ones."""
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id_for(call_id))
        async with self._budget(f"signalling {name}"):
            try:
                await handle.signal(name, arg)
            except RPCError as e:
                if e.status == RPCStatusCode.NOT_FOUND:
                    await self._raise_not_found_or_finished(call_id)
                raise

    async def status(self, call_id: str) -> CallStatus:
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id_for(call_id))
        async with self._budget("querying status"):
            try:
                result: CallStatus = await handle.query(STATUS_QUERY, result_type=CallStatus)
            except WorkflowQueryRejectedError as e:
                raise CallConflict(f"call {call_id} rejected the status query: {e}") from e
            except WorkflowQueryFailedError as e:
                raise UpstreamError(f"status query of call {call_id} failed: {e.message}") from e
            except RPCError as e:
                if e.status == RPCStatusCode.NOT_FOUND:
                    await self._raise_not_found_or_finished(call_id)
                raise
        return result

    async def cancel(self, call_id: str, request: CancelRequest) -> CancelAccepted:
        """Run the `cancel` update; CallConflict when the workflow's validator refuses it."""
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id_for(call_id))
        async with self._budget("cancelling the call"):
            try:
                result: CancelAccepted = await handle.execute_update(
                    CANCEL_UPDATE, request, result_type=CancelAccepted
                )
            except WorkflowUpdateFailedError as e:
                cause = e.cause
                reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
                raise CallConflict(f"call {call_id} refused to cancel: {reason}") from e
            except RPCError as e:
                if e.status == RPCStatusCode.NOT_FOUND:
                    await self._raise_not_found_or_finished(call_id)
                raise
        return result

    async def _raise_not_found_or_finished(self, call_id: str) -> None:
        """Temporal says NOT_FOUND for both unknown and closed executions: tell them apart."""
        client = await self.client()
        try:
            description = await client.get_workflow_handle(workflow_id_for(call_id)).describe()
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise CallNotFound(
                    f"no call with id {call_id!r}: check the call_id returned by POST /calls"
                ) from None
            raise
        if description.status != WorkflowExecutionStatus.RUNNING:
            outcome = description.typed_search_attributes.get(CALL_OUTCOME)
            raise CallConflict(f"call {call_id} {ended_phrase(outcome, description.status)}")

    @asynccontextmanager
    async def _budget(self, what: str) -> AsyncIterator[None]:
        """Bound a Temporal call in time and translate transport failures."""
        late = TemporalUnavailable(
            f"Temporal did not answer within {self.budget_s:g}s while {what} (server down or "
            "overloaded, or no worker polling the task queue)"
        )
        try:
            async with asyncio.timeout(self.budget_s):
                yield
        except TimeoutError as e:
            raise late from e
        except RPCTimeoutOrCancelledError as e:
            # The SDK turns the budget's cancellation of an update into this error.
            raise late from e
        except RPCError as e:
            raise _translate_rpc_error(e, what) from e
        except RuntimeError as e:
            # A lazily connected client raises RuntimeError("Failed client connect: ...").
            if "connect" in str(e).lower():
                raise TemporalUnavailable(f"cannot reach Temporal while {what}: {e}") from e
            raise


# What a closed execution without a recorded outcome means for the call.
_ENDED_WITHOUT_OUTCOME = {
    WorkflowExecutionStatus.FAILED: "ended without an outcome: its workflow failed",
    WorkflowExecutionStatus.TERMINATED: "was stopped before it had an outcome (its workflow "
    "was terminated in Temporal)",
    WorkflowExecutionStatus.CANCELED: "was stopped before it had an outcome (its workflow was "
    "cancelled in Temporal)",
    WorkflowExecutionStatus.TIMED_OUT: "ended without an outcome: its workflow timed out",
}


def ended_phrase(outcome: str | None, status: WorkflowExecutionStatus | None) -> str:
    """How a finished call is described: by the call's outcome (`cancelled`, `missed`, ...),
    never by Temporal's execution status, which says `completed` for every outcome."""
    if outcome:
        return f"has already ended with outcome {outcome}"
    if status in _ENDED_WITHOUT_OUTCOME:
        return _ENDED_WITHOUT_OUTCOME[status]
    return "has already ended"


def _translate_rpc_error(e: RPCError, what: str) -> UpstreamError:
    if e.status == RPCStatusCode.UNAVAILABLE:
        return TemporalUnavailable(f"Temporal is unavailable while {what}: {e.message}")
    if e.status == RPCStatusCode.DEADLINE_EXCEEDED:
        return TemporalTimeout(f"Temporal timed out while {what}: {e.message}")
    return UpstreamError(f"Temporal failed while {what}: {e.status.name} {e.message}")
