"""The agent-slots port (callflow.ports.AgentSlots): agent capacity the ring path holds, over
Postgres (the SQL functions of migrations/0005_agent_slots.sql) and Supabase (the same
functions through PostgREST rpc)."""

from callflow.slots.errors import (
    InvalidSlotRequest,
    SlotsAuthError,
    SlotsError,
    SlotsUnavailable,
)

__all__ = [
    "InvalidSlotRequest",
    "SlotsAuthError",
    "SlotsError",
    "SlotsUnavailable",
]
