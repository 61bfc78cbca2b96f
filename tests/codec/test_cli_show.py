"""What operators run: `temporal workflow show --codec-endpoint ... --codec-auth ...`."""

from __future__ import annotations

import asyncio

import pytest

from callflow.local.stack.temporal import DevServer, venv_bin
from tests.codec.conftest import SECRET_TEXT, TOKEN


async def temporal_show(
    temporal_dev_server: DevServer, workflow_id: str, *extra: str
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(venv_bin("temporal")),
        "workflow",
        "show",
        "--address",
        temporal_dev_server.address,
        "--workflow-id",
        workflow_id,
        "--detailed",  # the human view, with payloads printed as their JSON values
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out.decode()


@pytest.mark.e2e
async def test_temporal_cli_shows_plaintext_through_the_codec_server(
    temporal_dev_server: DevServer, encrypted_run: str, codec_url: str
) -> None:
    code, without_codec = await temporal_show(temporal_dev_server, encrypted_run)
    assert code == 0, without_codec
    assert SECRET_TEXT not in without_codec

    code, decoded = await temporal_show(
        temporal_dev_server,
        encrypted_run,
        "--codec-endpoint",
        codec_url,
        "--codec-auth",
        f"Bearer {TOKEN}",
    )
    assert code == 0, decoded
    assert f"input[0]: {SECRET_TEXT}" in decoded
    assert f"you said: {SECRET_TEXT}" in decoded
    # A wrong token is covered over HTTP in test_server.py: the CLI retries a 401 until its
    # 10 s deadline, then exits 1 with `context deadline exceeded`.
