"""SupermemoryMemory (the real SDK) against a local server enforcing Supermemory's v5 API."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import httpx
import pytest
from supermemory import AsyncSupermemory

from callflow.local.stack.temporal import free_port
from callflow.memory.errors import InvalidMemory, MemoryAuthError, MemoryUnavailable
from callflow.memory.namespaces import namespace_for
from callflow.memory.supermemory import SupermemoryMemory, translate_errors
from callflow.settings import ConfigurationError
from tests.memory.conftest import API_KEY
from tests.memory.supermemory_server import SupermemoryServer


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_write_sends_namespace_custom_id_and_metadata(
    sm_memory: SupermemoryMemory, supermemory_server: SupermemoryServer
) -> None:
    user_id, call_id = uid("u"), uid("call")
    await sm_memory.write(user_id, call_id, "Promised to run 5k.", {"mood": "upbeat"})
    seen = supermemory_server.seen[-1]
    assert seen.path == f"/ns/{namespace_for(user_id)}/document"
    assert seen.headers["authorization"] == f"Bearer {API_KEY}"
    assert seen.body == {
        "content": "Promised to run 5k.",
        "id": f"call-{call_id}",
        "metadata": {"mood": "upbeat", "call_id": call_id},
    }


async def test_write_twice_keeps_one_document(
    sm_memory: SupermemoryMemory, supermemory_server: SupermemoryServer
) -> None:
    user_id, call_id = uid("u"), uid("call")
    await sm_memory.write(user_id, call_id, "first version", {})
    await sm_memory.write(user_id, call_id, "second version", {})
    documents = supermemory_server.documents[namespace_for(user_id)]
    assert list(documents) == [f"call-{call_id}"]
    assert documents[f"call-{call_id}"]["content"] == "second version"


async def test_search_maps_results_and_stays_in_the_users_namespace(
    sm_memory: SupermemoryMemory, supermemory_server: SupermemoryServer
) -> None:
    alice, bob = uid("alice"), uid("bob")
    running, sleep = uid("call"), uid("call")
    await sm_memory.write(alice, running, "Alice runs every morning before work.", {})
    await sm_memory.write(alice, sleep, "Alice sleeps badly.", {})
    await sm_memory.write(bob, uid("call"), "Bob runs every morning too.", {})
    items = await sm_memory.search(alice, "morning runs", limit=3)
    seen = supermemory_server.seen[-1]
    assert seen.path == f"/ns/{namespace_for(alice)}/search"
    assert seen.body == {"query": "morning runs", "limit": 3}
    assert [i.source_call_id for i in items] == [running]
    assert items[0].content.startswith("Alice runs") and items[0].score == 1.0


# User ids the schedules (1-128 of letters, digits, _.@:+-) and the call API (up to 200) accept.
AWKWARD_USER_IDS = [
    "ada.lovelace@example.com",
    "ada+calls@example.com",
    "x" * 128,
    "a" * 200,
    "user/with slash",
]


@pytest.mark.parametrize("user_id", AWKWARD_USER_IDS, ids=["dot-at", "plus", "128", "200", "/"])
async def test_any_user_id_gets_a_namespace_the_api_accepts(
    sm_memory: SupermemoryMemory, supermemory_server: SupermemoryServer, user_id: str
) -> None:
    call_id = uid("call")
    await sm_memory.write(user_id, call_id, "Promised to stretch every evening.", {})
    items = await sm_memory.search(user_id, "stretch evening")
    assert [i.source_call_id for i in items] == [call_id]
    assert [s.path for s in supermemory_server.seen] == [
        f"/ns/{namespace_for(user_id)}/document",
        f"/ns/{namespace_for(user_id)}/search",
    ]


@pytest.mark.parametrize("namespace", ["ada.lovelace@example.com", "a+b", "n" * 101, "sp ace"])
async def test_the_stand_in_refuses_namespaces_the_api_refuses(
    supermemory_server: SupermemoryServer, namespace: str
) -> None:
    supermemory_server.reset()
    async with httpx.AsyncClient(base_url=supermemory_server.url) as http:
        for endpoint, body in (("document", {"content": "x"}), ("search", {"query": "x"})):
            answer = await http.post(
                f"/ns/{quote(namespace, safe='')}/{endpoint}",
                json=body,
                headers={"authorization": f"Bearer {API_KEY}"},
            )
            assert answer.status_code == 400, (endpoint, answer.text)
            assert answer.json()["error"] == "Invalid namespace"
    assert supermemory_server.documents.get(namespace) is None


async def test_a_refused_namespace_is_invalid_and_not_retried(
    supermemory_server: SupermemoryServer,
) -> None:
    """The API's answer to a namespace it refuses is a permanent error: no activity retry."""
    client = AsyncSupermemory(api_key=API_KEY, base_url=supermemory_server.url, max_retries=0)
    with pytest.raises(InvalidMemory, match="400") as info, translate_errors("write"):
        await client.add("ada@example.com", content="x")  # a raw user id, as before the mapping
    assert info.value.retryable is False


async def test_bad_key_is_an_auth_error(supermemory_server: SupermemoryServer) -> None:
    store = SupermemoryMemory.create("wrong-key", supermemory_server.url)
    try:
        with pytest.raises(MemoryAuthError, match="SUPERMEMORY_API_KEY") as info:
            await store.search("u", "anything")
        assert "wrong-key" not in str(info.value)
        assert info.value.retryable is False
    finally:
        await store.close()


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_are_retryable(
    sm_memory: SupermemoryMemory, supermemory_server: SupermemoryServer, status: int
) -> None:
    supermemory_server.fail_next.append((status, {"error": "try later"}))
    with pytest.raises(MemoryUnavailable, match=str(status)) as info:
        await sm_memory.write("u", uid("call"), "text", {})
    assert info.value.retryable


async def test_refused_request_is_invalid(
    sm_memory: SupermemoryMemory, supermemory_server: SupermemoryServer
) -> None:
    supermemory_server.fail_next.append((400, {"error": "content too long"}))
    with pytest.raises(InvalidMemory, match="400") as info:
        await sm_memory.write("u", uid("call"), "text", {})
    assert info.value.retryable is False


async def test_unreachable_is_retryable() -> None:
    store = SupermemoryMemory.create(API_KEY, f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(MemoryUnavailable, match="unreachable"):
            await store.search("u", "anything")
    finally:
        await store.close()


def test_bad_configuration_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="SUPERMEMORY_API_KEY"):
        SupermemoryMemory.create("")
    with pytest.raises(ConfigurationError, match="SUPERMEMORY_BASE_URL"):
        SupermemoryMemory.create(API_KEY, "api.supermemory.ai")
