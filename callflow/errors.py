"""The one error contract of callflow's adapters.

Each adapter package keeps its own hierarchy in its `errors.py` (records, memory, push, rooms,
analysis, notify), and each hierarchy's root derives from `CallflowError`. Every class says in
its own body whether trying the same request again can help (`retryable`); a class that does
not say is refused when it is defined.

`activities/error_edge.py` reads the contract once, where an activity ends: an adapter error
becomes an `ApplicationError` whose `type` is the class's `error_type` (its name, unless the
class keeps an older name that recorded histories and running calls already use) and which is
non-retryable unless the class is retryable. No retry policy lists error types by hand.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CallflowError(Exception):
    """Base of every adapter error; subclasses state `retryable` and may pin `error_type`."""

    retryable: ClassVar[bool] = False
    # The `ApplicationError.type` this class is reported as; set for every class on definition.
    error_type: ClassVar[str] = "CallflowError"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.__dict__.get("retryable"), bool):
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} must state `retryable = True` or "
                "`retryable = False` in its class body: whether retrying the same request "
                "can help is part of callflow's error contract (callflow/errors.py)"
            )
        if "error_type" not in cls.__dict__:
            cls.error_type = cls.__name__
