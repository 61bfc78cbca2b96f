"""A local server speaking OpenAI's Chat Completions API, for the OpenAI analyzer's tests.

It checks what the hosted API requires of a structured-output request: `POST
/v1/chat/completions`, `Authorization: Bearer <key>`, a JSON body with `model` and `messages`,
and a `response_format` of type `json_schema` whose schema, when `strict` is true, stays inside
the strict subset (every object closed with `additionalProperties: false` and every property
required, no unsupported keywords, no `$ref` with siblings). Errors come back in OpenAI's
`{"error": {...}}` shape with its status codes; answers are `chat.completion` objects whose
message content is the next queued reply. `fail_next` injects failures. A retired model id
(tests/support/model_catalog.py) answers 404 `model_not_found`, and a reasoning model (gpt-5*,
gpt-6*, o-series) refuses `temperature` with a 400 unless `reasoning_effort` is `none`, as the
hosted API does.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.http_service import LocalHttpService
from tests.support.model_catalog import openai_not_found

# Keywords the strict subset accepts (OpenAI "Supported schemas"); anything else is refused.
_STRICT_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "description",
        "title",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
    }
)
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def strict_schema_problems(schema: Any, context: tuple[str, ...] = ()) -> list[str]:
    """Why OpenAI would refuse `schema` in strict mode (empty when it would accept it)."""
    if not isinstance(schema, dict):
        return [f"In context={context}, schema must be an object"]
    problems: list[str] = []
    if not context and schema.get("type") != "object":
        problems.append("The root schema must be of type 'object' (not anyOf)")
    for key in schema:
        if key not in _STRICT_KEYWORDS:
            problems.append(f"In context={context}, '{key}' is not permitted.")
    if "$ref" in schema and len(schema) > 1:
        problems.append(f"In context={context}, $ref cannot have keywords {sorted(schema)}.")
    if schema.get("format") is not None and schema["format"] not in _STRICT_FORMATS:
        problems.append(f"In context={context}, format {schema['format']!r} is not supported.")
    if schema.get("type") == "object":
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append(
                f"In context={context}, 'additionalProperties' is required to be supplied "
                "and to be false."
            )
        missing = [name for name in properties if name not in schema.get("required", [])]
        if missing:
            problems.append(
                f"In context={context}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing {missing}."
            )
        for name, sub in properties.items():
            problems += strict_schema_problems(sub, (*context, "properties", name))
    if "items" in schema:
        problems += strict_schema_problems(schema["items"], (*context, "items"))
    for i, variant in enumerate(schema.get("anyOf", [])):
        problems += strict_schema_problems(variant, (*context, "anyOf", str(i)))
    for name, sub in schema.get("$defs", {}).items():
        problems += strict_schema_problems(sub, (*context, "$defs", name))
    return problems


def _is_reasoning(model: str) -> bool:
    """OpenAI's reasoning families, which refuse `temperature` (the API's rule, restated here
    rather than imported, so the stand-in does not share the adapter's mistakes)."""
    return model.startswith(("gpt-5", "gpt-6", "o1", "o3", "o4"))


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


@dataclass
class OpenAIServer(LocalHttpService):
    api_key: str
    replies: list[str] = field(default_factory=list)  # message contents, answered in order
    refusals: list[str] = field(default_factory=list)  # answered before any reply
    fail_next: list[int] = field(default_factory=list)  # statuses: 429, 500, 503
    name = "local OpenAI server"

    @property
    def base_url(self) -> str:
        """What OpenAI clients take as base_url: http://127.0.0.1:PORT/v1."""
        return f"{self.url}/v1"

    def routes(self) -> list[Route]:
        return [Route("/v1/chat/completions", self._complete, methods=["POST"])]

    def reset(self) -> None:
        super().reset()
        self.replies.clear()
        self.refusals.clear()
        self.fail_next.clear()

    async def _complete(self, request: Request) -> Response:
        body = (await self.record(request)).body
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(
                401,
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if self.fail_next:
            status = self.fail_next.pop(0)
            if status == 429:
                return _error(
                    429, "Rate limit reached for requests", "requests", "rate_limit_exceeded"
                )
            return _error(
                status, "The server had an error while processing your request.", "server_error"
            )
        missing = openai_not_found(body.get("model") if isinstance(body, dict) else None)
        if missing is not None:
            return _error(404, missing, "invalid_request_error", "model_not_found")
        problem = self._request_problem(body)
        if problem is not None:
            return _error(400, problem, "invalid_request_error")
        if (
            isinstance(body, dict)
            and "temperature" in body
            and _is_reasoning(body["model"])
            and body.get("reasoning_effort") != "none"
        ):
            return _error(
                400,
                "Unsupported parameter: 'temperature' is not supported with this model.",
                "invalid_request_error",
                "unsupported_parameter",
            )
        if self.refusals:
            return self._completion(body["model"], None, self.refusals.pop(0))
        if not self.replies:
            return _error(500, "test server has no reply queued", "server_error")
        return self._completion(body["model"], self.replies.pop(0), None)

    def _request_problem(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "We could not parse the JSON body of your request."
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "you must provide a model parameter"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "Invalid 'messages': expected a non-empty array."
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in (
                "system",
                "developer",
                "user",
                "assistant",
            ):
                return f"Invalid value for 'messages[{i}].role'."
            if not isinstance(m.get("content"), str):
                return f"Invalid type for 'messages[{i}].content': expected a string."
        response_format = body.get("response_format")
        if response_format is None:
            return None
        if response_format.get("type") not in ("text", "json_object", "json_schema"):
            return "Invalid value for 'response_format.type'."
        if response_format["type"] != "json_schema":
            return None
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return "Missing required parameter: 'response_format.json_schema.name'."
        if not _SCHEMA_NAME.match(spec["name"]):
            return "Invalid 'response_format.json_schema.name': must match ^[a-zA-Z0-9_-]{1,64}$."
        if spec.get("strict") is True:
            problems = strict_schema_problems(spec.get("schema"))
            if problems:
                return f"Invalid schema for response_format '{spec['name']}': {problems[0]}"
        return None

    @staticmethod
    def _completion(model: str, content: str | None, refusal: str | None) -> JSONResponse:
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_local",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": content,
                            "refusal": refusal,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 412,
                    "completion_tokens": len(content or refusal or "") // 4,
                    "total_tokens": 412 + len(content or refusal or "") // 4,
                },
            }
        )
