"""The time-skipping test server, as the workflow tests and the history recorder start it."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from callflow.local.stack.temporal import SEARCH_ATTRIBUTES, venv_bin


async def start_time_skipping_server() -> WorkflowEnvironment:
    """The time-skipping test server with callflow's search attributes registered."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(venv_bin("temporal-test-server")),
        # The SDK's default 5 s was once too short on a busy 2-core box (`make test`).
        test_server_startup_timeout=timedelta(seconds=30),
    )
    types = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    }
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={name: types[kind] for name, kind in SEARCH_ATTRIBUTES.items()},
        )
    )
    return env
