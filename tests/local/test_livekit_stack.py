"""The livekit-server launcher: loopback only, several at once, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from callflow.local.stack.livekit import LiveKitStackError, LocalLiveKit, start_livekit

API_KEY = "devkey"
SECRET = "a-test-secret-that-is-long-enough-0123456789"


async def test_server_answers_on_loopback_only(livekit_server: LocalLiveKit) -> None:
    assert livekit_server.url.startswith("ws://127.0.0.1:")
    async with httpx.AsyncClient() as client:
        assert (await client.get(livekit_server.http_url)).status_code == 200
    config = json.loads(livekit_server.config_path.read_text())
    assert config["bind_addresses"] == ["127.0.0.1"]
    assert config["rtc"]["node_ip"] == "127.0.0.1"
    assert config["rtc"]["use_external_ip"] is False
    assert livekit_server.config_path.stat().st_mode & 0o077 == 0  # the secret stays private
    assert livekit_server.started_in_s < 10


async def test_two_servers_run_side_by_side(tmp_path: Path, livekit_server: LocalLiveKit) -> None:
    second = await start_livekit(tmp_path, api_key=API_KEY, api_secret=SECRET, webhook_urls=[])
    try:
        assert set(second.ports.values()).isdisjoint(livekit_server.ports.values())
        async with httpx.AsyncClient() as client:
            assert (await client.get(second.http_url)).status_code == 200
            assert (await client.get(livekit_server.http_url)).status_code == 200
        assert "starting LiveKit server" in second.log_tail()
    finally:
        second.stop()
    assert second.process.poll() is not None
    second.stop()  # stopping twice is harmless


async def test_short_secret_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(LiveKitStackError, match="LIVEKIT_API_SECRET"):
        await start_livekit(tmp_path, api_key=API_KEY, api_secret="too-short", webhook_urls=[])


async def test_missing_binary_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLFLOW_LIVEKIT_BIN", str(tmp_path / "no-such-livekit-server"))
    with pytest.raises(LiveKitStackError, match="CALLFLOW_LIVEKIT_BIN"):
        await start_livekit(tmp_path, api_key=API_KEY, api_secret=SECRET, webhook_urls=[])


async def test_busy_port_is_refused_before_starting(
    tmp_path: Path, livekit_server: LocalLiveKit
) -> None:
    taken = livekit_server.ports["signal"]
    with pytest.raises(LiveKitStackError, match="in use"):
        await start_livekit(
            tmp_path, api_key=API_KEY, api_secret=SECRET, webhook_urls=[], port=taken
        )
