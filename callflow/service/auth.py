"""Who may call the call API, and what they may do (README, "Security").

Three kinds of caller, each sending `Authorization: Bearer <credential>`:

- Servers (the app backend, operators' tools) send an API key. Only keys' SHA-256 digests are
  configured (`CALLFLOW_API_KEYS`); each names its scopes, and several are active at once so a
  key is rotated by adding the new one before removing the old. A presented key is compared
  with every configured digest in constant time (`hmac.compare_digest`, no early exit). A plain
  hash suffices: keys are 256-bit random tokens, so there is nothing to brute-force.
- The iOS app declines with the room token its VoIP push carried: a LiveKit JWT checked with
  livekit-api's `TokenVerifier` (signature, expiry, issuer), whose identity must be the call's
  user and whose room one of the call's rooms. A Supabase session JWT whose `sub` is the call's
  user is accepted too when `SUPABASE_JWT_SECRET` is set.
- LiveKit's webhook is verified by its own signature (`livekit_webhook.py`), not here.

No credential, or one that does not verify: 401. A verified caller without the right: 403.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
from livekit.api import TokenVerifier
from starlette.requests import Request

from callflow.service.errors import ServiceError
from callflow.settings import ConfigurationError, Settings
from workflows.messages import ROOM_PREFIX


class Scope:
    CALLS_WRITE = "calls:write"  # start calls, decline on a user's behalf
    CALLS_READ = "calls:read"  # call status and saved records
    SCHEDULES_WRITE = "schedules:write"  # put and delete users' schedules
    OPERATOR = "operator"  # cancel calls


ALL_SCOPES = frozenset({Scope.CALLS_WRITE, Scope.CALLS_READ, Scope.SCHEDULES_WRITE, Scope.OPERATOR})
KEY_PREFIX = "cfk_"
# Tokens minted by the ring activity live minutes; a small leeway absorbs clock skew only.
TOKEN_LEEWAY = timedelta(seconds=10)


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="callflow"'}


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


@dataclass(frozen=True)
class ApiKey:
    """One configured key: its name (safe to log), the digest of the secret, its scopes."""

    name: str
    digest: bytes
    scopes: frozenset[str]


@dataclass(frozen=True)
class Caller:
    """Who a request proved to be: a key's name, or a user id (room token / Supabase JWT)."""

    kind: str  # "api_key" | "room_token" | "supabase_jwt"
    name: str
    scopes: frozenset[str] = frozenset()


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_entry(name: str, key: str, scopes: Iterable[str]) -> str:
    """The `CALLFLOW_API_KEYS` entry for `key` (holding its digest, never the key)."""
    return f"{name}:{digest_of(key).hex()}:{'+'.join(sorted(scopes))}"


def parse_api_keys(text: str) -> list[ApiKey]:
    """`name:sha256hex:scope+scope`, comma-separated; raises ConfigurationError naming the fix."""
    keys = []
    for n, raw in enumerate((e.strip() for e in text.split(",")), start=1):
        if not raw:
            continue
        parts = raw.split(":", 2)
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{64}", parts[1]):
            raise ConfigurationError(
                f"CALLFLOW_API_KEYS entry {n} is not `<name>:<sha256 hex>:<scope>+<scope>`: "
                "generate one with `callflow api-key new --name <name> --scopes <scopes>`"
            )
        name, digest, scope_text = parts
        scopes = frozenset(s for s in scope_text.split("+") if s)
        unknown = scopes - ALL_SCOPES
        if not name or not scopes or unknown:
            raise ConfigurationError(
                f"CALLFLOW_API_KEYS entry {n} ({name or 'no name'}) has scopes "
                f"{sorted(unknown) or 'none'}: use some of {sorted(ALL_SCOPES)}"
            )
        keys.append(ApiKey(name, bytes.fromhex(digest), scopes))
    return keys


DEV_KEY_FILE = Path("dev") / "api-key"  # under CALLFLOW_STATE_DIR, written by `callflow dev`


def client_headers(settings: Settings) -> dict[str, str]:
    """What this process's own API clients (the CLI) send: CALLFLOW_API_KEY, else the key
    `callflow dev` wrote for its run; no header if neither exists (the API answers 401)."""
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if key is None:
        try:
            key = (settings.state_dir / DEV_KEY_FILE).read_text().strip() or None
        except OSError:
            key = None
    return {"Authorization": f"Bearer {key}"} if key else {}


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization") or ""
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


