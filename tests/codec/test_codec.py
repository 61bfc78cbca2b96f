from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from callflow.codec import (
    CodecConfigError,
    DecryptionError,
    EncryptionCodec,
    UnknownKeyError,
    data_converter,
    parse_key_ring,
)
from callflow.codec.codec import METADATA_KEY_ID
from callflow.settings import Settings

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = EncryptionCodec({"A": KEY_A}, "A")
    original = plain("call me at 7")
    [sealed] = await codec.encode([original])
    assert b"call me" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()
    assert sealed.metadata == {"encoding": b"binary/encrypted", METADATA_KEY_ID: b"A"}
    assert await codec.decode([sealed]) == [original]


async def test_same_payload_encrypts_differently_each_time() -> None:
    codec = EncryptionCodec({"A": KEY_A}, "A")
    first, second = await codec.encode([plain("x"), plain("x")])
    assert first.data != second.data


async def test_rotation_keeps_old_payloads_readable() -> None:
    [old] = await EncryptionCodec({"A": KEY_A}, "A").encode([plain("old")])
    rotated = EncryptionCodec({"A": KEY_A, "B": KEY_B}, "B")
    [new] = await rotated.encode([plain("new")])
    assert new.metadata[METADATA_KEY_ID] == b"B"
    assert await rotated.decode([old, new]) == [plain("old"), plain("new")]


async def test_unknown_key_id_names_the_id() -> None:
    [sealed] = await EncryptionCodec({"A": KEY_A}, "A").encode([plain("x")])
    with pytest.raises(UnknownKeyError, match=r"'A'.*known ids: B"):
        await EncryptionCodec({"B": KEY_B}, "B").decode([sealed])


async def test_tampering_and_wrong_key_under_same_id_are_refused() -> None:
    codec = EncryptionCodec({"A": KEY_A}, "A")
    [sealed] = await codec.encode([plain("x")])
    tampered = Payload(
        metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )
    with pytest.raises(DecryptionError):
        await codec.decode([tampered])
    with pytest.raises(DecryptionError):
        await EncryptionCodec({"A": KEY_B}, "A").decode([sealed])
    # The key id is authenticated: relabelling a payload with another id fails too.
    relabelled = Payload(metadata={**sealed.metadata, METADATA_KEY_ID: b"B"}, data=sealed.data)
    with pytest.raises(DecryptionError):
        await EncryptionCodec({"A": KEY_A, "B": KEY_A}, "A").decode([relabelled])


async def test_unencrypted_payloads_pass_through() -> None:
    codec = EncryptionCodec({"A": KEY_A}, "A")
    assert await codec.decode([plain("legacy")]) == [plain("legacy")]


def test_key_ring_parsing_and_errors_never_print_keys() -> None:
    a, b = base64.b64encode(KEY_A).decode(), base64.b64encode(KEY_B).decode()
    assert parse_key_ring(f"k1:{a}, k2:{b}") == {"k1": KEY_A, "k2": KEY_B}
    short = base64.b64encode(b"0123456789").decode()
    cases = {
        "nocolon": "entry 1 is not `id:<base64 key>`",
        f"k1:{short}": "10 bytes",
        "k1:not base64!": "not valid base64",
        f"k1:{a},k1:{b}": "appears twice",
        " , ": "is empty",
    }
    for text, message in cases.items():
        with pytest.raises(CodecConfigError, match="CALLFLOW_CODEC_KEYS") as caught:
            parse_key_ring(text)
        assert message in str(caught.value)
        assert a not in str(caught.value) and short not in str(caught.value)


def test_active_key_must_be_in_the_ring() -> None:
    with pytest.raises(CodecConfigError, match="CALLFLOW_CODEC_ACTIVE_KEY_ID='C'"):
        EncryptionCodec({"A": KEY_A}, "C")


def test_data_converter_from_settings() -> None:
    assert data_converter(Settings()) is DataConverter.default
    with pytest.raises(CodecConfigError, match="CALLFLOW_CODEC_KEYS is unset"):
        data_converter(Settings(codec_enabled=True))
    ring = f"A:{base64.b64encode(KEY_A).decode()},B:{base64.b64encode(KEY_B).decode()}"
    with pytest.raises(CodecConfigError, match="CALLFLOW_CODEC_ACTIVE_KEY_ID is unset"):
        data_converter(Settings(codec_enabled=True, codec_keys=SecretStr(ring)))
    converter = data_converter(
        Settings(codec_enabled=True, codec_keys=SecretStr(ring), codec_active_key_id="B")
    )
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_codec.active_key_id == "B"


def test_settings_read_codec_keys_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = f"A:{base64.b64encode(KEY_A).decode()}"
    monkeypatch.setenv("CALLFLOW_CODEC_ENABLED", "true")
    monkeypatch.setenv("CALLFLOW_CODEC_KEYS", ring)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    converter = data_converter(settings)
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_codec.active_key_id == "A"  # the only key needs no naming
    assert ring not in repr(settings)
