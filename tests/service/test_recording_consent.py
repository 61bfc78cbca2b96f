"""PUT /users/{user_id}/recording-consent: off by default, set by the app backend's key."""

from __future__ import annotations

import uuid

from callflow.models import User
from callflow.service.auth import Scope
from tests.service.conftest import SCOPED_KEYS, Stack, auth_headers


async def _new_user(stack: Stack) -> str:
    user_id = f"consent-{uuid.uuid4().hex[:8]}"
    await stack.records.upsert_user(User(user_id, "Grace", voip_token=None))
    return user_id


async def test_consent_is_off_until_the_app_turns_it_on_and_off_again(stack: Stack) -> None:
    user_id = await _new_user(stack)
    user = await stack.records.get_user(user_id)
    assert user is not None and user.recording_consent is False

    on = await stack.http.put(f"/users/{user_id}/recording-consent", json={"consent": True})
    assert on.status_code == 200, on.text
    assert on.json() == {"user_id": user_id, "recording_consent": True}
    user = await stack.records.get_user(user_id)
    assert user is not None and user.recording_consent is True

    off = await stack.http.put(f"/users/{user_id}/recording-consent", json={"consent": False})
    assert off.status_code == 200
    user = await stack.records.get_user(user_id)
    assert user is not None and user.recording_consent is False


async def test_a_non_boolean_is_refused_naming_the_field(stack: Stack) -> None:
    user_id = await _new_user(stack)
    for body in ({"consent": "yes"}, {}, {"consent": 1}):
        response = await stack.http.put(f"/users/{user_id}/recording-consent", json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"] == "consent"


async def test_an_unknown_user_is_404(stack: Stack) -> None:
    response = await stack.http.put("/users/nobody-here/recording-consent", json={"consent": True})
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "user_id"


async def test_it_needs_a_key_with_the_per_user_settings_scope(stack: Stack) -> None:
    user_id = await _new_user(stack)
    path = f"/users/{user_id}/recording-consent"
    no_key = await stack.http.put(path, json={"consent": True}, headers={"Authorization": ""})
    assert no_key.status_code == 401
    read_only = await stack.http.put(
        path, json={"consent": True}, headers=auth_headers(SCOPED_KEYS[Scope.CALLS_READ])
    )
    assert read_only.status_code == 403
    allowed = await stack.http.put(
        path, json={"consent": True}, headers=auth_headers(SCOPED_KEYS[Scope.SCHEDULES_WRITE])
    )
    assert allowed.status_code == 200
