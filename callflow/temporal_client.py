"""The one way every process connects to Temporal: with the payload codec and telemetry that
the settings turn on, so no process writes plaintext into an encrypted history."""

from __future__ import annotations

from temporalio.client import Client

from callflow.codec import data_converter
from callflow.settings import Settings
from callflow.telemetry import temporal_interceptors, temporal_runtime


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=temporal_interceptors(settings),
        runtime=temporal_runtime(settings),
    )
