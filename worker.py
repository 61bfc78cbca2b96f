"""Entry point of the Temporal worker process (`python worker.py`, or `callflow worker`).

A leaf: the worker is assembled in `callflow.runtime` from the settings.
"""

from __future__ import annotations

import asyncio

from callflow.runtime import run_worker_from_settings

if __name__ == "__main__":
    asyncio.run(run_worker_from_settings())
