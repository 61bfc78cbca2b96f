"""Payloads at rest: what the Temporal server stores is unreadable without the key."""

from __future__ import annotations

import os

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from callflow.codec import UnknownKeyError, data_converter
from callflow.local.stack.temporal import DevServer
from tests.codec.conftest import KEY_A, KEY_B, SECRET_TEXT, codec_settings
from tests.codec.echo_workflow import EchoWorkflow, repeat_back


def stored_bytes(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


async def test_without_the_codec_the_text_is_stored_in_the_clear(
    temporal_dev_server: DevServer,
) -> None:
    """The control for the test below: the byte search does find plaintext when it is there."""
    client = await Client.connect(temporal_dev_server.address)
    workflow_id = f"plain-echo-{os.urandom(4).hex()}"
    async with Worker(
        client, task_queue="codec-plain", workflows=[EchoWorkflow], activities=[repeat_back]
    ):
        await client.execute_workflow(
            EchoWorkflow.run, SECRET_TEXT, id=workflow_id, task_queue="codec-plain"
        )
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    assert SECRET_TEXT.encode() in stored_bytes(history)


async def test_history_payloads_are_encrypted_at_rest(
    temporal_dev_server: DevServer, encrypted_run: str
) -> None:
    raw_client = await Client.connect(temporal_dev_server.address)  # no codec: sees what is stored
    history = await raw_client.get_workflow_handle(encrypted_run).fetch_history()
    raw = stored_bytes(history)
    assert SECRET_TEXT.encode() not in raw
    assert b"Sam" not in raw and b"you said" not in raw

    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    assert payload.metadata["encoding"] == b"binary/encrypted"
    assert payload.metadata["encryption-key-id"] == b"A"


async def test_history_written_with_key_a_is_readable_after_rotating_to_b(
    temporal_dev_server: DevServer, encrypted_run: str
) -> None:
    rotated = await Client.connect(
        temporal_dev_server.address,
        data_converter=data_converter(codec_settings({"A": KEY_A, "B": KEY_B}, "B")),
    )
    assert await rotated.get_workflow_handle(encrypted_run).result() == f"you said: {SECRET_TEXT}"

    retired = await Client.connect(
        temporal_dev_server.address,
        data_converter=data_converter(codec_settings({"B": KEY_B}, "B")),
    )
    with pytest.raises(UnknownKeyError, match="'A'"):
        await retired.get_workflow_handle(encrypted_run).result()
