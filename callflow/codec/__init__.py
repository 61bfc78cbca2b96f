"""Encrypted workflow payloads (AES-256-GCM, key ring by id) and the codec server."""

from callflow.codec.codec import EncryptionCodec
from callflow.codec.converter import build_codec, codec_from_settings, data_converter
from callflow.codec.errors import (
    CodecConfigError,
    CodecError,
    CodecRequestError,
    DecryptionError,
    UnknownKeyError,
)
from callflow.codec.keys import format_key_ring, generate_key, parse_key_ring

__all__ = [
    "CodecConfigError",
    "CodecError",
    "CodecRequestError",
    "DecryptionError",
    "EncryptionCodec",
    "UnknownKeyError",
    "build_codec",
    "codec_from_settings",
    "data_converter",
    "format_key_ring",
    "generate_key",
    "parse_key_ring",
]
