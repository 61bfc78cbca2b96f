"""Running a CLI command's async work against Temporal, with failures as one-line messages."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from temporalio.client import Client

from callflow.settings import Settings
from callflow.temporal_client import connect_temporal

T = TypeVar("T")

# Says what a command's own errors mean to its user; None for an error it does not know.
Explain = Callable[[Exception], str | None]


def run_with_temporal(
    settings: Settings, work: Callable[[Client], Awaitable[T]], explain: Explain
) -> T:
    """Connect with the codec and telemetry the settings turn on, run `work`, and turn errors
    `explain` knows, or a Temporal that cannot be reached, into a `click.ClickException`."""

    async def main() -> T:
        client = await connect_temporal(settings)
        return await work(client)

    try:
        return asyncio.run(main())
    except BaseException as exc:
        # The failed work's frames hold the client, and so its SDK runtime, for as long as the
        # error lives (to the end of the process for an error that ends it): drop their locals
        # so the runtime can still be shut down before the interpreter exits.
        _clear_frames(exc)
        if isinstance(exc, click.ClickException) or not isinstance(exc, Exception):
            raise
        message = explain(exc)
        if message is not None:
            raise click.ClickException(message) from None
        if isinstance(exc, RuntimeError):  # the client could not connect
            raise click.ClickException(
                f"cannot reach Temporal at {settings.temporal_address}: {exc} "
                "(start it with `callflow dev` or set CALLFLOW_TEMPORAL_ADDRESS)"
            ) from None
        raise


def _clear_frames(exc: BaseException) -> None:
    """Clear the locals of every finished frame in `exc`'s tracebacks and in those of the
    errors it was raised from (the printed traceback stays the same)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        pending += [error.__cause__, error.__context__]
