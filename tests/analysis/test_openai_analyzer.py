"""OpenAIAnalyzer against a local server that checks requests the way the Chat Completions API
does and answers in its documented format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import openai
import pytest
import pytest_asyncio

from callflow.analysis import schema
from callflow.analysis.errors import AnalysisInvalid, AnalysisRejected, AnalysisUnavailable
from callflow.analysis.openai import OpenAIAnalyzer
from callflow.analysis.schema import AnalysisOutput, json_schema
from callflow.local.stack.temporal import free_port
from callflow.model_params import openai_accepts_temperature
from callflow.models import Commitment
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment
from callflow.settings import Settings
from tests.analysis.conftest import API_KEY
from tests.analysis.openai_server import OpenAIServer, strict_schema_problems

# The default model (Settings), so a retired or shutting-down default fails these tests: the
# stand-in refuses the ids in tests/support/model_catalog.py as OpenAI does.
MODEL = Settings.model_fields["openai_model"].default
RUN = Commitment("c-run", "u-1", "Go running on Tuesday and Thursday", "2026-11-26")
READ = Commitment("c-read", "u-1", "Read twenty pages every evening", "2026-11-27")
TRANSCRIPT = [
    {"role": "agent", "text": "Hi Sam! Did you go running on Tuesday and Thursday?"},
    {"role": "user", "text": "Yes, both days. I did not read though, I was exhausted."},
    {"role": "agent", "text": "What will you commit to for next week?"},
    {"role": "user", "text": "I'll meditate for ten minutes every morning, starting Monday."},
]


def answer(**overrides: object) -> str:
    document: dict[str, object] = {
        "summary": "Sam ran twice as planned but skipped reading because of tiredness.",
        "mood": "good",
        "new_commitments": [
            {"text": "Meditate for ten minutes every morning", "due_date": "2026-12-01"}
        ],
        "commitment_updates": [
            {"commitment_id": "c-run", "status": "kept"},
            {"commitment_id": "c-read", "status": "broken"},
        ],
        "topics_next_time": ["meditation streak", "evening reading routine"],
    }
    document.update(overrides)
    return json.dumps(document)


@pytest_asyncio.fixture(loop_scope="session")
async def make_analyzer() -> AsyncIterator[Callable[..., OpenAIAnalyzer]]:
    """OpenAIAnalyzer.create with this module's model; every one made is closed afterwards."""
    made: list[OpenAIAnalyzer] = []

    def make(base_url: str, api_key: str = API_KEY) -> OpenAIAnalyzer:
        made.append(OpenAIAnalyzer.create(api_key, MODEL, base_url=base_url))
        return made[-1]

    yield make
    for a in made:
        await a.close()


def test_schema_sent_is_inside_openai_strict_subset() -> None:
    sent = json_schema()
    assert strict_schema_problems(sent) == []
    assert set(sent["required"]) == {
        "summary",
        "mood",
        "new_commitments",
        "commitment_updates",
        "topics_next_time",
    }
    assert "$defs" not in json.dumps(sent) and "$ref" not in json.dumps(sent)
    item = sent["properties"]["new_commitments"]["items"]
    assert item["required"] == ["text", "due_date", "due_time", "recurrence"]
    # The due date is always resolved: a string in ISO form, never null.
    assert item["properties"]["due_date"]["type"] == "string"
    assert "pattern" in item["properties"]["due_date"]
    recurrence = item["properties"]["recurrence"]["anyOf"]
    assert {"type": "null"} in recurrence
    assert {"daily", "weekdays", "weekly"} == set(recurrence[0]["enum"])
    update = sent["properties"]["commitment_updates"]["items"]
    assert update["required"] == ["commitment_id", "status", "evidence"]
    assert set(update["properties"]["status"]["enum"]) == {"kept", "broken", "partly", "unclear"}


def test_plain_pydantic_schema_would_be_refused() -> None:
    # Why json_schema() rewrites pydantic's output: the checker is not a rubber stamp.
    problems = strict_schema_problems(AnalysisOutput.model_json_schema())
    assert any("'minLength' is not permitted" in p for p in problems), problems


async def test_server_refuses_a_schema_outside_the_strict_subset(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=llm.base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError, match=r"maxLength|minLength"):
        await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "call_analysis",
                    "strict": True,
                    "schema": AnalysisOutput.model_json_schema(),
                },
            },
        )
    await client.close()


