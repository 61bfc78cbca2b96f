"""`PushSender` over APNs with token auth (aioapns), for Apple's servers or the local endpoint.

aioapns returns failures as `NotificationResult`s rather than raising; `send_voip` translates
every outcome into a `PushResult` or one error of `callflow.push.errors`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import ssl
import uuid
from pathlib import Path
from typing import Any

from aioapns import APNs, NotificationRequest, PushType
from aioapns.common import NotificationResult
from aioapns.connection import (
    APNsDevelopmentClientProtocol,
    APNsProductionClientProtocol,
    APNsTLSClientProtocol,
    JWTAuthorizationHeaderProvider,
)
from aioapns.exceptions import ConnectionClosed, MaxAttemptsExceeded
from aioapns.exceptions import ConnectionError as ApnsConnectionError

from callflow.ports import PushResult, VoipPush
from callflow.push.errors import (
    DeviceUnreachable,
    PushConfigurationError,
    PushInDoubt,
    PushRejected,
    PushRetryable,
)
from callflow.push.local_credentials import LOCAL_VOIP_TOPIC, ensure_local_credentials
from callflow.push.token_cache import shared_provider_token
from callflow.settings import Settings

log = logging.getLogger("callflow.push.apns")

_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_UNREACHABLE_REASONS = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"}
_RETRYABLE_STATUSES = {429, 500, 503}
_MAX_PAYLOAD_BYTES = 5120
_PRIORITY_IMMEDIATE = 10
# Apple asks providers to keep connections open across pushes (rapid reconnects look like an
# attack); aioapns closes one after 10 s idle. Idle connections are closed after this instead.
_IDLE_CLOSE_S = 30 * 60


class _WrittenThenLost(Exception):
    """The push was written to a connection that then closed before APNs answered: APNs may
    have delivered it. Not aioapns' ConnectionClosed, so its pool does not resend it."""


class _ApnsClientProtocol(APNsProductionClientProtocol):
    """aioapns' client protocol with two fixes that matter when many pushes go out at once.

    - Flow control: aioapns writes a push's DATA without looking at the HTTP/2 send window; when
      hundreds of pushes leave together the window runs out, h2 raises, and aioapns sleeps 1 s
      and resends on a new stream (leaving the first half-sent). Here a push waits until the
      window has room for it, which the server reopens as it reads.
    - Empty DATA frames: HTTP/2 lets a server end a response with an empty DATA frame (hypercorn
      does); aioapns parses every DATA frame as JSON, and an empty one raises inside
      `data_received`, dropping the connection with every push in flight on it.
    - Provider tokens: aioapns gives every connection its own freshly signed token; APNs answers
      429 TooManyProviderTokenUpdates to that. Every connection uses the process's one token
      for (team, key) instead (token_cache.py), and stays open when idle.
    - Lost responses: aioapns resends a push on another connection when its connection closes
      after the push was written; APNs does not dedupe on apns-id, so the phone could ring
      twice. Such a push is reported in doubt instead.
    """

    INACTIVITY_TIME = _IDLE_CLOSE_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._window_changed = asyncio.Event()
        per_connection = self.auth_provider
        if isinstance(per_connection, JWTAuthorizationHeaderProvider):
            self.auth_provider = shared_provider_token(
                per_connection.key, per_connection.key_id, per_connection.team_id
            )

    async def send_notification(self, request: NotificationRequest) -> NotificationResult:
        size = len(json.dumps(request.message, ensure_ascii=False).encode())
        while self.free_channels.is_busy or self.conn.outbound_flow_control_window < size:
            if self.transport is None or self.transport.is_closing():
                raise ConnectionClosed("connection closed while waiting for the send window")
            changed = self._window_changed
            await changed.wait()
        # No await between the check above and the write in aioapns (its channel semaphore does
        # not suspend while a stream is free), so the stream and window checked are still there.
        try:
            return await super().send_notification(request)
        except ConnectionClosed as e:
            if request.notification_id in self.requests:  # registered only once written
                raise _WrittenThenLost(str(e)) from e
            raise

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._wake_window_waiters()

    def connection_lost(self, exc: Exception | None) -> None:
        # A push whose wait timed out left a cancelled future; aioapns would set an exception
        # on it and raise InvalidStateError.
        for notification_id, pending in list(self.requests.items()):
            if pending.done():
                del self.requests[notification_id]
        super().connection_lost(exc)
        self._wake_window_waiters()

    def _wake_window_waiters(self) -> None:
        self._window_changed.set()
        self._window_changed = asyncio.Event()

    def on_data_received(self, raw_data: bytes, stream_id: int) -> None:
        if not raw_data.strip():
            return
        try:
            super().on_data_received(raw_data, stream_id)
        except ValueError:
            # Not JSON: the push's future stays open and send_voip's timeout reports it.
            log.warning("APNs answered stream %d with a body that is not JSON", stream_id)


