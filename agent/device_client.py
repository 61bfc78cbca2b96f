"""Calls the phone's device RPC methods from the agent's participant (the iOS contract:
docs/ios-contract.md).

rtc.RpcError codes and timeouts are translated here into agent.errors.DeviceError subclasses,
whose `spoken` text is safe and useful to read to the user.

A screenshot is too big for an RPC answer (LiveKit's limit is 15 KiB): the phone sends the
image as a LiveKit byte stream on the topic `device.screenshot` and answers the RPC with the
stream's id; `call()` waits for that stream and returns the image in `png_base64`, as before.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import weakref
from typing import Any

from livekit import rtc

from agent.errors import (
    DeviceError,
    DeviceProtocolError,
    DeviceRefused,
    DeviceTimeout,
    DeviceUnavailable,
    DeviceUnsupported,
)

logger = logging.getLogger("callflow.agent.device")

METHOD_BATTERY = "device.battery"
METHOD_FLASHLIGHT = "device.flashlight"
METHOD_VIBRATE = "device.vibrate"
METHOD_LOCATION = "device.location"
METHOD_SCREENSHOT = "device.screenshot"
SCREENSHOT_TOPIC = "device.screenshot"  # the byte stream's topic
# LiveKit's RPC payload limit, for requests and answers alike (bytes of UTF-8 JSON).
MAX_RPC_PAYLOAD_BYTES = 15 * 1024
# The largest screenshot accepted (an uncompressed-ish 1290x2796 PNG is ~4 MB).
MAX_SCREENSHOT_BYTES = 8 * 1024 * 1024

_TIMEOUT_CODES = {
    rtc.RpcError.ErrorCode.RESPONSE_TIMEOUT,
    rtc.RpcError.ErrorCode.CONNECTION_TIMEOUT,
}
_GONE_CODES = {
    rtc.RpcError.ErrorCode.RECIPIENT_DISCONNECTED,
    rtc.RpcError.ErrorCode.RECIPIENT_NOT_FOUND,
    rtc.RpcError.ErrorCode.SEND_FAILED,
}


class _ScreenshotInbox:
    """The byte streams the phone sends on SCREENSHOT_TOPIC, by stream id (one per room: a
    room takes one handler per topic)."""

    def __init__(self, room: rtc.Room) -> None:
        self._streams: dict[str, asyncio.Future[bytes]] = {}
        self._readers: set[asyncio.Task[None]] = set()
        room.register_byte_stream_handler(SCREENSHOT_TOPIC, self._on_stream)

    def _future(self, stream_id: str) -> asyncio.Future[bytes]:
        if stream_id not in self._streams:
            self._streams[stream_id] = asyncio.get_running_loop().create_future()
        return self._streams[stream_id]

    def _on_stream(self, reader: rtc.ByteStreamReader, sender: str) -> None:
        task = asyncio.get_running_loop().create_task(self._read(reader))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(self, reader: rtc.ByteStreamReader) -> None:
        received = self._future(reader.info.stream_id)
        data = bytearray()
        try:
            async for chunk in reader:
                data += chunk
                if len(data) > MAX_SCREENSHOT_BYTES:
                    raise ValueError(f"screenshot over {MAX_SCREENSHOT_BYTES} bytes")
        except Exception as exc:
            if not received.done():
                received.set_exception(exc)
            return
        if not received.done():
            received.set_result(bytes(data))

    async def receive(self, stream_id: str, timeout_s: float) -> bytes:
        future = self._future(stream_id)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        finally:
            if future.done():
                self._streams.pop(stream_id, None)


_inboxes: weakref.WeakKeyDictionary[rtc.Room, _ScreenshotInbox] = weakref.WeakKeyDictionary()


def _inbox(room: rtc.Room) -> _ScreenshotInbox:
    if room not in _inboxes:
        _inboxes[room] = _ScreenshotInbox(room)
    return _inboxes[room]


class DeviceClient:
    """One phone (participant identity = user id) in one room."""

    def __init__(
        self,
        room: rtc.Room | None,
        phone_identity: str,
        *,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 3.0,
    ) -> None:
        self._room = room
        self._identity = phone_identity
        self._timeout_s = timeout_s
        self._connect_timeout_s = connect_timeout_s

    @property
    def phone_identity(self) -> str:
        return self._identity

    def attach(self, room: rtc.Room) -> None:
        self._room = room

    async def call(self, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        room = self._room
        if room is None or not room.isconnected():
            raise DeviceUnavailable(method, "the call is not connected to the phone right now")
        if self._identity not in room.remote_participants:
            raise DeviceUnavailable(method, "the phone is not on the call any more")
        body = json.dumps(payload or {})
        if len(body.encode()) > MAX_RPC_PAYLOAD_BYTES:
            raise DeviceProtocolError(method, "that request is too big to send to the phone")
        inbox = _inbox(room) if method == METHOD_SCREENSHOT else None  # before the stream comes
        try:
            raw = await asyncio.wait_for(
                room.local_participant.perform_rpc(
                    destination_identity=self._identity,
                    method=method,
                    payload=body,
                    response_timeout=self._timeout_s,
                    max_round_trip_latency=self._connect_timeout_s,
                ),
                # A backstop: the SDK's own timeouts should fire first.
                timeout=self._timeout_s + self._connect_timeout_s + 1.0,
            )
        except rtc.RpcError as exc:
            raise _translate(method, exc) from exc
        except TimeoutError as exc:
            raise DeviceTimeout(method, "the phone did not answer in time") from exc
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DeviceProtocolError(method, "the phone sent an answer I could not read") from exc
        if not isinstance(doc, dict):
            raise DeviceProtocolError(method, "the phone sent an answer I could not read")
        if inbox is not None and isinstance(doc.get("stream_id"), str):
            doc["png_base64"] = base64.b64encode(
                await self._streamed(method, inbox, doc["stream_id"])
            ).decode("ascii")
        return doc

    async def _streamed(self, method: str, inbox: _ScreenshotInbox, stream_id: str) -> bytes:
        # The phone streams the image before it answers; the rest of it may still be arriving.
        try:
            return await inbox.receive(stream_id, self._timeout_s + self._connect_timeout_s)
        except TimeoutError as exc:
            raise DeviceTimeout(method, "the screenshot did not arrive in time") from exc
        except Exception as exc:
            logger.info("screenshot stream %s failed: %s", stream_id, exc)
            raise DeviceProtocolError(
                method, "the phone sent a screenshot I could not use"
            ) from exc


def _translate(method: str, exc: rtc.RpcError) -> DeviceError:
    logger.info("device rpc %s failed: code=%s message=%s", method, exc.code, exc.message)
    if exc.code in _TIMEOUT_CODES:
        return DeviceTimeout(method, "the phone did not answer in time")
    if exc.code in _GONE_CODES:
        return DeviceUnavailable(method, "the phone is not on the call any more")
    if exc.code == rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD:
        return DeviceUnsupported(method, "the app on this phone does not support that yet")
    # Anything else is the app's own answer (e.g. permission denied): pass its message on.
    reason = exc.message or "the phone refused"
    return DeviceRefused(method, f"the phone said: {reason}")
