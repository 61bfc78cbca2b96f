"""Local servers speaking the documented wire protocols of the agent's paid providers.

Each one enforces what the hosted service requires of a request (path, auth header, API version,
model and body fields) and answers in the service's documented format, so the livekit plugins
are exercised exactly as in production, only against 127.0.0.1:

- OpenAI chat completions: POST /v1/chat/completions, `Authorization: Bearer`, SSE
  `data: {chat.completion.chunk}` lines ending with `data: [DONE]`.
- Anthropic messages: POST /v1/messages, `x-api-key` + `anthropic-version`, SSE
  `event:`/`data:` pairs message_start ... message_stop.
- Cartesia: TTS over the websocket /tts/websocket (JSON chunks with base64 PCM, then `done`) and
  over POST /tts/bytes (raw PCM); STT over the websocket /stt/websocket (binary PCM in,
  `finalize`/`close` commands, `transcript`/`flush_done`/`done` events out).

The OpenAI and Anthropic servers serve the default models (Settings) and answer 404 for the
retired ids of tests/support/model_catalog.py, as the hosted APIs do; they also refuse the
parameters the model family refuses (temperature on reasoning models and Claude 5-generation
models; function tools without `reasoning_effort: none` on OpenAI reasoning models).

Every request is recorded in `seen` (headers lower-cased) for the tests to inspect; `fail_with`
makes the next requests fail with an HTTP status in the vendor's error format.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import struct
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from callflow.local.stack.temporal import free_port, wait_for_port
from callflow.settings import Settings
from tests.support.model_catalog import anthropic_not_found, openai_not_found

CARTESIA_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


def pcm_tone(seconds: float, sample_rate: int, *, hz: float = 220.0) -> bytes:
    """Mono 16-bit little-endian PCM: a tone, so the audio is recognisably not silence."""
    count = int(seconds * sample_rate)
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * i / sample_rate)))
        for i in range(count)
    )


@dataclass
class LocalServer:
    """Runs a Starlette app with uvicorn on a free loopback port inside the current loop."""

    name: str = "local server"
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    # statuses to answer the next requests with, first in first out
    fail_with: list[int] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    def app(self) -> Starlette:
        raise NotImplementedError

    async def start(self) -> None:
        port = free_port()
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=port, log_level="warning", ws="websockets"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await wait_for_port("127.0.0.1", port, 10, self.name)
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    def reset(self) -> None:
        self.seen.clear()
        self.fail_with.clear()

    def _record(self, request: Request | WebSocket, body: Any = None) -> Seen:
        seen = Seen(
            request.url.path,
            dict(request.query_params),
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        self.seen.append(seen)
        return seen


def _sse(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{prefix}data: {payload}\n\n".encode()


# --------------------------------------------------------------------------- OpenAI


@dataclass
class OpenAIServer(LocalServer):
    api_key: str = ""
    model: str = Settings.model_fields["openai_model"].default  # the default is what must work
    reply: list[str] = field(default_factory=list)  # the streamed content deltas
    speech_model: str = "gpt-4o-mini-tts"
    speech_audio: bytearray = field(default_factory=bytearray)  # every PCM byte of speech sent

    def reset(self) -> None:
        super().reset()
        self.speech_audio.clear()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/audio/speech", self._speech, methods=["POST"]),
            ]
        )

    @staticmethod
    def _error(status: int, message: str, kind: str, code: str | None = None) -> Response:
        # https://platform.openai.com/docs/guides/error-codes: {"error": {...}}
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status_code=status)

    async def _chat(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"null")
        self._record(request, body)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", "invalid_request_error", "401")
        if self.fail_with:
            return self._error(self.fail_with.pop(0), "The server had an error.", "server_error")
        got = body.get("model") if isinstance(body, dict) else None
        retired = openai_not_found(got)
        if retired is not None:
            return self._error(404, retired, "invalid_request_error", "model_not_found")
        if not isinstance(body, dict) or got != self.model:
            return self._error(
                404, f"The model `{got}` does not exist.", "invalid_request_error", "404"
            )
        if str(got).startswith(("gpt-5", "gpt-6", "o1", "o3", "o4")):
            # OpenAI's reasoning families refuse sampling parameters unless reasoning is off,
            # and function tools over Chat Completions need reasoning off (the API's 400s).
            if "temperature" in body and body.get("reasoning_effort") != "none":
                return self._error(
                    400,
                    "Unsupported parameter: 'temperature' is not supported with this model.",
                    "invalid_request_error",
                )
            if body.get("tools") and body.get("reasoning_effort", "medium") != "none":
                return self._error(
                    400,
                    f"Function tools with reasoning_effort are not supported for {got} in "
                    "/v1/chat/completions. To use function tools, use /v1/responses or set "
                    "reasoning_effort to 'none'.",
                    "invalid_request_error",
                )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "'messages' must be a non-empty array", "invalid_request_error")
        for message in messages:
            if message.get("role") not in {"system", "developer", "user", "assistant", "tool"}:
                return self._error(400, f"invalid role {message.get('role')!r}", "invalid_request")
        if body.get("stream") is not True:
            return self._error(400, "this server only streams", "invalid_request_error")
        include_usage = (body.get("stream_options") or {}).get("include_usage") is True
        return StreamingResponse(self._stream(include_usage), media_type="text/event-stream")

    async def _speech(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"null")
        self._record(request, body)
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Incorrect API key provided.", "invalid_request_error", "401")
        if self.fail_with:
            return self._error(self.fail_with.pop(0), "The server had an error.", "server_error")
        if not isinstance(body, dict) or body.get("model") != self.speech_model:
            return self._error(400, "model: unknown speech model", "invalid_request_error")
        if not isinstance(body.get("input"), str) or not body["input"].strip():
            return self._error(400, "input: a non-empty string is required", "invalid_request")
        if not isinstance(body.get("voice"), str):
            return self._error(400, "voice: required", "invalid_request_error")
        if body.get("response_format") != "pcm":
            # this server only makes raw PCM (24 kHz, 16-bit LE mono, as OpenAI documents it)
            return self._error(400, "response_format: this server serves pcm", "invalid_request")
        audio = pcm_tone(len(body["input"].strip()) * 0.01, 24000, hz=330.0)
        self.speech_audio.extend(audio)
        if body.get("stream_format") != "sse":
            return Response(audio, media_type="audio/pcm")

        async def events() -> AsyncIterator[bytes]:
            for start in range(0, len(audio), 4800):
                delta = base64.b64encode(audio[start : start + 4800]).decode()
                yield _sse({"type": "speech.audio.delta", "audio": delta})
            usage = {"input_tokens": len(body["input"].split()), "output_tokens": 10}
            yield _sse({"type": "speech.audio.done", "usage": usage})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def _stream(self, include_usage: bool) -> AsyncIterator[bytes]:
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        yield _sse(chunk({"role": "assistant", "content": ""}, None))
        for text in self.reply:
            await asyncio.sleep(0)  # separate network writes, as a real stream arrives
            yield _sse(chunk({"content": text}, None))
        yield _sse(chunk({}, "stop"))
        if include_usage:
            completion = sum(len(t.split()) for t in self.reply)
            usage = {"prompt_tokens": 42, "completion_tokens": completion}
            usage["total_tokens"] = usage["prompt_tokens"] + completion
            yield _sse(
                {
                    "id": chunk_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }
            )
        yield _sse("[DONE]")


# --------------------------------------------------------------------------- Anthropic


@dataclass
class AnthropicServer(LocalServer):
    api_key: str = ""
    model: str = Settings.model_fields["anthropic_model"].default
    reply: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    @staticmethod
    def _error(status: int, kind: str, message: str) -> Response:
        # https://docs.anthropic.com/en/api/errors
        body = {"type": "error", "error": {"type": kind, "message": message}}
        return JSONResponse(body, status_code=status)

    async def _messages(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"null")
        self._record(request, body)
        if request.headers.get("x-api-key") != self.api_key:
            return self._error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self._error(400, "invalid_request_error", "anthropic-version header required")
        if self.fail_with:
            return self._error(self.fail_with.pop(0), "api_error", "Internal server error")
        retired = anthropic_not_found(body.get("model") if isinstance(body, dict) else None)
        if retired is not None:
            return self._error(404, "not_found_error", retired)
        if not isinstance(body, dict) or body.get("model") != self.model:
            return self._error(404, "not_found_error", "model not found")
        if re.match(r"claude-(haiku|sonnet|opus|fable|mythos)-5", self.model):
            for param in ("temperature", "top_p", "top_k"):
                if param in body:
                    return self._error(
                        400, "invalid_request_error", f"{param}: not supported for this model"
                    )
        if not isinstance(body.get("max_tokens"), int):
            return self._error(400, "invalid_request_error", "max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self._error(400, "invalid_request_error", "messages: at least one message")
        for message in messages:
            # the system prompt is the top-level `system` field, never a message role
            if message.get("role") not in {"user", "assistant"}:
                return self._error(400, "invalid_request_error", "messages: roles user|assistant")
        if body.get("stream") is not True:
            return self._error(400, "invalid_request_error", "this server only streams")
        return StreamingResponse(self._stream(), media_type="text/event-stream")

    async def _stream(self) -> AsyncIterator[bytes]:
        message_id = f"msg_{uuid.uuid4().hex[:20]}"
        start: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 42, "output_tokens": 1},
        }
        yield _sse({"type": "message_start", "message": start}, "message_start")
        text_block = {"type": "text", "text": ""}
        block = {"type": "content_block_start", "index": 0, "content_block": text_block}
        yield _sse(block, "content_block_start")
        yield _sse({"type": "ping"}, "ping")
        for text in self.reply:
            await asyncio.sleep(0)
            delta = {"type": "text_delta", "text": text}
            yield _sse(
                {"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta"
            )
        yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        yield _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": sum(len(t.split()) for t in self.reply)},
            },
            "message_delta",
        )
        yield _sse({"type": "message_stop"}, "message_stop")


# --------------------------------------------------------------------------- Cartesia


@dataclass
class CartesiaServer(LocalServer):
    api_key: str = ""
    tts_model: str = "sonic-3"
    stt_model: str = "ink-whisper"
    voice_id: str = ""
    # seconds of audio synthesized per character of transcript
    seconds_per_char: float = 0.01
    transcript: str = ""  # what the STT "hears"
    tts_texts: list[str] = field(default_factory=list)  # transcripts the TTS received
    tts_audio: bytearray = field(default_factory=bytearray)  # every PCM byte the TTS sent
    stt_audio: bytearray = field(default_factory=bytearray)  # every PCM byte the STT received
    stt_commands: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/tts/bytes", self._tts_bytes, methods=["POST"]),
                WebSocketRoute("/tts/websocket", self._tts_websocket),
                WebSocketRoute("/stt/websocket", self._stt_websocket),
            ]
        )

    def reset(self) -> None:
        super().reset()
        self.tts_texts.clear()
        self.tts_audio.clear()
        self.stt_audio.clear()
        self.stt_commands.clear()

    def _auth_problem(self, headers: dict[str, str], version: str | None) -> tuple[int, str] | None:
        if headers.get("x-api-key") != self.api_key:
            return 401, "Invalid API key"
        if not version or not CARTESIA_VERSION.match(version):
            return 400, "Cartesia-Version must be a YYYY-MM-DD API version"
        return None

    def _generation_problem(self, body: Any) -> str | None:
        """What is wrong with a TTS generation request, per the documented body fields."""
        if not isinstance(body, dict):
            return "body must be a JSON object"
        if body.get("model_id") != self.tts_model:
            return f"model_id: expected {self.tts_model!r}, got {body.get('model_id')!r}"
        voice = body.get("voice") or {}
        if voice.get("mode") != "id" or (self.voice_id and voice.get("id") != self.voice_id):
            return f"voice: expected {{'mode': 'id', 'id': {self.voice_id!r}}}, got {voice!r}"
        fmt = body.get("output_format") or {}
        if fmt.get("container") != "raw" or fmt.get("encoding") != "pcm_s16le":
            return f"output_format: this server serves raw pcm_s16le, got {fmt!r}"
        if not isinstance(fmt.get("sample_rate"), int):
            return "output_format.sample_rate: an integer is required"
        if not isinstance(body.get("transcript"), str):
            return "transcript: a string is required"
        return None

    def _synthesize(self, text: str, sample_rate: int) -> bytes:
        audio = pcm_tone(len(text.strip()) * self.seconds_per_char, sample_rate)
        self.tts_audio.extend(audio)
        return audio

    async def _tts_bytes(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"null")
        seen = self._record(request, body)
        if problem := self._auth_problem(seen.headers, seen.headers.get("cartesia-version")):
            return JSONResponse({"error": problem[1]}, status_code=problem[0])
        if self.fail_with:
            return JSONResponse({"error": "internal error"}, status_code=self.fail_with.pop(0))
        if problem_text := self._generation_problem(body):
            return JSONResponse({"error": problem_text}, status_code=400)
        self.tts_texts.append(body["transcript"])
        audio = self._synthesize(body["transcript"], body["output_format"]["sample_rate"])
        return Response(audio, media_type="application/octet-stream")

    async def _tts_websocket(self, websocket: WebSocket) -> None:
        seen = self._record(websocket)
        # the websocket API takes its version as the `cartesia_version` query parameter
        if problem := self._auth_problem(seen.headers, seen.query.get("cartesia_version")):
            await websocket.send_denial_response(
                JSONResponse({"error": problem[1]}, status_code=problem[0])
            )
            return
        if self.fail_with:
            await websocket.send_denial_response(
                JSONResponse({"error": "internal error"}, status_code=self.fail_with.pop(0))
            )
            return
        await websocket.accept()
        failed: dict[str, int] = {}  # context id -> the status it failed with
        served: set[str] = set()
        try:
            while True:
                request = json.loads(await websocket.receive_text())
                seen.body = request
                context_id = request.get("context_id")
                # a failure on an open (pooled) connection fails the whole context
                if context_id not in failed and context_id not in served and self.fail_with:
                    failed[context_id] = self.fail_with.pop(0)
                served.add(context_id)
                if context_id in failed:
                    await websocket.send_json(
                        {
                            "type": "error",
                            "context_id": context_id,
                            "status_code": failed[context_id],
                            "done": True,
                            "error": "internal error",
                        }
                    )
                    continue
                if problem_text := self._generation_problem(request) or (
                    None if context_id else "context_id: required"
                ):
                    await websocket.send_json(
                        {
                            "type": "error",
                            "context_id": context_id,
                            "status_code": 400,
                            "done": True,
                            "error": problem_text,
                        }
                    )
                    continue
                text = request["transcript"]
                if text.strip():
                    self.tts_texts.append(text)
                    audio = self._synthesize(text, request["output_format"]["sample_rate"])
                    await websocket.send_json(
                        {
                            "type": "chunk",
                            "data": base64.b64encode(audio).decode(),
                            "done": False,
                            "status_code": 206,
                            "step_time": 1.0,
                            "context_id": context_id,
                        }
                    )
                    if request.get("add_timestamps"):
                        words = text.split()
                        step = self.seconds_per_char * len(text.strip()) / max(len(words), 1)
                        await websocket.send_json(
                            {
                                "type": "timestamps",
                                "context_id": context_id,
                                "status_code": 206,
                                "done": False,
                                "word_timestamps": {
                                    "words": words,
                                    "start": [i * step for i in range(len(words))],
                                    "end": [(i + 1) * step for i in range(len(words))],
                                },
                            }
                        )
                if request.get("continue") is False:
                    await websocket.send_json(
                        {"type": "done", "done": True, "status_code": 200, "context_id": context_id}
                    )
        except WebSocketDisconnect:
            return

    async def _stt_websocket(self, websocket: WebSocket) -> None:
        seen = self._record(websocket)
        if problem := self._auth_problem(seen.headers, seen.headers.get("cartesia-version")):
            await websocket.send_denial_response(
                JSONResponse({"error": problem[1]}, status_code=problem[0])
            )
            return
        if seen.query.get("model") != self.stt_model or seen.query.get("encoding") != "pcm_s16le":
            await websocket.send_denial_response(
                JSONResponse({"error": "model or encoding not supported"}, status_code=400)
            )
            return
        sample_rate = int(seen.query.get("sample_rate", "0"))
        if sample_rate <= 0:
            await websocket.send_denial_response(
                JSONResponse({"error": "sample_rate: required"}, status_code=400)
            )
            return
        await websocket.accept()
        request_id = uuid.uuid4().hex
        pending = 0  # bytes heard since the last transcript
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    self.stt_audio.extend(message["bytes"])
                    pending += len(message["bytes"])
                    continue
                command = message.get("text") or ""
                self.stt_commands.append(command)
                if command in ("finalize", "close") and pending:
                    words = self.transcript.split()
                    duration = pending / 2 / sample_rate
                    step = duration / max(len(words), 1)
                    await websocket.send_json(
                        {
                            "type": "transcript",
                            "request_id": request_id,
                            "text": self.transcript,
                            "is_final": True,
                            "duration": duration,
                            "language": "en",
                            "words": [
                                {"word": w, "start": i * step, "end": (i + 1) * step}
                                for i, w in enumerate(words)
                            ],
                        }
                    )
                    pending = 0
                if command == "finalize":
                    await websocket.send_json({"type": "flush_done", "request_id": request_id})
                elif command == "close":
                    await websocket.send_json({"type": "done", "request_id": request_id})
                    await websocket.close()
                    return
        except WebSocketDisconnect:
            return
