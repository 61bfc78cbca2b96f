"""The call API keys of one local stack, generated when it starts (never a fixed dev key).

The stack's service accepts their digests only (CALLFLOW_API_KEYS); the demo, the tests and the
operator CLI send the keys themselves, as the app backend and operators do in production.
`callflow dev` writes the operator key to a file only its user can read, for the CLI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from callflow.service.auth import ALL_SCOPES, Scope, api_key_entry, new_api_key

APP_BACKEND_SCOPES = frozenset({Scope.CALLS_WRITE, Scope.CALLS_READ, Scope.SCHEDULES_WRITE})
KEY_FILE = "api-key"  # in the stack's state dir: the operator key, mode 0600


@dataclass(frozen=True)
class LocalApiKeys:
    app_backend: str  # calls:write, calls:read, schedules:write
    operator: str  # every scope (cancel needs `operator`)

    @classmethod
    def generate(cls) -> LocalApiKeys:
        return cls(app_backend=new_api_key(), operator=new_api_key())

    def setting(self) -> str:
        """The `CALLFLOW_API_KEYS` value: digests and scopes, no key."""
        return ",".join(
            [
                api_key_entry("local-app-backend", self.app_backend, APP_BACKEND_SCOPES),
                api_key_entry("local-operator", self.operator, ALL_SCOPES),
            ]
        )

    def write_operator_key(self, state_dir: Path) -> Path:
        path = state_dir / KEY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.operator + "\n")
        os.chmod(path, 0o600)  # an older file keeps its mode through O_CREAT
        return path


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def read_key_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