def _protocol_for(host: str, port: int) -> type[APNsTLSClientProtocol]:
    """aioapns reads the server address from class constants: a subclass per address."""
    return type(
        "ApnsClientProtocol", (_ApnsClientProtocol,), {"APNS_SERVER": host, "APNS_PORT": port}
    )


def _h2_context(ca_file: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])  # APNs speaks HTTP/2 only
    return context


def _masked(token: str) -> str:
    return f"{token[:8]}…" if len(token) > 8 else token


async def _ignore_failure(request: NotificationRequest, result: NotificationResult) -> None:
    # aioapns would log every failure at ERROR; send_voip reports them itself.
    return None


class ApnsPushSender:
    """Sends VoIP pushes (`apns-push-type: voip`, priority 10) with provider-token auth."""

    def __init__(
        self,
        *,
        key_pem: str,
        key_id: str,
        team_id: str,
        topic: str,
        use_sandbox: bool,
        ssl_context: ssl.SSLContext | None = None,
        protocol_class: type[APNsTLSClientProtocol] | None = None,  # where to connect
        max_connections: int = 10,
        connect_attempts: int = 3,
        timeout_s: float = 10.0,
    ) -> None:
        if not topic.endswith(".voip"):
            raise PushConfigurationError(
                f"APNS_TOPIC must be the app's VoIP topic, the bundle id plus `.voip` "
                f"(e.g. {topic}.voip), got {topic!r}"
            )
        for name, value in (("key_pem", key_pem), ("key_id", key_id), ("team_id", team_id)):
            if not value:
                raise PushConfigurationError(f"ApnsPushSender needs {name}; it is empty")
        self._key_pem = key_pem
        self._key_id = key_id
        self._team_id = team_id
        self.topic = topic
        self._use_sandbox = use_sandbox
        self._ssl_context = ssl_context or _h2_context()
        if protocol_class is None:
            base = APNsDevelopmentClientProtocol if use_sandbox else APNsProductionClientProtocol
            protocol_class = _protocol_for(base.APNS_SERVER, base.APNS_PORT)
        self._protocol_class = protocol_class
        self._max_connections = max_connections
        self._connect_attempts = connect_attempts
        self._timeout_s = timeout_s
        self._client: APNs | None = None

    @classmethod
    def production(cls, settings: Settings) -> ApnsPushSender:
        """Apple's servers (sandbox or production per APNS_USE_SANDBOX), key from APNS_KEY_PATH."""
        settings.require_production_apns()
        if not settings.uses_production_apns or settings.apns_key_path is None:
            raise PushConfigurationError(
                "APNs is not configured: set APNS_KEY_PATH (the .p8 file), APNS_KEY_ID and "
                "APNS_TEAM_ID, or use ApnsPushSender.local for the local endpoint"
            )
        try:
            key_pem = settings.apns_key_path.read_text()
        except OSError as e:
            raise PushConfigurationError(
                f"APNS_KEY_PATH={settings.apns_key_path} cannot be read ({e.strerror}): point it "
                "at the AuthKey_<KEYID>.p8 file downloaded from the Apple developer portal"
            ) from e
        return cls(
            key_pem=key_pem,
            key_id=settings.apns_key_id or "",
            team_id=settings.apns_team_id or "",
            topic=settings.apns_topic,
            use_sandbox=settings.apns_use_sandbox,
        )

    @classmethod
    def local(
        cls,
        host: str,
        port: int,
        ca_file: str | os.PathLike[str] | None,
        key_pem: str,
        key_id: str,
        team_id: str,
        topic: str,
        *,
        connect_attempts: int = 2,
        timeout_s: float = 10.0,
    ) -> ApnsPushSender:
        """The local APNs endpoint at `host:port`, trusting its CA (`ca_file`; None = the
        system's trust store)."""
        return cls(
            key_pem=key_pem,
            key_id=key_id,
            team_id=team_id,
            topic=topic,
            use_sandbox=False,
            ssl_context=_h2_context(os.fspath(ca_file) if ca_file is not None else None),
            protocol_class=_protocol_for(host, port),
            connect_attempts=connect_attempts,
            timeout_s=timeout_s,
        )

    @property
    def server(self) -> tuple[str, int]:
        """Where pushes go (host, port)."""
        return (self._protocol_class.APNS_SERVER, self._protocol_class.APNS_PORT)

    @classmethod
    def local_from_state(
        cls, state_dir: Path, host: str, port: int, topic: str = LOCAL_VOIP_TOPIC
    ) -> ApnsPushSender:
        """The local endpoint's sender for a process that did not start it (e.g. the worker):
        the CA and signing key come from the shared state dir."""
        credentials = ensure_local_credentials(state_dir)
        return cls.local(
            host,
            port,
            credentials.ca_file,
            credentials.signing_key_pem,
            credentials.key_id,
            credentials.team_id,
            topic,
        )

    def _apns(self) -> APNs:
        # Built lazily: aioapns binds to the event loop that is running when it is created.
        if self._client is None:
            client = APNs(
                key=self._key_pem,
                key_id=self._key_id,
                team_id=self._team_id,
                topic=self.topic,
                use_sandbox=self._use_sandbox,
                ssl_context=self._ssl_context,
                max_connections=self._max_connections,
                max_connection_attempts=self._connect_attempts,
                err_func=_ignore_failure,
            )
            client.pool.protocol_class = self._protocol_class
            self._client = client
        return self._client

    async def send_voip(self, push: VoipPush) -> PushResult:
        request = self._request(push)
        try:
            result = await asyncio.wait_for(
                self._apns().send_notification(request), timeout=self._timeout_s
            )
        except (_WrittenThenLost, TimeoutError) as e:
            # Written (or possibly written) and unanswered: APNs may have delivered it, and
            # resending could ring the phone twice. The caller decides (activities/ring.py).
            log.warning("push %s: no answer from APNs (%s)", push.apns_id, type(e).__name__)
            raise PushInDoubt(
                f"APNs did not answer push {push.apns_id} ({type(e).__name__}); it may have "
                "been delivered",
                apns_id=push.apns_id,
            ) from e
        except (
            MaxAttemptsExceeded,
            ApnsConnectionError,
            ConnectionClosed,
            OSError,
        ) as e:
            log.warning("push %s: APNs unreachable (%s)", push.apns_id, type(e).__name__)
            raise PushRetryable(
                f"APNs could not be reached ({type(e).__name__})", apns_id=push.apns_id
            ) from e
        return self._translate(push, result)

    def _request(self, push: VoipPush) -> NotificationRequest:
        if not push.device_token or not _HEX.match(push.device_token):
            raise DeviceUnreachable(
                "VoipPush.device_token must be the hex VoIP token the app got from PushKit",
                reason="BadDeviceToken",
                apns_id=push.apns_id,
            )
        try:
            canonical = str(uuid.UUID(push.apns_id))
        except ValueError as e:
            raise PushRejected(
                f"VoipPush.apns_id must be a UUID (APNs answers BadMessageId), got "
                f"{push.apns_id!r}",
                reason="BadMessageId",
                apns_id=push.apns_id,
            ) from e
        size = len(json.dumps(push.payload, ensure_ascii=False).encode())
        if size > _MAX_PAYLOAD_BYTES:
            raise PushRejected(
                f"VoipPush.payload is {size} bytes; APNs accepts at most {_MAX_PAYLOAD_BYTES} "
                "for VoIP pushes: send ids and fetch the rest in the app",
                reason="PayloadTooLarge",
                apns_id=push.apns_id,
            )
        call_id = push.payload.get("call_id")
        return NotificationRequest(
            device_token=push.device_token,
            message=push.payload,
            notification_id=canonical,
            time_to_live=push.expiration_s,
            priority=_PRIORITY_IMMEDIATE,
            # A resend for the same call replaces one still waiting on APNs (64-byte limit).
            collapse_key=f"call-{call_id}"[:64] if call_id else None,
            push_type=PushType.VOIP,
        )

    def _translate(self, push: VoipPush, result: NotificationResult) -> PushResult:
        status = int(result.status) if str(result.status).isdigit() else 0
        reason = result.description
        if status == 200:
            log.info("push %s delivered to %s", push.apns_id, _masked(push.device_token))
            return PushResult(apns_id=push.apns_id, delivered=True, status=200)
        log.warning(
            "push %s to %s refused: %s %s",
            push.apns_id,
            _masked(push.device_token),
            status,
            reason,
        )
        detail = f"APNs answered {status} {reason or ''}".strip()
        if status == 400 and reason == "BadDeviceToken":
            # Most often a token of the other APNs environment: a development build's token
            # sent to production, or the reverse.
            environment = "sandbox" if self._use_sandbox else "production"
            other = "production" if self._use_sandbox else "sandbox"
            setting = "false" if self._use_sandbox else "true"
            detail += (
                f": the token is not valid for APNs {environment}; if the app was built for "
                f"{other} (a debug build from Xcode is sandbox, TestFlight and the App Store "
                f"are production), set APNS_USE_SANDBOX={setting}"
            )
            log.warning("push %s: %s", push.apns_id, detail)
        if status == 410 or (status == 400 and reason in _UNREACHABLE_REASONS):
            raise DeviceUnreachable(detail, status=status, reason=reason, apns_id=push.apns_id)
        if status in _RETRYABLE_STATUSES:
            raise PushRetryable(detail, status=status, reason=reason, apns_id=push.apns_id)
        raise PushRejected(detail, status=status, reason=reason, apns_id=push.apns_id)

    async def close(self) -> None:
        if self._client is not None:
            self._client.pool.close()
            self._client = None
