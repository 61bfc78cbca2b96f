"""A finished call is described by its outcome, not by Temporal's execution status (issue 13,
item 7): a cancelled call's workflow is `completed` in Temporal, the call is `cancelled`."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowExecutionStatus

from callflow.service.workflow_gateway import ended_phrase
from tests.service.conftest import Stack
from tests.service.helpers import finish, start_call


async def test_a_cancelled_call_is_reported_as_cancelled(stack: Stack) -> None:
    call_id = await start_call(stack)
    cancelled = await stack.http.post(f"/calls/{call_id}/cancel", json={"reason": "user asked"})
    assert cancelled.status_code == 200, cancelled.text
    await finish(stack, call_id)

    again = await stack.http.post(f"/calls/{call_id}/cancel", json={"reason": "once more"})
    decline = await stack.http.post(f"/calls/{call_id}/decline")

    for response in (again, decline):
        assert response.status_code == 409, response.text
        message = response.json()["error"]["message"]
        assert message == f"call {call_id} has already ended with outcome cancelled"


@pytest.mark.parametrize(
    ("outcome", "status", "phrase"),
    [
        ("missed", WorkflowExecutionStatus.COMPLETED, "has already ended with outcome missed"),
        (None, WorkflowExecutionStatus.TERMINATED, "was stopped before it had an outcome"),
        (None, WorkflowExecutionStatus.FAILED, "ended without an outcome: its workflow failed"),
        (None, WorkflowExecutionStatus.COMPLETED, "has already ended"),
    ],
)
def test_phrases_never_name_the_execution_status_as_the_result(
    outcome: str | None, status: WorkflowExecutionStatus, phrase: str
) -> None:
    assert ended_phrase(outcome, status).startswith(phrase)
    assert "(completed)" not in ended_phrase(outcome, status)
