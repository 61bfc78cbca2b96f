from workflows.messages import call_id_from_room, room_name_for, workflow_id_for


def test_room_names_round_trip_to_their_call() -> None:
    room = room_name_for("c-42-x", 3)
    assert room == "callflow-c-42-x-a3"
    assert call_id_from_room(room) == "c-42-x"
    assert workflow_id_for("c-42-x") == "call-c-42-x"


def test_rooms_callflow_did_not_create_map_to_nothing() -> None:
    for room in ("other-room", "callflow-", "callflow-x-ab", "callflow--a1"):
        assert call_id_from_room(room) is None, room
