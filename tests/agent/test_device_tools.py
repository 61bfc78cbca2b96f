"""Device tools against a real livekit-server, with the phone simulator as the phone."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from livekit.agents import AgentSession
from livekit.agents.llm import ToolError

from agent.call_agent import CallAgent
from agent.device_client import DeviceClient
from agent.errors import DeviceRefused, DeviceTimeout, DeviceUnavailable
from agent.metadata import CallContext, UserProfile
from agent.offline.llm import ScriptedLLM
from callflow.local.phone.device import DeviceState, device_rpc_handlers
from callflow.local.stack.livekit import LocalLiveKit
from tests.agent.conftest import phone_call, wait_until


async def test_each_device_method_round_trips(livekit_server: LocalLiveKit) -> None:
    state = DeviceState(battery_level=0.37, charging=True)
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        device = DeviceClient(call.room, call.phone_identity, timeout_s=5)
        assert await device.call("device.battery") == {"level": 0.37, "charging": True}
        assert await device.call("device.flashlight", {"on": True}) == {"on": True}
        assert state.flashlight_on is True
        assert await device.call("device.vibrate", {"pattern": "long"}) == {"ok": True}
        assert state.vibrations == ["long"]
        location = await device.call("device.location")
        assert set(location) == {"lat", "lon", "accuracy_m"}
        shot = await device.call("device.screenshot")
        png = base64.b64decode(shot["png_base64"])
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert (shot["width"], shot["height"]) == state.screen_size
    assert state.calls == [
        "device.battery",
        "device.flashlight",
        "device.vibrate",
        "device.location",
        "device.screenshot",
    ]


async def test_slow_phone_gives_a_timeout(livekit_server: LocalLiveKit) -> None:
    state = DeviceState(delays_s={"device.battery": 3.0})
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        device = DeviceClient(call.room, call.phone_identity, timeout_s=1.0)
        with pytest.raises(DeviceTimeout, match="did not answer in time"):
            await device.call("device.battery")


async def test_permission_refusal_carries_the_apps_reason(livekit_server: LocalLiveKit) -> None:
    state = DeviceState(location_permission=False)
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        device = DeviceClient(call.room, call.phone_identity)
        with pytest.raises(DeviceRefused, match="location permission denied"):
            await device.call("device.location")
        with pytest.raises(DeviceRefused, match="unknown vibration pattern"):
            await device.call("device.vibrate", {"pattern": "sos"})


async def test_phone_that_hung_up_is_unavailable(livekit_server: LocalLiveKit) -> None:
    async with phone_call(livekit_server, device_rpc_handlers(DeviceState())) as call:
        device = DeviceClient(call.room, call.phone_identity)
        call.hang_up.set()
        await wait_until(
            lambda: call.phone_identity not in call.room.remote_participants, 10, "the hang-up"
        )
        with pytest.raises(DeviceUnavailable, match="not on the call"):
            await device.call("device.battery")


async def test_phone_hanging_up_mid_call_is_unavailable_or_timeout(
    livekit_server: LocalLiveKit,
) -> None:
    state = DeviceState(delays_s={"device.screenshot": 5.0})
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        device = DeviceClient(call.room, call.phone_identity, timeout_s=3.0)
        pending = asyncio.create_task(device.call("device.screenshot"))
        await wait_until(lambda: "device.screenshot" in state.calls, 5, "the request to arrive")
        call.hang_up.set()
        with pytest.raises((DeviceUnavailable, DeviceTimeout)):
            await pending


def _call(user_id: str) -> CallContext:
    return CallContext(
        call_id="c-rpc",
        workflow_id="call-c-rpc",
        user=UserProfile(user_id=user_id, display_name="Ada"),
    )


async def test_tool_turns_device_errors_into_tool_errors(livekit_server: LocalLiveKit) -> None:
    state = DeviceState(location_permission=False, delays_s={"device.battery": 3.0})
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        agent = CallAgent(
            _call(call.phone_identity), DeviceClient(call.room, call.phone_identity, timeout_s=1.0)
        )
        with pytest.raises(ToolError, match="location permission denied"):
            await agent.get_location(None)  # type: ignore[arg-type]  # the context is unused
        with pytest.raises(ToolError, match="did not answer in time"):
            await agent.get_battery_level(None)  # type: ignore[arg-type]
        assert json.loads(await agent.set_flashlight(None, on=True)) == {"on": True}  # type: ignore[arg-type]


async def test_llm_calls_the_battery_tool_over_rpc(livekit_server: LocalLiveKit) -> None:
    state = DeviceState(battery_level=0.64)
    async with phone_call(livekit_server, device_rpc_handlers(state)) as call:
        device = DeviceClient(call.room, call.phone_identity)
        async with ScriptedLLM() as model, AgentSession(llm=model) as session:
            await session.start(CallAgent(_call(call.phone_identity), device, greet=False))
            result = await session.run(user_input="Yes I did it")
            result.expect.skip_next_event_if(type="message", role="assistant")
            result.expect.next_event().is_function_call(name="get_battery_level")
            result.expect.next_event().is_function_call_output(is_error=False)
            reply = result.expect.next_event().is_message(role="assistant").event().item
            assert "64 percent" in (reply.text_content or "")
    assert state.calls == ["device.battery"]
