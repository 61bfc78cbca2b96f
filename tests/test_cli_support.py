"""run_with_temporal: a command's own errors and an unreachable Temporal become one-line
messages; anything else keeps its traceback."""

from __future__ import annotations

import click
import pytest
from temporalio.client import Client

from callflow.cli_support import run_with_temporal
from callflow.local.stack.temporal import DevServer, free_port
from callflow.settings import Settings


class Refused(Exception):
    pass


def explain(exc: Exception) -> str | None:
    return f"refused: {exc}" if isinstance(exc, Refused) else None


def test_unreachable_temporal_names_the_address_and_the_fix() -> None:
    settings = Settings(temporal_address=f"127.0.0.1:{free_port()}")

    async def work(client: Client) -> None:
        raise AssertionError("work must not run without a client")

    with pytest.raises(click.ClickException) as caught:
        run_with_temporal(settings, work, explain)
    message = caught.value.message
    assert f"cannot reach Temporal at {settings.temporal_address}" in message
    assert "CALLFLOW_TEMPORAL_ADDRESS" in message


def test_result_and_explained_errors(temporal_dev_server: DevServer) -> None:
    settings = Settings(temporal_address=temporal_dev_server.address)

    async def namespace(client: Client) -> str:
        return client.namespace

    async def refuse(client: Client) -> None:
        raise Refused("no such user u-1")

    async def crash(client: Client) -> None:
        raise KeyError("bug")

    assert run_with_temporal(settings, namespace, explain) == settings.temporal_namespace
    with pytest.raises(click.ClickException, match=r"^refused: no such user u-1$"):
        run_with_temporal(settings, refuse, explain)
    with pytest.raises(KeyError):  # not the user's to fix: the traceback stays
        run_with_temporal(settings, crash, explain)
