"""The offline rule-based analyzer on transcripts shaped like real calls."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.offline.script import get_script
from callflow.analysis.offline import OfflineAnalyzer
from callflow.models import Commitment
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment

RUN = Commitment("c-run", "u-1", "Go running on Tuesday and Thursday", "2026-11-26")
READ = Commitment("c-read", "u-1", "Read twenty pages every evening", "2026-11-26")
TODAY = "2026-11-26"  # a Thursday


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


def dialogue(*lines: str) -> list[dict[str, str]]:
    """Turns alternating agent, user, agent, user..."""
    return [{"role": ("agent", "user")[i % 2], "text": line} for i, line in enumerate(lines)]


async def analyze(
    transcript: list[dict[str, str]],
    due: list[Commitment],
    local_date: str | None = TODAY,
    **kwargs: str,
) -> CallAnalysis:
    return await OfflineAnalyzer().analyze(transcript, due, local_date=local_date, **kwargs)


def verdicts(result: CallAnalysis) -> dict[str, str]:
    return {u.commitment_id: u.status for u in result.commitment_updates}


async def test_kept_commitment_and_a_new_one() -> None:
    result = await analyze(
        call(
            "Yes I did it, I went running on Tuesday and on Thursday.",
            "Next week I'll meditate for ten minutes every morning.",
            "No, that's all, thanks!",
        ),
        [RUN],
    )
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert result.commitment_updates[0].evidence.startswith("Yes I did it")
    # "next week" is the Monday after Thursday 26 November; "every morning" makes it daily.
    assert result.new_commitments == [
        NewCommitment("meditate for ten minutes every morning", "2026-11-30", recurrence="daily")
    ]
    assert result.topics_next_time == ["meditate for ten minutes every morning"]
    assert "meditate for ten minutes every morning" in result.summary
    assert "kept" in result.summary


async def test_broken_commitment_and_low_mood() -> None:
    result = await analyze(
        call("No, I didn't manage it, I was exhausted after work.", "Nothing new for now."),
        [RUN, READ],
    )
    # The answer is about the running the agent asked about; nobody asked about the reading.
    assert verdicts(result) == {"c-run": "broken", "c-read": "unclear"}
    assert result.mood == "low"
    assert result.new_commitments == []
    assert "No new commitment" in result.summary


async def test_a_yes_is_not_turned_into_broken_by_a_later_no() -> None:
    # "no problem" after a clear "yes" is no negation.
    result = await analyze(call("Yes I did, no problem at all, it felt great."), [RUN])
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert result.mood == "good"


async def test_unclear_when_the_answer_says_neither() -> None:
    result = await analyze(call("Well, it was a busy week with the move and everything."), [RUN])
    assert result.commitment_updates == [CommitmentUpdate("c-run", "unclear")]
    assert result.commitment_updates[0].evidence == ""
    assert result.mood == "neutral"


async def test_agent_lines_are_not_read_as_the_users() -> None:
    # The agent says "I'll" and "great"; only what the user said counts.
    transcript = [
        {"role": "agent", "text": "Great to hear from you! I'll ask about your plan."},
        {"role": "user", "text": "Hmm, let me think about it."},
    ]
    result = await analyze(transcript, [RUN])
    assert result.new_commitments == []
    assert result.mood == "neutral"
    assert result.commitment_updates == [CommitmentUpdate("c-run", "unclear")]


async def test_every_promise_form_is_extracted() -> None:
    result = await analyze(
        call(
            "I will call my mother on Sunday.",
            "And I'm going to clean the garage!",
            "I commit to no sugar after 8pm.",
        ),
        [],
    )
    assert result.new_commitments == [
        NewCommitment("call my mother", "2026-11-29"),  # the Sunday after Thursday
        NewCommitment("clean the garage", "2026-11-27"),  # no date: the next day
        NewCommitment("no sugar after 8pm", "2026-11-27"),
    ]
    assert result.commitment_updates == []
    assert "No commitment was due" in result.summary


async def test_a_silent_call_changes_nothing() -> None:
    for transcript in (
        [],
        [{"role": "agent", "text": "Hello? Are you there? I'll call again tomorrow."}],
        [{"role": "agent", "text": "Hello?"}, {"role": "user", "text": "   "}],
    ):
        result = await analyze(transcript, [RUN, READ])
        assert result.summary == "The call connected but no conversation was transcribed."
        assert result.commitment_updates == []
        assert result.new_commitments == [] and result.topics_next_time == []
        assert result.mood == "neutral"


async def test_default_offline_script_reads_as_kept_with_one_new_commitment() -> None:
    # What the phone simulator says in every offline end-to-end call.
    lines = get_script(None).phone_lines
    result = await analyze(call(*lines), [RUN])
    assert result.commitment_updates == [CommitmentUpdate("c-run", "kept")]
    assert [n.text for n in result.new_commitments] == ["meditate for ten minutes every morning"]
    assert result.new_commitments[0].due_date is not None


async def test_moods_stay_inside_the_analysis_schema() -> None:
    allowed = {"great", "good", "neutral", "low", "stressed"}
    for line in ("I feel awful.", "I'm proud of myself.", "Okay.", "I'm so stressed."):
        result = await analyze(call(line), [])
        assert result.mood in allowed


async def test_provider_says_it_is_offline() -> None:
    analyzer = OfflineAnalyzer()
    result = await analyzer.analyze(call("Yes."), [])
    assert result.provider == analyzer.provider
    assert "offline" in result.provider and "no LLM" in result.provider


# --- the misreads of the template analyzer, one by one ---------------------------------------


async def test_a_self_correction_takes_the_last_stance() -> None:
    result = await analyze(call("Yes, well, no, actually I skipped it all week."), [RUN])
    assert verdicts(result) == {"c-run": "broken"}
    corrected = await analyze(call("No... wait, yes, I did. Tuesday and Thursday."), [RUN])
    assert verdicts(corrected) == {"c-run": "kept"}


async def test_going_to_be_honest_is_not_a_commitment() -> None:
    result = await analyze(call("I'm going to be honest, I'm exhausted."), [RUN])
    assert result.new_commitments == []
    assert result.mood == "low"


@pytest.mark.parametrize(
    "line",
    [
        "I'll think about it, maybe.",
        "Maybe I'll try yoga, I don't know.",
        "I might go swimming.",
        "I'm going to Lisbon next week for work.",
        "I'll let you know next week.",
        "I won't have time, sorry.",
    ],
)
async def test_hedges_and_turns_of_phrase_are_no_commitment(line: str) -> None:
    result = await analyze(call("Yes.", line), [RUN])
    assert result.new_commitments == [], line


@pytest.mark.parametrize(
    ("line", "mood"),
    [
        ("I'm not happy with how it went.", "low"),
        ("Not great, to be honest.", "low"),
        ("I'm really happy, it went well.", "good"),
        ("Not bad at all.", "neutral"),
        ("I'm swamped and stressed at work.", "stressed"),
    ],
)
async def test_mood_reads_negation(line: str, mood: str) -> None:
    result = await analyze(call(line), [])
    assert result.mood == mood
    assert result.mood != "good" or "not" not in line.lower()


async def test_each_answer_goes_to_the_commitment_the_agent_asked_about() -> None:
    # Asked in the reverse of their order: keyword overlap, not position, decides.
    transcript = dialogue(
        "Did you read your twenty pages every evening?",
        "No, not once, I fell asleep every night.",
        "And the running on Tuesday and Thursday?",
        "Yes, both runs.",
    )
    result = await analyze(transcript, [RUN, READ])
    assert verdicts(result) == {"c-run": "kept", "c-read": "broken"}
    assert {u.commitment_id: u.evidence for u in result.commitment_updates} == {
        "c-run": "Yes, both runs.",
        "c-read": "No, not once, I fell asleep every night.",
    }


async def test_without_keywords_the_order_of_asking_decides() -> None:
    transcript = dialogue(
        "Let's go through your list. How did the first one go?",
        "Done, every time.",
        "And the second one?",
        "Not done, I didn't get to it at all.",
    )
    result = await analyze(transcript, [RUN, READ])
    assert verdicts(result) == {"c-run": "kept", "c-read": "broken"}


async def test_a_commitment_never_answered_about_is_unclear() -> None:
    transcript = dialogue("Did you go running on Tuesday and Thursday?", "Yes, both days.")
    result = await analyze(transcript, [RUN, READ])
    assert verdicts(result) == {"c-run": "kept", "c-read": "unclear"}


@pytest.mark.parametrize(
    "answer",
    [
        "Partly.",
        "Some days.",
        "Half of them, honestly.",
        "Three out of five.",
        "Most days but not on Friday.",
        "Kind of, I did it on Monday and then forgot.",
        "Only once.",
        "I missed two days.",
    ],
)
async def test_partly(answer: str) -> None:
    result = await analyze(dialogue("Did you read every evening?", answer), [READ])
    assert verdicts(result) == {"c-read": "partly"}, answer


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("I didn't miss a single day.", "kept"),
        ("Never missed, not once.", "kept"),
        ("Five out of five!", "kept"),
        ("Yeah, no, that didn't happen.", "broken"),
        ("Not yet, but I will tomorrow.", "broken"),
        ("Nope. I completely forgot.", "broken"),
        ("I did it every evening, even though I couldn't sleep on Tuesday.", "kept"),
        ("I read every evening, but my brother didn't.", "kept"),
    ],
)
async def test_negations(answer: str, verdict: str) -> None:
    result = await analyze(dialogue("Did you read every evening?", answer), [READ])
    assert verdicts(result) == {"c-read": verdict}, answer


async def test_i_will_do_it_tomorrow_is_the_commitment_talked_about() -> None:
    plumber = Commitment("c-p", "u-1", "call the plumber about the leak", "2026-11-25")
    transcript = dialogue(
        "Did you call the plumber about the leak?",
        "Ugh, no, I completely forgot. I'll do it tomorrow, first thing.",
    )
    result = await analyze(transcript, [plumber])
    assert verdicts(result) == {"c-p": "broken"}
    assert result.new_commitments == [
        NewCommitment("call the plumber about the leak", "2026-11-27")
    ]


async def test_an_accepted_proposal_is_a_commitment_and_a_refused_one_is_not() -> None:
    accepted = dialogue(
        "Would you like to commit to walking twenty minutes every evening?",
        "Yeah, let's do that.",
    )
    result = await analyze(accepted, [])
    assert result.new_commitments == [
        NewCommitment("walking twenty minutes every evening", "2026-11-27", recurrence="daily")
    ]
    refused = dialogue("How about reading before bed?", "Nah, not this week, too much on.")
    assert (await analyze(refused, [])).new_commitments == []


async def test_a_date_given_in_the_next_turn() -> None:
    transcript = dialogue(
        "What would you like to do next?",
        "I'll go for a swim.",
        "Good idea. Which day?",
        "Thursday, I think. Yeah, Thursday after work.",
    )
    result = await analyze(transcript, [], local_date="2026-12-08")  # a Tuesday
    assert result.new_commitments == [NewCommitment("go for a swim", "2026-12-10")]


@pytest.mark.parametrize(
    ("line", "local_date", "due", "recurrence"),
    [
        ("I'll call her tomorrow.", "2026-12-31", "2027-01-01", None),
        ("I'll text him tonight.", "2026-12-31", "2026-12-31", None),
        ("I'll book it next week.", "2027-02-26", "2027-03-01", None),  # Friday -> Monday
        ("I'll send it by Friday.", "2026-12-01", "2026-12-04", None),
        ("I'll send it by Friday.", "2026-12-04", "2026-12-11", None),  # said on a Friday
        ("I'll sign up on Monday.", "2026-11-29", "2026-11-30", None),  # Sunday -> Monday
        ("I'll clean the garage this weekend.", "2026-11-26", "2026-11-28", None),
        ("I'll pay it in two days.", "2028-02-28", "2028-03-01", None),  # leap year
        ("I'll stretch every morning.", "2026-12-31", "2027-01-01", "daily"),
        ("I'll stretch every day starting today.", "2026-12-31", "2026-12-31", "daily"),
        ("I'll walk daily after lunch.", "2027-01-31", "2027-02-01", "daily"),
        ("I'll stretch every weekday.", "2026-12-04", "2026-12-07", "weekdays"),
        ("I'll walk on weekdays after lunch.", "2026-12-30", "2026-12-31", "weekdays"),
        ("I'll call grandma every week.", "2026-12-28", "2027-01-04", "weekly"),
        ("I'll plan my meals weekly, on Sundays.", "2026-12-05", "2026-12-06", "weekly"),
        ("I'll plan the meals every Sunday.", "2026-12-27", "2027-01-03", "weekly"),
        ("I'll pay the bill on the fifteenth.", "2026-12-20", "2027-01-15", None),
    ],
)
async def test_relative_dates(line: str, local_date: str, due: str, recurrence: str | None) -> None:
    result = await analyze(call("Yes.", line), [RUN], local_date=local_date)
    [new] = result.new_commitments
    assert (new.due_date, new.recurrence) == (due, recurrence), line


async def test_an_apology_promised_is_a_commitment() -> None:
    result = await analyze(call("Yes.", "I'll say sorry to Sarah tomorrow."), [RUN])
    assert result.new_commitments == [NewCommitment("say sorry to Sarah", "2026-11-27")]


async def test_a_time_is_kept_as_hh_mm() -> None:
    result = await analyze(call("Yes.", "I'll call the doctor tomorrow at 7:30 pm."), [RUN])
    assert [(n.due_date, n.due_time) for n in result.new_commitments] == [("2026-11-27", "19:30")]
    at_nine = await analyze(call("Yes.", "I'll call the doctor tomorrow at nine."), [RUN])
    assert at_nine.new_commitments[0].due_time == "09:00"


async def test_no_date_takes_the_default_due_date_else_the_next_day() -> None:
    line = call("Yes.", "I'll clean the garage.")
    default = await analyze(line, [RUN], local_date="2026-12-31", default_due_date="2027-01-05")
    assert default.new_commitments[0].due_date == "2027-01-05"
    nothing = await analyze(line, [RUN], local_date="2026-12-31")
    assert nothing.new_commitments[0].due_date == "2027-01-01"
    # A date the user said wins over the default.
    said = await analyze(
        call("Yes.", "I'll clean the garage tomorrow."),
        [RUN],
        local_date="2026-12-31",
        default_due_date="2027-01-05",
    )
    assert said.new_commitments[0].due_date == "2027-01-01"


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"])
async def test_without_a_local_date_today_in_the_time_zone_counts(zone: str) -> None:
    before = datetime.now(ZoneInfo(zone)).date()
    result = await analyze(call("Yes.", "I'll call her tomorrow."), [RUN], None, timezone=zone)
    after = datetime.now(ZoneInfo(zone)).date()
    tomorrow = {(before + timedelta(days=1)).isoformat(), (after + timedelta(days=1)).isoformat()}
    assert result.new_commitments[0].due_date in tomorrow
