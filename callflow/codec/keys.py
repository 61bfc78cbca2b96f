"""The key ring: parse `CALLFLOW_CODEC_KEYS` ("id:<base64 32 bytes>,id2:<base64>")."""

from __future__ import annotations

import base64
import binascii
import os

from callflow.codec.errors import CodecConfigError

KEY_BYTES = 32  # AES-256
ENV_KEYS = "CALLFLOW_CODEC_KEYS"


def generate_key() -> str:
    """A fresh key, base64-encoded, ready to append to CALLFLOW_CODEC_KEYS as `id:<key>`."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def format_key_ring(keys: dict[str, bytes]) -> str:
    """The inverse of `parse_key_ring` (for tests and key-rotation tooling)."""
    return ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in keys.items())


def parse_key_ring(text: str) -> dict[str, bytes]:
    """Parse "k1:<base64>,k2:<base64>"; errors name the entry but never print key material."""
    ring: dict[str, bytes] = {}
    for position, entry in enumerate(text.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id:
            raise CodecConfigError(
                f"{ENV_KEYS} entry {position} is not `id:<base64 key>` "
                "(example: k1:<output of `python -c 'import callflow.codec.keys as k; "
                "print(k.generate_key())'`>)"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise CodecConfigError(
                f"{ENV_KEYS}: the key of id {key_id!r} is not valid base64"
            ) from None
        if len(key) != KEY_BYTES:
            raise CodecConfigError(
                f"{ENV_KEYS}: the key of id {key_id!r} is {len(key)} bytes; AES-256 needs "
                f"{KEY_BYTES} (generate one with callflow.codec.keys.generate_key())"
            )
        if key_id in ring:
            raise CodecConfigError(f"{ENV_KEYS}: key id {key_id!r} appears twice")
        ring[key_id] = key
    if not ring:
        raise CodecConfigError(f"{ENV_KEYS} is empty: set at least one `id:<base64 key>`")
    return ring
