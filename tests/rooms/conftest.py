"""The rooms tests run on the session's livekit-server and its webhook sink (tests/conftest.py)."""

from __future__ import annotations

import secrets

import pytest


@pytest.fixture
def room_name(request: pytest.FixtureRequest) -> str:
    """A room name unique to the test, in callflow's naming scheme."""
    return f"callflow-{request.node.name.replace('_', '-')}-{secrets.token_hex(3)}-a1"
