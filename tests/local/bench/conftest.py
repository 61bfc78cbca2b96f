from __future__ import annotations

from typing import Any

import pytest_asyncio

from callflow.local.bench.peak import PeakOptions, run_peak_async

SMALL_PEAK_CALLS = 20


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def small_peak() -> dict[str, Any]:
    """One real run of the morning-peak bench (its own stack, worker process) on 20 calls."""
    return await run_peak_async(PeakOptions(calls=SMALL_PEAK_CALLS, lead_s=6.0))
