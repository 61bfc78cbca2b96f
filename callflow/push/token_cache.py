"""One APNs provider token per (team, key) per process, reused for 50 minutes.

APNs refuses a token older than 60 minutes (`403 ExpiredProviderToken`) and answers
`429 TooManyProviderTokenUpdates` when a provider changes its token more often than every 20
minutes; after that the connection is unusable. aioapns signs a new token for every connection
it opens (and closes a connection idle for 10 s), so pushes a few seconds apart carried a new
token each. `ApnsPushSender` hands every connection the process-wide `SharedProviderToken`
instead.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import jwt
from aioapns.connection import AuthorizationHeaderProvider

# Refresh after 50 minutes: well inside APNs' hour, well outside its 20-minute minimum.
REUSE_FOR_S = 50 * 60


class SharedProviderToken(AuthorizationHeaderProvider):
    """aioapns' `AuthorizationHeaderProvider` (`get_header()`), signing a new ES256 token only
    when the current one is `REUSE_FOR_S` old."""

    def __init__(
        self,
        key_pem: str,
        key_id: str,
        team_id: str,
        *,
        clock: Callable[[], float] = time.time,
        reuse_for_s: float = REUSE_FOR_S,
    ) -> None:
        self._key_pem = key_pem
        self.key_id = key_id
        self.team_id = team_id
        self._clock = clock
        self._reuse_for_s = reuse_for_s
        self._lock = threading.Lock()  # the worker may push from more than one thread
        self._header: str | None = None
        self.issued_at: int | None = None
        self.tokens_signed = 0

    def get_header(self) -> str:
        with self._lock:
            now = self._clock()
            if (
                self._header is None
                or self.issued_at is None
                or (now - self.issued_at >= self._reuse_for_s)
            ):
                self.issued_at = int(now)
                token = jwt.encode(
                    {"iss": self.team_id, "iat": self.issued_at},
                    self._key_pem,
                    algorithm="ES256",
                    headers={"kid": self.key_id},
                )
                self._header = f"bearer {token}"
                self.tokens_signed += 1
            return self._header


_SHARED: dict[tuple[str, str, str], SharedProviderToken] = {}
_SHARED_LOCK = threading.Lock()


def shared_provider_token(key_pem: str, key_id: str, team_id: str) -> SharedProviderToken:
    """This process's token for (team, key); the key's fingerprint is part of the identity so
    two keys that share an id (local endpoints of different state dirs) never share a token."""
    fingerprint = hashlib.sha256(key_pem.encode()).hexdigest()
    with _SHARED_LOCK:
        token = _SHARED.get((team_id, key_id, fingerprint))
        if token is None:
            token = _SHARED[(team_id, key_id, fingerprint)] = SharedProviderToken(
                key_pem, key_id, team_id
            )
        return token
