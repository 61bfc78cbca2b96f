"""Agent logic with the offline scripted LLM, through livekit-agents' own test harness."""

from __future__ import annotations

import json

from livekit.agents import AgentSession, mock_tools
from livekit.agents.llm import ToolError

from agent.call_agent import CallAgent
from agent.device_client import DeviceClient
from agent.metadata import CallContext, DueCommitment, UserProfile
from agent.offline.llm import ScriptedLLM
from workflows.agent_job import JobCheckIn


def make_call(**overrides: object) -> CallContext:
    fields: dict[str, object] = {
        "call_id": "c-1",
        "workflow_id": "call-c-1",
        "user": UserProfile(user_id="u-1", display_name="Ada", timezone="Europe/London"),
        "memory": ["Ada trains for a half marathon in March"],
        "due_commitments": [
            DueCommitment(
                commitment_id="k-1", text="Run three times this week", due_date="2026-11-27"
            )
        ],
    }
    fields.update(overrides)
    return CallContext(**fields)  # type: ignore[arg-type]


def offline_device() -> DeviceClient:
    # No room: every device call fails as "not connected", which tests the error path.
    return DeviceClient(None, "u-1")


async def test_instructions_carry_due_commitments_and_memory() -> None:
    agent = CallAgent(make_call(), offline_device())
    assert "- Run three times this week (due 2026-11-27; not asked about before)" in (
        agent.instructions
    )
    assert "Ada trains for a half marathon in March" in agent.instructions
    assert "Ada" in agent.instructions


async def test_greeting_asks_first_about_the_due_commitment() -> None:
    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        result = await session.start(CallAgent(make_call(), offline_device()), capture_run=True)
        result.expect.next_event().is_agent_handoff()
        msg = result.expect.next_event().is_message(role="assistant")
        text = msg.event().item.text_content or ""
        assert text.startswith("Hi Ada, it's Callflow Coach.")
        assert "Run three times this week" in text
        assert text.endswith("Did you do it?")
        result.expect.no_more_events()


async def test_greeting_without_due_commitments_asks_for_a_new_one() -> None:
    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        call = make_call(due_commitments=[])
        result = await session.start(CallAgent(call, offline_device()), capture_run=True)
        result.expect.skip_next_event_if(type="agent_handoff")
        text = result.expect.next_event().is_message(role="assistant").event().item.text_content
        assert "What is one thing you want to commit to" in (text or "")


async def test_battery_tool_error_is_spoken_about_not_raised() -> None:
    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        await session.start(CallAgent(make_call(), offline_device(), greet=False))
        result = await session.run(user_input="Yes I ran on Tuesday and Thursday")
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="get_battery_level")
        out = result.expect.next_event().is_function_call_output()
        assert out.event().item.is_error
        assert "not connected" in out.event().item.output
        reply = result.expect.next_event().is_message(role="assistant").event().item
        assert "I could not check your battery" in (reply.text_content or "")
        assert "not connected" in (reply.text_content or "")
        result.expect.no_more_events()


async def test_battery_reading_is_used_in_the_reply() -> None:
    def battery() -> str:
        return json.dumps({"level": 0.42, "charging": True})

    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        await session.start(CallAgent(make_call(), offline_device(), greet=False))
        with mock_tools(CallAgent, {"get_battery_level": battery}):
            result = await session.run(user_input="Yes I did")
        result.expect.skip_next_event_if(type="message", role="assistant")
        result.expect.next_event().is_function_call(name="get_battery_level")
        assert not result.expect.next_event().is_function_call_output().event().item.is_error
        reply = result.expect.next_event().is_message(role="assistant").event().item
        assert "42 percent and charging" in (reply.text_content or "")


async def test_refused_device_tool_via_mock_is_spoken_about() -> None:
    def refused() -> str:
        raise ToolError("Device tool failed: the phone said: battery access denied")

    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        await session.start(CallAgent(make_call(), offline_device(), greet=False))
        with mock_tools(CallAgent, {"get_battery_level": refused}):
            result = await session.run(user_input="Yes I did")
        result.expect.skip_next_event_if(type="message", role="assistant")
        result.expect.next_event().is_function_call(name="get_battery_level")
        result.expect.next_event().is_function_call_output(is_error=True)
        reply = result.expect.next_event().is_message(role="assistant").event().item
        assert "battery access denied" in (reply.text_content or "")


