"""Errors of the payload-encryption boundary (one hierarchy; callers catch `CodecError`)."""

from __future__ import annotations


class CodecError(Exception):
    """Base class of every error raised by `callflow.codec`."""


class CodecConfigError(CodecError):
    """The codec settings are missing or malformed; the message names the variable and the fix."""


class UnknownKeyError(CodecError):
    """A payload was encrypted with a key id that is not in the key ring."""

    def __init__(self, key_id: str, known: list[str]) -> None:
        self.key_id = key_id
        super().__init__(
            f"payload was encrypted with key id {key_id!r}, which is not in CALLFLOW_CODEC_KEYS "
            f"(known ids: {', '.join(sorted(known)) or 'none'}): add the retired key back to the "
            "ring to read histories written with it"
        )


class DecryptionError(CodecError):
    """The ciphertext does not authenticate: tampered data or a different key under the same id."""


class CodecRequestError(CodecError):
    """A codec-server request body is not `{"payloads": [...]}` in protobuf JSON form."""
