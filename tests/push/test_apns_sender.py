"""ApnsPushSender really talking HTTP/2 over TLS to the local APNs endpoint."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from callflow.local.phone.apns_endpoint import LocalApns
from callflow.local.stack.temporal import free_port
from callflow.ports import VoipPush
from callflow.push.apns import ApnsPushSender
from callflow.push.errors import (
    DeviceUnreachable,
    PushConfigurationError,
    PushRejected,
    PushRetryable,
)
from callflow.settings import Settings
from tests.push.conftest import new_token, sender_for


def call_payload(call_id: str) -> dict[str, object]:
    return {
        "call_id": call_id,
        "provider": "livekit",
        "livekit_url": "ws://127.0.0.1:7880",
        "room": f"callflow-{call_id}-a1",
        "token": "eyJ" + "x" * 400,
        "caller_name": "Callflow Coach",
        "expires_at": "2026-11-27T10:00:00Z",
        "attempt": 1,
    }


class Phone:
    """A device handler that remembers what it was woken with."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.woken = asyncio.Event()

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)
        self.woken.set()


def push_to(token: str, call_id: str = "c1") -> VoipPush:
    return VoipPush(device_token=token, payload=call_payload(call_id), apns_id=str(uuid.uuid4()))


async def test_voip_push_reaches_the_device_with_the_exact_payload(
    local_apns: LocalApns, sender: ApnsPushSender
) -> None:
    phone, token = Phone(), new_token()
    local_apns.register_device(token, phone)
    push = push_to(token, "call-exact")
    before = time.time()

    result = await sender.send_voip(push)

    assert result.delivered and result.status == 200 and result.apns_id == push.apns_id
    await asyncio.wait_for(phone.woken.wait(), 2)
    assert phone.payloads == [push.payload]
    [received] = [p for p in local_apns.received if p.apns_id == push.apns_id]
    assert received.device_token == token
    assert received.topic == local_apns.topic
    assert received.priority == 10
    assert received.collapse_id == "call-call-exact"
    assert received.expiration is not None
    assert before + push.expiration_s - 2 <= received.expiration <= time.time() + 60 + 2


async def test_a_process_sharing_the_state_dir_can_push(
    local_apns: LocalApns, apns_state_dir: Any
) -> None:
    phone, token = Phone(), new_token()
    local_apns.register_device(token, phone)
    worker_side = ApnsPushSender.local_from_state(apns_state_dir, "127.0.0.1", local_apns.port)
    try:
        assert (await worker_side.send_voip(push_to(token))).delivered
    finally:
        await worker_side.close()


async def test_signing_key_that_is_not_the_registered_one_is_refused(
    local_apns: LocalApns,
) -> None:
    token = new_token()
    local_apns.register_device(token, Phone())
    other_key = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    impostor = sender_for(local_apns, key_pem=other_key)
    try:
        with pytest.raises(PushRejected) as caught:
            await impostor.send_voip(push_to(token))
    finally:
        await impostor.close()
    assert caught.value.status == 403 and caught.value.reason == "InvalidProviderToken"
    assert not caught.value.retryable


async def test_wrong_team_id_is_refused(local_apns: LocalApns) -> None:
    token = new_token()
    local_apns.register_device(token, Phone())
    wrong_team = sender_for(local_apns, team_id="ZZZZZZZZZZ")
    try:
        with pytest.raises(PushRejected) as caught:
            await wrong_team.send_voip(push_to(token))
    finally:
        await wrong_team.close()
    assert caught.value.reason == "InvalidProviderToken"


async def test_topic_of_another_app_is_refused(local_apns: LocalApns) -> None:
    token = new_token()
    local_apns.register_device(token, Phone())
    other_app = sender_for(local_apns, topic="com.example.other.voip")
    try:
        with pytest.raises(PushRejected) as caught:
            await other_app.send_voip(push_to(token))
    finally:
        await other_app.close()
    assert (caught.value.status, caught.value.reason) == (400, "TopicDisallowed")


async def test_unknown_token_is_unreachable(sender: ApnsPushSender) -> None:
    with pytest.raises(DeviceUnreachable) as caught:
        await sender.send_voip(push_to(new_token()))
    assert (caught.value.status, caught.value.reason) == (400, "BadDeviceToken")
    assert not caught.value.retryable


