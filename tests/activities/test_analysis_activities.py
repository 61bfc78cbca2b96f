"""analyze_call with the offline analyzer and with OpenAIAnalyzer against a local Chat
Completions server; notify_app_backend against the local app backend receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from temporalio.testing import ActivityEnvironment

from activities.analysis import AnalysisActivities, AnalyzeInput, NotifyActivities, NotifyOutput
from activities.error_edge import to_application_error
from callflow.analysis.errors import AnalysisInvalid
from callflow.analysis.offline import OfflineAnalyzer
from callflow.analysis.openai import OpenAIAnalyzer
from callflow.local.app_backend import LocalReceiver, start_local_receiver
from callflow.models import Commitment
from callflow.notify.errors import WebhookRejected
from callflow.notify.webhook import SignedWebhookNotifier
from callflow.ports import CommitmentUpdate, PostCallEvent
from tests.analysis.openai_server import OpenAIServer

RUN = Commitment("c-run", "u-1", "Go running twice", "2026-11-27")
TRANSCRIPT = [
    {"role": "agent", "text": "Hi Sam, did you go running twice this week?"},
    {"role": "user", "text": "Yes I did, Tuesday and Thursday."},
    {"role": "agent", "text": "Great. What's next?"},
    {"role": "user", "text": "I'll stretch every morning."},
]
OPENAI_KEY = "sk-activities-test"
WEBHOOK_SECRET = "whsec-activities-test"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def llm() -> AsyncIterator[OpenAIServer]:
    async with OpenAIServer(api_key=OPENAI_KEY) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def backend() -> AsyncIterator[LocalReceiver]:
    receiver = await start_local_receiver(WEBHOOK_SECRET)
    yield receiver
    await receiver.stop()


async def test_analyze_call_offline(env: ActivityEnvironment, call_id: str) -> None:
    acts = AnalysisActivities(OfflineAnalyzer())
    result = await env.run(acts.analyze_call, AnalyzeInput(call_id, TRANSCRIPT, [RUN]))
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert [n.text for n in result.new_commitments] == ["stretch every morning"]
    assert result.provider == OfflineAnalyzer.provider


async def test_analyze_call_with_openai(
    env: ActivityEnvironment, llm: OpenAIServer, call_id: str
) -> None:
    llm.replies.append(
        json.dumps(
            {
                "summary": "Sam ran twice and will stretch every morning.",
                "mood": "great",
                "new_commitments": [{"text": "Stretch every morning", "due_date": None}],
                "commitment_updates": [{"commitment_id": "c-run", "status": "kept"}],
                "topics_next_time": ["stretching"],
            }
        )
    )
    analyzer = OpenAIAnalyzer.create(OPENAI_KEY, "gpt-6-luna", llm.base_url)
    try:
        result = await env.run(
            AnalysisActivities(analyzer).analyze_call, AnalyzeInput(call_id, TRANSCRIPT, [RUN])
        )
    finally:
        await analyzer.close()
    assert result.provider == "openai:gpt-6-luna"
    assert result.mood == "great"
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]


async def test_invalid_llm_output_stays_retryable(
    env: ActivityEnvironment, llm: OpenAIServer, call_id: str
) -> None:
    llm.replies.append('{"summary": "cut off mid-')
    analyzer = OpenAIAnalyzer.create(OPENAI_KEY, "gpt-6-luna", llm.base_url)
    try:
        with pytest.raises(AnalysisInvalid) as raised:
            await env.run(
                AnalysisActivities(analyzer).analyze_call,
                AnalyzeInput(call_id, TRANSCRIPT, [RUN]),
            )
    finally:
        await analyzer.close()
    # A model that broke the schema once gets another try: the error edge reports it as a
    # retryable AnalysisInvalid.
    reported = to_application_error(raised.value)
    assert reported.type == "AnalysisInvalid" and not reported.non_retryable


def post_call(call_id: str) -> PostCallEvent:
    return PostCallEvent(call_id, "u-1", "completed", 1, "Ran twice.", "2026-11-27T07:34:10Z")


async def test_notify_without_a_backend_configured(env: ActivityEnvironment, call_id: str) -> None:
    out = await env.run(NotifyActivities(None).notify_app_backend, post_call(call_id))
    assert out == NotifyOutput(delivered=False, configured=False)


async def test_notify_delivers_a_signed_webhook(
    env: ActivityEnvironment, backend: LocalReceiver, call_id: str
) -> None:
    async with httpx.AsyncClient() as client:
        notifier = SignedWebhookNotifier(backend.url, WEBHOOK_SECRET, client)
        out = await env.run(NotifyActivities(notifier).notify_app_backend, post_call(call_id))
    assert out == NotifyOutput(delivered=True)
    event = backend.state.by_key(call_id)
    assert event is not None and event.event["outcome"] == "completed"


async def test_notify_refused_is_non_retryable(
    env: ActivityEnvironment, backend: LocalReceiver, call_id: str
) -> None:
    async with httpx.AsyncClient() as client:
        notifier = SignedWebhookNotifier(backend.url, "a-different-secret", client)
        with pytest.raises(WebhookRejected) as raised:
            await env.run(NotifyActivities(notifier).notify_app_backend, post_call(call_id))
    reported = to_application_error(raised.value)
    assert reported.type == "WebhookRejected" and reported.non_retryable
    assert "a-different-secret" not in reported.message
    assert backend.state.by_key(call_id) is None
