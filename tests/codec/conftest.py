"""A real codec server (uvicorn on loopback) and a run of the echo workflow, encrypted, on the
session's Temporal dev server (tests/conftest.py), for the codec tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest_asyncio
from pydantic import SecretStr

from callflow.codec.keys import format_key_ring
from callflow.codec.server import codec_server
from callflow.local.stack.temporal import DevServer, free_port, wait_for_port
from callflow.settings import Settings

KEY_A = os.urandom(32)
KEY_B = os.urandom(32)
TOKEN = "codec-test-token-6f1c0a"
UI_ORIGIN = "http://127.0.0.1:8233"


def codec_settings(keys: dict[str, bytes], active: str) -> Settings:
    return Settings(
        codec_enabled=True,
        codec_keys=SecretStr(format_key_ring(keys)),
        codec_active_key_id=active,
        codec_server_token=SecretStr(TOKEN),
        temporal_ui_url=UI_ORIGIN,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def codec_url() -> AsyncIterator[str]:
    """The codec server after rotation: ring {A, B}, active B (reads everything written)."""
    port = free_port()
    server = codec_server(codec_settings({"A": KEY_A, "B": KEY_B}, "B"), "127.0.0.1", port)
    task = asyncio.create_task(server.serve())
    await wait_for_port("127.0.0.1", port, 10, "codec server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


SECRET_TEXT = "I promised Sam I would run 5k on Tuesday"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def encrypted_run(temporal_dev_server: DevServer) -> str:
    """Run EchoWorkflow to completion with key A active; returns its workflow id."""
    from temporalio.client import Client
    from temporalio.worker import Worker

    from callflow.codec import data_converter
    from tests.codec.echo_workflow import EchoWorkflow, repeat_back

    settings = codec_settings({"A": KEY_A}, "A")
    client = await Client.connect(
        temporal_dev_server.address, data_converter=data_converter(settings)
    )
    workflow_id = f"codec-echo-{os.urandom(4).hex()}"
    async with Worker(
        client, task_queue="codec-test", workflows=[EchoWorkflow], activities=[repeat_back]
    ):
        result = await client.execute_workflow(
            EchoWorkflow.run, SECRET_TEXT, id=workflow_id, task_queue="codec-test"
        )
    assert result == f"you said: {SECRET_TEXT}"
    return workflow_id
