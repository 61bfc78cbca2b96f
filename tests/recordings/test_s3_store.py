"""The S3 adapter against a real S3-compatible server: Signature V4, put, size, get, delete."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from callflow.local.stack.s3 import LocalS3
from callflow.recordings.errors import RecordingsAuthError, RecordingsUnavailable
from callflow.recordings.s3 import S3RecordingStore, recording_store_from
from callflow.settings import ConfigurationError, Settings
from tests.recordings.conftest import store_for


async def test_an_object_goes_in_comes_back_and_is_deleted(store: S3RecordingStore) -> None:
    body = bytes(range(256)) * 1000
    await store.put("calls/a b+c.ogg", body, "audio/ogg")  # a key that needs encoding

    assert await store.size("calls/a b+c.ogg") == len(body)
    assert await store.get("calls/a b+c.ogg") == body
    await store.delete("calls/a b+c.ogg")
    assert await store.size("calls/a b+c.ogg") is None
    await store.delete("calls/a b+c.ogg")  # already gone: still fine (deletes are retried)


async def test_ensure_bucket_twice_is_fine(store: S3RecordingStore) -> None:
    await store.ensure_bucket()


async def test_a_wrong_secret_is_an_auth_error(s3_server: LocalS3, store: S3RecordingStore) -> None:
    wrong = store_for(s3_server, bucket=store.bucket, secret="not-the-secret-at-all")
    try:
        with pytest.raises(RecordingsAuthError):
            await wrong.put("calls/x.ogg", b"x", "audio/ogg")
    finally:
        await wrong.aclose()


async def test_an_unreachable_endpoint_is_retryable() -> None:
    dead = S3RecordingStore(
        endpoint="http://127.0.0.1:9", bucket="b", access_key="a", secret_key="s", timeout_s=2
    )
    try:
        with pytest.raises(RecordingsUnavailable) as caught:
            await dead.size("calls/x.ogg")
        assert caught.value.retryable
    finally:
        await dead.aclose()


def test_recordings_are_off_without_an_endpoint() -> None:
    assert recording_store_from(Settings(_env_file=None)) is None  # type: ignore[call-arg]


def test_an_endpoint_without_keys_is_refused_naming_them() -> None:
    settings = Settings(
        _env_file=None, recordings_s3_endpoint="https://x.supabase.co/storage/v1/s3"
    )  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="CALLFLOW_RECORDINGS_S3_ACCESS_KEY"):
        recording_store_from(settings)
    complete = settings.model_copy(
        update={"recordings_s3_access_key": "k", "recordings_s3_secret_key": SecretStr("s")}
    )
    store = recording_store_from(complete)
    assert store is not None and store.bucket == "call-recordings"
