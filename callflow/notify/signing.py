"""The webhook signature scheme: HMAC-SHA256 over `"{timestamp}.{raw body}"`.

Headers: `X-Callflow-Timestamp: <unix seconds>` and `X-Callflow-Signature: v1=<hex>`. Binding the
timestamp into the MAC lets a receiver refuse replays older than its tolerance. Several `v1=`
entries (comma-separated) are accepted so a secret can be rotated without downtime.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from callflow.notify.errors import SignatureInvalid

TIMESTAMP_HEADER = "X-Callflow-Timestamp"
SIGNATURE_HEADER = "X-Callflow-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEME = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Callflow-Signature` header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str | int | None,
    body: bytes,
    header: str | None,
    tolerance_s: float = 300,
    *,
    now: float | None = None,
) -> None:
    """Raise `SignatureInvalid` unless `header` signs `body` at a `timestamp` within tolerance."""
    if timestamp is None or timestamp == "":
        raise SignatureInvalid(f"missing {TIMESTAMP_HEADER} header")
    if header is None or header == "":
        raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureInvalid(
            f"{TIMESTAMP_HEADER} must be unix seconds, got {timestamp!r}"
        ) from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        raise SignatureInvalid(
            f"{TIMESTAMP_HEADER} is {int(current - sent_at)} s from now, outside the "
            f"{int(tolerance_s)} s tolerance (replayed, or a clock is wrong)"
        )
    candidates = [
        part.strip().partition("=")[2]
        for part in header.split(",")
        if part.strip().startswith(f"{SCHEME}=")
    ]
    if not candidates:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} has no `{SCHEME}=<hex>` entry")
    expected = sign(secret, sent_at, body).partition("=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} does not match the body (wrong secret?)")
