"""The agent's real-provider path (OpenAI, Anthropic, Cartesia, fallbacks), as built from
Settings by agent.providers, against local servers that speak each vendor's documented protocol
(tests/agent/real_provider_servers.py). Nothing here reaches the internet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from livekit import rtc
from livekit.agents import AgentSession, APIStatusError, llm, stt, tts, utils
from livekit.agents.voice.run_result import RunResult
from livekit.plugins import anthropic, cartesia, openai
from livekit.plugins.cartesia.models import TTSDefaultVoiceId
from pydantic import SecretStr

from agent.call_agent import CallAgent
from agent.device_client import DeviceClient
from agent.metadata import CallContext, DueCommitment, UserProfile
from agent.offline.script import get_script
from agent.providers import Providers, build_llm, build_providers, build_stt, build_tts, load_vad
from callflow.settings import Settings
from tests.agent.real_provider_servers import (
    AnthropicServer,
    CartesiaServer,
    OpenAIServer,
    pcm_tone,
)

OPENAI_KEY = "sk-test-openai-0123456789"
ANTHROPIC_KEY = "sk-ant-test-0123456789"
CARTESIA_KEY = "sk_car_test_0123456789"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, CARTESIA_KEY)

OPENAI_REPLY = ["Great", " work", " on", " the", " runs", ".", " What", " is", " next?"]
ANTHROPIC_REPLY = ["Claude", " here:", " well", " done", " this", " week."]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def openai_server() -> AsyncIterator[OpenAIServer]:
    server = OpenAIServer(name="local OpenAI server", api_key=OPENAI_KEY, reply=OPENAI_REPLY)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def anthropic_server() -> AsyncIterator[AnthropicServer]:
    server = AnthropicServer(
        name="local Anthropic server", api_key=ANTHROPIC_KEY, reply=ANTHROPIC_REPLY
    )
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def cartesia_server() -> AsyncIterator[CartesiaServer]:
    server = CartesiaServer(
        name="local Cartesia server",
        api_key=CARTESIA_KEY,
        voice_id=TTSDefaultVoiceId,
        transcript="I ran on Tuesday and Thursday",
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def fresh_servers(request: pytest.FixtureRequest) -> None:
    for name in ("openai_server", "anthropic_server", "cartesia_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


@pytest_asyncio.fixture(loop_scope="session")
async def http_context() -> AsyncIterator[None]:
    # Outside a job process the Cartesia plugin needs livekit-agents' shared aiohttp session.
    async with utils.http_context.open():
        yield


def make_settings(**providers: Any) -> Settings:
    """Settings with exactly the given provider fields: the machine's environment and .env
    must not add keys the test did not ask for."""
    fields: dict[str, Any] = {
        "openai_api_key": None,
        "openai_base_url": None,
        "anthropic_api_key": None,
        "cartesia_api_key": None,
    }
    fields.update(providers)
    for name, value in fields.items():
        if name.endswith("_api_key") and isinstance(value, str):
            fields[name] = SecretStr(value)
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


def make_call() -> CallContext:
    return CallContext(
        call_id="c-real",
        workflow_id="call-c-real",
        user=UserProfile(user_id="u-1", display_name="Ada", timezone="Europe/London"),
        memory=["Ada trains for a half marathon in March"],
        due_commitments=[DueCommitment("k-1", "Run three times this week", "2026-11-27")],
    )


def build(settings: Settings) -> Providers:
    return build_providers(settings, get_script(None), vad_model=load_vad())


def assert_no_secret(names: dict[str, str], log_text: str = "") -> None:
    for secret in SECRETS:
        assert all(secret not in name for name in names.values()), names
        assert secret not in log_text


async def say(model: llm.LLM, user_input: str) -> str:
    """One turn of the real CallAgent (with its device tools) through AgentSession."""
    async with AgentSession(llm=model) as session:
        await session.start(CallAgent(make_call(), DeviceClient(None, "u-1"), greet=False))
        result: RunResult[None] = await session.run(user_input=user_input)
        message = result.expect.next_event().is_message(role="assistant").event().item
        result.expect.no_more_events()
        return message.text_content or ""


# --------------------------------------------------------------------------- LLM


async def test_openai_key_selects_openai_and_its_stream_is_spoken(
    openai_server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(openai_api_key=OPENAI_KEY, openai_base_url=f"{openai_server.url}/v1")
    with caplog.at_level(logging.INFO, logger="callflow.agent.providers"):
        providers = build(settings)
    assert isinstance(providers.llm, openai.LLM)
    assert providers.names["llm"] == "openai gpt-6-luna"
    # no Cartesia key: speech stays offline and says so
    assert providers.names["stt"].startswith("offline")
    assert providers.names["tts"].startswith("offline")
    assert_no_secret(providers.names, caplog.text)

    async with providers.llm:
        spoken = await say(providers.llm, "Yes, I ran on Tuesday and Thursday")

    assert spoken == "".join(OPENAI_REPLY)
    [request] = openai_server.seen
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body["model"] == Settings.model_fields["openai_model"].default
    assert request.body["reasoning_effort"] == "none" and "temperature" not in request.body
    assert request.body["stream"] is True
    messages = request.body["messages"]
    assert messages[0]["role"] in ("system", "developer")
    assert "Run three times this week" in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": "Yes, I ran on Tuesday and Thursday"}
    # the device tools travel as OpenAI function tools
    tool_names = {t["function"]["name"] for t in request.body["tools"]}
    assert "get_battery_level" in tool_names


async def test_openai_rejects_a_wrong_key_and_the_plugin_reports_401(
    openai_server: OpenAIServer,
) -> None:
    settings = make_settings(openai_api_key="sk-wrong", openai_base_url=f"{openai_server.url}/v1")
    model, _ = build_llm(settings)
    ctx = llm.ChatContext()
    ctx.add_message(role="user", content="hello")
    async with model:
        with pytest.raises(APIStatusError) as caught:
            async with model.chat(chat_ctx=ctx) as stream:
                async for _ in stream:
                    pass
    assert caught.value.status_code == 401
    assert "sk-wrong" not in str(caught.value)


async def test_anthropic_key_alone_selects_anthropic_at_its_http_boundary(
    anthropic_server: AnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings has no Anthropic base-URL field; the anthropic SDK reads ANTHROPIC_BASE_URL.
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    settings = make_settings(anthropic_api_key=ANTHROPIC_KEY)
    providers = build(settings)
    assert isinstance(providers.llm, anthropic.LLM)
    assert providers.names["llm"] == "anthropic claude-haiku-5-5"
    assert_no_secret(providers.names)

    async with providers.llm:
        spoken = await say(providers.llm, "I skipped Thursday")

    assert spoken == "".join(ANTHROPIC_REPLY)
    [request] = anthropic_server.seen
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == ANTHROPIC_KEY
    assert request.headers["anthropic-version"]
    assert request.body["model"] == Settings.model_fields["anthropic_model"].default
    assert not {"temperature", "top_p", "top_k"} & set(request.body)
    assert request.body["stream"] is True
    assert isinstance(request.body["max_tokens"], int)
    system = request.body["system"]
    system_text = system if isinstance(system, str) else " ".join(b["text"] for b in system)
    assert "Run three times this week" in system_text
    assert request.body["messages"][-1]["role"] == "user"
    assert "I skipped Thursday" in str(request.body["messages"][-1]["content"])


async def test_two_llms_make_a_fallback_that_speaks_the_second_when_the_first_fails(
    openai_server: OpenAIServer,
    anthropic_server: AnthropicServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    settings = make_settings(
        openai_api_key=OPENAI_KEY,
        openai_base_url=f"{openai_server.url}/v1",
        anthropic_api_key=ANTHROPIC_KEY,
    )
    providers = build(settings)
    assert isinstance(providers.llm, llm.FallbackAdapter)
    assert providers.names["llm"] == ("fallback: openai gpt-6-luna -> anthropic claude-haiku-5-5")
    assert_no_secret(providers.names)

    async with providers.llm:
        # healthy primary: OpenAI answers, Anthropic is never asked
        assert await say(providers.llm, "first turn") == "".join(OPENAI_REPLY)
        assert anthropic_server.seen == []

        openai_server.fail_with.append(500)
        assert await say(providers.llm, "second turn") == "".join(ANTHROPIC_REPLY)

    failed = [s for s in openai_server.seen if "second turn" in str(s.body["messages"][-1])]
    assert failed, "the primary was not tried first"
    [answered] = anthropic_server.seen
    assert "second turn" in str(answered.body["messages"][-1]["content"])


# --------------------------------------------------------------------------- Cartesia


async def test_cartesia_tts_streams_sonic3_audio_over_its_websocket(
    cartesia_server: CartesiaServer, http_context: None
) -> None:
    settings = make_settings(cartesia_api_key=CARTESIA_KEY, cartesia_base_url=cartesia_server.url)
    engine, name = build_tts(settings)
    assert isinstance(engine, cartesia.TTS)
    assert name == "cartesia sonic-3"

    text = "Hi Ada. Did you run three times this week?"
    frames: list[rtc.AudioFrame] = []
    async with engine:
        stream = engine.stream()
        stream.push_text(text)
        stream.end_input()
        async for event in stream:
            frames.append(event.frame)
        await stream.aclose()

    assert "".join(cartesia_server.tts_texts).split() == text.split()
    audio = b"".join(bytes(f.data.cast("B")) for f in frames)
    assert audio == bytes(cartesia_server.tts_audio)
    assert all(f.sample_rate == 24000 and f.num_channels == 1 for f in frames)
    seconds = sum(f.duration for f in frames)
    # the server makes 10 ms of audio per character of each transcript it was sent
    expected = sum(len(t.strip()) for t in cartesia_server.tts_texts) * 0.01
    assert seconds == pytest.approx(expected, abs=0.002)

    [connection] = [s for s in cartesia_server.seen if s.path == "/tts/websocket"]
    assert connection.headers["x-api-key"] == CARTESIA_KEY
    assert connection.query["cartesia_version"]
    assert connection.body["model_id"] == "sonic-3"
    assert connection.body["voice"] == {"mode": "id", "id": TTSDefaultVoiceId}


async def test_cartesia_tts_synthesize_uses_the_bytes_endpoint(
    cartesia_server: CartesiaServer, http_context: None
) -> None:
    settings = make_settings(cartesia_api_key=CARTESIA_KEY, cartesia_base_url=cartesia_server.url)
    engine, _ = build_tts(settings)
    async with engine:
        frame = await engine.synthesize("Talk tomorrow.").collect()

    served = bytes(cartesia_server.tts_audio)
    heard = bytes(frame.data.cast("B"))
    assert heard[: len(served)] == served
    # the emitter may close the utterance with a few ms of silence
    padding = heard[len(served) :]
    assert padding == bytes(len(padding)) and len(padding) <= 0.05 * 24000 * 2
    [request] = cartesia_server.seen
    assert request.path == "/tts/bytes"
    assert request.headers["x-api-key"] == CARTESIA_KEY
    assert request.headers["cartesia-version"]
    assert request.body["transcript"] == "Talk tomorrow."
    assert request.body["model_id"] == "sonic-3"


async def test_cartesia_tts_with_a_wrong_key_fails_as_an_api_error(
    cartesia_server: CartesiaServer, http_context: None
) -> None:
    engine = cartesia.TTS(api_key="wrong", base_url=cartesia_server.url)
    async with engine:
        with pytest.raises(APIStatusError) as caught:
            await engine.synthesize("hello").collect()
    assert caught.value.status_code == 401


async def test_cartesia_stt_sends_the_audio_and_returns_the_transcript(
    cartesia_server: CartesiaServer, http_context: None
) -> None:
    settings = make_settings(cartesia_api_key=CARTESIA_KEY, cartesia_base_url=cartesia_server.url)
    engine, name = build_stt(settings, get_script(None), load_vad())
    assert isinstance(engine, cartesia.STT)
    assert name == "cartesia ink-whisper"

    sample_rate = 16000
    audio = pcm_tone(1.0, sample_rate)
    frame_bytes = sample_rate // 100 * 2  # 10 ms frames, as LiveKit delivers them
    stream = engine.stream()
    for start in range(0, len(audio), frame_bytes):
        chunk = audio[start : start + frame_bytes]
        stream.push_frame(rtc.AudioFrame(chunk, sample_rate, 1, len(chunk) // 2))
    stream.flush()  # end of the user's turn: the plugin sends `finalize`

    finals: list[stt.SpeechEvent] = []
    usage: list[stt.SpeechEvent] = []

    async def read() -> None:
        async for event in stream:
            if event.type == stt.SpeechEventType.FINAL_TRANSCRIPT:
                finals.append(event)
                stream.end_input()
            elif event.type == stt.SpeechEventType.RECOGNITION_USAGE:
                usage.append(event)

    await asyncio.wait_for(read(), 10)
    await stream.aclose()
    await engine.aclose()

    assert [e.alternatives[0].text for e in finals] == ["I ran on Tuesday and Thursday"]
    assert bytes(cartesia_server.stt_audio) == audio
    assert usage and usage[0].recognition_usage is not None
    assert usage[0].recognition_usage.audio_duration == pytest.approx(1.0, abs=0.01)
    assert cartesia_server.stt_commands[0] == "finalize"
    [connection] = cartesia_server.seen
    assert connection.path == "/stt/websocket"
    assert connection.headers["x-api-key"] == CARTESIA_KEY
    assert connection.headers["cartesia-version"]
    assert connection.query["model"] == "ink-whisper"
    assert connection.query["sample_rate"] == "16000"


async def test_every_key_set_gives_fallbacks_and_names_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        openai_api_key=OPENAI_KEY,
        openai_base_url="http://127.0.0.1:9/v1",
        anthropic_api_key=ANTHROPIC_KEY,
        cartesia_api_key=CARTESIA_KEY,
    )
    with caplog.at_level(logging.DEBUG):
        providers = build(settings)
    assert isinstance(providers.llm, llm.FallbackAdapter)
    assert isinstance(providers.stt, stt.FallbackAdapter)
    assert isinstance(providers.tts, tts.FallbackAdapter)
    assert providers.names["stt"].startswith("fallback: cartesia ink-whisper -> openai")
    assert providers.names["tts"].startswith("fallback: cartesia sonic-3 -> openai")
    assert_no_secret(providers.names, caplog.text)
    await providers.llm.aclose()


async def test_tts_fallback_speaks_with_openai_when_cartesia_fails(
    cartesia_server: CartesiaServer, openai_server: OpenAIServer, http_context: None
) -> None:
    settings = make_settings(
        openai_api_key=OPENAI_KEY,
        openai_base_url=f"{openai_server.url}/v1",
        cartesia_api_key=CARTESIA_KEY,
        cartesia_base_url=cartesia_server.url,
    )
    engine, name = build_tts(settings)
    assert isinstance(engine, tts.FallbackAdapter)
    assert name == "fallback: cartesia sonic-3 -> openai tts"

    async def speak(text: str) -> bytes:
        stream = engine.stream()
        stream.push_text(text)
        stream.end_input()
        audio = b"".join([bytes(ev.frame.data.cast("B")) async for ev in stream])
        await stream.aclose()
        return audio

    async with engine:
        # healthy primary: Cartesia's audio, OpenAI is not asked
        assert await speak("Well done this week.") == bytes(cartesia_server.tts_audio)
        assert openai_server.seen == []

        # Cartesia down: the adapter retries it twice (its default), then OpenAI speaks
        cartesia_server.reset()
        cartesia_server.fail_with.extend([500, 500, 500])
        heard = await speak("Talk to you tomorrow.")

    assert cartesia_server.fail_with == []
    served = bytes(openai_server.speech_audio)
    assert served and heard[: len(served)] == served
    [request] = [s for s in openai_server.seen if s.path == "/v1/audio/speech"]
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.body["input"].strip() == "Talk to you tomorrow."
    assert request.body["model"] == "gpt-4o-mini-tts"
