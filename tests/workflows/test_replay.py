"""Calls started by an earlier deploy go on under this one: their histories replay.

tests/workflows/histories/ holds histories recorded by every version of CallWorkflow
(`python -m tests.workflows.record_histories LABEL`). A change that is not guarded by
`workflow.patched` makes one of them diverge, and this test names the file and the event.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.call import ARMED_RING_PATCH, CallWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays_on_the_current_workflow(path: Path) -> None:
    result = await Replayer(workflows=[CallWorkflow]).replay_workflow(load(path))
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


def test_histories_from_before_and_after_armed_rings_are_kept() -> None:
    labels = {p.stem.split("-rings-")[0] for p in HISTORIES}
    assert {"v1-before-armed", "v2-armed"} <= labels
    # The v2 call that slept until due went through the patch; the v1 one did not.
    v1 = Path(__file__).parent / "histories" / "v1-before-armed-rings-due-in-2h-answered.json"
    v2 = v1.with_name("v2-armed-rings-due-in-2h-answered.json")
    assert ARMED_RING_PATCH.encode() not in _marker_details(v1)
    assert ARMED_RING_PATCH.encode() in _marker_details(v2)


def _marker_details(path: Path) -> bytes:
    details = b""
    for event in load(path).events:
        if event.HasField("marker_recorded_event_attributes"):
            for payloads in event.marker_recorded_event_attributes.details.values():
                details += b"".join(p.data for p in payloads.payloads)
    return details
