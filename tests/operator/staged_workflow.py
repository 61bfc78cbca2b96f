"""A stand-in `CallWorkflow` that upserts the call search attributes, sits in a stage, answers
the `status` query like the real one, and moves on when signalled."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.messages import (
        CALL_ATTEMPT,
        CALL_OUTCOME,
        CALL_STAGE,
        CALL_USER_ID,
        CallStatus,
        Stage,
        StageMark,
    )


@dataclass
class StagedCall:
    call_id: str
    user_id: str
    stage: str
    due_at: str | None = None


@workflow.defn(name="CallWorkflow")
class StagedCallWorkflow:
    def __init__(self) -> None:
        self._marks: list[StageMark] = []
        self._call: StagedCall | None = None
        self._finish = False

    def _enter(self, stage: str) -> None:
        self._marks.append(StageMark(stage=stage, at=workflow.now().isoformat()))
        workflow.upsert_search_attributes([CALL_STAGE.value_set(stage)])

    @workflow.run
    async def run(self, call: StagedCall) -> str:
        self._call = call
        workflow.upsert_search_attributes(
            [CALL_USER_ID.value_set(call.user_id), CALL_ATTEMPT.value_set(1)]
        )
        self._enter(call.stage)
        await workflow.wait_condition(lambda: self._finish)
        workflow.upsert_search_attributes([CALL_OUTCOME.value_set("completed")])
        self._enter(Stage.DONE)
        return "completed"

    @workflow.signal
    def advance(self, stage: str) -> None:
        self._enter(stage)

    @workflow.signal
    def finish(self) -> None:
        self._finish = True

    @workflow.query
    def status(self) -> CallStatus:
        assert self._call is not None
        return CallStatus(
            call_id=self._call.call_id,
            user_id=self._call.user_id,
            stage=self._marks[-1].stage,
            attempt=1,
            outcome="completed" if self._marks[-1].stage == Stage.DONE else None,
            stages=list(self._marks),
            room=None,
            phone_joined=False,
            memory_degraded=False,
            transcript_turns=0,
            due_at=self._call.due_at,
        )
