"""The call API: start (idempotent), status, decline, cancel, against real Temporal + Postgres."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from temporalio.client import WorkflowExecutionStatus

from callflow.models import CallRecord, TranscriptTurn
from tests.service.conftest import KNOWN_USER, TASK_QUEUE, Stack
from tests.service.helpers import finish, received, start_call
from workflows.messages import workflow_id_for


async def test_start_creates_the_workflow_with_timings_from_settings(stack: Stack) -> None:
    response = await stack.http.post(
        "/calls", json={"user_id": KNOWN_USER, "idempotency_key": uuid.uuid4().hex}
    )

    assert response.status_code == 201, response.text
    answer = response.json()
    call_id = answer["call_id"]
    workflow_id = workflow_id_for(call_id)
    assert answer == {
        "call_id": call_id,
        "workflow_id": workflow_id,
        "temporal_ui_url": f"{stack.temporal.ui_url}/namespaces/default/workflows/{workflow_id}",
    }
    handle = stack.client.get_workflow_handle(workflow_id)
    description = await handle.describe()
    assert description.workflow_type == "CallWorkflow"
    assert description.task_queue == TASK_QUEUE
    call_input = (await received(stack, call_id)).call_input
    assert call_input is not None
    assert (call_input.call_id, call_input.user_id, call_input.reason) == (
        call_id,
        KNOWN_USER,
        "on_demand",
    )
    assert call_input.caller_name == "Test Coach"
    timings = call_input.timings
    assert (timings.join_timeout_s, timings.max_attempts, timings.retry_backoff_s) == (
        12.5,
        2,
        [7.0],
    )
    assert timings.memory_budget_ms == stack.settings.memory_budget_ms


async def test_same_idempotency_key_returns_the_same_call_with_200(stack: Stack) -> None:
    key = uuid.uuid4().hex
    first = await stack.http.post("/calls", json={"user_id": KNOWN_USER, "idempotency_key": key})
    again = await stack.http.post("/calls", json={"user_id": KNOWN_USER, "idempotency_key": key})
    header = await stack.http.post(
        "/calls", json={"user_id": KNOWN_USER}, headers={"Idempotency-Key": key}
    )

    assert (first.status_code, again.status_code, header.status_code) == (201, 200, 200)
    assert first.json() == again.json() == header.json()


async def test_same_key_after_the_call_finished_still_returns_it(stack: Stack) -> None:
    key = uuid.uuid4().hex
    call_id = await start_call(stack, key=key)
    await finish(stack, call_id)

    again = await stack.http.post("/calls", json={"user_id": KNOWN_USER, "idempotency_key": key})

    assert again.status_code == 200
    assert again.json()["call_id"] == call_id
    described = await stack.client.get_workflow_handle(workflow_id_for(call_id)).describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED  # not started a second time


async def test_without_a_key_each_request_is_a_new_call(stack: Stack) -> None:
    one = await stack.http.post("/calls", json={"user_id": KNOWN_USER})
    two = await stack.http.post("/calls", json={"user_id": KNOWN_USER})

    assert one.status_code == two.status_code == 201
    assert one.json()["call_id"] != two.json()["call_id"]


async def test_unknown_user_is_404(stack: Stack) -> None:
    response = await stack.http.post("/calls", json={"user_id": "user-nobody"})

    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("user_not_found", "user_id")


async def test_missing_user_id_is_422_naming_the_field(stack: Stack) -> None:
    response = await stack.http.post("/calls", json={"reason": "on_demand"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["field"] == "user_id"
    assert "`user_id` is required" in error["message"]


async def test_bad_fields_are_422_and_bad_json_is_400(stack: Stack) -> None:
    cases = [
        ({"user_id": 42}, "user_id"),
        ({"user_id": "  "}, "user_id"),
        ({"user_id": KNOWN_USER, "reason": "scheduled"}, "reason"),
        ({"user_id": KNOWN_USER, "idempotency_key": ["k"]}, "idempotency_key"),
        ({"user_id": KNOWN_USER, "idempotency_key": "k" * 201}, "idempotency_key"),
    ]
    for body, field in cases:
        response = await stack.http.post("/calls", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field

    for raw in (b"{not json", b"[1, 2]", b""):
        response = await stack.http.post("/calls", content=raw)
        assert response.status_code == 400, raw
        assert response.json()["error"]["code"] == "malformed_body"


async def test_status_returns_the_workflow_query_as_json(stack: Stack) -> None:
    call_id = await start_call(stack)

    response = await stack.http.get(f"/calls/{call_id}")

    assert response.status_code == 200
    status = response.json()
    assert status["call_id"] == call_id
    assert status["user_id"] == KNOWN_USER
    assert status["stage"] == "awaiting_join"
    assert status["outcome"] is None
    assert status["stages"][0]["stage"] == "awaiting_join"


async def test_status_of_unknown_call_is_404(stack: Stack) -> None:
    response = await stack.http.get(f"/calls/{uuid.uuid4().hex}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "call_not_found"


async def test_decline_signals_the_workflow_with_the_idempotency_key(stack: Stack) -> None:
    call_id = await start_call(stack)

    response = await stack.http.post(
        f"/calls/{call_id}/decline", headers={"Idempotency-Key": "push-42"}
    )

    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "call_id": call_id,
        "event_id": "decline-push-42",
    }
    got = await received(stack, call_id)
    assert got.signals == [
        {"signal": "declined", "event_id": "decline-push-42", "reason": "declined on CallKit"}
    ]
    status = (await stack.http.get(f"/calls/{call_id}")).json()
    assert status["outcome"] == "declined"


async def test_decline_without_key_gets_a_fresh_event_id_and_keeps_a_reason(stack: Stack) -> None:
    call_id = await start_call(stack)

    response = await stack.http.post(f"/calls/{call_id}/decline", json={"reason": "driving"})

    assert response.status_code == 202
    event_id = response.json()["event_id"]
    assert event_id.startswith("decline-") and len(event_id) > len("decline-")
    got = await received(stack, call_id)
    assert got.signals == [{"signal": "declined", "event_id": event_id, "reason": "driving"}]


async def test_decline_unknown_call_is_404_and_finished_call_is_409(stack: Stack) -> None:
    unknown = await stack.http.post(f"/calls/{uuid.uuid4().hex}/decline")
    call_id = await start_call(stack)
    await finish(stack, call_id)
    finished = await stack.http.post(f"/calls/{call_id}/decline")

    assert unknown.status_code == 404
    assert finished.status_code == 409
    # No outcome recorded (finished by the test signal): "ended", not Temporal's "completed".
    assert "has already ended" in finished.json()["error"]["message"]
    assert "(completed)" not in finished.json()["error"]["message"]


async def test_cancel_runs_the_update_and_returns_its_result(stack: Stack) -> None:
    call_id = await start_call(stack)

    response = await stack.http.post(
        f"/calls/{call_id}/cancel", json={"reason": "user asked to stop", "requested_by": "ops"}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"call_id": call_id, "stage": "awaiting_join"}
    got = await received(stack, call_id)
    assert [(r.reason, r.requested_by) for r in got.cancel_requests] == [
        ("user asked to stop", "ops")
    ]


async def test_cancel_rejected_by_the_validator_is_409(stack: Stack) -> None:
    call_id = await start_call(stack)
    first = await stack.http.post(f"/calls/{call_id}/cancel", json={"reason": "first"})

    second = await stack.http.post(f"/calls/{call_id}/cancel", json={"reason": "second"})

    assert first.status_code == 200
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "call_conflict"
    assert "call already ended with outcome cancelled" in error["message"]
    assert len((await received(stack, call_id)).cancel_requests) == 1  # rejected before history


async def test_cancel_needs_a_reason_and_a_known_call(stack: Stack) -> None:
    call_id = await start_call(stack)

    missing = await stack.http.post(f"/calls/{call_id}/cancel", json={})
    unknown = await stack.http.post(f"/calls/{uuid.uuid4().hex}/cancel", json={"reason": "x"})
    await finish(stack, call_id)
    finished = await stack.http.post(f"/calls/{call_id}/cancel", json={"reason": "late"})

    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "reason"
    assert unknown.status_code == 404
    assert finished.status_code == 409


async def test_healthz_and_unknown_routes(stack: Stack) -> None:
    health = await stack.http.get("/healthz")
    nowhere = await stack.http.get("/nowhere")
    wrong_method = await stack.http.get("/livekit/webhook")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_scheduled_for_books_the_call_for_that_instant(stack: Stack) -> None:
    at = (datetime.now(UTC) + timedelta(hours=3)).replace(microsecond=0)
    local = at.astimezone(timezone(timedelta(hours=-5)))  # sent with its own offset
    response = await stack.http.post(
        "/calls", json={"user_id": KNOWN_USER, "scheduled_for": local.isoformat()}
    )

    assert response.status_code == 201, response.text
    assert response.json()["scheduled_for"] == at.isoformat()
    call_input = (await received(stack, response.json()["call_id"])).call_input
    assert call_input is not None
    assert call_input.scheduled_for is not None
    assert datetime.fromisoformat(call_input.scheduled_for) == at


@pytest.mark.parametrize(
    ("scheduled_for", "says"),
    [
        ("tomorrow at 7", "not an ISO 8601 date-time"),
        ("2030-01-01T07:30:00", "has no UTC offset"),
        ("2020-01-01T07:30:00+00:00", "in the past"),
        ("2099-01-01T07:30:00+00:00", "more than 30 days ahead"),
        (1767250000, "must be an ISO 8601 date-time"),
    ],
)
async def test_bad_scheduled_for_is_422_naming_the_field(
    stack: Stack, scheduled_for: object, says: str
) -> None:
    response = await stack.http.post(
        "/calls", json={"user_id": KNOWN_USER, "scheduled_for": scheduled_for}
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "scheduled_for"
    assert says in error["message"]


async def test_the_saved_record_is_served_and_a_missing_one_is_404(stack: Stack) -> None:
    call_id = f"rec-{uuid.uuid4().hex[:8]}"
    missing = await stack.http.get(f"/calls/{call_id}/record")
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "call_id"

    record = CallRecord(
        call_id=call_id,
        user_id=KNOWN_USER,
        outcome="completed",
        attempts=1,
        started_at="2026-12-01T07:30:00+00:00",
        ended_at="2026-12-01T07:34:10+00:00",
        summary="Talked about the morning walk.",
        mood="good",
        transcript=[TranscriptTurn("user", "I walked every day", 1.0, 2.5)],
        cost_usd=0.0123,
    )
    await stack.records.save_call(record)
    found = await stack.http.get(f"/calls/{call_id}/record")

    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["call_id"], body["outcome"], body["summary"], body["mood"]) == (
        call_id,
        "completed",
        "Talked about the morning walk.",
        "good",
    )
    assert body["transcript"] == [
        {"role": "user", "text": "I walked every day", "started_at": 1.0, "ended_at": 2.5}
    ]
    assert body["cost_usd"] == pytest.approx(0.0123)
