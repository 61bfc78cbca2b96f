"""Conversations read through the official `elevenlabs` SDK (Conversational AI).

`GET /v1/convai/agents/{id}` checks the agent once, `GET /v1/convai/conversations?agent_id=&
cursor=` lists a page, `GET /v1/convai/conversations/{id}` gives one conversation with its
transcript, analysis, metadata and dynamic variables. The SDK sends `xi-api-key` and retries
429/5xx itself (honouring `Retry-After`); what is left is translated into the import's errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError

from callflow.importer.conversation import SourceConversation, parse_conversation
from callflow.importer.errors import (
    HistoryImportError,
    ImportNotConfigured,
    MalformedItem,
    SourceRefused,
    SourceUnavailable,
)
from callflow.settings import Settings

SDK_RETRIES = 3  # on 429/408/409/5xx, each after the server's Retry-After


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    # Messages carry the status only: the SDK's own str() includes headers and bodies.
    try:
        yield
    except HistoryImportError:
        raise
    except ApiError as exc:
        status = exc.status_code or 0
        where = f"ElevenLabs {what} answered {status}"
        if status in (401, 403):
            raise SourceRefused(f"{where}: check ELEVENLABS_API_KEY") from exc
        if status == 404:
            raise SourceRefused(f"{where}: no such {what.split()[0]}") from exc
        if status in (408, 409, 429) or status >= 500:
            raise SourceUnavailable(f"{where}; retry later") from exc
        raise SourceRefused(where) from exc
    except httpx.TransportError as exc:
        raise SourceUnavailable(f"ElevenLabs unreachable for {what}: {type(exc).__name__}") from exc


class ElevenLabsSource:
    def __init__(self, client: AsyncElevenLabs) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> ElevenLabsSource:
        if settings.elevenlabs_api_key is None:
            raise ImportNotConfigured(
                "ELEVENLABS_API_KEY is not set: the ElevenLabs import reads conversations with it"
            )
        client = AsyncElevenLabs(
            api_key=settings.elevenlabs_api_key.get_secret_value(),
            base_url=settings.elevenlabs_base_url,
            timeout=30,
        )
        return cls(client)

    async def check_agent(self, agent_id: str) -> None:
        with translate_errors(f"agent {agent_id!r}"):
            await self._client.conversational_ai.agents.get(
                agent_id, request_options={"max_retries": SDK_RETRIES}
            )

    async def list_page(
        self, agent_id: str, cursor: str | None, page_size: int, since_unix_s: int | None
    ) -> tuple[list[str], str | None]:
        """Conversation ids of one page, and the cursor of the next (None: last page)."""
        with translate_errors(f"conversations of agent {agent_id!r}"):
            page = await self._client.conversational_ai.conversations.list(
                agent_id=agent_id,
                cursor=cursor,
                page_size=page_size,
                call_start_after_unix=since_unix_s,
                request_options={"max_retries": SDK_RETRIES},
            )
        ids = [c.conversation_id for c in page.conversations]
        return ids, (page.next_cursor if page.has_more and page.next_cursor else None)

    async def get(self, conversation_id: str) -> SourceConversation:
        with translate_errors(f"conversation {conversation_id!r}"):
            body = await self._client.conversational_ai.conversations.get(
                conversation_id, request_options={"max_retries": SDK_RETRIES}
            )
        try:
            data = body.dict()
        except (TypeError, ValueError) as exc:
            raise MalformedItem(f"conversation {conversation_id}: unreadable body") from exc
        return parse_conversation(data, f"conversation {conversation_id}")
