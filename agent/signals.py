"""Messages from the agent to the call workflow, sent without ever blocking the conversation.

`WorkflowSignals` is what the session code calls: each method only enqueues. A single background
task delivers in order, retrying with back-off; `drain()` waits (bounded) at the end of the job.
Event ids are deterministic per room (= call + attempt) and turn, so a resend is deduplicated by
the workflow. `TemporalWorkflowSignals` delivers through a Temporal client;
`InMemoryWorkflowSignals` keeps what was delivered, for tests that need no Temporal server.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from workflows.messages import (
    AgentReady,
    AgentReport,
    ParticipantEvent,
    RecordingFinished,
    SignalName,
    TranscriptTurnSignal,
)

logger = logging.getLogger("callflow.agent.signals")

SIGNAL_AGENT_READY = SignalName.AGENT_READY
SIGNAL_TRANSCRIPT_TURN = SignalName.TRANSCRIPT_TURN
SIGNAL_AGENT_REPORT = SignalName.AGENT_REPORT


def ready_event_id(room: str) -> str:
    return f"{room}:{SignalName.AGENT_READY}"


def turn_event_id(room: str, turn: int) -> str:
    return f"{room}:turn:{turn}"


def report_event_id(room: str) -> str:
    return f"{room}:{SignalName.AGENT_REPORT}"


def phone_seen_event_id(room: str, identity: str) -> str:
    return f"{room}:agent-saw:{identity}"


class WorkflowSignals(Protocol):
    def agent_ready(self, message: AgentReady) -> None: ...
    def transcript_turn(self, message: TranscriptTurnSignal) -> None: ...
    def agent_report(self, message: AgentReport) -> None: ...
    def recording_finished(self, message: RecordingFinished) -> None: ...
    def phone_seen(self, room: str, identity: str, at: float) -> None:
        """The agent sees the phone in the room: a second source of the answer, for when
        LiveKit's participant_joined webhook is lost."""
        ...

    async def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued is delivered (or given up); False on timeout."""
        ...


class PermanentSignalError(Exception):
    """Delivery cannot succeed by retrying (e.g. the workflow no longer exists)."""


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_s: float = 0.2
    max_delay_s: float = 5.0
    max_attempts: int = 10


@dataclass(frozen=True)
class Outgoing:
    name: str
    payload: Any


class BackgroundSignals(abc.ABC):
    """Queue + one delivery task; subclasses implement `_deliver`."""

    def __init__(self, *, retry: RetryPolicy | None = None) -> None:
        self._retry = retry or RetryPolicy()
        self._queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.failed: list[tuple[Outgoing, str]] = []

    @abc.abstractmethod
    async def _deliver(self, item: Outgoing) -> None:
        """Send one message; raise to have it retried."""

    def agent_ready(self, message: AgentReady) -> None:
        self._enqueue(Outgoing(SIGNAL_AGENT_READY, message))

    def transcript_turn(self, message: TranscriptTurnSignal) -> None:
        self._enqueue(Outgoing(SIGNAL_TRANSCRIPT_TURN, message))

    def agent_report(self, message: AgentReport) -> None:
        self._enqueue(Outgoing(SIGNAL_AGENT_REPORT, message))

    def recording_finished(self, message: RecordingFinished) -> None:
        self._enqueue(Outgoing(SignalName.RECORDING_FINISHED, message))

    def phone_seen(self, room: str, identity: str, at: float) -> None:
        # The webhook's own signal, with an event id of its own: the workflow applies the
        # first of the two and ignores nothing it needs from the other.
        event = ParticipantEvent(phone_seen_event_id(room, identity), room, identity, at=at)
        self._enqueue(Outgoing(SignalName.PARTICIPANT_JOINED, event))

    def _enqueue(self, item: Outgoing) -> None:
        self._queue.put_nowait(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="workflow-signals")

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._send_with_retry(item)
            finally:
                self._queue.task_done()

    async def _send_with_retry(self, item: Outgoing) -> None:
        delay = self._retry.first_delay_s
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                await self._deliver(item)
                return
            except asyncio.CancelledError:
                raise
            except PermanentSignalError as exc:
                self._give_up(item, str(exc))
                return
            except Exception as exc:
                if attempt == self._retry.max_attempts:
                    self._give_up(item, f"{type(exc).__name__}: {exc}")
                    return
                logger.warning(
                    "signal %s (%s) failed (attempt %d), retrying in %.1fs: %s",
                    item.name,
                    getattr(item.payload, "event_id", "?"),
                    attempt,
                    delay,
                    exc,
                )
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, self._retry.max_delay_s)

    def _give_up(self, item: Outgoing, reason: str) -> None:
        self.failed.append((item, reason))
        logger.error(
            "signal %s (%s) given up: %s", item.name, getattr(item.payload, "event_id", "?"), reason
        )

    async def drain(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._queue.join(), timeout_s)
            return True
        except TimeoutError:
            logger.error(
                "%d workflow signal(s) still undelivered after %.1fs",
                self._queue.qsize(),
                timeout_s,
            )
            return False

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class InMemoryWorkflowSignals(BackgroundSignals):
    """Keeps delivered signals in order; `fail_next` makes the next N deliveries raise."""

    def __init__(self, *, retry: RetryPolicy | None = None, fail_next: int = 0) -> None:
        super().__init__(retry=retry or RetryPolicy(first_delay_s=0.01, max_delay_s=0.05))
        self.fail_next = fail_next
        self.delivered: list[Outgoing] = []
        self.attempts = 0

    async def _deliver(self, item: Outgoing) -> None:
        self.attempts += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("simulated transient failure")
        self.delivered.append(item)

    def payloads(self, name: str) -> list[Any]:
        return [o.payload for o in self.delivered if o.name == name]


ClientFactory = Callable[[], Awaitable[Any]]


class TemporalWorkflowSignals(BackgroundSignals):
    """Signals one workflow through a Temporal client (connected lazily, in the background)."""

    def __init__(
        self,
        workflow_id: str,
        *,
        client: Any | None = None,
        connect: ClientFactory | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        super().__init__(retry=retry)
        if client is None and connect is None:
            raise ValueError("TemporalWorkflowSignals needs a client or a connect() factory")
        self._workflow_id = workflow_id
        self._client = client
        self._connect = connect

    @classmethod
    def from_settings(cls, workflow_id: str, settings: Any) -> TemporalWorkflowSignals:
        async def connect() -> Any:
            from callflow.temporal_client import connect_temporal

            return await connect_temporal(settings)

        return cls(workflow_id, connect=connect)

    async def _deliver(self, item: Outgoing) -> None:
        from temporalio.service import RPCError, RPCStatusCode

        if self._client is None:
            assert self._connect is not None
            self._client = await self._connect()
        handle = self._client.get_workflow_handle(self._workflow_id)
        try:
            await handle.signal(item.name, item.payload)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise PermanentSignalError(
                    f"workflow {self._workflow_id} is not running any more"
                ) from exc
            raise
