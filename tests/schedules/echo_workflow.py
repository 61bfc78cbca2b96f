"""A stand-in `CallWorkflow` for schedule tests: returns what the schedule started it with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from workflows.messages import CallInput

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@dataclass
class Echo:
    workflow_id: str
    input: CallInput
    scheduled_start: datetime | None


@workflow.defn(name="CallWorkflow")
class EchoCallWorkflow:
    @workflow.run
    async def run(self, call: CallInput) -> Echo:
        return Echo(
            workflow_id=workflow.info().workflow_id,
            input=call,
            scheduled_start=workflow.info().typed_search_attributes.get(SCHEDULED_START),
        )
