"""SignedWebhookNotifier against the local app backend and against a scripted raw server."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time

import httpx
import pytest

from callflow.local.app_backend import LocalReceiver
from callflow.local.stack.temporal import free_port
from callflow.notify.errors import WebhookRejected, WebhookUndeliverable
from callflow.notify.webhook import SignedWebhookNotifier, encode_event
from callflow.ports import PostCallEvent
from tests.notify.conftest import SECRET, ScriptedBackend
from tests.notify.test_post_call_schema import scenario as post_call_scenario


def event(call_id: str, outcome: str = "completed") -> PostCallEvent:
    return PostCallEvent(
        call_id=call_id,
        user_id="u-1",
        outcome=outcome,
        attempts=1,
        summary="Talked about the morning run.",
        ended_at="2026-11-27T07:15:00Z",
    )


class RecordedSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def notifier(
    url: str, client: httpx.AsyncClient, secret: str = SECRET, **kwargs: object
) -> SignedWebhookNotifier:
    return SignedWebhookNotifier(url, secret, client, backoff_base_s=0.01, **kwargs)  # type: ignore[arg-type]


async def test_delivered_and_verified_by_the_local_backend(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    rejected_before = receiver.state.rejected
    sent = event("call-ok")
    assert await notifier(receiver.url, http).post_call(sent) is True
    stored = receiver.state.by_key("call-ok")
    assert stored is not None
    assert stored.event == dataclasses.asdict(sent)
    assert receiver.state.rejected == rejected_before


async def test_a_full_event_is_delivered_whole_and_validated(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    # a completed call's event: verdicts, new commitments, cost, duration
    sent = dataclasses.replace(post_call_scenario("completed")[0], call_id="call-full")
    assert await notifier(receiver.url, http).post_call(sent) is True
    stored = receiver.state.by_key("call-full")
    assert stored is not None
    assert stored.event == dataclasses.asdict(sent)
    assert stored.event["verdicts"][0]["verdict"] == "kept"
    assert (
        encode_event(sent)
        == json.dumps(stored.event, separators=(",", ":"), sort_keys=True).encode()
    )


async def test_a_signed_body_that_breaks_the_schema_is_refused_without_retry(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    invalid_before = len(receiver.state.invalid)
    sleep = RecordedSleep()
    with pytest.raises(WebhookRejected) as caught:
        await notifier(receiver.url, http, sleep=sleep).post_call(
            event("call-invalid", outcome="voicemail")
        )
    assert caught.value.status == 422
    assert sleep.delays == []
    assert receiver.state.by_key("call-invalid") is None
    [problems] = receiver.state.invalid[invalid_before:]
    assert [p for p in problems if p.startswith("outcome:")]


async def test_redelivery_is_deduplicated_by_idempotency_key(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    sender = notifier(receiver.url, http)
    assert await sender.post_call(event("call-twice"))
    assert await sender.post_call(event("call-twice"))
    assert [e.idempotency_key for e in receiver.events].count("call-twice") == 1
    stored = receiver.state.by_key("call-twice")
    assert stored is not None and stored.deliveries == 2


async def test_wrong_secret_is_rejected_by_the_backend_without_retry(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    requests_before = receiver.state.requests
    with pytest.raises(WebhookRejected) as caught:
        await notifier(receiver.url, http, secret="not-the-secret").post_call(event("call-bad"))
    assert caught.value.status == 401
    assert receiver.state.requests == requests_before + 1
    assert receiver.state.by_key("call-bad") is None


async def test_backend_refuses_tampered_and_stale_requests(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    body = json.dumps(dataclasses.asdict(event("call-tampered"))).encode()
    now = int(time.time())

    def signature(ts: int, payload: bytes) -> str:
        return "v1=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + payload, "sha256").hexdigest()

    tampered = await http.post(
        receiver.url,
        content=body.replace(b"completed", b"cancelled"),
        headers={
            "X-Callflow-Timestamp": str(now),
            "X-Callflow-Signature": signature(now, body),
            "Idempotency-Key": "call-tampered",
        },
    )
    stale_ts = now - 600
    stale = await http.post(
        receiver.url,
        content=body,
        headers={
            "X-Callflow-Timestamp": str(stale_ts),
            "X-Callflow-Signature": signature(stale_ts, body),
            "Idempotency-Key": "call-tampered",
        },
    )
    assert (tampered.status_code, stale.status_code) == (401, 401)
    assert "tolerance" in stale.json()["error"]
    assert receiver.state.by_key("call-tampered") is None


async def test_backend_failure_then_success_is_delivered_once(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    receiver.fail_next(1, 503)
    sleep = RecordedSleep()
    assert await notifier(receiver.url, http, sleep=sleep).post_call(event("call-retry"))
    stored = receiver.state.by_key("call-retry")
    assert stored is not None and stored.deliveries == 1
    assert len(sleep.delays) == 1


async def test_events_are_listed_for_the_demo(
    receiver: LocalReceiver, http: httpx.AsyncClient
) -> None:
    await notifier(receiver.url, http).post_call(event("call-listed"))
    listed = (await http.get(receiver.base_url + "/callflow/events")).json()
    assert "call-listed" in [e["idempotency_key"] for e in listed]


async def test_request_on_the_wire(scripted: ScriptedBackend, http: httpx.AsyncClient) -> None:
    sent = event("call-wire")
    before = int(time.time())
    assert await notifier(scripted.url, http).post_call(sent)
    [request] = scripted.requests
    assert (request.method, request.path) == ("POST", "/hooks/post-call")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == "call-wire"
    timestamp = int(request.headers["x-callflow-timestamp"])
    assert before <= timestamp <= int(time.time())
    expected = hmac.new(
        SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["x-callflow-signature"] == f"v1={expected}"
    assert json.loads(request.body) == dataclasses.asdict(sent)
    assert SECRET not in json.dumps(request.headers) and SECRET.encode() not in request.body


async def test_503_then_200_retries_with_backoff(
    scripted: ScriptedBackend, http: httpx.AsyncClient
) -> None:
    scripted.statuses = [503, 502, 200]
    sleep = RecordedSleep()
    sender = SignedWebhookNotifier(scripted.url, SECRET, http, backoff_base_s=0.5, sleep=sleep)
    assert await sender.post_call(event("call-503"))
    assert len(scripted.requests) == 3
    assert sleep.delays == [0.5, 1.0]
    assert {r.headers["idempotency-key"] for r in scripted.requests} == {"call-503"}
    assert len({r.body for r in scripted.requests}) == 1


async def test_400_is_rejected_without_retry(
    scripted: ScriptedBackend, http: httpx.AsyncClient
) -> None:
    scripted.statuses = [400]
    with pytest.raises(WebhookRejected) as caught:
        await notifier(scripted.url, http).post_call(event("call-400"))
    assert caught.value.status == 400
    assert len(scripted.requests) == 1


async def test_429_is_retried(scripted: ScriptedBackend, http: httpx.AsyncClient) -> None:
    scripted.statuses = [429]
    assert await notifier(scripted.url, http).post_call(event("call-429"))
    assert len(scripted.requests) == 2


async def test_gives_up_after_a_bounded_number_of_attempts(
    scripted: ScriptedBackend, http: httpx.AsyncClient
) -> None:
    scripted.statuses = [500] * 10
    sleep = RecordedSleep()
    sender = SignedWebhookNotifier(
        scripted.url, SECRET, http, max_attempts=4, backoff_base_s=1, backoff_max_s=3, sleep=sleep
    )
    with pytest.raises(WebhookUndeliverable, match="after 4 attempts"):
        await sender.post_call(event("call-down"))
    assert len(scripted.requests) == 4
    assert sleep.delays == [1, 2, 3]


async def test_connection_errors_are_retried_then_reported(http: httpx.AsyncClient) -> None:
    sleep = RecordedSleep()
    sender = SignedWebhookNotifier(
        f"http://127.0.0.1:{free_port()}/hook", SECRET, http, max_attempts=3, sleep=sleep
    )
    with pytest.raises(WebhookUndeliverable, match="ConnectError"):
        await sender.post_call(event("call-nowhere"))
    assert len(sleep.delays) == 2


def test_configuration_errors_name_the_setting(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="APP_BACKEND_WEBHOOK_URL"):
        SignedWebhookNotifier("ftp://backend", SECRET, http)
    with pytest.raises(ValueError, match="APP_BACKEND_WEBHOOK_SECRET"):
        SignedWebhookNotifier("https://backend", "", http)
