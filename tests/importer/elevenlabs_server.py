"""A local server that speaks the documented ElevenLabs Conversational AI API, as far as the
history import reads it: `GET /v1/convai/agents/{agent_id}`, `GET /v1/convai/conversations`
(agent_id, cursor, page_size, call_start_after_unix; `next_cursor` + `has_more`) and
`GET /v1/convai/conversations/{conversation_id}`. Every request needs the `xi-api-key` header
(401 otherwise); `throttle(n)` answers the next n requests 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from tests.support.http_service import LocalHttpService

API_KEY = "xi-test-key"


def conversation_body(
    conversation_id: str,
    *,
    agent_id: str,
    start_unix_s: int,
    turns: list[tuple[str, str]],
    dynamic_variables: dict[str, Any] | None = None,
    summary: str | None = None,
    status: str = "done",
) -> dict[str, Any]:
    """A `GET /v1/convai/conversations/{id}` body, with the fields the API documents."""
    return {
        "agent_id": agent_id,
        "conversation_id": conversation_id,
        "status": status,
        "user_id": None,
        "transcript": [
            {"role": role, "message": text, "time_in_call_secs": 5 * n}
            for n, (role, text) in enumerate(turns)
        ],
        "metadata": {
            "start_time_unix_secs": start_unix_s,
            "call_duration_secs": 5 * len(turns) + 5,
        },
        "analysis": {"transcript_summary": summary or "", "call_successful": "success"},
        "conversation_initiation_client_data": {"dynamic_variables": dynamic_variables or {}},
        "has_audio": False,
        "has_user_audio": False,
        "has_response_audio": False,
        "has_auxiliary_audio": False,
    }


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])


@dataclass(kw_only=True)
class ElevenLabsServer(LocalHttpService):
    name: ClassVar[str] = "local ElevenLabs API"
    agents: set[str] = field(default_factory=set)
    conversations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> body
    get_delay_s: float = 0.0  # each conversation GET waits this long (a slow source)
    api_key: str = API_KEY
    _throttled: int = 0
    throttled_answers: int = 0

    def reset(self) -> None:
        super().reset()
        self.agents.clear()
        self.conversations.clear()
        self._throttled = 0
        self.throttled_answers = 0
        self.get_delay_s = 0.0

    def throttle(self, n: int) -> None:
        self._throttled = n

    def add(self, body: dict[str, Any]) -> None:
        self.agents.add(body["agent_id"])
        self.conversations[body["conversation_id"]] = body

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route("/v1/convai/agents/{agent_id}", self._agent),
            Route("/v1/convai/conversations", self._list),
            Route("/v1/convai/conversations/{conversation_id}", self._get),
        ]

    async def _gate(self, request: Request) -> JSONResponse | None:
        seen = await self.record(request)
        if seen.headers.get("xi-api-key") != self.api_key:
            return JSONResponse({"detail": {"status": "invalid_api_key"}}, status_code=401)
        if self._throttled > 0:
            self._throttled -= 1
            self.throttled_answers += 1
            return JSONResponse(
                {"detail": {"status": "too_many_requests"}},
                status_code=429,
                headers={"Retry-After": "1"},
            )
        return None

    async def _agent(self, request: Request) -> JSONResponse:
        if (refused := await self._gate(request)) is not None:
            return refused
        agent_id = request.path_params["agent_id"]
        if agent_id not in self.agents:
            return JSONResponse({"detail": {"status": "agent_not_found"}}, status_code=404)
        return JSONResponse({"agent_id": agent_id, "name": agent_id, "conversation_config": {}})

    async def _list(self, request: Request) -> JSONResponse:
        if (refused := await self._gate(request)) is not None:
            return refused
        q = request.query_params
        after = int(q["call_start_after_unix"]) if "call_start_after_unix" in q else None
        page_size = min(int(q.get("page_size", "30")), 100)
        # Newest first, as the API lists them.
        matching = sorted(
            (
                c
                for c in self.conversations.values()
                if c["agent_id"] == q.get("agent_id")
                and (after is None or c["metadata"]["start_time_unix_secs"] >= after)
            ),
            key=lambda c: (-c["metadata"]["start_time_unix_secs"], c["conversation_id"]),
        )
        offset = _offset(q["cursor"]) if q.get("cursor") else 0
        page = matching[offset : offset + page_size]
        more = offset + page_size < len(matching)
        return JSONResponse(
            {
                "conversations": [
                    {
                        "agent_id": c["agent_id"],
                        "conversation_id": c["conversation_id"],
                        "start_time_unix_secs": c["metadata"]["start_time_unix_secs"],
                        "call_duration_secs": c["metadata"]["call_duration_secs"],
                        "message_count": len(c["transcript"]),
                        "status": c["status"],
                        "call_successful": "success",
                    }
                    for c in page
                ],
                "next_cursor": _cursor(offset + page_size) if more else None,
                "has_more": more,
            }
        )

    async def _get(self, request: Request) -> JSONResponse:
        if (refused := await self._gate(request)) is not None:
            return refused
        body = self.conversations.get(request.path_params["conversation_id"])
        if body is None:
            return JSONResponse({"detail": {"status": "conversation_not_found"}}, status_code=404)
        if self.get_delay_s:
            await asyncio.sleep(self.get_delay_s)
        return JSONResponse(body)


async def _serve_forever(export: Path, api_key: str) -> None:
    import json

    server = ElevenLabsServer(api_key=api_key)
    for line in export.read_text().splitlines():
        if line.strip():
            server.add(json.loads(line))
    await server.start()
    print(server.url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    # `python -m tests.importer.elevenlabs_server EXPORT.jsonl [API_KEY]`: serve the export's
    # conversations as the ElevenLabs API does (prints its base URL), until interrupted.
    import sys

    asyncio.run(_serve_forever(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else API_KEY))
