"""The production compose's LiveKit: rooms are created only by the ring, and phones get the
public URL, apart from the server API's."""

from __future__ import annotations

import pytest
import yaml

from callflow.rooms import LiveKitRooms
from callflow.rooms.errors import RoomsInvalidInput
from tests.test_compose import compose


def test_compose_turns_room_auto_create_off() -> None:
    services = compose()["services"]
    config = yaml.safe_load(services["livekit"]["environment"]["LIVEKIT_CONFIG"])
    assert config["room"]["auto_create"] is False


def test_compose_passes_the_public_url_apart_from_the_api_url() -> None:
    env = compose({"LIVEKIT_PUBLIC_URL": "wss://livekit.example.com"})["services"]
    worker = env["worker"]["environment"]
    assert worker["LIVEKIT_URL"] == "ws://livekit:7880"
    assert worker["LIVEKIT_PUBLIC_URL"] == "wss://livekit.example.com"


def test_a_phone_is_never_sent_a_url_it_cannot_join() -> None:
    internal = LiveKitRooms("ws://livekit:7880", "devkey", "s" * 40)
    with pytest.raises(RoomsInvalidInput, match="LIVEKIT_PUBLIC_URL"):
        internal.phone_token("callflow-c-a1", identity="u", name="U", ttl_s=60)
    public = LiveKitRooms(
        "ws://livekit:7880", "devkey", "s" * 40, public_url="wss://livekit.example.com"
    )
    grant = public.phone_token("callflow-c-a1", identity="u", name="U", ttl_s=60)
    assert grant.livekit_url == "wss://livekit.example.com"
    assert public.url == "ws://livekit:7880"  # the server API stays internal
