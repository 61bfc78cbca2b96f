"""Checks an APNs provider authentication token the way APNs does (ES256 JWT, `kid` + `iss`).

Used by the local APNs endpoint; written against `cryptography` directly so the check does not
share code with the signer it is checking (aioapns signs with PyJWT).
"""

from __future__ import annotations

import base64
import binascii
import json
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

# APNs refuses tokens older than one hour (ExpiredProviderToken) and asks providers to refresh
# them no more often than every 20 minutes.
MAX_TOKEN_AGE_S = 3600


class ProviderTokenInvalid(Exception):
    """The token does not pass; `reason` is the APNs reason string to answer with."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_provider_token(
    authorization: str | None,
    *,
    public_key: ec.EllipticCurvePublicKey,
    key_id: str,
    team_id: str,
    now: float | None = None,
) -> int:
    """The token's `iat`; raises `ProviderTokenInvalid` unless `authorization` is
    `bearer <valid ES256 JWT>` signed by `public_key` for `key_id` and `team_id`."""
    if not authorization:
        raise ProviderTokenInvalid("MissingProviderToken", "no authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ProviderTokenInvalid("MissingProviderToken", "authorization is not `bearer <jwt>`")
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url_decode(header_b64))
        claims = json.loads(_b64url_decode(claims_b64))
        signature = _b64url_decode(signature_b64)
    except (ValueError, binascii.Error) as e:
        raise ProviderTokenInvalid("InvalidProviderToken", "token is not a JWT") from e
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ProviderTokenInvalid("InvalidProviderToken", "token is not a JWT")
    if header.get("alg") != "ES256":
        raise ProviderTokenInvalid("InvalidProviderToken", "alg must be ES256")
    if header.get("kid") != key_id:
        raise ProviderTokenInvalid("InvalidProviderToken", "kid does not name a known key")
    if claims.get("iss") != team_id:
        raise ProviderTokenInvalid("InvalidProviderToken", "iss is not the key's team id")
    if len(signature) != 64:
        raise ProviderTokenInvalid("InvalidProviderToken", "ES256 signature must be 64 bytes")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    try:
        public_key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as e:
        raise ProviderTokenInvalid("InvalidProviderToken", "signature does not verify") from e
    issued_at = claims.get("iat")
    if not isinstance(issued_at, int):
        raise ProviderTokenInvalid("InvalidProviderToken", "iat must be an integer")
    current = time.time() if now is None else now
    if issued_at > current + 60:
        raise ProviderTokenInvalid("InvalidProviderToken", "iat is in the future")
    if current - issued_at > MAX_TOKEN_AGE_S:
        raise ProviderTokenInvalid("ExpiredProviderToken", "token is older than one hour")
    return issued_at
