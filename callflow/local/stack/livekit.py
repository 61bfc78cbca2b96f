"""A single-node livekit-server on loopback (docs/architecture.md, "What may import what").

The server is a Go binary built once from the Go module proxy and cached; every
instance gets its own free signal, RTC-TCP and UDP ports so several can run side by side (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

LIVEKIT_VERSION = "v1.13.5"
LIVEKIT_MODULE = "github.com/livekit/livekit-server/cmd/server"
CACHE_BIN = Path.home() / ".cache" / "callflow" / "bin" / f"livekit-server-{LIVEKIT_VERSION}"
# Recent servers refuse secrets shorter than this (they are HMAC keys for every JWT).
MIN_SECRET_LEN = 32


class LiveKitStackError(Exception):
    """The local livekit-server could not be found, built, configured or started."""


class _ServerExited(LiveKitStackError):
    """The server process exited while starting (often: a port was taken meanwhile)."""


def _ensure_free(port: int) -> None:
    # Otherwise the readiness probe could be answered by whatever already listens there.
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            raise LiveKitStackError(
                f"port {port} on 127.0.0.1 is in use ({e.strerror}): stop what listens there "
                "or pass port=0 to pick a free one"
            ) from None


def find_livekit_binary(*, build: bool = True) -> Path:
    """$CALLFLOW_LIVEKIT_BIN, else the cached build, else build it with `go install` (~1 min)."""
    configured = os.environ.get("CALLFLOW_LIVEKIT_BIN")
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise LiveKitStackError(
                f"CALLFLOW_LIVEKIT_BIN={configured} does not exist: point it at a livekit-server "
                f"binary or unset it to use/build {CACHE_BIN}"
            )
        return path
    if CACHE_BIN.is_file():
        return CACHE_BIN
    if not build:
        raise LiveKitStackError(
            f"livekit-server not found at {CACHE_BIN}: run `make livekit-server`"
        )
    return _build_livekit(CACHE_BIN)


def _build_livekit(target: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        raise LiveKitStackError(
            "livekit-server is not built and `go` is not on PATH: install Go (1.23+) and run "
            "`make livekit-server`, or set CALLFLOW_LIVEKIT_BIN to an existing binary"
        )
    gobin = target.parent / "gobin"
    gobin.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [go, "install", f"{LIVEKIT_MODULE}@{LIVEKIT_VERSION}"],
        env={**os.environ, "GOBIN": str(gobin)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise LiveKitStackError(f"`go install {LIVEKIT_MODULE}` failed:\n{result.stderr[-2000:]}")
    (gobin / "server").replace(target)
    return target


def render_config(
    *,
    port: int,
    rtc_tcp_port: int,
    udp_port: int,
    api_key: str,
    api_secret: str,
    webhook_urls: list[str],
    auto_create_rooms: bool = True,
    log_level: str = "info",
) -> str:
    """The server's YAML config. JSON is valid YAML, and json.dumps quotes every value safely."""
    config: dict[str, object] = {
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "rtc": {
            "tcp_port": rtc_tcp_port,
            "udp_port": udp_port,
            "node_ip": "127.0.0.1",
            "use_external_ip": False,
            # Clients on this machine reach the server through loopback only.
            "enable_loopback_candidate": True,
        },
        "keys": {api_key: api_secret},
        # False: a phone answering a stale push cannot resurrect a room the workflow closed.
        "room": {"auto_create": auto_create_rooms},
        "logging": {"level": log_level, "json": False},
    }
    if webhook_urls:
        config["webhook"] = {"api_key": api_key, "urls": list(webhook_urls)}
    return json.dumps(config, indent=2)


@dataclass
class LocalLiveKit:
    url: str  # ws://127.0.0.1:port, what clients and the agent connect to
    http_url: str  # http://127.0.0.1:port, the server API (Twirp)
    api_key: str
    api_secret: str = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path
    config_path: Path
    started_in_s: float = 0.0
    ports: dict[str, int] = field(default_factory=dict)

    def stop(self) -> None:
        # A second SIGTERM forces the exit: a server stopped right after starting can otherwise
        # linger in its graceful shutdown for many seconds.
        for _ in range(2):
            if self.process.poll() is not None:
                return
            self.process.terminate()
            try:
                self.process.wait(timeout=1.5)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


