"""The operator CLI's side of the call API's keys: `callflow api-key new` prints a key and its
digest entry; `callflow call` / `status` send CALLFLOW_API_KEY, else `callflow dev`'s key file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from pydantic import SecretStr

from callflow.cli import main
from callflow.local.stack.api_keys import LocalApiKeys
from callflow.service.auth import client_headers, parse_api_keys
from callflow.settings import Settings


def test_api_key_new_prints_the_key_and_an_entry_holding_only_its_digest() -> None:
    out = CliRunner().invoke(main, ["api-key", "new", "--name", "ops", "--scopes", "operator"])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.output)
    assert printed["key"] not in printed["api_keys_entry"]
    [entry] = parse_api_keys(printed["api_keys_entry"])
    assert (entry.name, entry.scopes) == ("ops", frozenset({"operator"}))


def test_api_key_new_refuses_unknown_scopes() -> None:
    out = CliRunner().invoke(main, ["api-key", "new", "--name", "ops", "--scopes", "root"])
    assert out.exit_code != 0 and "--scopes" in out.output


def test_the_cli_sends_its_key_else_the_dev_stacks_key_file(tmp_path: Path) -> None:
    explicit = Settings(_env_file=None, state_dir=tmp_path, api_key=SecretStr("cfk_x"))  # type: ignore[call-arg]
    assert client_headers(explicit) == {"Authorization": "Bearer cfk_x"}

    from_dev = Settings(_env_file=None, state_dir=tmp_path)  # type: ignore[call-arg]
    assert client_headers(from_dev) == {}  # no key anywhere: the API will answer 401
    keys = LocalApiKeys.generate()
    (tmp_path / "dev").mkdir()
    written = keys.write_operator_key(tmp_path / "dev")
    assert written.stat().st_mode & 0o077 == 0  # only its user can read it
    assert client_headers(from_dev) == {"Authorization": f"Bearer {keys.operator}"}
