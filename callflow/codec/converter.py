"""Build the codec and the `DataConverter` every client and worker of callflow uses."""

from __future__ import annotations

import dataclasses

from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from callflow.codec.codec import EncryptionCodec
from callflow.codec.errors import CodecConfigError
from callflow.codec.keys import parse_key_ring
from callflow.settings import Settings


def codec_from_settings(settings: Settings) -> EncryptionCodec | None:
    """The encryption codec, or None when CALLFLOW_CODEC_ENABLED is false."""
    return build_codec(settings) if settings.codec_enabled else None


def build_codec(settings: Settings) -> EncryptionCodec:
    """The codec from the key settings, whether or not clients have encryption enabled."""
    if settings.codec_keys is None:
        raise CodecConfigError(
            "CALLFLOW_CODEC_KEYS is unset: set it to `k1:<base64 32-byte key>` "
            "(or set CALLFLOW_CODEC_ENABLED=false)"
        )
    ring = parse_key_ring(settings.codec_keys.get_secret_value())
    active = settings.codec_active_key_id
    if active is None:
        if len(ring) != 1:
            raise CodecConfigError(
                "CALLFLOW_CODEC_ACTIVE_KEY_ID is unset and CALLFLOW_CODEC_KEYS holds "
                f"{len(ring)} keys: name the one new payloads are encrypted with"
            )
        active = next(iter(ring))
    return EncryptionCodec(ring, active)


def data_converter(settings: Settings, base: DataConverter | None = None) -> DataConverter:
    """`base` (default: the SDK's) with encryption when enabled.

    With encryption on, failure messages and stack traces move into an encoded payload too,
    because an error message can quote what the user said.
    """
    base = base or DataConverter.default
    codec = codec_from_settings(settings)
    if codec is None:
        return base
    return dataclasses.replace(
        base,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
