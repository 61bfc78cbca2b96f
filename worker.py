"""Entry point of the Temporal worker process (`python worker.py`, or `callflow worker`).

A leaf: the worker is assembled in `callflow.runtime` from the settings.
"""

from __future__ import annotations

import asyncio

from callflow.runtime import run_worker_from_settings
from callflow.telemetry import shutdown_sdk_runtimes

if __name__ == "__main__":
    try:
        asyncio.run(run_worker_from_settings())
    finally:
        # Before the interpreter finalises, or the SDK's threads can abort it at exit.
        shutdown_sdk_runtimes()
