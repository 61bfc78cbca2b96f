"""`MemoryStore` over Supermemory (SDK 5.x, namespace-based: one namespace per user).

A user's namespace is `namespace_for(user_id)` (callflow/memory/namespaces.py), never the user id
itself: the API accepts only `^[a-zA-Z0-9_:-]+$` of at most 100 characters on every `/ns/*`
endpoint, and user ids may hold `.`, `@`, `+` and run to 200 characters. The mapping is
`user:<the id's first 50 characters, other characters as '-'>:<32 hex of SHA-256 of the id>`:
always valid, stable across hosts and releases, and distinct per user id.
write -> POST /ns/{namespace}/document with the custom id `call-<call_id>`: Supermemory treats a
reused id as the same document, so a retried write does not create a second memory.
search -> POST /ns/{namespace}/search; results are learned memories or source chunks.
A refused request (4xx: bad namespace, content or metadata) is `InvalidMemory` and a refused key
`MemoryAuthError`, both non-retryable: trying the same request again cannot help.
The SDK's own retries are off by default: the memory fetch has a budget of a few hundred ms and
Temporal retries the activity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from supermemory import APIConnectionError, AsyncSupermemory, SupermemoryError
from supermemory.core.api_error import ApiError
from supermemory.core.parse_error import ParsingError

from callflow.memory.errors import (
    InvalidMemory,
    MemoryAuthError,
    MemoryStoreError,
    MemoryUnavailable,
)
from callflow.memory.ids import check_write, memory_id_for
from callflow.memory.namespaces import namespace_for
from callflow.models import MemoryItem
from callflow.settings import ConfigurationError, Settings


@contextmanager
def translate_errors(operation: str) -> Iterator[None]:
    # Messages carry the status only: the SDK's own str() includes headers and bodies.
    try:
        yield
    except MemoryStoreError:
        raise
    except ApiError as exc:
        # Status errors are raised as subclasses of both the generated ApiError and the
        # 3.x-compatible APIStatusError; both carry status_code.
        status = exc.status_code or 0
        where = f"Supermemory {operation} answered {status}"
        if status in (401, 403):
            raise MemoryAuthError(
                f"{where}: set SUPERMEMORY_API_KEY to a valid key (console.supermemory.ai)"
            ) from exc
        if status == 402:
            raise MemoryStoreError(f"{where}: the Supermemory plan's quota is used up") from exc
        if status in (408, 409, 429) or status >= 500:
            raise MemoryUnavailable(f"{where}; retry later") from exc
        if 400 <= status < 500:
            raise InvalidMemory(f"{where}: check the {operation} arguments") from exc
        raise MemoryStoreError(where) from exc
    except ParsingError as exc:
        raise MemoryStoreError(f"Supermemory {operation} answered an unexpected body") from exc
    except (APIConnectionError, httpx.TransportError) as exc:
        # The SDK's 3.x-compatible layer turns httpx failures into APIConnectionError.
        raise MemoryUnavailable(
            f"Supermemory unreachable during {operation}: {type(exc).__name__}"
        ) from exc
    except SupermemoryError as exc:
        raise MemoryStoreError(f"Supermemory {operation} failed: {type(exc).__name__}") from exc


class SupermemoryMemory:
    def __init__(self, client: AsyncSupermemory, http: httpx.AsyncClient) -> None:
        self._client = client
        self._http = http

    @classmethod
    def create(
        cls,
        api_key: str,
        base_url: str | None = None,
        *,
        timeout_s: float = 10.0,
        max_retries: int = 0,
    ) -> SupermemoryMemory:
        if not api_key:
            raise ConfigurationError("SUPERMEMORY_API_KEY is empty: set it or unset it entirely")
        if base_url is not None and not base_url.startswith(("https://", "http://")):
            raise ConfigurationError(
                f"SUPERMEMORY_BASE_URL must be an http(s) URL, got {base_url!r}"
            )
        http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=True)
        client = AsyncSupermemory(
            api_key=api_key,
            base_url=base_url,
            http_client=http,
            timeout=timeout_s,
            max_retries=max_retries,
        )
        return cls(client, http)

    @classmethod
    def from_settings(cls, settings: Settings) -> SupermemoryMemory:
        if settings.supermemory_api_key is None:
            raise ConfigurationError(
                "SUPERMEMORY_API_KEY is not set: memory uses Postgres full-text search"
            )
        return cls.create(
            settings.supermemory_api_key.get_secret_value(), settings.supermemory_base_url
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def search(self, user_id: str, query: str, limit: int = 5) -> list[MemoryItem]:
        if limit < 1 or not query.strip():
            return []
        namespace = namespace_for(user_id)
        with translate_errors("search"):
            response = await self._client.search(namespace, query=query, limit=limit)
        items: list[MemoryItem] = []
        for result in response.results:
            text = result.memory or result.chunk
            if not text:
                continue
            call_id = result.metadata.get("call_id") if result.metadata else None
            items.append(
                MemoryItem(
                    content=text,
                    score=float(result.similarity),
                    source_call_id=str(call_id) if call_id is not None else None,
                )
            )
        return items

    async def write(
        self, user_id: str, call_id: str, content: str, metadata: dict[str, str]
    ) -> None:
        check_write(user_id, call_id, content)
        namespace = namespace_for(user_id)
        with translate_errors("write"):
            await self._client.add(
                namespace,
                content=content,
                id=memory_id_for(call_id),
                metadata={**metadata, "call_id": call_id},
            )
