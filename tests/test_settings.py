"""Settings that shape the morning peak: bad values are refused naming the variable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from callflow.call_inputs import timings_from
from callflow.settings import Settings


def test_ring_arming_reaches_the_call_timings() -> None:
    assert timings_from(Settings(ring_arm_s=45.0)).ring_arm_s == 45.0
    assert timings_from(Settings(ring_arm_s=0)).ring_arm_s == 0  # off: timer, then ring


def test_negative_arming_names_the_variable() -> None:
    with pytest.raises(ValidationError, match="CALLFLOW_RING_ARM_S"):
        Settings(ring_arm_s=-1)


@pytest.mark.parametrize(
    "field", ["worker_max_activities", "worker_max_workflow_tasks", "worker_max_cached_workflows"]
)
def test_worker_slots_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError, match="CALLFLOW_WORKER_MAX_"):
        Settings(**{field: 0})  # type: ignore[arg-type]
