"""Running a CLI command's async work against Temporal, with failures as one-line messages."""

from __future__ import annotations

import asyncio
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
    except click.ClickException:
        raise
    except Exception as exc:
        message = explain(exc)
        if message is not None:
            raise click.ClickException(message) from None
        if isinstance(exc, RuntimeError):  # the client could not connect
            raise click.ClickException(
                f"cannot reach Temporal at {settings.temporal_address}: {exc} "
                "(start it with `callflow dev` or set CALLFLOW_TEMPORAL_ADDRESS)"
            ) from None
        raise
