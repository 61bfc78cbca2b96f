from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory

from workflows.call import CallWorkflow
from workflows.messages import (
    CALL_ATTEMPT,
    CALL_OUTCOME,
    CALL_STAGE,
    CALL_USER_ID,
    CANCEL_UPDATE,
    STATUS_QUERY,
    WORKFLOW_TYPE,
    SignalName,
    Stage,
    call_id_from_room,
    room_name_for,
    temporal_ui_link,
    workflow_id_for,
)


def test_room_names_round_trip_to_their_call() -> None:
    room = room_name_for("c-42-x", 3)
    assert room == "callflow-c-42-x-a3"
    assert call_id_from_room(room) == "c-42-x"
    assert workflow_id_for("c-42-x") == "call-c-42-x"


def test_rooms_callflow_did_not_create_map_to_nothing() -> None:
    for room in ("other-room", "callflow-", "callflow-x-ab", "callflow--a1"):
        assert call_id_from_room(room) is None, room


HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_the_names_are_the_ones_running_calls_and_recorded_histories_use() -> None:
    assert WORKFLOW_TYPE == "CallWorkflow"
    assert [s.value for s in Stage] == [
        "scheduled",
        "loading_user",
        "fetching_memory",
        "waiting_due",
        "ringing",
        "awaiting_join",
        "backing_off",
        "waiting_quiet_hours",
        "waiting_for_agent",
        "in_call",
        "analyzing",
        "writing_memory",
        "saving_record",
        "notifying",
        "done",
    ]
    assert {s.value for s in SignalName} == {
        "participant_joined",
        "participant_left",
        "room_finished",
        "agent_ready",
        "transcript_turn",
        "agent_report",
        "declined",
        "recording_finished",  # added with call recordings; the others never change
    }
    assert (STATUS_QUERY, CANCEL_UPDATE) == ("status", "cancel")
    keys = [CALL_STAGE.name, CALL_USER_ID.name, CALL_ATTEMPT.name, CALL_OUTCOME.name]
    assert keys == ["CallStage", "CallUserId", "CallAttempt", "CallOutcome"]


def test_the_workflow_registers_its_handlers_under_the_vocabulary() -> None:
    defn = workflow._Definition.must_from_class(CallWorkflow)
    assert defn.name == WORKFLOW_TYPE
    assert set(defn.signals) == set(SignalName)
    assert set(defn.queries) == {STATUS_QUERY}
    assert set(defn.updates) == {CANCEL_UPDATE}


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_recorded_histories_use_only_these_names(path: Path) -> None:
    signals: set[str] = set()
    stages: set[str] = set()
    keys: set[str] = set()
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    for event in history.events:
        if event.HasField("workflow_execution_started_event_attributes"):
            assert event.workflow_execution_started_event_attributes.workflow_type.name == (
                WORKFLOW_TYPE
            )
        if event.HasField("workflow_execution_signaled_event_attributes"):
            signals.add(event.workflow_execution_signaled_event_attributes.signal_name)
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            keys |= set(fields.indexed_fields)
            if CALL_STAGE.name in fields.indexed_fields:
                stages.add(json.loads(fields.indexed_fields[CALL_STAGE.name].data))
    assert signals <= set(SignalName)
    assert Stage.SCHEDULED in stages and stages <= set(Stage)
    always = {CALL_STAGE.name, CALL_USER_ID.name, CALL_ATTEMPT.name}
    # CallOutcome comes with the outcome; TemporalChangeVersion with `workflow.patched`.
    assert always <= keys <= always | {CALL_OUTCOME.name, "TemporalChangeVersion"}


def test_temporal_ui_link_quotes_the_workflow_id() -> None:
    link = temporal_ui_link(
        "http://127.0.0.1:8233/", "default", "call-sched-u1-2026-01-01T07:28:00Z"
    )
    assert link == (
        "http://127.0.0.1:8233/namespaces/default/workflows/call-sched-u1-2026-01-01T07%3A28%3A00Z"
    )
