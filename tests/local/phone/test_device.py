"""The phone's device RPC handlers, called directly (the round trips over a real room are in
tests/agent/test_device_tools.py)."""

from __future__ import annotations

import json
import struct
import zlib

import pytest
from livekit import rtc

from callflow.local.phone.device import (
    METHODS,
    RPC_BAD_REQUEST,
    RPC_PERMISSION_DENIED,
    RPC_UNAVAILABLE,
    DeviceState,
    device_rpc_handlers,
    screen_png,
)


def invoke(method: str, payload: object = None) -> rtc.RpcInvocationData:
    body = "" if payload is None else json.dumps(payload)
    return rtc.RpcInvocationData("req-1", "agent", body, 5.0, method)


async def test_registers_exactly_the_five_contract_methods() -> None:
    assert set(device_rpc_handlers(DeviceState())) == set(METHODS)


async def test_the_screenshot_is_a_real_screens_png_too_big_for_an_rpc_answer() -> None:
    png = screen_png(1170, 2532)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1170, 2532)
    idat_len = struct.unpack(">I", png[33:37])[0]
    raw = zlib.decompress(png[41 : 41 + idat_len])
    assert len(raw) == 2532 * (1 + 1170 * 3)  # filter byte + RGB per row
    # Far beyond LiveKit's 15 KiB RPC payload, even before base64: it must go as a byte stream.
    assert len(png) > 500 * 1024


async def test_screenshot_outside_a_call_is_refused() -> None:
    handler = device_rpc_handlers(DeviceState())["device.screenshot"]
    with pytest.raises(rtc.RpcError) as info:
        await handler(invoke("device.screenshot"))
    assert info.value.code == RPC_UNAVAILABLE


async def test_location_refused_without_permission() -> None:
    handler = device_rpc_handlers(DeviceState(location_permission=False))["device.location"]
    with pytest.raises(rtc.RpcError) as info:
        await handler(invoke("device.location"))
    assert info.value.code == RPC_PERMISSION_DENIED
    assert "permission denied" in info.value.message


@pytest.mark.parametrize(
    ("method", "payload", "fragment"),
    [
        ("device.flashlight", {}, "needs {'on'"),
        ("device.flashlight", {"on": "yes"}, "needs {'on'"),
        ("device.vibrate", {"pattern": "sos"}, "unknown vibration pattern"),
        ("device.vibrate", ["short"], "must be a JSON object"),
    ],
)
async def test_bad_requests_name_the_fix(method: str, payload: object, fragment: str) -> None:
    handler = device_rpc_handlers(DeviceState())[method]
    with pytest.raises(rtc.RpcError) as info:
        await handler(invoke(method, payload))
    assert info.value.code == RPC_BAD_REQUEST
    assert fragment in info.value.message


async def test_flashlight_and_vibrate_change_the_state() -> None:
    state = DeviceState()
    handlers = device_rpc_handlers(state)
    assert json.loads(await handlers["device.flashlight"](invoke("x", {"on": True}))) == {
        "on": True
    }
    assert json.loads(await handlers["device.vibrate"](invoke("x", {"pattern": "short"}))) == {
        "ok": True
    }
    assert state.flashlight_on and state.vibrations == ["short"]
