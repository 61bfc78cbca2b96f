"""The one memory per call: its id and the checks every adapter applies before writing."""

from __future__ import annotations

from callflow.memory.errors import InvalidMemory


def memory_id_for(call_id: str) -> str:
    """Custom id of a call's memory; writing the same call again updates this one memory."""
    return f"call-{call_id}"


def check_write(user_id: str, call_id: str, content: str) -> None:
    for name, value in (("user_id", user_id), ("call_id", call_id), ("content", content)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidMemory(f"memory {name} must be a non-empty string, got {value!r}")
