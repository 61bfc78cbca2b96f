"""A local server speaking Supermemory's v5 namespace API, for the Supermemory adapter's tests.

It enforces what the hosted API requires (Bearer API key, a namespace matching
`^[a-zA-Z0-9_:-]+$` of at most 100 characters on every /ns/* endpoint, JSON bodies, `content` on
add, `query` on search, metadata values that are strings, numbers, booleans or string lists) and
answers in
the SDK's documented shapes: add -> DocumentRef {id, status}; search -> {results, searchTime}.
Documents live in memory per namespace, keyed by id (a reused id replaces the document, as the
hosted service keeps one document per caller-defined id). `fail_next` injects failures.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.http_service import LocalHttpService

# The v5 API's rule for the {namespace} path parameter (the SDK's OpenAPI).
NAMESPACE_PATTERN = re.compile(r"[a-zA-Z0-9_:-]+")
NAMESPACE_MAX_LEN = 100


@dataclass
class SupermemoryServer(LocalHttpService):
    api_key: str
    documents: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fail_next: list[tuple[int, Any]] = field(default_factory=list)
    name = "local Supermemory server"

    def reset(self) -> None:
        super().reset()
        self.fail_next.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/ns/{ns}/document", self._add, methods=["POST"]),
            Route("/ns/{ns}/search", self._search, methods=["POST"]),
        ]

    async def _admit(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        body = (await self.record(request)).body
        if self.fail_next:
            status, payload = self.fail_next.pop(0)
            return body, JSONResponse(payload, status_code=status)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return body, JSONResponse({"error": "Unauthorized"}, status_code=401)
        ns = request.path_params.get("ns", "")
        if len(ns) > NAMESPACE_MAX_LEN or not NAMESPACE_PATTERN.fullmatch(ns):
            return body, JSONResponse(
                {
                    "error": "Invalid namespace",
                    "details": "namespace must match ^[a-zA-Z0-9_:-]+$ and be at most 100 chars",
                },
                status_code=400,
            )
        if not request.headers.get("content-type", "").startswith("application/json"):
            return body, JSONResponse({"error": "Expected JSON"}, status_code=400)
        if not isinstance(body, dict):
            return body, JSONResponse({"error": "Body must be an object"}, status_code=400)
        return body, None

    async def _add(self, request: Request) -> Response:
        body, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return JSONResponse({"error": "content is required"}, status_code=400)
        doc_id = body.get("id") or uuid.uuid4().hex
        if not isinstance(doc_id, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,255}", doc_id):
            return JSONResponse({"error": "id is invalid"}, status_code=400)
        metadata = body.get("metadata") or {}
        for key, value in metadata.items():
            ok = isinstance(value, (str, int, float, bool)) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            )
            if not ok:
                return JSONResponse({"error": f"metadata.{key} is invalid"}, status_code=400)
        ns = request.path_params["ns"]
        now = datetime.now(UTC).isoformat()
        previous = self.documents.setdefault(ns, {}).get(doc_id)
        self.documents[ns][doc_id] = {
            "content": content,
            "metadata": metadata,
            "createdAt": previous["createdAt"] if previous else now,
            "updatedAt": now,
        }
        return JSONResponse({"id": doc_id, "status": "queued"})

    async def _search(self, request: Request) -> Response:
        body, refusal = await self._admit(request)
        if refusal is not None:
            return refusal
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return JSONResponse({"error": "query is required"}, status_code=400)
        limit = body.get("limit", 10)
        words = set(re.findall(r"\w+", query.lower()))
        scored = []
        for doc_id, doc in self.documents.get(request.path_params["ns"], {}).items():
            overlap = words & set(re.findall(r"\w+", doc["content"].lower()))
            if overlap:
                scored.append((len(overlap) / len(words), doc_id, doc))
        scored.sort(key=lambda s: -s[0])
        results = [
            {
                "id": doc_id,
                "chunk": doc["content"],
                "metadata": doc["metadata"],
                "similarity": round(score, 4),
                "isLatest": True,
                "isInference": False,
                "system": {"updatedAt": doc["updatedAt"], "createdAt": doc["createdAt"]},
            }
            for score, doc_id, doc in scored[:limit]
        ]
        return JSONResponse({"results": results, "searchTime": 1.5})
