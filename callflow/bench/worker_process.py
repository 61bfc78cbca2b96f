"""The bench's Temporal worker, in its own process so its CPU time and peak RSS are its own.

Run as `python -m callflow.bench.worker_process`; it reads one JSON `WorkerSpec` from stdin
(secrets never go on the command line, where `ps` shows them), prints `{"ready": true}` once
polling, and shuts down when stdin closes, printing its own resource usage as the last line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

from temporalio.client import Client

from callflow.analysis.offline import OfflineAnalyzer
from callflow.memory.postgres import PostgresMemory
from callflow.push.apns import ApnsPushSender
from callflow.records.postgres import PostgresRecords
from callflow.rooms.livekit import LiveKitRooms
from callflow.telemetry import sdk_runtime


@dataclass
class WorkerTuning:
    """Worker options that decide how fast the due minute drains (see peak.py's report)."""

    max_concurrent_workflow_tasks: int = 200
    # Every armed ring holds a slot until it is due: more slots than calls.
    max_concurrent_activities: int = 2000
    # The SDK's default cache (1,000) would evict sleeping calls once more are waiting; an
    # evicted call replays its whole history when its timer fires, at the worst moment.
    max_cached_workflows: int = 2000
    workflow_task_polls: int = 10
    activity_task_polls: int = 10
    records_pool_size: int = 20
    memory_pool_size: int = 10


@dataclass
class WorkerSpec:
    temporal_address: str
    namespace: str
    task_queue: str
    database_dsn: str
    livekit_url: str
    livekit_api_key: str
    livekit_api_secret: str
    apns_state_dir: str
    apns_host: str
    apns_port: int
    tuning: WorkerTuning

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        raw = json.loads(text)
        raw["tuning"] = WorkerTuning(**raw["tuning"])
        return cls(**raw)


def resource_usage() -> dict[str, float]:
    """CPU seconds (user + system, every thread) and peak RSS of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
    }


async def serve(spec: WorkerSpec) -> None:
    from worker import Ports, create_worker

    tuning = spec.tuning
    async with AsyncExitStack() as stack:
        records = await PostgresRecords.connect(
            spec.database_dsn, max_size=tuning.records_pool_size
        )
        stack.push_async_callback(records.close)
        memory = await PostgresMemory.connect(spec.database_dsn, max_size=tuning.memory_pool_size)
        stack.push_async_callback(memory.close)
        push = ApnsPushSender.local_from_state(
            Path(spec.apns_state_dir), spec.apns_host, spec.apns_port
        )
        stack.push_async_callback(push.close)
        rooms = LiveKitRooms(spec.livekit_url, spec.livekit_api_key, spec.livekit_api_secret)
        stack.push_async_callback(rooms.close)
        client = await Client.connect(
            spec.temporal_address, namespace=spec.namespace, runtime=sdk_runtime()
        )
        worker = create_worker(
            client,
            Ports(
                records=records,
                memory=memory,
                push=push,
                rooms=rooms,
                analyzer=OfflineAnalyzer(),
                notifier=None,
            ),
            task_queue=spec.task_queue,
            max_concurrent_activities=tuning.max_concurrent_activities,
            max_concurrent_workflow_tasks=tuning.max_concurrent_workflow_tasks,
            max_cached_workflows=tuning.max_cached_workflows,
            max_concurrent_workflow_task_polls=tuning.workflow_task_polls,
            max_concurrent_activity_task_polls=tuning.activity_task_polls,
        )
        async with worker:
            print(json.dumps({"ready": True, "at": time.time()}), flush=True)
            # Closing stdin is the stop signal: it works the same whether the parent exits
            # cleanly or dies.
            await asyncio.to_thread(sys.stdin.read)
    print(json.dumps(resource_usage()), flush=True)


def main() -> None:
    # Everything but the protocol lines goes to stderr (the bench's worker log).
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    spec = WorkerSpec.from_json(sys.stdin.readline())
    asyncio.run(serve(spec))


if __name__ == "__main__":
    main()
