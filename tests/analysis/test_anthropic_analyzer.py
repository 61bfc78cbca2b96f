"""AnthropicAnalyzer (structured output through a forced tool call) against a local server that
checks requests as the Messages API does and refuses retired models."""

from __future__ import annotations

import json

import pytest

from callflow.analysis.anthropic import TOOL_NAME, AnthropicAnalyzer
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.analysis.schema import json_schema
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment
from callflow.settings import Settings
from tests.analysis.anthropic_server import AnthropicServer
from tests.analysis.conftest import API_KEY
from tests.analysis.test_openai_analyzer import READ, RUN, TRANSCRIPT, answer

# The default model, so a retired default fails here (tests/support/model_catalog.py).
MODEL = Settings.model_fields["anthropic_model"].default


async def analyze(server: AnthropicServer, model: str = MODEL) -> CallAnalysis:
    analyzer = AnthropicAnalyzer.create(API_KEY, model, base_url=server.url)
    try:
        return await analyzer.analyze(TRANSCRIPT, [RUN, READ], local_date="2026-11-27")
    finally:
        await analyzer.close()


async def test_the_forced_tool_call_becomes_a_call_analysis(claude: AnthropicServer) -> None:
    claude.replies.append(answer())
    result = await analyze(claude)
    assert result == CallAnalysis(
        summary="Sam ran twice as planned but skipped reading because of tiredness.",
        mood="good",
        new_commitments=[NewCommitment("Meditate for ten minutes every morning", "2026-12-01")],
        commitment_updates=[
            CommitmentUpdate("c-run", "kept"),
            CommitmentUpdate("c-read", "broken"),
        ],
        topics_next_time=["meditation streak", "evening reading routine"],
        provider=f"anthropic:{MODEL}",
    )
    [request] = claude.seen
    body = request.body
    assert request.path == "/v1/messages" and request.headers["x-api-key"] == API_KEY
    assert body["model"] == MODEL
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}
    assert body["tools"][0]["input_schema"] == json_schema()
    assert body["system"] and [m["role"] for m in body["messages"]] == ["user"]
    assert not {"temperature", "top_p", "top_k"} & set(body)
    user = json.loads(body["messages"][0]["content"])
    assert user["transcript"] == TRANSCRIPT and user["call"]["local_date"] == "2026-11-27"


# The SDK itself warns about these ids; the point here is what the API answers.
@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
@pytest.mark.parametrize("retired", ["claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"])
async def test_a_retired_model_is_rejected_naming_the_setting(
    claude: AnthropicServer, retired: str
) -> None:
    with pytest.raises(AnalysisRejected, match="CALLFLOW_ANTHROPIC_MODEL") as info:
        await analyze(claude, retired)
    assert not info.value.retryable


async def test_an_answer_without_the_tool_call_is_invalid(claude: AnthropicServer) -> None:
    claude.text_replies.append("Sam had a good week.")
    with pytest.raises(AnalysisInvalid, match=TOOL_NAME):
        await analyze(claude)


async def test_a_tool_input_outside_the_schema_is_invalid(claude: AnthropicServer) -> None:
    claude.replies.append(answer(mood="ecstatic"))
    with pytest.raises(AnalysisInvalid):
        await analyze(claude)


@pytest.mark.parametrize("status", [429, 500, 529])
async def test_overload_and_server_errors_are_retryable(
    claude: AnthropicServer, status: int
) -> None:
    claude.fail_next.append(status)
    with pytest.raises(AnalysisUnavailable) as info:
        await analyze(claude)
    assert info.value.retryable


async def test_a_wrong_key_is_rejected_naming_the_variable(claude: AnthropicServer) -> None:
    analyzer = AnthropicAnalyzer.create("wrong", MODEL, base_url=claude.url)
    try:
        with pytest.raises(AnalysisRejected, match="ANTHROPIC_API_KEY") as info:
            await analyzer.analyze(TRANSCRIPT, [RUN])
        assert "wrong" not in str(info.value)
    finally:
        await analyzer.close()


async def test_a_silent_call_is_not_sent(claude: AnthropicServer) -> None:
    analyzer = AnthropicAnalyzer.create(API_KEY, MODEL, base_url=claude.url)
    try:
        result = await analyzer.analyze([{"role": "agent", "text": "Hello?"}], [RUN])
    finally:
        await analyzer.close()
    assert result.provider == f"anthropic:{MODEL}" and claude.seen == []
