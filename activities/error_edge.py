"""The edge between the adapters and Temporal: where an adapter error becomes an
`ApplicationError`, once, for every activity of the worker.

An activity lets its adapter's errors (callflow/errors.py) propagate; `ErrorEdge`, registered on
the worker (callflow/runtime.py), turns a `CallflowError` into an `ApplicationError` whose type
is the class's `error_type`, whose message is the adapter's message, which is non-retryable
unless the class says `retryable = True`, and whose cause is the adapter error. So a permanent
failure ends its activity after one attempt whatever the step's retry policy, and no retry
policy has to name error types. Any other exception passes through untouched: Temporal types
it by its class name and retries it.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from callflow.errors import CallflowError


def to_application_error(error: CallflowError) -> ApplicationError:
    """The `ApplicationError` the workflow sees for `error` (raise it `from error`)."""
    return ApplicationError(
        str(error) or error.error_type, type=error.error_type, non_retryable=not error.retryable
    )


class ErrorEdge(Interceptor):
    """Worker interceptor translating adapter errors at the end of every activity."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ErrorEdgeInbound(next)


class _ErrorEdgeInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except CallflowError as e:
            raise to_application_error(e) from e
