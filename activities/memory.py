"""Activities over the memory port: fetch context before the call, write the summary after."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from callflow.models import MemoryItem
from callflow.ports import MemoryStore


@dataclass
class FetchMemoryInput:
    user_id: str
    query: str
    limit: int = 5


@dataclass
class FetchMemoryOutput:
    items: list[MemoryItem] = field(default_factory=list)


@dataclass
class WriteMemoryInput:
    user_id: str
    call_id: str
    content: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class WriteMemoryOutput:
    written: bool


class MemoryActivities:
    def __init__(self, memory: MemoryStore) -> None:
        self._memory = memory

    @activity.defn
    async def fetch_memory(self, input: FetchMemoryInput) -> FetchMemoryOutput:
        items = await self._memory.search(input.user_id, input.query, input.limit)
        return FetchMemoryOutput(items=items)

    @activity.defn
    async def write_memory(self, input: WriteMemoryInput) -> WriteMemoryOutput:
        # Idempotent by call_id in every adapter: a retry never writes a second memory.
        await self._memory.write(input.user_id, input.call_id, input.content, input.metadata)
        return WriteMemoryOutput(written=True)
