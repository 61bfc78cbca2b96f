"""A stand-in registered as "CallWorkflow" with the real workflow's message names and types.

It records every signal it receives (no dedupe, so the service's own dedupe is observable),
answers `status`, and validates `cancel` the way a finished call refuses it. It stays open after
an outcome until the test-only `finish` signal, so "refused by the validator" (running, already
decided) and "workflow closed" can both be tested.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.messages import (
        CALL_OUTCOME,
        CallInput,
        CallStatus,
        CancelAccepted,
        CancelRequest,
        Declined,
        ParticipantEvent,
        RoomFinished,
        Stage,
        StageMark,
    )


@dataclasses.dataclass
class Received:
    """What the workflow got, in order; returned by the `received_messages` query."""

    call_input: CallInput | None = None
    signals: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cancel_requests: list[CancelRequest] = dataclasses.field(default_factory=list)


@workflow.defn(name="CallWorkflow")
class RecordingCallWorkflow:
    # @workflow.init: an update or signal delivered with the start runs its handler before
    # `run` begins, so the input must be in place from construction.
    @workflow.init
    def __init__(self, call_input: CallInput) -> None:
        self.received = Received(call_input=call_input)
        self.stage = Stage.AWAITING_JOIN
        self.outcome: str | None = None
        self.room: str | None = None
        self.phone_joined = False
        self.finish_requested = False

    @workflow.run
    async def run(self, call_input: CallInput) -> str:
        await workflow.wait_condition(lambda: self.finish_requested)
        if self.outcome is not None:
            # As CallWorkflow does: the outcome is what operators and the API report.
            workflow.upsert_search_attributes([CALL_OUTCOME.value_set(self.outcome)])
        return self.outcome or "completed"

    def _record(self, name: str, message: object) -> None:
        assert dataclasses.is_dataclass(message) and not isinstance(message, type)
        self.received.signals.append({"signal": name, **dataclasses.asdict(message)})

    def _decide(self, outcome: str) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.stage = Stage.DONE

    @workflow.signal
    def participant_joined(self, event: ParticipantEvent) -> None:
        self._record("participant_joined", event)
        self.room = event.room
        if event.kind == "standard":
            self.phone_joined = True
            self.stage = Stage.IN_CALL

    @workflow.signal
    def participant_left(self, event: ParticipantEvent) -> None:
        self._record("participant_left", event)

    @workflow.signal
    def room_finished(self, event: RoomFinished) -> None:
        self._record("room_finished", event)
        self._decide("completed")

    @workflow.signal
    def declined(self, event: Declined) -> None:
        self._record("declined", event)
        self._decide("declined")

    @workflow.signal
    def finish(self) -> None:
        self.finish_requested = True

    @workflow.update
    def cancel(self, request: CancelRequest) -> CancelAccepted:
        self.received.cancel_requests.append(request)
        stage = self.stage
        self._decide("cancelled")
        assert self.received.call_input is not None
        return CancelAccepted(call_id=self.received.call_input.call_id, stage=stage)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self.outcome is not None:
            raise ValueError(f"call already ended with outcome {self.outcome}")

    @workflow.query
    def status(self) -> CallStatus:
        call_input = self.received.call_input
        return CallStatus(
            call_id=call_input.call_id if call_input else "",
            user_id=call_input.user_id if call_input else "",
            stage=self.stage,
            attempt=1,
            outcome=self.outcome,
            stages=[StageMark(stage=self.stage, at=workflow.now().isoformat())],
            room=self.room,
            phone_joined=self.phone_joined,
            memory_degraded=False,
            transcript_turns=0,
        )

    @workflow.query
    def received_messages(self) -> Received:
        return self.received
