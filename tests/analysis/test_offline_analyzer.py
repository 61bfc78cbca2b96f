"""The offline rule-based analyzer on transcripts shaped like real calls."""

from __future__ import annotations

from agent.offline.script import get_script
from callflow.analysis.offline import OfflineAnalyzer
from callflow.models import Commitment
from callflow.ports import CommitmentUpdate

RUN = Commitment("c-run", "u-1", "Go running on Tuesday and Thursday", "2026-11-26")
READ = Commitment("c-read", "u-1", "Read twenty pages every evening", "2026-11-26")


def call(*user_lines: str) -> list[dict[str, str]]:
    """A transcript where the agent opens and asks, and the user answers with `user_lines`."""
    agent_lines = [
        "Hi Sam, it's your accountability coach. Did you go running this week?",
        "What will you commit to for next week?",
        "Anything else before we finish?",
    ]
    turns: list[dict[str, str]] = []
    for i, line in enumerate(user_lines):
        turns.append({"role": "agent", "text": agent_lines[min(i, len(agent_lines) - 1)]})
        turns.append({"role": "user", "text": line})
    return turns


async def test_kept_commitment_and_a_new_one() -> None:
    result = await OfflineAnalyzer().analyze(
        call(
            "Yes I did it, I went running on Tuesday and on Thursday.",
            "Next week I'll meditate for ten minutes every morning.",
            "No, that's all, thanks!",
        ),
        [RUN],
    )
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert [n.text for n in result.new_commitments] == ["meditate for ten minutes every morning"]
    assert result.new_commitments[0].due_date is None  # no date is guessed
    assert result.topics_next_time == ["meditate for ten minutes every morning"]
    assert "meditate for ten minutes every morning" in result.summary
    assert "kept" in result.summary


async def test_broken_commitment_and_low_mood() -> None:
    result = await OfflineAnalyzer().analyze(
        call("No, I didn't manage it, I was exhausted after work.", "Nothing new for now."),
        [RUN, READ],
    )
    assert result.commitment_updates == [
        CommitmentUpdate("c-run", "broken"),
        CommitmentUpdate("c-read", "broken"),
    ]
    assert result.mood == "low"
    assert result.new_commitments == []
    assert "No new commitment" in result.summary


async def test_a_yes_is_not_turned_into_broken_by_a_later_no() -> None:
    # "no problem" after a clear "yes": the first signal in the answer decides.
    result = await OfflineAnalyzer().analyze(
        call("Yes I did, no problem at all, it felt great."), [RUN]
    )
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert result.mood == "good"


async def test_unclear_when_the_answer_says_neither() -> None:
    result = await OfflineAnalyzer().analyze(
        call("Well, it was a busy week with the move and everything."), [RUN]
    )
    assert result.commitment_updates == [CommitmentUpdate("c-run", "unclear")]
    assert result.mood == "neutral"


async def test_agent_lines_are_not_read_as_the_users() -> None:
    # The agent says "I'll" and "great"; only what the user said counts.
    transcript = [
        {"role": "agent", "text": "Great to hear from you! I'll ask about your plan."},
        {"role": "user", "text": "Hmm, let me think about it."},
    ]
    result = await OfflineAnalyzer().analyze(transcript, [RUN])
    assert result.new_commitments == []
    assert result.mood == "neutral"
    assert result.commitment_updates == [CommitmentUpdate("c-run", "unclear")]


async def test_every_promise_form_is_extracted() -> None:
    result = await OfflineAnalyzer().analyze(
        call(
            "I will call my mother on Sunday.",
            "And I'm going to clean the garage!",
            "I commit to no sugar after 8pm.",
        ),
        [],
    )
    assert [n.text for n in result.new_commitments] == [
        "call my mother on Sunday",
        "clean the garage",
        "no sugar after 8pm",
    ]
    assert result.commitment_updates == []
    assert "No commitment was due" in result.summary


async def test_empty_transcript() -> None:
    result = await OfflineAnalyzer().analyze([], [RUN])
    assert result.summary == "The call connected but no conversation was transcribed."
    assert result.commitment_updates == [CommitmentUpdate("c-run", "unclear")]
    assert result.new_commitments == [] and result.topics_next_time == []
    assert result.mood == "neutral"


async def test_default_offline_script_reads_as_kept_with_one_new_commitment() -> None:
    # What the phone simulator says in every offline end-to-end call.
    lines = get_script(None).phone_lines
    result = await OfflineAnalyzer().analyze(call(*lines), [RUN])
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert [n.text for n in result.new_commitments] == ["meditate for ten minutes every morning"]


async def test_moods_stay_inside_the_analysis_schema() -> None:
    allowed = {"great", "good", "neutral", "low", "stressed"}
    for line in ("I feel awful.", "I'm proud of myself.", "Okay."):
        result = await OfflineAnalyzer().analyze(call(line), [])
        assert result.mood in allowed


async def test_provider_says_it_is_offline() -> None:
    analyzer = OfflineAnalyzer()
    result = await analyzer.analyze(call("Yes."), [])
    assert result.provider == analyzer.provider
    assert "offline" in result.provider and "no LLM" in result.provider