async def test_unregistered_token_is_unreachable(
    local_apns: LocalApns, sender: ApnsPushSender
) -> None:
    phone, token = Phone(), new_token()
    local_apns.register_device(token, phone)
    local_apns.unregister(token)
    with pytest.raises(DeviceUnreachable) as caught:
        await sender.send_voip(push_to(token))
    assert (caught.value.status, caught.value.reason) == (410, "Unregistered")
    assert phone.payloads == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable")],
)
async def test_throttling_and_server_errors_are_retryable(
    local_apns: LocalApns, sender: ApnsPushSender, status: int, reason: str
) -> None:
    phone, token = Phone(), new_token()
    local_apns.register_device(token, phone)
    local_apns.fail_next(1, status)
    push = push_to(token)
    with pytest.raises(PushRetryable) as caught:
        await sender.send_voip(push)
    assert (caught.value.status, caught.value.reason) == (status, reason)
    assert caught.value.retryable

    # The same push (same apns-id) goes through on the retry, once.
    assert (await sender.send_voip(push)).delivered
    assert [p.apns_id for p in local_apns.received].count(push.apns_id) == 1


async def test_connection_refused_is_retryable(local_apns: LocalApns) -> None:
    nowhere = sender_for(local_apns, port=free_port(), connect_attempts=1)
    try:
        with pytest.raises(PushRetryable):
            await nowhere.send_voip(push_to(new_token()))
    finally:
        await nowhere.close()


async def test_untrusted_certificate_is_retryable_not_silent(
    local_apns: LocalApns, tmp_path: Any
) -> None:
    # A sender that does not trust the endpoint's CA must not talk to it.
    system_ca = sender_for(local_apns, ca_file=None, connect_attempts=1)
    try:
        with pytest.raises(PushRetryable):
            await system_ca.send_voip(push_to(new_token()))
    finally:
        await system_ca.close()


async def test_bad_input_is_named_before_anything_is_sent(sender: ApnsPushSender) -> None:
    with pytest.raises(DeviceUnreachable, match="device_token"):
        await sender.send_voip(push_to("not-hex"))
    with pytest.raises(PushRejected, match="apns_id"):
        await sender.send_voip(VoipPush(new_token(), call_payload("c"), apns_id="push-1"))
    big = VoipPush(new_token(), {"call_id": "c", "blob": "x" * 6000}, str(uuid.uuid4()))
    with pytest.raises(PushRejected, match="5120"):
        await sender.send_voip(big)


def test_topic_must_be_the_voip_topic(local_apns: LocalApns) -> None:
    with pytest.raises(PushConfigurationError, match=r"\.voip"):
        sender_for(local_apns, topic="app.callflow.ios")


def test_production_needs_a_readable_key(tmp_path: Any) -> None:
    settings = Settings(
        APNS_KEY_PATH=tmp_path / "missing.p8", APNS_KEY_ID="ABCDEFGHIJ", APNS_TEAM_ID="TEAM123456"
    )
    with pytest.raises(PushConfigurationError, match="APNS_KEY_PATH"):
        ApnsPushSender.production(settings)
    with pytest.raises(PushConfigurationError, match="APNS_KEY_PATH"):
        ApnsPushSender.production(Settings(APNS_KEY_PATH=None))


def test_production_targets_apples_sandbox_or_production(tmp_path: Any) -> None:
    key = tmp_path / "AuthKey_ABCDEFGHIJ.p8"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    common = {"APNS_KEY_PATH": key, "APNS_KEY_ID": "ABCDEFGHIJ", "APNS_TEAM_ID": "TEAM123456"}
    sandbox = ApnsPushSender.production(Settings(**common, APNS_USE_SANDBOX=True))
    production = ApnsPushSender.production(Settings(**common, APNS_USE_SANDBOX=False))
    assert sandbox.server == ("api.development.push.apple.com", 443)
    assert production.server == ("api.push.apple.com", 443)


@pytest.mark.parametrize(("count", "budget_s"), [(200, 5.0), (1000, 10.0)])
async def test_many_concurrent_pushes_each_arrive_exactly_once(
    local_apns: LocalApns, sender: ApnsPushSender, count: int, budget_s: float
) -> None:
    # 1,000 at once is the morning-peak shape: it overruns HTTP/2's initial 64 KiB send window,
    # which stock aioapns answers by sleeping 1 s and resending on a new stream.
    phones = {new_token(): Phone() for _ in range(count)}
    for token, phone in phones.items():
        local_apns.register_device(token, phone)
    pushes = [push_to(token, f"bulk-{i}") for i, token in enumerate(phones)]
    started = time.perf_counter()

    results = await asyncio.gather(*(sender.send_voip(p) for p in pushes))

    elapsed = time.perf_counter() - started
    assert all(r.delivered for r in results)
    await local_apns.drain_deliveries()
    ids = {p.apns_id for p in pushes}
    arrived = [p.apns_id for p in local_apns.received if p.apns_id in ids]
    assert sorted(arrived) == sorted(ids)  # every push, none twice
    for push in pushes:
        assert phones[push.device_token].payloads == [push.payload]
    assert elapsed < budget_s, f"{count} pushes took {elapsed:.2f}s"
