"""Activities over the memory port: fetch context before the call, write the summary after."""

from __future__ import annotations

import time
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
    # How long the store's search took in this attempt (ms); None from workers before it.
    elapsed_ms: float | None = None


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
        started = time.perf_counter()
        items = await self._memory.search(input.user_id, input.query, input.limit)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return FetchMemoryOutput(items=items, elapsed_ms=round(elapsed_ms, 3))

    @activity.defn
    async def write_memory(self, input: WriteMemoryInput) -> WriteMemoryOutput:
        # Idempotent by call_id in every adapter: a retry never writes a second memory.
        await self._memory.write(input.user_id, input.call_id, input.content, input.metadata)
        return WriteMemoryOutput(written=True)
