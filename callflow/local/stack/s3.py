"""A local S3-compatible server on loopback: versitygw (Apache-2.0) over a plain directory.

Built once from the Go module proxy with `go install` and cached like livekit-server (`make
s3-server`). It speaks the real S3 API with Signature V4, so the recordings adapter that talks
to Supabase Storage in production talks to it unchanged.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from callflow.local.stack.temporal import free_port

VERSITYGW_VERSION = "v1.8.0"
VERSITYGW_MODULE = "github.com/versity/versitygw/cmd/versitygw"
CACHE_BIN = Path.home() / ".cache" / "callflow" / "bin" / f"versitygw-{VERSITYGW_VERSION}"
LOCAL_REGION = "us-east-1"


class S3StackError(Exception):
    """The local S3 server could not be found, built or started."""


def find_s3_binary(*, build: bool = True) -> Path:
    """$CALLFLOW_S3_SERVER_BIN, else the cached build, else build it with `go install`."""
    configured = os.environ.get("CALLFLOW_S3_SERVER_BIN")
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise S3StackError(f"CALLFLOW_S3_SERVER_BIN={configured} does not exist")
        return path
    if CACHE_BIN.is_file():
        return CACHE_BIN
    if not build:
        raise S3StackError(f"versitygw not found at {CACHE_BIN}: run `make s3-server`")
    go = shutil.which("go")
    if go is None:
        raise S3StackError(
            "versitygw is not built and `go` is not on PATH: install Go and run `make s3-server`"
        )
    gobin = CACHE_BIN.parent / "gobin-versitygw"
    gobin.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "install", f"{VERSITYGW_MODULE}@{VERSITYGW_VERSION}"],
        env={**os.environ, "GOBIN": str(gobin)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise S3StackError(f"`go install {VERSITYGW_MODULE}` failed:\n{result.stderr[-2000:]}")
    (gobin / "versitygw").replace(CACHE_BIN)
    return CACHE_BIN


@dataclass
class LocalS3:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def start_s3(state_dir: Path, *, port: int | None = None) -> LocalS3:
    """A fresh server whose buckets are the folders of `state_dir/s3/buckets` (kept across runs)."""
    binary = find_s3_binary()
    data, meta = state_dir / "s3" / "buckets", state_dir / "s3" / "meta"
    data.mkdir(parents=True, exist_ok=True)
    meta.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    access_key, secret_key = "callflow-local", secrets.token_urlsafe(24)
    log = (state_dir / "s3.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            "--port",
            f"127.0.0.1:{port}",
            "--access",
            access_key,
            "--secret",
            secret_key,
            "--region",
            LOCAL_REGION,
            "posix",
            # Object metadata beside the data, not in extended attributes (not every file
            # system under a state directory has them).
            "--sidecar",
            str(meta),
            str(data),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    server = LocalS3(endpoint, access_key, secret_key, LOCAL_REGION, data, process)
    async with httpx.AsyncClient(timeout=1.0) as http:
        for _ in range(100):
            if process.poll() is not None:
                raise S3StackError(f"versitygw exited with {process.returncode}; see s3.log")
            try:
                await http.get(endpoint)  # any answer (403 unsigned) means it listens
                return server
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    server.stop()
    raise S3StackError(f"versitygw did not listen on {endpoint} within 10 s")
