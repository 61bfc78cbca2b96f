from __future__ import annotations

from typing import Any

import pytest_asyncio

from callflow.local.bench.peak import PeakOptions, run_peak_async

SMALL_PEAK_CALLS = 20
SMALL_SCHEDULED_CALLS = 10
# Production's schedules fire 300 s ahead; a test cannot wait that long.
SMALL_SCHEDULE_LEAD_S = 20.0
TINY_AGENT_CALLS = 2


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def small_peak() -> dict[str, Any]:
    """One real run of the morning-peak bench (its own stack, worker process) on 20 calls."""
    return await run_peak_async(PeakOptions(calls=SMALL_PEAK_CALLS, lead_s=6.0))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def small_scheduled_peak() -> dict[str, Any]:
    """The same bench with the calls fired by one Temporal Schedule per user (a short lead)."""
    return await run_peak_async(
        PeakOptions(calls=SMALL_SCHEDULED_CALLS, via="schedules", lead_s=SMALL_SCHEDULE_LEAD_S)
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def tiny_agent_peak() -> dict[str, Any]:
    """Two calls due at once with a real voice agent worker of capacity 1."""
    return await run_peak_async(PeakOptions(calls=TINY_AGENT_CALLS, agents=1))