async def _wait_until_answering(
    http_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=1.0) as client:
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise _ServerExited(
                    f"livekit-server exited with code {process.returncode}; log tail:\n{tail}"
                )
            try:
                response = await client.get(http_url)
                if response.status_code == 200 and process.poll() is None:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LiveKitStackError(
                    f"livekit-server did not answer on {http_url} in {timeout_s}s"
                )
            await asyncio.sleep(0.05)


def _pick_ports(signal_port: int) -> dict[str, int]:
    """Free ports for signal (TCP), RTC over TCP and RTC over UDP, all distinct.

    The sockets stay open until every port is chosen so the kernel cannot hand one out twice.
    """
    with contextlib.ExitStack() as held:
        tcp = [held.enter_context(socket.socket()) for _ in range(2)]
        udp = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        for sock in [*tcp[: 1 if signal_port else 2], udp]:
            sock.bind(("127.0.0.1", 0))
        if signal_port:
            chosen = [signal_port, tcp[0].getsockname()[1]]
        else:
            chosen = [tcp[0].getsockname()[1], tcp[1].getsockname()[1]]
        return {"signal": chosen[0], "rtc_tcp": chosen[1], "udp": udp.getsockname()[1]}


async def start_livekit(
    state_dir: Path,
    *,
    api_key: str,
    api_secret: str,
    webhook_urls: list[str],
    port: int = 0,
    auto_create_rooms: bool = True,
    log_level: str = "info",
    timeout_s: float = 30.0,
) -> LocalLiveKit:
    """Start livekit-server on 127.0.0.1 and return once its HTTP endpoint answers.

    `port=0` picks a free signal port. With `auto_create_rooms=False` only the server API
    creates rooms (a token for a closed room no longer opens it). The caller must `stop()` it.
    """
    if not api_key:
        raise LiveKitStackError("api_key is empty: set LIVEKIT_API_KEY (e.g. devkey)")
    if len(api_secret) < MIN_SECRET_LEN:
        raise LiveKitStackError(
            f"api_secret is {len(api_secret)} characters; livekit-server requires at least "
            f"{MIN_SECRET_LEN}: set LIVEKIT_API_SECRET to a longer random string"
        )
    binary = find_livekit_binary()
    if port:
        _ensure_free(port)
    state_dir.mkdir(parents=True, exist_ok=True)
    # Ports picked here can be taken by another process before the server binds them; when
    # that makes the server exit, try again with fresh ones.
    attempts = 3
    for attempt in range(1, attempts + 1):
        ports = _pick_ports(port)
        try:
            return await _launch(
                binary,
                state_dir,
                ports,
                render_config(
                    port=ports["signal"],
                    rtc_tcp_port=ports["rtc_tcp"],
                    udp_port=ports["udp"],
                    api_key=api_key,
                    api_secret=api_secret,
                    webhook_urls=webhook_urls,
                    auto_create_rooms=auto_create_rooms,
                    log_level=log_level,
                ),
                api_key=api_key,
                api_secret=api_secret,
                timeout_s=timeout_s,
            )
        except _ServerExited:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


async def _launch(
    binary: Path,
    state_dir: Path,
    ports: dict[str, int],
    config: str,
    *,
    api_key: str,
    api_secret: str,
    timeout_s: float,
) -> LocalLiveKit:
    port = ports["signal"]
    config_path = state_dir / f"livekit-{port}.yaml"
    config_path.write_text(config)
    config_path.chmod(0o600)  # it holds the API secret
    log_path = state_dir / f"livekit-{port}.log"
    began = time.monotonic()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(binary), "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    http_url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_answering(http_url, process, log_path, timeout_s)
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        raise
    return LocalLiveKit(
        url=f"ws://127.0.0.1:{port}",
        http_url=http_url,
        api_key=api_key,
        api_secret=api_secret,
        process=process,
        log_path=log_path,
        config_path=config_path,
        started_in_s=time.monotonic() - began,
        ports=ports,
    )
