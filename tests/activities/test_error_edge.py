"""The error contract (callflow/errors.py) and its one translation at the activity edge
(activities/error_edge.py), without a server; tests/workflows/test_error_contract.py runs it on
one."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

import callflow.analysis.errors
import callflow.memory.errors
import callflow.notify.errors
import callflow.push.errors
import callflow.records.errors
import callflow.rooms.errors
from activities.error_edge import ErrorEdge, to_application_error
from activities.errors import DEVICE_UNREACHABLE
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.errors import CallflowError
from callflow.memory.errors import InvalidMemory, MemoryAuthError, MemoryUnavailable
from callflow.notify.errors import WebhookRejected, WebhookUndeliverable
from callflow.push.errors import DeviceUnreachable, PushRejected, PushRetryable
from callflow.records.errors import (
    InvalidRecord,
    RecordsAuthError,
    RecordsUnavailable,
    UserNotFound,
)
from callflow.rooms.errors import RoomsInvalidInput, RoomsRejected, RoomsUnavailable

ADAPTER_ERRORS = [
    callflow.records.errors,
    callflow.memory.errors,
    callflow.push.errors,
    callflow.rooms.errors,
    callflow.analysis.errors,
    callflow.notify.errors,
]


class Raising(ActivityInboundInterceptor):
    """The rest of the chain (the activity itself): raises `error`, or returns "done"."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if self.error is not None:
            raise self.error
        return "done"


async def through_the_edge(error: BaseException | None = None) -> Any:
    edge = ErrorEdge().intercept_activity(Raising(error))
    return await edge.execute_activity(ExecuteActivityInput(print, [], None, {}))


async def test_a_permanent_adapter_error_becomes_a_non_retryable_application_error() -> None:
    error = InvalidRecord("records store rejected save_call: calls.outcome is not an outcome")
    with pytest.raises(ApplicationError) as raised:
        await through_the_edge(error)
    assert raised.value.type == "InvalidRecord"
    assert raised.value.non_retryable
    assert raised.value.message == str(error)  # the adapter's message, kept whole
    assert raised.value.__cause__ is error  # and the adapter error chained, with its own cause


async def test_a_retryable_adapter_error_stays_retryable() -> None:
    error = RecordsUnavailable("records store unreachable during save_call: OSError")
    with pytest.raises(ApplicationError) as raised:
        await through_the_edge(error)
    assert raised.value.type == "RecordsUnavailable" and not raised.value.non_retryable
    assert raised.value.message == str(error) and raised.value.__cause__ is error


async def test_other_exceptions_and_results_pass_through_untouched() -> None:
    bug = KeyError("call_id")
    with pytest.raises(KeyError) as raised:
        await through_the_edge(bug)
    assert raised.value is bug  # Temporal types it by class name and retries it
    already = ApplicationError("explicit", type="Explicit", non_retryable=True)
    with pytest.raises(ApplicationError) as passed:
        await through_the_edge(already)
    assert passed.value is already
    assert await through_the_edge() == "done"


@pytest.mark.parametrize(
    ("error", "error_type", "retryable"),
    [
        (InvalidRecord("x"), "InvalidRecord", False),
        (RecordsAuthError("x"), "RecordsAuthError", False),
        (UserNotFound("x"), "UserNotFound", False),
        (RecordsUnavailable("x"), "RecordsUnavailable", True),
        (InvalidMemory("x"), "InvalidMemory", False),
        (MemoryAuthError("x"), "MemoryAuthError", False),
        (MemoryUnavailable("x"), "MemoryUnavailable", True),
        (AnalysisRejected("x"), "AnalysisRejected", False),
        (AnalysisUnavailable("x"), "AnalysisUnavailable", True),
        (AnalysisInvalid("x"), "AnalysisInvalid", True),
        (DeviceUnreachable("x"), "DeviceUnreachable", False),
        (PushRejected("x"), "PushRejected", False),
        (PushRetryable("x"), "PushRetryable", True),
        (RoomsRejected("x"), "RoomRejected", False),  # the type histories already hold
        (RoomsInvalidInput("x"), "RoomsInvalidInput", False),
        (RoomsUnavailable("x"), "RoomsUnavailable", True),
        (WebhookRejected("x", status=401), "WebhookRejected", False),
        (WebhookUndeliverable("x"), "WebhookUndeliverable", True),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_adapter_error_translates_to_its_type_and_retryability(
    error: CallflowError, error_type: str, retryable: bool
) -> None:
    translated = to_application_error(error)
    assert translated.type == error_type
    assert translated.non_retryable is not retryable
    assert translated.message == str(error)


def test_the_types_the_workflow_checks_are_read_from_the_classes() -> None:
    assert DEVICE_UNREACHABLE == DeviceUnreachable.error_type == "DeviceUnreachable"


def _error_classes(module: ModuleType) -> list[type[BaseException]]:
    return [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, BaseException) and c.__module__ == module.__name__
    ]


@pytest.mark.parametrize("module", ADAPTER_ERRORS, ids=lambda m: m.__name__)
def test_every_adapter_error_is_under_the_one_base_and_states_retryable(
    module: ModuleType,
) -> None:
    classes = _error_classes(module)
    assert classes
    for cls in classes:
        if cls is callflow.notify.errors.SignatureInvalid:
            continue  # raised when verifying a received webhook, never by an activity
        assert issubclass(cls, CallflowError), cls
        assert isinstance(cls.__dict__.get("retryable"), bool), cls


def test_a_class_that_does_not_state_retryable_is_refused() -> None:
    with pytest.raises(TypeError, match="must state `retryable"):

        class Vague(CallflowError):
            pass

    class Pinned(CallflowError):
        retryable = True
        error_type = "OldName"

    class Child(Pinned):
        retryable = False

    assert (Pinned.error_type, Child.error_type) == ("OldName", "Child")
