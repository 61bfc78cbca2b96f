from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from callflow.notify.errors import SignatureInvalid
from callflow.notify.signing import sign
from callflow.notify.webhook import verify_signature

BODY = b'{"call_id":"c1","outcome":"completed"}'


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, BODY) == f"v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    now = int(time.time())
    verify_signature("s3cret", str(now), BODY, sign("s3cret", now, BODY))


def test_rotation_accepts_any_listed_signature() -> None:
    now = int(time.time())
    header = f"v1={'0' * 64}, {sign('new-secret', now, BODY)}"
    verify_signature("new-secret", now, BODY, header)


@pytest.mark.parametrize(
    ("secret", "timestamp_shift", "body", "header_override", "message"),
    [
        ("s3cret", 0, BODY + b" ", None, "does not match"),
        ("other", 0, BODY, None, "does not match"),
        ("s3cret", -301, BODY, None, "tolerance"),
        ("s3cret", +400, BODY, None, "tolerance"),
        ("s3cret", 0, BODY, "", "missing X-Callflow-Signature"),
        ("s3cret", 0, BODY, "sha256=abc", "no `v1=<hex>`"),
    ],
)
def test_what_does_not_verify(
    secret: str, timestamp_shift: int, body: bytes, header_override: str | None, message: str
) -> None:
    sent_at = int(time.time()) + timestamp_shift
    header = sign("s3cret", sent_at, BODY) if header_override is None else header_override
    with pytest.raises(SignatureInvalid, match=message):
        verify_signature(secret, sent_at, body, header)


def test_timestamp_must_be_present_and_numeric() -> None:
    with pytest.raises(SignatureInvalid, match="missing X-Callflow-Timestamp"):
        verify_signature("s", None, BODY, "v1=00")
    with pytest.raises(SignatureInvalid, match="unix seconds"):
        verify_signature("s", "yesterday", BODY, "v1=00")


def test_tolerance_is_configurable() -> None:
    old = int(time.time()) - 1000
    header = sign("s", old, BODY)
    verify_signature("s", old, BODY, header, tolerance_s=2000)
    with pytest.raises(SignatureInvalid):
        verify_signature("s", old, BODY, header, tolerance_s=300)
