"""The codec server of the local stack: its port, its token and the UI's codec endpoint.

With CALLFLOW_CODEC_ENABLED the local stack runs the codec server in front of the Temporal UI
(`ui_gateway.py`) and starts the UI with `--ui-codec-endpoint` = the codec server's `/codec`.
"""

from __future__ import annotations

import secrets
import socket
from typing import Any

from pydantic import SecretStr

from callflow.codec.ui_gateway import CODEC_PATH
from callflow.settings import Settings

LOCAL_TOKEN_BYTES = 32


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_codec_settings(base: Settings, fixed_ports: bool) -> dict[str, Any]:
    """Settings updates for the stack's codec server ({} with the codec off).

    An unset token gets a random one for this run: the server never answers without one.
    """
    if not base.codec_enabled:
        return {}
    token = base.codec_server_token or SecretStr(secrets.token_urlsafe(LOCAL_TOKEN_BYTES))
    return {
        "codec_server_host": "127.0.0.1",
        "codec_server_port": base.codec_server_port if fixed_ports else _free_port(),
        "codec_server_token": token,
    }


def codec_endpoint_of(codec: dict[str, Any]) -> str | None:
    """The codec endpoint the Temporal UI calls, for `local_codec_settings`' result."""
    if not codec:
        return None
    return f"http://127.0.0.1:{codec['codec_server_port']}{CODEC_PATH}"