async def test_valid_answer_becomes_a_call_analysis(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    llm.replies.append(answer())
    result = await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN, READ])

    assert result == CallAnalysis(
        summary="Sam ran twice as planned but skipped reading because of tiredness.",
        mood="good",
        new_commitments=[NewCommitment("Meditate for ten minutes every morning", "2026-12-01")],
        commitment_updates=[
            CommitmentUpdate("c-run", "kept"),
            CommitmentUpdate("c-read", "broken"),
        ],
        topics_next_time=["meditation streak", "evening reading routine"],
        provider=f"openai:{MODEL}",
    )
    [request] = llm.seen
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"].startswith("application/json")
    body = request.body
    assert body["model"] == MODEL
    # The default is a reasoning model: it refuses `temperature`, so none is sent.
    assert "temperature" not in body
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = json.loads(body["messages"][1]["content"])
    assert user["transcript"] == TRANSCRIPT
    assert user["due_commitments"] == [
        {"commitment_id": "c-run", "text": RUN.text, "due_date": "2026-11-26"},
        {"commitment_id": "c-read", "text": READ.text, "due_date": "2026-11-27"},
    ]
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"] == json_schema()


async def test_no_commitment_due_and_nothing_new(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    llm.replies.append(
        answer(new_commitments=[], commitment_updates=[], topics_next_time=[], mood="neutral")
    )
    result = await make_analyzer(llm.base_url).analyze(TRANSCRIPT[:2], [])
    assert result.new_commitments == [] and result.commitment_updates == []
    assert json.loads(llm.seen[0].body["messages"][1]["content"])["due_commitments"] == []


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("Sam had a good week.", "not JSON"),
        (answer(mood="ecstatic"), "mood outside the enum"),
        (answer(summary=""), "empty summary"),
        (answer(extra="field"), "extra field"),
        (
            json.dumps({k: v for k, v in json.loads(answer()).items() if k != "topics_next_time"}),
            "missing topics_next_time",
        ),
        (answer(new_commitments=[{"text": "Run", "due_date": "next week"}]), "due_date not ISO"),
        (
            answer(commitment_updates=[{"commitment_id": "c-run", "status": "maybe"}]),
            "status outside kept/broken/partly/unclear",
        ),
        (
            answer(
                new_commitments=[{"text": "Run", "due_date": "2026-12-01", "recurrence": "monthly"}]
            ),
            "recurrence outside daily/weekdays/weekly",
        ),
        (
            answer(
                new_commitments=[{"text": "Run", "due_date": "2026-12-01", "due_time": "25:00"}]
            ),
            "due_time not HH:MM",
        ),
        (answer(new_commitments=[{"text": "Run", "due_date": "2026-02-30"}]), "no such date"),
    ],
)
async def test_output_not_matching_the_schema_is_invalid(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer], reply: str, why: str
) -> None:
    llm.replies.append(reply)
    with pytest.raises(AnalysisInvalid, match="does not match the schema"):
        await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN, READ])


async def test_update_of_a_commitment_that_was_not_due_is_invalid(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    llm.replies.append(
        answer(commitment_updates=[{"commitment_id": "c-invented", "status": "kept"}])
    )
    with pytest.raises(AnalysisInvalid, match="c-invented"):
        await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN])


async def test_refusal_is_invalid_output(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    llm.refusals.append("I'm sorry, I can't help with that.")
    with pytest.raises(AnalysisInvalid, match="refused"):
        await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN])


async def test_wrong_key_is_rejected_naming_the_setting(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    with pytest.raises(AnalysisRejected, match="OPENAI_API_KEY") as raised:
        await make_analyzer(llm.base_url, api_key="sk-wrong-secret-value").analyze(
            TRANSCRIPT, [RUN]
        )
    assert "401" in str(raised.value)
    assert "sk-wrong-secret-value" not in str(raised.value)  # secrets never in messages
    assert llm.replies == []


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_unavailable(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer], status: int
) -> None:
    llm.fail_next.append(status)
    llm.replies.append(answer())
    with pytest.raises(AnalysisUnavailable):
        await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN, READ])
    assert len(llm.seen) == 1  # the adapter leaves retries to Temporal (max_retries=0)
    # The next attempt, as Temporal's retry would make it, succeeds.
    result = await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN, READ])
    assert result.provider == f"openai:{MODEL}"


