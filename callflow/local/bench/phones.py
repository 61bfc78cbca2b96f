"""Simulated phones for the bench: on a VoIP push they answer, then hang up, with no media
(`SimulatedPhones`); or, with a voice agent running, really join and talk (`LiveKitPhones`).

Each phone tells its call's workflow what LiveKit's webhooks would have: the phone joined the
room, then the room finished. A signal that fails is retried, so a busy server delays a phone
but never loses a call; failures that persist are counted, not hidden.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError

from callflow.local.phone.apns_endpoint import LocalApns
from callflow.local.phone.simulator import PhoneSimulator
from workflows.call import CallWorkflow
from workflows.messages import ParticipantEvent, RoomFinished, workflow_id_for

log = logging.getLogger("callflow.local.bench.phones")

_SIGNAL_ATTEMPTS = 5


def voip_token_for(user_id: str) -> str:
    """A stable 64-hex-digit VoIP token per simulated user (the shape PushKit tokens have)."""
    return hashlib.sha256(f"callflow-bench:{user_id}".encode()).hexdigest()


@dataclass
class PhoneBehaviour:
    answer_after_s: float = 0.0  # ringing time before the user picks up
    hang_up_after_s: float = 0.0  # talk time before the room finishes


@dataclass
class SimulatedPhones:
    client: Client
    behaviour: PhoneBehaviour
    answered: int = 0
    hung_up: int = 0
    signal_failures: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def register(self, apns: LocalApns, user_ids: list[str]) -> None:
        for user_id in user_ids:
            apns.register_device(voip_token_for(user_id), self._handler_for(user_id))

    def _handler_for(self, user_id: str) -> Any:
        async def on_push(payload: dict[str, Any]) -> None:
            # Detached from the endpoint's delivery task so a slow answer never holds a push.
            task = asyncio.create_task(self._answer(user_id, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return on_push

    async def _answer(self, user_id: str, payload: dict[str, Any]) -> None:
        call_id, room = str(payload["call_id"]), str(payload["room"])
        handle = self.client.get_workflow_handle(workflow_id_for(call_id))
        await asyncio.sleep(self.behaviour.answer_after_s)
        joined = ParticipantEvent(event_id=f"joined-{room}", room=room, identity=user_id)
        if not await self._signal(handle, CallWorkflow.participant_joined, joined):
            return
        self.answered += 1
        await asyncio.sleep(self.behaviour.hang_up_after_s)
        finished = RoomFinished(event_id=f"finished-{room}", room=room)
        if await self._signal(handle, CallWorkflow.room_finished, finished):
            self.hung_up += 1

    async def _signal(self, handle: Any, signal: Any, event: object) -> bool:
        for attempt in range(1, _SIGNAL_ATTEMPTS + 1):
            try:
                await handle.signal(signal, event)
                return True
            except RPCError as e:
                log.warning("signal to %s failed (attempt %d): %s", handle.id, attempt, e)
                await asyncio.sleep(0.2 * attempt)
        self.signal_failures += 1
        return False

    async def settle(self) -> None:
        """Wait until every phone that was pushed has answered and hung up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass
class LiveKitPhones:
    """Phones that really answer: the local stack's PhoneSimulator joins the LiveKit room with
    the push's token and talks with the agent (the scripted conversation of `phone_app`); the
    workflow learns of the join and the room's end from LiveKit's webhooks."""

    voice: str
    simulator: PhoneSimulator = field(init=False)
    conversations: dict[str, Any] = field(init=False)  # each call's ConversationLog
    signal_failures: int = 0  # these phones signal nothing themselves

    def __post_init__(self) -> None:
        from callflow.local.phone.voice import phone_app

        rpc_handlers, on_connected, self.conversations = phone_app(voice=self.voice)
        self.simulator = PhoneSimulator(rpc_handlers=rpc_handlers, on_connected=on_connected)

    def register(self, apns: LocalApns, user_ids: list[str]) -> None:
        for user_id in user_ids:
            apns.register_device(voip_token_for(user_id), self.simulator.on_push)

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until every phone that was pushed has left its call, then hang up the rest."""
        try:
            await asyncio.wait_for(
                asyncio.gather(*(c.done.wait() for c in self.simulator.calls.values())),
                timeout_s,
            )
        except TimeoutError:
            log.warning("phones still in a call %.0f s after every workflow ended", timeout_s)
        await self.simulator.close()

    def outcomes(self) -> dict[str, int]:
        return dict(Counter(str(c.outcome) for c in self.simulator.calls.values()))
