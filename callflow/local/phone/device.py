"""The iOS app's device RPC methods, as the phone simulator serves them (the contract:
docs/architecture.md, "Contracts with the iOS app").

JSON in, JSON out. Values are plausible for an iPhone; what the app would refuse (location
without permission, an unknown vibration pattern) is refused with an `rtc.RpcError` carrying an
app-level code, which the agent turns into a ToolError it can talk about.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

# App-level error codes (1001-1999 are reserved for LiveKit's built-in RPC errors).
RPC_BAD_REQUEST = 2400
RPC_PERMISSION_DENIED = 2403

METHODS = (
    "device.battery",
    "device.flashlight",
    "device.vibrate",
    "device.location",
    "device.screenshot",
)

RpcHandler = Callable[[rtc.RpcInvocationData], Awaitable[str]]


@dataclass
class DeviceState:
    """What the simulated phone reports; tests change it to exercise the agent's paths."""

    battery_level: float = 0.82
    charging: bool = False
    flashlight_on: bool = False
    location_permission: bool = True
    lat: float = 51.5072
    lon: float = -0.1276
    accuracy_m: float = 35.0
    screen_size: tuple[int, int] = (8, 16)  # tiny: a screenshot must fit an RPC payload (15 KiB)
    # Seconds each method takes before answering (to exercise the agent's timeouts).
    delays_s: dict[str, float] = field(default_factory=dict)
    vibrations: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)


def _payload(data: rtc.RpcInvocationData) -> dict[str, Any]:
    if not data.payload:
        return {}
    try:
        doc = json.loads(data.payload)
    except json.JSONDecodeError:
        raise rtc.RpcError(RPC_BAD_REQUEST, f"{data.method}: payload is not JSON") from None
    if not isinstance(doc, dict):
        raise rtc.RpcError(RPC_BAD_REQUEST, f"{data.method}: payload must be a JSON object")
    return doc


def tiny_png(width: int, height: int, rgb: tuple[int, int, int] = (24, 120, 200)) -> bytes:
    """A valid solid-colour PNG, built with zlib (no imaging library on the phone side)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def device_rpc_handlers(state: DeviceState) -> dict[str, RpcHandler]:
    """RPC method name -> async handler, for `PhoneSimulator(rpc_handlers=...)`."""

    async def answer(data: rtc.RpcInvocationData, body: dict[str, Any]) -> str:
        delay = state.delays_s.get(data.method, 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        return json.dumps(body)

    async def battery(data: rtc.RpcInvocationData) -> str:
        state.calls.append(data.method)
        return await answer(data, {"level": state.battery_level, "charging": state.charging})

    async def flashlight(data: rtc.RpcInvocationData) -> str:
        state.calls.append(data.method)
        on = _payload(data).get("on")
        if not isinstance(on, bool):
            raise rtc.RpcError(RPC_BAD_REQUEST, "device.flashlight needs {'on': true|false}")
        state.flashlight_on = on
        return await answer(data, {"on": state.flashlight_on})

    async def vibrate(data: rtc.RpcInvocationData) -> str:
        state.calls.append(data.method)
        pattern = _payload(data).get("pattern", "short")
        if pattern not in ("short", "long"):
            raise rtc.RpcError(
                RPC_BAD_REQUEST, f"unknown vibration pattern {pattern!r}: use short or long"
            )
        state.vibrations.append(pattern)
        return await answer(data, {"ok": True})

    async def location(data: rtc.RpcInvocationData) -> str:
        state.calls.append(data.method)
        if not state.location_permission:
            raise rtc.RpcError(
                RPC_PERMISSION_DENIED, "location permission denied by the user in Settings"
            )
        return await answer(
            data, {"lat": state.lat, "lon": state.lon, "accuracy_m": state.accuracy_m}
        )

    async def screenshot(data: rtc.RpcInvocationData) -> str:
        state.calls.append(data.method)
        width, height = state.screen_size
        png = base64.b64encode(tiny_png(width, height)).decode("ascii")
        return await answer(data, {"width": width, "height": height, "png_base64": png})

    return {
        "device.battery": battery,
        "device.flashlight": flashlight,
        "device.vibrate": vibrate,
        "device.location": location,
        "device.screenshot": screenshot,
    }
