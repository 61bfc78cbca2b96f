"""Calls the phone's device RPC methods from the agent's participant (the iOS contract:
docs/architecture.md, "Contracts with the iOS app").

rtc.RpcError codes and timeouts are translated here into agent.errors.DeviceError subclasses,
whose `spoken` text is safe and useful to read to the user.
"""

from __future__ import annotations

import asyncio
import json
import logging
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

_TIMEOUT_CODES = {
    rtc.RpcError.ErrorCode.RESPONSE_TIMEOUT,
    rtc.RpcError.ErrorCode.CONNECTION_TIMEOUT,
}
_GONE_CODES = {
    rtc.RpcError.ErrorCode.RECIPIENT_DISCONNECTED,
    rtc.RpcError.ErrorCode.RECIPIENT_NOT_FOUND,
    rtc.RpcError.ErrorCode.SEND_FAILED,
}


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
        try:
            raw = await asyncio.wait_for(
                room.local_participant.perform_rpc(
                    destination_identity=self._identity,
                    method=method,
                    payload=json.dumps(payload or {}),
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
        return doc


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
