"""An answer is seen from more than one source: with LiveKit's participant_joined webhook lost,
the room probe at the end of the join window (or the agent's own signal) still finds the phone;
the phone's token and the push's `expires_at` follow the join window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from callflow.ports import RoomGrant, RoomState
from tests.workflows.fakes import FakeRooms
from tests.workflows.test_call_workflow import TIMINGS, USER, Harness, h  # noqa: F401


@dataclass
class PhoneInRoomWithoutWebhook(FakeRooms):
    """The phone joined attempt 1's room, but no webhook told the workflow; the room closes by
    itself after a few probes (the call ended)."""

    answered_attempt: int = 1
    probes_before_close: int = 3
    ttls: list[int] = field(default_factory=list)

    def phone_token(self, room: str, identity: str, name: str, ttl_s: int) -> RoomGrant:
        self.ttls.append(ttl_s)
        return super().phone_token(room, identity, name, ttl_s)

    async def probe_room(self, room: str) -> RoomState:
        self.probes.append(room)
        if not room.endswith(f"-a{self.answered_attempt}") or room in self.deleted:
            return RoomState(exists=room not in self.deleted)
        if self.probes.count(room) > self.probes_before_close:
            return RoomState(exists=False)
        return RoomState(exists=True, participant_identities=["agent-1", USER])


async def test_a_lost_join_webhook_does_not_make_an_answered_call_missed(
    h: Harness,  # noqa: F811
) -> None:
    h.rooms = PhoneInRoomWithoutWebhook()
    result, _ = await h.run(["ignore"])  # the fake phone sends no join signal

    # Answered (no agent greeted in this fake, so `no_agent`), not rung three times and missed.
    assert result.outcome == "no_agent", result.failure_reason
    assert result.attempts == 1 and len(h.phone.pushes) == 1  # type: ignore[union-attr]
    assert h.rooms.probes[0] == f"callflow-{result.call_id}-a1"  # at the end of the window


async def test_the_token_and_expires_at_follow_the_join_window(
    h: Harness,  # noqa: F811
) -> None:
    rooms = PhoneInRoomWithoutWebhook(answered_attempt=0)
    h.rooms = rooms
    result, _ = await h.run(["ignore"])

    assert result.outcome == "missed"
    assert rooms.ttls == [int(TIMINGS.join_timeout_s) + 30] * TIMINGS.max_attempts
    rings = [datetime.fromisoformat(m.at) for m in result.stages if m.stage == "ringing"]
    pushes = h.phone.pushes  # type: ignore[union-attr]
    assert len(rings) == len(pushes) == TIMINGS.max_attempts
    for ring, push in zip(rings, pushes, strict=True):
        # The end of the ring window, not the token's expiry (the fake token's is 2099).
        expires = datetime.fromisoformat(str(push.payload["expires_at"]))
        assert 0 <= (expires - ring).total_seconds() - TIMINGS.join_timeout_s < 5
