"""Shared steps of the service tests."""

from __future__ import annotations

import uuid
from typing import Any

from tests.service.conftest import KNOWN_USER, Stack
from tests.service.recording_workflow import Received
from workflows.messages import room_name_for, workflow_id_for


async def start_call(stack: Stack, *, key: str | None = None) -> str:
    body: dict[str, Any] = {"user_id": KNOWN_USER, "reason": "on_demand"}
    body["idempotency_key"] = key or uuid.uuid4().hex
    response = await stack.http.post("/calls", json=body)
    assert response.status_code == 201, response.text
    call_id: str = response.json()["call_id"]
    return call_id


async def received(stack: Stack, call_id: str) -> Received:
    handle = stack.client.get_workflow_handle(workflow_id_for(call_id))
    result: Received = await handle.query("received_messages", result_type=Received)
    return result


async def finish(stack: Stack, call_id: str) -> None:
    """Let the recording workflow close, and wait until it has."""
    handle = stack.client.get_workflow_handle(workflow_id_for(call_id))
    await handle.signal("finish")
    await handle.result()


def room_of(call_id: str, attempt: int = 1) -> str:
    return room_name_for(call_id, attempt)