CallOwner = Callable[[str], Awaitable[str]]  # call id -> the call's user id (404 if unknown)


class Authenticator:
    """Checks every call API request; built once per app from Settings."""

    def __init__(
        self,
        keys: list[ApiKey],
        *,
        livekit_key: str,
        livekit_secret: str,
        supabase_jwt_secret: str | None = None,
    ) -> None:
        self._keys = keys
        self._rooms = TokenVerifier(livekit_key, livekit_secret, leeway=TOKEN_LEEWAY)
        self._supabase_secret = supabase_jwt_secret

    @classmethod
    def from_settings(
        cls, settings: Settings, livekit_key: str, livekit_secret: str
    ) -> Authenticator:
        keys = parse_api_keys(settings.api_keys.get_secret_value() if settings.api_keys else "")
        jwt_secret = settings.supabase_jwt_secret
        return cls(
            keys,
            livekit_key=livekit_key,
            livekit_secret=livekit_secret,
            supabase_jwt_secret=jwt_secret.get_secret_value() if jwt_secret else None,
        )

    def api_key(self, credential: str) -> ApiKey | None:
        presented = digest_of(credential)
        found = None
        for key in self._keys:  # every digest compared: the time says nothing about which
            if hmac.compare_digest(presented, key.digest):
                found = key
        return found

    def require(self, request: Request, scope: str) -> Caller:
        """An API key holding `scope`, else 401 (no valid key) or 403 (not that scope)."""
        credential = bearer(request)
        if credential is None:
            raise Unauthenticated("send `Authorization: Bearer <API key>`")
        key = self.api_key(credential)
        if key is None:
            raise Unauthenticated("the API key is not one this service accepts")
        if scope not in key.scopes:
            raise Forbidden(f"the API key {key.name!r} lacks the scope {scope!r}")
        return Caller("api_key", key.name, key.scopes)

    async def require_decline(self, request: Request, call_id: str, owner: CallOwner) -> Caller:
        """An API key with `calls:write`, or the call's user's room token or Supabase JWT."""
        credential = bearer(request)
        if credential is None:
            raise Unauthenticated(
                "send `Authorization: Bearer <token>`: the room token of the call's VoIP push"
            )
        key = self.api_key(credential)
        if key is not None:
            if Scope.CALLS_WRITE not in key.scopes:
                raise Forbidden(f"the API key {key.name!r} lacks the scope {Scope.CALLS_WRITE!r}")
            return Caller("api_key", key.name, key.scopes)
        user, rooms, kind = self._user_token(credential)
        call_user = await owner(call_id)
        if user != call_user or (rooms is not None and not self._is_room_of(rooms, call_id)):
            raise Forbidden(f"this token does not belong to call {call_id!r} or its user")
        return Caller(kind, user)

    def _user_token(self, credential: str) -> tuple[str, str | None, str]:
        """(user id, room or None, kind) of a verified room token or Supabase JWT; else 401."""
        try:
            claims = self._rooms.verify(credential)
        except jwt.ExpiredSignatureError as e:
            raise Unauthenticated("the room token has expired") from e
        except (jwt.PyJWTError, ValueError) as room_error:
            if self._supabase_secret is None:
                raise Unauthenticated("the token does not verify") from room_error
            try:
                payload = jwt.decode(
                    credential,
                    self._supabase_secret,
                    algorithms=["HS256"],
                    audience="authenticated",
                    leeway=TOKEN_LEEWAY.total_seconds(),
                    options={"require": ["exp", "sub"]},
                )
            except jwt.ExpiredSignatureError as e:
                raise Unauthenticated("the token has expired") from e
            except jwt.PyJWTError as e:
                raise Unauthenticated("the token does not verify") from e
            return str(payload["sub"]), None, "supabase_jwt"
        room = claims.video.room if claims.video and claims.video.room_join else ""
        return claims.identity, room or "", "room_token"

    @staticmethod
    def _is_room_of(room: str, call_id: str) -> bool:
        """One of the call's attempt rooms (`room_name_for(call_id, n)`)."""
        return re.fullmatch(re.escape(f"{ROOM_PREFIX}{call_id}-a") + r"[1-9]\d*", room) is not None
