"""`AppBackendNotifier` as a signed HTTP webhook (see `callflow.notify.signing` for the scheme).

The body is the whole `PostCallEvent` as compact JSON with sorted keys; its fields, their meaning
and the versioning rule are in docs/post-call-webhook.md, and its JSON Schema is
callflow/notify/schemas/post_call.v1.json (`callflow.notify.schema`).

Retries 5xx, 429 and connection errors with bounded exponential back-off; every attempt is
re-signed with a fresh timestamp and carries the same `Idempotency-Key` (the call id), so the
backend can drop a delivery it already processed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable

import httpx
from pydantic import SecretStr

from callflow.notify.errors import WebhookRejected, WebhookUndeliverable
from callflow.notify.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)
from callflow.ports import PostCallEvent

__all__ = ["SignedWebhookNotifier", "encode_event", "verify_signature"]

log = logging.getLogger("callflow.notify.webhook")

_MAX_RETRY_AFTER_S = 30.0


def encode_event(event: PostCallEvent) -> bytes:
    """The exact bytes that are signed and sent: every field of `event`, keys sorted."""
    return json.dumps(dataclasses.asdict(event), separators=(",", ":"), sort_keys=True).encode()


class SignedWebhookNotifier:
    def __init__(
        self,
        url: str,
        secret: str | SecretStr,
        client: httpx.AsyncClient,
        *,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        timeout_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"APP_BACKEND_WEBHOOK_URL must be an http(s) URL, got {url!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._url = url
        self._secret = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not self._secret:
            raise ValueError("APP_BACKEND_WEBHOOK_SECRET is empty: set the shared signing secret")
        self._client = client
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._timeout_s = timeout_s
        self._sleep = sleep

    async def post_call(self, event: PostCallEvent) -> bool:
        """True once the backend answers 2xx; raises `WebhookRejected` on other 4xx (except 429)
        and `WebhookUndeliverable` when every attempt met 5xx, 429 or a connection error."""
        body = encode_event(event)
        last_problem = ""
        for attempt in range(1, self._max_attempts + 1):
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
                IDEMPOTENCY_HEADER: event.call_id,
            }
            retry_after: float | None = None
            try:
                response = await self._client.post(
                    self._url, content=body, headers=headers, timeout=self._timeout_s
                )
            except httpx.TransportError as e:
                last_problem = f"{type(e).__name__}"
            else:
                if response.is_success:
                    log.info(
                        "post-call webhook for %s delivered (attempt %d)", event.call_id, attempt
                    )
                    return True
                if response.status_code != 429 and 400 <= response.status_code < 500:
                    raise WebhookRejected(
                        f"app backend refused the post-call webhook for {event.call_id}: "
                        f"{response.status_code} {response.text[:200]}",
                        status=response.status_code,
                    )
                last_problem = f"HTTP {response.status_code}"
                retry_after = _retry_after(response)
            if attempt < self._max_attempts:
                delay = min(self._backoff_max_s, self._backoff_base_s * 2 ** (attempt - 1))
                if retry_after is not None:
                    delay = max(delay, retry_after)
                log.warning(
                    "post-call webhook for %s: %s on attempt %d, retrying in %.1f s",
                    event.call_id,
                    last_problem,
                    attempt,
                    delay,
                )
                await self._sleep(delay)
        raise WebhookUndeliverable(
            f"post-call webhook for {event.call_id} not delivered after "
            f"{self._max_attempts} attempts (last: {last_problem})"
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(_MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        return None
