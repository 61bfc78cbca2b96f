"""The iOS app's device RPC methods, as the phone simulator serves them (the contract:
docs/ios-contract.md; its JSON Schemas: docs/ios-contract.schema.json).

JSON in, JSON out. Values are plausible for an iPhone; what the app would refuse (location
without permission, an unknown vibration pattern) is refused with an `rtc.RpcError` carrying an
app-level code, which the agent turns into a ToolError it can talk about.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import struct
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from livekit import rtc

from callflow.local.phone.simulator import phone_room

# App-level error codes (1001-1999 are reserved for LiveKit's built-in RPC errors).
RPC_BAD_REQUEST = 2400
RPC_PERMISSION_DENIED = 2403
RPC_UNAVAILABLE = 2503

# A screenshot does not fit an RPC answer (LiveKit's limit is 15 KiB): the image goes as a
# LiveKit byte stream on this topic to the caller, and the RPC answers with its stream id.
SCREENSHOT_TOPIC = "device.screenshot"

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
    screen_size: tuple[int, int] = (1170, 2532)  # an iPhone 13/14's screen in pixels
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


@functools.lru_cache(maxsize=4)
def screen_png(width: int, height: int) -> bytes:
    """A screenshot-like PNG: flat bars and gradients with rows of "text" (noise) between, so
    it compresses as a real screen does (hundreds of KiB at 1170x2532, not a few bytes)."""
    rng = random.Random(width * 100_003 + height)
    rows: list[bytes] = []
    for y in range(height):
        band = (y // 24) % 6
        if band == 1:  # a line of text: incompressible
            rows.append(b"\x00" + rng.randbytes(3 * width))
        else:
            shade = (y * 255 // max(1, height - 1)) & 0xFF
            rows.append(b"\x00" + bytes((240, 240 - shade // 4, 245)) * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


async def send_screenshot(room: rtc.Room, to: str, png: bytes) -> str:
    """Stream `png` to participant `to` on SCREENSHOT_TOPIC; returns the stream id."""
    stream_id = str(uuid.uuid4())
    writer = await room.local_participant.stream_bytes(
        "screenshot.png",
        total_size=len(png),
        mime_type="image/png",
        stream_id=stream_id,
        destination_identities=[to],
        topic=SCREENSHOT_TOPIC,
    )
    chunk = 64 * 1024
    for start in range(0, len(png), chunk):
        await writer.write(png[start : start + chunk])
    await writer.aclose()
    return stream_id


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
        room = phone_room.get(None)
        if room is None:
            raise rtc.RpcError(RPC_UNAVAILABLE, "device.screenshot: not in a call")
        width, height = state.screen_size
        png = screen_png(width, height)
        # The stream first: the answer tells the agent which stream to wait for.
        stream_id = await send_screenshot(room, data.caller_identity, png)
        return await answer(
            data,
            {
                "stream_id": stream_id,
                "mime_type": "image/png",
                "width": width,
                "height": height,
                "size_bytes": len(png),
            },
        )

    return {
        "device.battery": battery,
        "device.flashlight": flashlight,
        "device.vibrate": vibrate,
        "device.location": location,
        "device.screenshot": screenshot,
    }
