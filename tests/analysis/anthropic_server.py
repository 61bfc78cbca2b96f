"""A local server speaking Anthropic's Messages API, for the Anthropic analyzer's tests.

It checks what the hosted API requires: `POST /v1/messages`, `x-api-key` and
`anthropic-version` headers, a body with `model`, an integer `max_tokens`, `messages` of roles
user/assistant only (the system prompt is the top-level `system`), tools named
`^[a-zA-Z0-9_-]{1,64}$` with an object `input_schema`, and a `tool_choice` of type `tool` naming
one of them. A retired model id (tests/support/model_catalog.py) answers 404 `not_found_error`;
the 5-generation models refuse `temperature`, `top_p` and `top_k`. Answers are `message`
objects whose content is a `tool_use` block carrying the next queued reply as its input (or a
text block for a queued text reply). `fail_next` injects failures (status codes).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.http_service import LocalHttpService
from tests.support.model_catalog import anthropic_not_found

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NO_SAMPLING = re.compile(r"^claude-(haiku|sonnet|opus|fable|mythos)-5")


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"type": "error", "error": {"type": kind, "message": message}}, status_code=status
    )


@dataclass
class AnthropicServer(LocalHttpService):
    api_key: str
    replies: list[str] = field(default_factory=list)  # tool inputs (JSON text), in order
    text_replies: list[str] = field(default_factory=list)  # answered as text, before replies
    fail_next: list[int] = field(default_factory=list)
    name = "local Anthropic server"

    def routes(self) -> list[Route]:
        return [Route("/v1/messages", self._messages, methods=["POST"])]

    def reset(self) -> None:
        super().reset()
        self.replies.clear()
        self.text_replies.clear()
        self.fail_next.clear()

    async def _messages(self, request: Request) -> Response:
        body = (await self.record(request)).body
        if request.headers.get("x-api-key") != self.api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        if self.fail_next:
            status = self.fail_next.pop(0)
            kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
            return _error(status, kind, "try again later")
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "body must be a JSON object")
        missing = anthropic_not_found(body.get("model"))
        if missing is not None:
            return _error(404, "not_found_error", missing)
        problem = self._request_problem(body)
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        if self.text_replies:
            content: list[dict[str, Any]] = [{"type": "text", "text": self.text_replies.pop(0)}]
            stop = "end_turn"
        elif self.replies:
            tool = body["tool_choice"]["name"]
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{uuid.uuid4().hex[:20]}",
                    "name": tool,
                    "input": json.loads(self.replies.pop(0)),
                }
            ]
            stop = "tool_use"
        else:
            return _error(500, "api_error", "test server has no reply queued")
        return JSONResponse(
            {
                "id": f"msg_{uuid.uuid4().hex[:20]}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 100, "output_tokens": 50},
            }
        )

    @staticmethod
    def _request_problem(body: dict[str, Any]) -> str | None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return "model: Field required"
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        if _NO_SAMPLING.match(model):
            for param in ("temperature", "top_p", "top_k"):
                if param in body:
                    return f"{param}: is not supported for this model"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        if any(m.get("role") not in {"user", "assistant"} for m in messages):
            return "messages: roles must be user or assistant (system is a top-level field)"
        tools = body.get("tools") or []
        names = set()
        for tool in tools:
            if not _TOOL_NAME.match(str(tool.get("name", ""))):
                return f"tools.name: {tool.get('name')!r} does not match ^[a-zA-Z0-9_-]{{1,64}}$"
            if (tool.get("input_schema") or {}).get("type") != "object":
                return "tools.input_schema: type must be object"
            names.add(tool["name"])
        choice = body.get("tool_choice")
        if choice is not None:
            if choice.get("type") == "tool" and choice.get("name") not in names:
                return f"tool_choice: tool {choice.get('name')!r} not found in tools"
        return None
