"""The Temporal worker: runs `CallWorkflow` and its activities with the configured adapters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.analysis import AnalysisActivities, NotifyActivities
from activities.memory import MemoryActivities
from activities.records import RecordsActivities
from activities.ring import RingActivities
from activities.rooms import RoomActivities
from callflow.ports import (
    AppBackendNotifier,
    CallAnalyzer,
    MemoryStore,
    PushSender,
    RecordsStore,
    RoomService,
)
from workflows.call import CallWorkflow
from workflows.messages import TASK_QUEUE

log = logging.getLogger("callflow.worker")


@dataclass
class Ports:
    records: RecordsStore
    memory: MemoryStore
    push: PushSender
    rooms: RoomService
    analyzer: CallAnalyzer
    notifier: AppBackendNotifier | None


def activities_for(ports: Ports) -> list[Callable[..., Any]]:
    records = RecordsActivities(ports.records)
    memory = MemoryActivities(ports.memory)
    ring = RingActivities(ports.rooms, ports.push, ports.records)
    rooms = RoomActivities(ports.rooms)
    analysis = AnalysisActivities(ports.analyzer)
    notify = NotifyActivities(ports.notifier)
    return [
        records.load_call_context,
        records.save_call_record,
        memory.fetch_memory,
        memory.write_memory,
        ring.ring,
        ring.withhold_push,
        rooms.close_room,
        rooms.probe_room,
        analysis.analyze_call,
        notify.notify_app_backend,
    ]


def create_worker(
    client: Client,
    ports: Ports,
    *,
    task_queue: str = TASK_QUEUE,
    max_concurrent_activities: int = 200,
    max_concurrent_workflow_tasks: int = 100,
    **options: Any,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[CallWorkflow],
        activities=activities_for(ports),
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        **options,
    )


async def main() -> None:
    from callflow.runtime import run_worker_from_settings

    await run_worker_from_settings()


if __name__ == "__main__":
    asyncio.run(main())
