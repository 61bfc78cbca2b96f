"""The Supermemory namespace of each user: `user:<readable>:<digest>`.

Supermemory's v5 API accepts a namespace on every `/ns/{namespace}/...` endpoint only when it
matches `^[a-zA-Z0-9_:-]+$` and is at most 100 characters (the SDK's OpenAPI). callflow's user ids
may hold `.`, `@`, `+` and run to 200 characters, so the user id is never sent as it is:

- `readable`: the user id's first 50 characters with each run of other characters turned into one
  `-` (so a person can tell the namespaces apart in Supermemory's console);
- `digest`: the first 32 hex digits (128 bits) of SHA-256 of the whole user id (UTF-8), which is
  what keeps two user ids apart: ids differing only in what `readable` drops or rewrites (case
  aside, `a.b` and `a-b`, or two long ids sharing 50 characters) still get different digests.

So the namespace always satisfies the rule (at most 5 + 50 + 1 + 32 = 88 characters), is the same
for a user on every host and every release (nothing but the user id goes in), and two user ids
share one only if SHA-256 collides on 128 bits. Changing any of it would orphan every stored
memory: a test pins known values.
"""

from __future__ import annotations

import hashlib
import re

from callflow.memory.errors import InvalidMemory

NAMESPACE_PATTERN = re.compile(r"^[a-zA-Z0-9_:-]+$")
NAMESPACE_MAX_LEN = 100
_PREFIX = "user"
_READABLE_LEN = 50
_DIGEST_HEX = 32
_UNSAFE_RUN = re.compile(r"[^a-zA-Z0-9_-]+")  # ':' separates the parts, so it is rewritten too


def namespace_for(user_id: str) -> str:
    """The Supermemory namespace of `user_id` (stable, valid, distinct per user id)."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidMemory(f"memory user_id must be a non-empty string, got {user_id!r}")
    readable = _UNSAFE_RUN.sub("-", user_id[:_READABLE_LEN]).strip("-") or "-"
    digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:_DIGEST_HEX]
    return f"{_PREFIX}:{readable}:{digest}"