async def test_connection_refused_is_unavailable(
    make_analyzer: Callable[..., OpenAIAnalyzer],
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with pytest.raises(AnalysisUnavailable, match="unavailable"):
        await make_analyzer(closed).analyze(TRANSCRIPT, [RUN])


async def test_schema_outside_the_strict_subset_is_rejected_saying_why(
    llm: OpenAIServer,
    make_analyzer: Callable[..., OpenAIAnalyzer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What every call did before json_schema() produced the strict subset.
    monkeypatch.setattr(schema, "json_schema", AnalysisOutput.model_json_schema)
    llm.replies.append(answer())
    with pytest.raises(AnalysisRejected, match=r"400.*'(min|max)Length' is not permitted"):
        await make_analyzer(llm.base_url).analyze(TRANSCRIPT, [RUN, READ])


async def test_wrong_base_url_is_rejected_naming_the_setting(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    without_v1 = llm.base_url.removesuffix("/v1")
    with pytest.raises(AnalysisRejected, match=r"404.*OPENAI_BASE_URL"):
        await make_analyzer(without_v1).analyze(TRANSCRIPT, [RUN])


async def test_verdicts_with_evidence_partly_and_resolved_dates(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    llm.replies.append(
        answer(
            new_commitments=[
                {
                    "text": "Meditate for ten minutes",
                    "due_date": "2026-12-01",
                    "due_time": "07:00",
                    "recurrence": "daily",
                }
            ],
            commitment_updates=[
                {"commitment_id": "c-run", "status": "kept", "evidence": "Yes, both days."},
                {
                    "commitment_id": "c-read",
                    "status": "partly",
                    "evidence": "I did not read though",
                },
            ],
        )
    )
    result = await make_analyzer(llm.base_url).analyze(
        TRANSCRIPT,
        [RUN, READ],
        local_date="2026-11-30",
        timezone="Europe/Berlin",
        default_due_date="2026-12-03",
    )
    assert result.new_commitments == [
        NewCommitment(
            "Meditate for ten minutes", "2026-12-01", recurrence="daily", due_time="07:00"
        )
    ]
    assert result.commitment_updates == [
        CommitmentUpdate("c-run", "kept", "Yes, both days."),
        CommitmentUpdate("c-read", "partly", "I did not read though"),
    ]
    assert [u.evidence for u in result.commitment_updates] == [
        "Yes, both days.",
        "I did not read though",
    ]
    body = llm.seen[0].body
    call = json.loads(body["messages"][1]["content"])["call"]
    assert call["local_date"] == "2026-11-30"
    assert call["weekday"] == "Monday"
    assert call["timezone"] == "Europe/Berlin"
    assert call["default_due_date"] == "2026-12-03"
    assert call["next_week_starts"] == "2026-12-07"
    assert call["calendar"][:2] == ["Monday 2026-11-30", "Tuesday 2026-12-01"]
    system = body["messages"][0]["content"]
    for rule in ('"tomorrow": D+1', '"next week": the Monday after D', '"by Friday"', "daily"):
        assert rule in system


async def test_local_date_defaults_to_today_in_the_time_zone(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    llm.replies.append(answer())
    await make_analyzer(llm.base_url).analyze(
        TRANSCRIPT, [RUN, READ], timezone="Pacific/Kiritimati"
    )
    call = json.loads(llm.seen[0].body["messages"][1]["content"])["call"]
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    assert call["local_date"] in (today.isoformat(), (today - timedelta(days=1)).isoformat())
    assert call["timezone"] == "Pacific/Kiritimati"


async def test_a_null_due_date_gets_the_default_due_date(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    # Strict mode never sends it; a lenient provider that does still yields a dated commitment.
    llm.replies.append(answer(new_commitments=[{"text": "Stretch", "due_date": None}]))
    result = await make_analyzer(llm.base_url).analyze(
        TRANSCRIPT, [RUN, READ], local_date="2026-12-31", timezone="UTC"
    )
    assert result.new_commitments == [NewCommitment("Stretch", "2027-01-01")]


async def test_a_silent_call_is_not_sent_to_the_model(
    llm: OpenAIServer, make_analyzer: Callable[..., OpenAIAnalyzer]
) -> None:
    silent = [{"role": "agent", "text": "Hello? Are you there?"}, {"role": "user", "text": "  "}]
    result = await make_analyzer(llm.base_url).analyze(silent, [RUN, READ])
    assert result.commitment_updates == [] and result.new_commitments == []
    assert result.provider == f"openai:{MODEL}"
    assert llm.seen == []


@pytest.mark.parametrize("retired", ["gpt-4o-mini", "gpt-5-mini"])
async def test_a_retired_model_is_rejected_naming_the_setting(
    llm: OpenAIServer, retired: str
) -> None:
    analyzer = OpenAIAnalyzer.create(API_KEY, retired, base_url=llm.base_url)
    try:
        with pytest.raises(AnalysisRejected, match="CALLFLOW_OPENAI_MODEL") as info:
            await analyzer.analyze(TRANSCRIPT, [RUN])
        assert not info.value.retryable
    finally:
        await analyzer.close()


def test_sampling_parameters_follow_the_model_family() -> None:
    assert not openai_accepts_temperature("gpt-6-luna")
    assert not openai_accepts_temperature("openai/gpt-6.1-sol")
    assert not openai_accepts_temperature("o3-pro")
    assert openai_accepts_temperature("chatgpt-4o-latest")
