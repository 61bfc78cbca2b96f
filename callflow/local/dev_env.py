"""The environment another process needs to join a running `callflow dev` stack.

Secrets are random per start (LiveKit's API secret, the call API keys), so the stack writes
the whole environment, secrets included, to a file only its user can read, and prints the path:
`set -a; . <file>; set +a` in a shell, or `--env-file` for docker.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from callflow.local.stack.local import settings_env
from callflow.settings import Settings

ENV_FILE = "dev.env"


def _env_name(settings: Settings, field: str) -> str:
    info = type(settings).model_fields[field]
    if isinstance(info.alias, str):
        return info.alias
    prefix = str(type(settings).model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict, tuple, set)):
        return json.dumps(list(value) if isinstance(value, (tuple, set)) else value)
    return str(value)


def stack_env(settings: Settings) -> dict[str, str]:
    """Every setting the stack chose or changed from its default, as environment variables."""
    env: dict[str, str] = {}
    defaults = type(settings).model_fields
    for field, info in defaults.items():
        value = getattr(settings, field)
        if value is None:
            continue
        default = info.get_default(call_default_factory=True)
        same = (
            value.get_secret_value() == default.get_secret_value()
            if isinstance(value, SecretStr) and isinstance(default, SecretStr)
            else value == default
        )
        if not same:
            env[_env_name(settings, field)] = _env_value(value)
    env.update(settings_env(settings))
    return env


def write_env_file(settings: Settings, path: Path) -> dict[str, str]:
    """Write `stack_env(settings)` to `path`, mode 0600 from the first byte."""
    env = stack_env(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # an older file kept its mode: set it
        out.write("# callflow dev: the environment of this run (holds secrets)\n")
        for key, value in sorted(env.items()):
            out.write(f"{key}={shlex.quote(value)}\n")
    return env
