"""The bench's Temporal worker, in its own process so its CPU time and peak RSS are its own.

It is the production worker: `callflow.runtime.run_worker` with the adapters `build_ports`
picks from `Settings`, so the bench measures what `callflow worker` runs. Run as
`python -m callflow.local.bench.worker_process`; it reads one JSON object of Settings fields from
stdin (secrets never go on the command line, where `ps` shows them), prints `{"ready": true}`
once polling, and shuts down when stdin closes, printing its own resource usage as the last line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import sys
import time
from typing import Any

from callflow.runtime import run_worker
from callflow.settings import Settings


def resource_usage() -> dict[str, float]:
    """CPU seconds (user + system, every thread) and peak RSS of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
    }


async def serve(settings: Settings) -> None:
    async def ready() -> None:
        print(json.dumps({"ready": True, "at": time.time()}), flush=True)

    worker = asyncio.create_task(run_worker(settings, ready=ready))
    # Closing stdin is the stop signal: it works the same whether the parent exits cleanly or
    # dies.
    stop = asyncio.create_task(asyncio.to_thread(sys.stdin.read))
    await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
    worker.cancel()  # leaves `async with worker`: a graceful shutdown
    with contextlib.suppress(asyncio.CancelledError):
        await worker
    print(json.dumps(resource_usage()), flush=True)


def main() -> None:
    # Everything but the protocol lines goes to stderr (the bench's worker log).
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    fields: dict[str, Any] = json.loads(sys.stdin.readline())
    asyncio.run(serve(Settings(_env_file=None, **fields)))  # type: ignore[call-arg]


if __name__ == "__main__":
    main()