async def test_scripted_conversation_takes_a_commitment_and_says_goodbye() -> None:
    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        await session.start(CallAgent(make_call(), offline_device(), greet=False))
        await session.run(user_input="Yes I did it")
        result = await session.run(user_input="I will meditate for ten minutes every morning")
        reply = result.expect.next_event().is_message(role="assistant").event().item
        assert "meditate for ten minutes every morning" in (reply.text_content or "")
        result = await session.run(user_input="No that is all")
        bye = result.expect.next_event().is_message(role="assistant").event().item
        assert "Goodbye" in (bye.text_content or "")


def two_due(**overrides: object) -> CallContext:
    return make_call(
        caller_name="Coach Bea",
        local_date="2026-12-01",  # a Tuesday
        due_commitments=[
            DueCommitment("k-1", "walk 10,000 steps every day this week", "2026-12-01"),
            DueCommitment(
                "k-2",
                "meditate for ten minutes every morning",
                "2026-12-01",
                recurrence="daily",
                history=[JobCheckIn("kept", "2026-11-30")],
            ),
        ],
        **overrides,
    )


async def test_every_due_commitment_is_asked_about_in_order_before_a_new_one() -> None:
    def battery() -> str:
        return json.dumps({"level": 0.8, "charging": False})

    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        result = await session.start(CallAgent(two_due(), offline_device()), capture_run=True)
        result.expect.skip_next_event_if(type="agent_handoff")
        greeting = result.expect.next_event().is_message(role="assistant").event().item
        assert (greeting.text_content or "").startswith("Hi Ada, it's Coach Bea.")
        assert "walk 10,000 steps every day this week" in (greeting.text_content or "")
        assert "meditate" not in (greeting.text_content or "")  # one at a time

        with mock_tools(CallAgent, {"get_battery_level": battery}):
            result = await session.run(user_input="I only walked five thousand steps, so partly")
            second = result.expect.next_event().is_message(role="assistant").event().item
            assert second.text_content == (
                "Thank you. And what about: meditate for ten minutes every morning?"
            )
            result.expect.no_more_events()  # no tool call and no new commitment yet

            result = await session.run(user_input="Yes, I meditated this morning")
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="get_battery_level")
        result.expect.next_event().is_function_call_output()
        ask = result.expect.next_event().is_message(role="assistant").event().item
        assert "80 percent" in (ask.text_content or "")
        assert "what is one new thing you will commit to?" in (ask.text_content or "")

        result = await session.run(user_input="By Friday I will call my sister")
        confirm = result.expect.next_event().is_message(role="assistant").event().item
        assert (confirm.text_content or "").startswith(
            "Got it: call my sister, by Friday, the 4th."
        )

        result = await session.run(user_input="No that is everything, bye")
        bye = result.expect.next_event().is_message(role="assistant").event().item
        assert "Goodbye" in (bye.text_content or "")


async def test_the_new_commitment_is_confirmed_with_its_due_date_in_words() -> None:
    cases = {
        "Starting today I will meditate for ten minutes every morning": (
            "Got it: meditate for ten minutes every morning, starting today."
        ),
        "I will stretch tomorrow": "Got it: stretch, tomorrow, Wednesday the 2nd.",
        "I will read a book by the 20th": ("Got it: read a book, by Sunday, the 20th of December."),
    }
    for said, expected in cases.items():
        async with ScriptedLLM() as model, AgentSession(llm=model) as session:
            await session.start(
                CallAgent(make_call(local_date="2026-12-01"), offline_device(), greet=False)
            )
            await session.run(user_input="Yes I did it")
            result = await session.run(user_input=said)
            reply = result.expect.next_event().is_message(role="assistant").event().item
            assert (reply.text_content or "").startswith(expected), reply.text_content


async def test_without_due_commitments_the_battery_check_precedes_the_confirmation() -> None:
    async with ScriptedLLM() as model, AgentSession(llm=model) as session:
        call = make_call(due_commitments=[], local_date="2026-12-01")
        await session.start(CallAgent(call, offline_device(), greet=False))
        result = await session.run(user_input="I will go for a run on Thursday")
        result.expect.next_event().is_message(role="assistant")
        result.expect.next_event().is_function_call(name="get_battery_level")
        result.expect.next_event().is_function_call_output(is_error=True)
        reply = result.expect.next_event().is_message(role="assistant").event().item
        text = reply.text_content or ""
        assert text.startswith("I could not check your battery")
        assert "Got it: go for a run, by Thursday, the 3rd." in text
        result = await session.run(user_input="No, bye")
        bye = result.expect.next_event().is_message(role="assistant").event().item
        assert "Goodbye" in (bye.text_content or "")
