"""The recordings tests: a real S3-compatible server (versitygw, as the local stack runs it)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from callflow.local.stack.s3 import LocalS3, start_s3
from callflow.recordings.s3 import S3RecordingStore


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def s3_server() -> AsyncIterator[LocalS3]:
    server = await start_s3(Path(tempfile.mkdtemp(prefix="callflow-s3-")))
    try:
        yield server
    finally:
        server.stop()


def store_for(
    server: LocalS3, bucket: str | None = None, secret: str | None = None
) -> S3RecordingStore:
    return S3RecordingStore(
        endpoint=server.endpoint,
        bucket=bucket or f"test-{uuid.uuid4().hex[:12]}",
        access_key=server.access_key,
        secret_key=secret or server.secret_key,
        region=server.region,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def store(s3_server: LocalS3) -> AsyncIterator[S3RecordingStore]:
    """A store over a fresh bucket of its own."""
    s = store_for(s3_server)
    await s.ensure_bucket()
    try:
        yield s
    finally:
        await s.aclose()
