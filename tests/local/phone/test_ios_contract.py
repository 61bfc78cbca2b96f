"""The phone simulator and the agent's device client against the written iOS contract
(docs/ios-contract.md, with a JSON Schema per message in docs/ios-contract.schema.json): every
RPC answer over a real LiveKit room matches its schema and fits LiveKit's RPC limit, and a
realistic 1170x2532 screenshot reaches the agent as a byte stream."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from livekit import rtc

from agent import device_client
from agent.device_client import DeviceClient
from callflow.local.phone.device import METHODS, DeviceState, device_rpc_handlers
from callflow.local.phone.simulator import REQUIRED_FIELDS
from callflow.local.stack.livekit import LocalLiveKit
from tests.agent.conftest import phone_call

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = json.loads((ROOT / "docs" / "ios-contract.schema.json").read_text())
DOCUMENT = (ROOT / "docs" / "ios-contract.md").read_text()
LIMITS = CONTRACT["limits"]


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_and_the_schemas_name_the_same_things() -> None:
    assert set(CONTRACT["methods"]) == set(METHODS)
    constants = {v for k, v in vars(device_client).items() if k.startswith("METHOD_")}
    assert constants == set(METHODS)
    for method in METHODS:
        assert f"`{method}`" in DOCUMENT
    for name in CONTRACT["push"]["properties"]:
        assert f"`{name}`" in DOCUMENT
    assert set(REQUIRED_FIELDS) <= set(CONTRACT["push"]["required"])
    assert str(LIMITS["rpc_payload_bytes"]) in DOCUMENT.replace(",", "")
    assert device_client.MAX_RPC_PAYLOAD_BYTES == LIMITS["rpc_payload_bytes"]
    assert device_client.MAX_SCREENSHOT_BYTES == LIMITS["screenshot_stream_bytes"]
    assert "Authorization: Bearer" in DOCUMENT and "/decline" in DOCUMENT


def test_the_push_schema_takes_what_the_app_gets_and_refuses_plain_ws() -> None:
    push = validator(CONTRACT["push"])
    good = {
        "call_id": "c-1",
        "provider": "livekit",
        "livekit_url": "wss://livekit.example.com",
        "room": "callflow-c-1-a1",
        "token": "eyJh.eyJz.c2ln",
        "caller_name": "Coach",
        "expires_at": "2026-12-01T07:00:45+00:00",
    }
    assert not list(push.iter_errors(good))
    assert list(push.iter_errors({**good, "livekit_url": "ws://livekit:7880"}))
    assert list(push.iter_errors({**good, "expires_at": "tomorrow"}))


async def test_every_rpc_answer_of_the_simulator_matches_the_contract(
    livekit_server: LocalLiveKit,
) -> None:
    state = DeviceState()
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        streams: dict[str, asyncio.Future[bytes]] = {}

        def on_stream(reader: rtc.ByteStreamReader, sender: str) -> None:
            async def read() -> bytes:
                return b"".join([chunk async for chunk in reader])

            streams[reader.info.stream_id] = asyncio.ensure_future(read())

        call.room.register_byte_stream_handler("device.screenshot", on_stream)
        for method, spec in CONTRACT["methods"].items():
            request = json.dumps(spec["example"])
            assert not list(validator(spec["request"]).iter_errors(spec["example"]))
            raw = await call.room.local_participant.perform_rpc(
                destination_identity=call.phone_identity,
                method=method,
                payload=request,
                response_timeout=LIMITS["rpc_response_timeout_s"],
            )
            assert len(raw.encode()) <= LIMITS["rpc_payload_bytes"], method
            answer = json.loads(raw)
            errors = [e.message for e in validator(spec["response"]).iter_errors(answer)]
            assert errors == [], (method, errors)
            if method == "device.screenshot":
                png = await asyncio.wait_for(streams[answer["stream_id"]], 10)
                assert len(png) == answer["size_bytes"] <= LIMITS["screenshot_stream_bytes"]
                assert struct.unpack(">II", png[16:24]) == (answer["width"], answer["height"])
        call.room.unregister_byte_stream_handler("device.screenshot")


async def test_a_realistic_screenshot_reaches_the_agent_through_the_device_client(
    livekit_server: LocalLiveKit,
) -> None:
    state = DeviceState(screen_size=(1170, 2532))
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        device = DeviceClient(call.room, call.phone_identity, timeout_s=5)
        started = time.perf_counter()
        shot = await device.call("device.screenshot")
        elapsed = time.perf_counter() - started
    png = base64.b64decode(shot["png_base64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (1170, 2532) == (shot["width"], shot["height"])
    assert len(png) == shot["size_bytes"] > 100 * LIMITS["rpc_payload_bytes"]
    print(f"screenshot {len(png)} bytes in {elapsed:.2f} s")
    assert elapsed < 5.0
