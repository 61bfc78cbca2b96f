"""A bounded memory of webhook event ids already forwarded to a workflow.

Only saves signals: LiveKit retries and duplicates events, and the workflow dedupes on
`event_id` anyway, so losing this memory on restart (or across replicas) is harmless.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenEvents:
    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("SeenEvents capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
