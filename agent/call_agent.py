"""The accountability-call agent: instructions from the call context, and the phone's device
tools (docs/architecture.md, "Contracts with the iOS app") as LLM tools.

A device failure never escapes as an exception: it becomes a `ToolError` whose message the LLM
reads and can talk about.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Literal

from livekit.agents import Agent, RunContext, function_tool, llm
from livekit.agents.llm import ToolError

from agent.device_client import (
    METHOD_BATTERY,
    METHOD_FLASHLIGHT,
    METHOD_LOCATION,
    METHOD_SCREENSHOT,
    METHOD_VIBRATE,
    DeviceClient,
)
from agent.errors import DeviceError
from agent.greeting import PreparedGreeting, prepare_greeting
from agent.instructions import build_instructions
from workflows.agent_job import AgentJob

logger = logging.getLogger("callflow.agent")


class CallAgent(Agent):
    def __init__(
        self,
        call: AgentJob,
        device: DeviceClient,
        *,
        greet: bool = True,
        phone_present: asyncio.Future[None] | None = None,
        ready_to_greet: asyncio.Future[None] | None = None,
    ) -> None:
        super().__init__(instructions=build_instructions(call))
        self.call = call
        self.device = device
        self._greet = greet
        self._phone_present = phone_present
        # Set once the greeting's first audio is ready (or cannot be prepared ahead): the
        # call then publishes the agent's voice, and the phone is rung (agent/voice_track.py).
        self._ready_to_greet = ready_to_greet

    async def on_enter(self) -> None:
        # Greet the moment the phone is in the room (the session may start before it joins);
        # the instructions make the first question the one about due commitments. The line and
        # its audio are prepared while the phone rings (agent/greeting.py).
        preparing: asyncio.Task[PreparedGreeting | None] | None = None
        if self._greet:
            model = self.session.llm
            preparing = asyncio.create_task(
                prepare_greeting(
                    model if isinstance(model, llm.LLM) else None,
                    self.session.tts,
                    self.chat_ctx,
                    llm.ToolContext(self.tools).flatten(),
                ),
                name="prepare-greeting",
            )
        greeting: PreparedGreeting | None = None
        try:
            greeting = await preparing if preparing is not None else None
            if greeting is not None and not await greeting.playable():
                greeting = None
            self._say_ready()
            if self._phone_present is not None:
                await self._phone_present
        finally:
            self._say_ready()
            if preparing is not None and not preparing.done():
                preparing.cancel()
        if not self._greet:
            return
        if greeting is None:
            self.session.generate_reply()
        else:
            self.session.say(greeting.text, audio=greeting.audio(), add_to_chat_ctx=True)

    def _say_ready(self) -> None:
        if self._ready_to_greet is not None and not self._ready_to_greet.done():
            self._ready_to_greet.set_result(None)

    async def _device(self, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return await self.device.call(method, payload)
        except DeviceError as exc:
            raise ToolError(f"Device tool failed: {exc.spoken}") from exc

    @function_tool
    async def get_battery_level(self, context: RunContext) -> str:
        """Read the battery level of the user's phone.

        Use it when the user mentions their phone might die, or before a longer exercise.
        Returns JSON with `level` (0.0 to 1.0) and `charging` (true/false).
        """
        doc = await self._device(METHOD_BATTERY)
        return json.dumps({"level": doc.get("level"), "charging": doc.get("charging")})

    @function_tool
    async def set_flashlight(self, context: RunContext, on: bool) -> str:
        """Turn the phone's flashlight on or off.

        Args:
            on: true to switch the flashlight on, false to switch it off.
        """
        doc = await self._device(METHOD_FLASHLIGHT, {"on": on})
        return json.dumps({"on": doc.get("on")})

    @function_tool
    async def vibrate(self, context: RunContext, pattern: Literal["short", "long"]) -> str:
        """Make the user's phone vibrate, e.g. as a cue to start an exercise.

        Args:
            pattern: "short" for a quick buzz, "long" for a longer one.
        """
        doc = await self._device(METHOD_VIBRATE, {"pattern": pattern})
        return json.dumps({"ok": bool(doc.get("ok"))})

    @function_tool
    async def get_location(self, context: RunContext) -> str:
        """Get the phone's approximate location (latitude, longitude, accuracy in meters).

        Only use it when the user asks for something that needs where they are. The user may
        have denied location access; then tell them you cannot see their location.
        """
        doc = await self._device(METHOD_LOCATION)
        return json.dumps(
            {"lat": doc.get("lat"), "lon": doc.get("lon"), "accuracy_m": doc.get("accuracy_m")}
        )

    @function_tool
    async def take_screenshot(self, context: RunContext) -> str:
        """Take a screenshot of the phone's screen, when the user asks you to look at something.

        You receive only its size here; the image is kept with the call.
        """
        doc = await self._device(METHOD_SCREENSHOT)
        png = doc.get("png_base64")
        if not isinstance(png, str) or not png:
            raise ToolError("Device tool failed: the phone sent an empty screenshot")
        return json.dumps(
            {"width": doc.get("width"), "height": doc.get("height"), "png_base64_chars": len(png)}
        )
