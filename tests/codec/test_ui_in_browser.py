"""Operators read encrypted calls in the Temporal UI itself (issue 11, item 6): on the local stack
with the codec on, headless Chromium opens a call's page through the codec server, signed in,
and sees the decoded transcript; without the operator's credentials (not signed in, or on the
UI's own port) it sees the payloads still encrypted."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.worker import Worker

from callflow.local.stack.local import StackOptions, start_local_stack
from tests.codec.conftest import KEY_A, codec_settings
from tests.codec.echo_workflow import EchoWorkflow, repeat_back
from tests.support.browser import BrowserUnavailable, chromium_path, dump_dom

TRANSCRIPT = "agent: did you run on Tuesday? user: yes, five kilometres by the canal"
PAGE_WAIT_MS = 15_000


@dataclass
class UiStack:
    ui_url: str  # the Temporal UI's own port
    codec_url: str  # the codec server, serving the same UI on its origin
    token: str
    workflow_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ui_stack() -> AsyncIterator[UiStack]:
    """The local stack with the codec on (no agent), and one encrypted run named like a call
    whose input is a transcript."""
    try:
        chromium_path()
    except BrowserUnavailable as e:
        pytest.fail(str(e))
    # Outside pytest's tmp folder: pytest resets it to 0700, locking out the postgres user.
    state = Path(tempfile.mkdtemp(prefix="callflow-codec-ui-"))
    base = codec_settings({"A": KEY_A}, "A").model_copy(update={"codec_server_token": None})
    stack = await start_local_stack(base, StackOptions(state_dir=state, recordings=False))
    try:
        settings = stack.settings
        assert settings.codec_server_token is not None  # generated for this run
        workflow_id = f"call-{os.urandom(6).hex()}"
        async with Worker(
            stack.client, task_queue="codec-ui", workflows=[EchoWorkflow], activities=[repeat_back]
        ):
            await stack.client.execute_workflow(
                EchoWorkflow.run, TRANSCRIPT, id=workflow_id, task_queue="codec-ui"
            )
        yield UiStack(
            ui_url=stack.temporal.ui_url,
            codec_url=f"http://127.0.0.1:{settings.codec_server_port}",
            token=settings.codec_server_token.get_secret_value(),
            workflow_id=workflow_id,
        )
    finally:
        await stack.stop()


def page_of(stack: UiStack) -> str:
    return f"/namespaces/default/workflows/{stack.workflow_id}"


async def dom(url: str) -> str:
    return await asyncio.to_thread(dump_dom, url, wait_ms=PAGE_WAIT_MS)


@pytest.mark.slow
async def test_signed_in_operator_sees_the_decoded_transcript(ui_stack: UiStack) -> None:
    login = f"{ui_stack.codec_url}/codec/login#token={ui_stack.token}&next={page_of(ui_stack)}"

    html = await dom(login)

    assert ui_stack.workflow_id in html, html[-3000:]
    assert TRANSCRIPT in html  # the input, decoded
    assert f"you said: {TRANSCRIPT}" in html  # and the result
    assert "Codec Server could not connect" not in html


@pytest.mark.slow
async def test_without_credentials_the_page_stays_encrypted(ui_stack: UiStack) -> None:
    through_codec = await dom(f"{ui_stack.codec_url}{page_of(ui_stack)}")
    straight_to_ui = await dom(f"{ui_stack.ui_url}{page_of(ui_stack)}")

    for html in (through_codec, straight_to_ui):
        assert ui_stack.workflow_id in html, html[-3000:]
        assert TRANSCRIPT not in html
        # The UI shows the stored (base64 ciphertext) payloads and says the codec refused.
        assert "Codec Server could not connect" in html
