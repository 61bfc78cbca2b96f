"""AES-256-GCM payload codec with a key ring, so the active key can rotate by id.

Each payload is serialized whole (metadata included) and encrypted; the envelope carries only
`encoding: binary/encrypted` and the key id, so nothing about the plaintext shows in histories.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from callflow.codec.errors import CodecConfigError, DecryptionError, UnknownKeyError
from callflow.codec.keys import KEY_BYTES

ENCODING = b"binary/encrypted"
METADATA_ENCODING = "encoding"
METADATA_KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    """Encrypt with `active_key_id`; decrypt with whichever key id a payload names."""

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if active_key_id not in keys:
            raise CodecConfigError(
                f"CALLFLOW_CODEC_ACTIVE_KEY_ID={active_key_id!r} is not an id in "
                f"CALLFLOW_CODEC_KEYS (ids: {', '.join(sorted(keys)) or 'none'})"
            )
        for key_id, key in keys.items():
            if len(key) != KEY_BYTES:
                raise CodecConfigError(f"codec key {key_id!r} must be {KEY_BYTES} bytes")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        key_id = self.active_key_id
        # The key id is authenticated data: swapping the id in metadata breaks decryption.
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={METADATA_ENCODING: ENCODING, METADATA_KEY_ID: key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get(METADATA_ENCODING) != ENCODING:
            return payload  # written before encryption was enabled, or by another codec
        raw_id = payload.metadata.get(METADATA_KEY_ID)
        if raw_id is None:
            raise DecryptionError(f"encrypted payload has no {METADATA_KEY_ID!r} metadata")
        key_id = raw_id.decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(key_id, self.key_ids)
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise DecryptionError(
                f"payload encrypted with key id {key_id!r} does not authenticate: it was "
                "tampered with, or CALLFLOW_CODEC_KEYS holds a different key under that id"
            ) from None
        decoded = Payload()
        try:
            decoded.ParseFromString(plain)
        except DecodeError:
            raise DecryptionError("decrypted bytes are not a serialized Payload") from None
        return decoded
