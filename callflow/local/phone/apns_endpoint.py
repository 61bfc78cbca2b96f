"""A local APNs-compatible endpoint: HTTP/2 over TLS, token auth, VoIP pushes to in-process devices.

It answers the way APNs documents (status, `apns-id` header, `{"reason": ...}` body) and checks
what APNs checks, so `ApnsPushSender` is exercised for real against it. Its "devices" are async
handlers registered in-process (the phone simulator). Every accepted push is kept, with monotonic
and wall-clock arrival times, so a benchmark can count pushes and duplicates.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from hypercorn.asyncio import serve
from hypercorn.config import Config

from callflow.push.local_credentials import (
    LOCAL_VOIP_TOPIC,
    LocalApnsCredentials,
    ensure_local_credentials,
)
from callflow.push.provider_token import (
    MAX_TOKEN_AGE_S,
    ProviderTokenInvalid,
    verify_provider_token,
)

log = logging.getLogger("callflow.local.phone.apns_endpoint")

DeviceHandler = Callable[[dict[str, Any]], Awaitable[None]]

MAX_PAYLOAD_BYTES = 5120  # APNs' limit for VoIP notifications
_PATH = re.compile(r"^/3/device/([0-9A-Fa-f]+)$")
_PUSH_TYPES = {
    "alert",
    "background",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "location",
    "pushtotalk",
    "widgets",
    "controls",
}
_FAILURE_REASONS = {
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
# APNs answers 429 TooManyProviderTokenUpdates when a provider token is updated more often than
# every 20 minutes. Apple does not publish how it counts; what is known: a connection must keep
# one token (one that changes it sooner is refused), while several servers (or a restarted one)
# each signing their own token for the same key work. So this endpoint refuses a connection's
# token change within 20 minutes, and more than a few new tokens per key within 20 minutes: a
# sender that signs a token per connection or per push is refused, a handful of processes not.
MIN_TOKEN_UPDATE_INTERVAL_S = 20 * 60
MAX_NEW_TOKENS_PER_INTERVAL = 4
# A lost response is held this long (longer than any sender waits) before it is sent.
_LOST_RESPONSE_HOLD_S = 120.0
# APNs keeps a connection open for many pushes; so does this endpoint (hypercorn's default would
# close an HTTP/2 connection after 1,000 requests).
_MAX_STREAMS_PER_CONNECTION = 1000


@dataclass(frozen=True)
class ReceivedPush:
    device_token: str
    apns_id: str
    payload: dict[str, Any]
    topic: str
    priority: int | None
    expiration: int | None
    collapse_id: str | None
    received_at_monotonic: float
    received_at_wall: float


@dataclass
class _Device:
    handler: DeviceHandler
    unregistered_at_ms: int | None = None


class _Reject(Exception):
    def __init__(self, status: int, reason: str, timestamp_ms: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.timestamp_ms = timestamp_ms


@dataclass
class ApnsEndpointApp:
    """The ASGI application; `LocalApns` serves it with hypercorn."""

    credentials: LocalApnsCredentials
    topic: str = LOCAL_VOIP_TOPIC
    received: list[ReceivedPush] = field(default_factory=list)
    requests_total: int = 0
    handler_errors: int = 0
    # Wall clock (unix seconds) for the provider-token rules; tests move it.
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._public_key = self.credentials.public_signing_key()
        self._devices: dict[str, _Device] = {}
        self._failures: list[int] = []
        self._verified_tokens: dict[str, int] = {}
        # When each new token was first seen (the endpoint has one key, one team), and each
        # connection's token and since when.
        self._new_tokens_at: list[float] = []
        self._connection_tokens: dict[tuple[str, int], tuple[str, float]] = {}
        self.token_updates_refused = 0
        self.new_tokens_accepted = 0  # distinct provider tokens ever accepted
        self._responses_to_lose = 0
        self._deliveries: set[asyncio.Task[None]] = set()

    # --- devices and fault injection -------------------------------------------------------

    def register_device(self, token: str, handler: DeviceHandler) -> None:
        self._devices[token.lower()] = _Device(handler)

    def unregister(self, token: str) -> None:
        """From now on pushes to `token` get 410 Unregistered, like an app that was deleted."""
        device = self._devices.get(token.lower())
        now_ms = int(time.time() * 1000)
        if device is None:
            self._devices[token.lower()] = _Device(_dropped, unregistered_at_ms=now_ms)
        else:
            device.unregistered_at_ms = now_ms

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` well-formed pushes with `status` (429, 500 or 503)."""
        if status not in _FAILURE_REASONS:
            raise ValueError(f"fail_next status must be one of {sorted(_FAILURE_REASONS)}")
        self._failures.extend([status] * count)

    def lose_next_responses(self, count: int) -> None:
        """Deliver the next `count` pushes but never answer them, like a connection that
        drops after APNs took the push: the sender cannot know whether the phone got it."""
        self._responses_to_lose += count

    async def drain_deliveries(self) -> None:
        """Wait until every accepted push has been handed to its device handler."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    def duplicate_apns_ids(self) -> dict[str, int]:
        """apns-ids accepted more than once, with their counts."""
        counts: dict[str, int] = {}
        for push in self.received:
            counts[push.apns_id] = counts.get(push.apns_id, 0) + 1
        return {apns_id: n for apns_id, n in counts.items() if n > 1}

    # --- ASGI ------------------------------------------------------------------------------

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        self.requests_total += 1
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        try:
            body = await _read_body(receive)
            push = self._accept(scope, headers, apns_id, body)
        except _Reject as reject:
            await _respond(send, reject.status, apns_id, reject.reason, reject.timestamp_ms)
            return
        self.received.append(push)
        device = self._devices[push.device_token]
        task = asyncio.create_task(self._deliver(device.handler, push))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        if self._responses_to_lose > 0:
            self._responses_to_lose -= 1
            await asyncio.sleep(_LOST_RESPONSE_HOLD_S)  # cancelled when the endpoint stops
        await _respond(send, 200, apns_id)

    def _accept(
        self, scope: dict[str, Any], headers: dict[str, str], apns_id: str, body: bytes | None
    ) -> ReceivedPush:
        if scope.get("http_version") != "2":
            raise _Reject(400, "BadPath")  # APNs speaks HTTP/2 only
        if scope["method"] != "POST":
            raise _Reject(405, "MethodNotAllowed")
        match = _PATH.match(scope["path"])
        if match is None:
            raise _Reject(404, "BadPath")
        token = match.group(1).lower()
        client = scope.get("client") or ("", 0)
        self._check_provider_token(headers.get("authorization"), (str(client[0]), int(client[1])))
        if headers.get("apns-id") is not None and not _is_canonical_uuid(apns_id):
            raise _Reject(400, "BadMessageId")
        topic = headers.get("apns-topic")
        if not topic:
            raise _Reject(400, "MissingTopic")
        bundle = self.topic.removesuffix(".voip")
        if topic.removesuffix(".voip") != bundle:
            raise _Reject(400, "TopicDisallowed")
        push_type = headers.get("apns-push-type")
        if push_type not in _PUSH_TYPES:
            raise _Reject(400, "InvalidPushType")
        if push_type == "voip" and not topic.endswith(".voip"):
            raise _Reject(400, "DeviceTokenNotForTopic")
        if push_type != "voip" or topic != self.topic:
            # The simulated devices only registered for PushKit VoIP pushes.
            raise _Reject(400, "DeviceTokenNotForTopic")
        priority = _optional_int(headers.get("apns-priority"), "BadPriority")
        if priority is not None and priority not in (1, 5, 10):
            raise _Reject(400, "BadPriority")
        expiration = _optional_int(headers.get("apns-expiration"), "BadExpirationDate")
        collapse_id = headers.get("apns-collapse-id")
        if collapse_id is not None and len(collapse_id.encode()) > 64:
            raise _Reject(400, "BadCollapseId")
        if body is None:
            raise _Reject(413, "PayloadTooLarge")
        if not body:
            raise _Reject(400, "PayloadEmpty")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise _Reject(400, "BadPayload") from e
        if not isinstance(payload, dict):
            raise _Reject(400, "BadPayload")
        if self._failures:
            status = self._failures.pop(0)
            raise _Reject(status, _FAILURE_REASONS[status])
        device = self._devices.get(token)
        if device is None:
            raise _Reject(400, "BadDeviceToken")
        if device.unregistered_at_ms is not None:
            raise _Reject(410, "Unregistered", device.unregistered_at_ms)
        return ReceivedPush(
            device_token=token,
            apns_id=apns_id,
            payload=payload,
            topic=topic,
            priority=priority,
            expiration=expiration,
            collapse_id=collapse_id,
            received_at_monotonic=time.monotonic(),
            received_at_wall=time.time(),
        )

    def _check_provider_token(self, authorization: str | None, connection: tuple[str, int]) -> None:
        """APNs' rules: a valid ES256 token for the key and team (403 InvalidProviderToken),
        at most an hour old (403 ExpiredProviderToken), and updated no more often than every
        20 minutes (429 TooManyProviderTokenUpdates; see MIN_TOKEN_UPDATE_INTERVAL_S)."""
        now = self.clock()
        token = authorization or ""
        issued_at = self._verified_tokens.get(token)
        if issued_at is not None:
            # Like APNs, verify a token's signature once and afterwards re-check only its age.
            if now - issued_at > MAX_TOKEN_AGE_S:
                raise _Reject(403, "ExpiredProviderToken")
            self._use_on_connection(token, connection, now)
            return
        try:
            issued_at = verify_provider_token(
                authorization,
                public_key=self._public_key,
                key_id=self.credentials.key_id,
                team_id=self.credentials.team_id,
                now=now,
            )
        except ProviderTokenInvalid as e:
            log.info("provider token refused: %s", e.detail)
            raise _Reject(403, e.reason) from e
        recent = [t for t in self._new_tokens_at if now - t < MIN_TOKEN_UPDATE_INTERVAL_S]
        if len(recent) >= MAX_NEW_TOKENS_PER_INTERVAL:
            self._refuse_update(
                f"the {len(recent) + 1}th new token for this key within "
                f"{MIN_TOKEN_UPDATE_INTERVAL_S} s"
            )
        self._use_on_connection(token, connection, now)
        self._new_tokens_at = [*recent, now]
        self.new_tokens_accepted += 1
        if len(self._verified_tokens) > 1000:
            self._verified_tokens.clear()
        self._verified_tokens[token] = issued_at

    def _use_on_connection(self, token: str, connection: tuple[str, int], now: float) -> None:
        current = self._connection_tokens.get(connection)
        if current is not None and current[0] != token:
            if now - current[1] < MIN_TOKEN_UPDATE_INTERVAL_S:
                self._refuse_update(
                    f"this connection changed its token {now - current[1]:.0f} s after the last"
                )
        if current is None or current[0] != token:
            self._connection_tokens[connection] = (token, now)

    def _refuse_update(self, why: str) -> NoReturn:
        self.token_updates_refused += 1
        log.info("provider token refused: %s (APNs allows one update per 20 minutes)", why)
        raise _Reject(429, "TooManyProviderTokenUpdates")

    async def _deliver(self, handler: DeviceHandler, push: ReceivedPush) -> None:
        try:
            # Each device gets its own copy, as a real phone would decode its own.
            await handler(json.loads(json.dumps(push.payload)))
        except Exception:
            self.handler_errors += 1
            log.exception("device handler failed for push %s", push.apns_id)


async def _dropped(payload: dict[str, Any]) -> None:
    return None


def _is_canonical_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except ValueError:
        return False


def _optional_int(value: str | None, reason: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as e:
        raise _Reject(400, reason) from e


async def _read_body(receive: Callable[[], Awaitable[dict[str, Any]]]) -> bytes | None:
    """The request body, or None once it exceeds APNs' payload limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    apns_id: str,
    reason: str | None = None,
    timestamp_ms: int | None = None,
) -> None:
    headers = [(b"apns-id", apns_id.encode())]
    body = b""
    if reason is not None:
        document: dict[str, Any] = {"reason": reason}
        if timestamp_ms is not None:
            document["timestamp"] = timestamp_ms
        body = json.dumps(document).encode()
        headers.append((b"content-type", b"application/json; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class LocalApns:
    """A running local APNs endpoint; see `start_local_apns`."""

    def __init__(
        self,
        app: ApnsEndpointApp,
        host: str,
        port: int,
        server: asyncio.Task[None],
        shutdown: asyncio.Event,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server = server
        self._shutdown = shutdown

    @property
    def credentials(self) -> LocalApnsCredentials:
        return self.app.credentials

    @property
    def ca_file(self) -> Path:
        return self.app.credentials.ca_file

    @property
    def key_pem(self) -> str:
        return self.app.credentials.signing_key_pem

    @property
    def key_id(self) -> str:
        return self.app.credentials.key_id

    @property
    def team_id(self) -> str:
        return self.app.credentials.team_id

    @property
    def topic(self) -> str:
        return self.app.topic

    @property
    def received(self) -> list[ReceivedPush]:
        return self.app.received

    def register_device(self, token: str, handler: DeviceHandler) -> None:
        self.app.register_device(token, handler)

    def unregister(self, token: str) -> None:
        self.app.unregister(token)

    def fail_next(self, count: int, status: int = 500) -> None:
        self.app.fail_next(count, status)

    def lose_next_responses(self, count: int) -> None:
        self.app.lose_next_responses(count)

    def duplicate_apns_ids(self) -> dict[str, int]:
        return self.app.duplicate_apns_ids()

    async def drain_deliveries(self) -> None:
        await self.app.drain_deliveries()

    async def stop(self) -> None:
        self._shutdown.set()
        try:
            await asyncio.wait_for(self._server, timeout=5)
        except TimeoutError:
            self._server.cancel()
        await self.app.drain_deliveries()


async def start_local_apns(
    state_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    topic: str = LOCAL_VOIP_TOPIC,
    clock: Callable[[], float] = time.time,
) -> LocalApns:
    """Serve the local APNs endpoint on `host:port` (0 = a free port) until `.stop()`."""
    if not topic.endswith(".voip"):
        raise ValueError(f"topic must be the app's VoIP topic ending in .voip, got {topic!r}")
    credentials = ensure_local_credentials(state_dir)
    app = ApnsEndpointApp(credentials=credentials, topic=topic, clock=clock)
    # Bind and listen before serving so the port is known and connections queue immediately.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    bound_port = int(sock.getsockname()[1])
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.certfile = str(credentials.cert_file)
    config.keyfile = str(credentials.cert_key_file)
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = _MAX_STREAMS_PER_CONNECTION
    config.keep_alive_max_requests = 2**31
    config.keep_alive_timeout = 3600
    config.graceful_timeout = 1
    config.backlog = 1024
    config.accesslog = None
    config.errorlog = logging.getLogger("callflow.local.phone.apns_endpoint.hypercorn")
    shutdown = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=shutdown.wait))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    log.info("local APNs endpoint on https://%s:%d (topic %s)", host, bound_port, topic)
    return LocalApns(app, host, bound_port, server, shutdown)
