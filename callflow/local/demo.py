"""`callflow demo`: the accountability loop end to end on the embedded local stack.

Seeds a user with a commitment that falls due, starts the call through the call API, lets the
phone simulator answer the real VoIP push and join the real LiveKit room, waits for the real
`room_finished` webhook to end it, then checks what the call left behind (record in Postgres,
memory, the app backend's webhook) and prints a timeline and one JSON line. With the agent, a
second call for the same user follows: its agent asks about the commitment the first call took,
and the verdict is recorded. The JSON line describes the first call, plus
`second_call_asked_about` and `verdicts` (and the second call's own summary under
`second_call`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import sys
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agent.offline.script import FOLLOWUP_SCRIPT_NAME
from callflow.call_inputs import call_input_from
from callflow.local.stack.local import LocalStack, StackOptions, start_local_stack
from callflow.models import CallRecord, Commitment, User
from callflow.recordings.audio import probe
from callflow.recordings.s3 import S3RecordingStore
from callflow.settings import Settings
from workflows.messages import WORKFLOW_TYPE, workflow_id_for

DEMO_USER = "demo-user"
CALL_TIMEOUT_S = 600


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def seed_user(stack: LocalStack, user_id: str = DEMO_USER) -> User:
    user = User(user_id, "Ada", voip_token=secrets.token_hex(32), timezone="Europe/London")
    today = datetime.now(ZoneInfo(user.timezone)).date()
    await stack.records.upsert_user(user)
    await stack.records.upsert_commitments(
        [
            Commitment(
                commitment_id=f"{user_id}-walk",
                user_id=user_id,
                text="walk 10,000 steps every day this week",
                due_date=today.isoformat(),
            )
        ]
    )
    stack.register_phone(user.voip_token or "")
    return user


async def place_call(stack: LocalStack, user_id: str) -> dict[str, Any]:
    async with stack.api_client() as http:  # as the app backend, with this stack's key
        response = await http.post(
            "/calls",
            json={"user_id": user_id, "idempotency_key": uuid.uuid4().hex, "reason": "on_demand"},
        )
        response.raise_for_status()
        return dict(response.json())


async def give_recording_consent(stack: LocalStack, user_id: str) -> None:
    """As the app does once the user agreed: the demo's calls are recorded."""
    async with stack.api_client() as http:
        response = await http.put(f"/users/{user_id}/recording-consent", json={"consent": True})
        response.raise_for_status()


async def recording_summary(stack: LocalStack, record: CallRecord | None) -> dict[str, Any] | None:
    """The call's recording as the record has it, checked against the stored object itself."""
    rec = record.recording if record else None
    store = stack.ports.recordings
    if rec is None or rec.key is None or not isinstance(store, S3RecordingStore):
        return None
    data = await store.get(rec.key)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recording.ogg"
        path.write_bytes(data)
        stored = probe(path)
    return {
        "key": rec.key,
        "duration_s": rec.duration_s,
        "channels": stored.channels,
        "size_bytes": len(data),
        "bucket": store.bucket,
    }


async def run_call(stack: LocalStack, user_id: str) -> dict[str, Any]:
    """Place one call and return the demo's summary of it (the JSON line's fields)."""
    started = await place_call(stack, user_id)
    return await follow_call(stack, user_id, started["call_id"], started["workflow_id"])


async def run_followup_call(stack: LocalStack, user: User) -> dict[str, Any]:
    """A second call for the same user, with the phone answering the agent's questions about
    what falls due (the offline follow-up script). Started from the Temporal client with the
    input the call API builds: conversation scripts are local-only, not an API field."""
    call_id = uuid.uuid4().hex
    call_input = dataclasses.replace(
        call_input_from(stack.settings, call_id=call_id, user_id=user.user_id),
        conversation_script=FOLLOWUP_SCRIPT_NAME,
    )
    handle = await stack.client.start_workflow(
        WORKFLOW_TYPE,
        call_input,
        id=workflow_id_for(call_id),
        task_queue=stack.settings.task_queue,
    )
    return await follow_call(stack, user.user_id, call_id, handle.id)


async def follow_call(
    stack: LocalStack, user_id: str, call_id: str, workflow_id: str
) -> dict[str, Any]:
    """Wait for a started call to end and summarise what it left behind."""
    ui_url = stack.ui_link(workflow_id)
    _say(f"call {call_id} started; follow it in the Temporal UI: {ui_url}")
    handle = stack.client.get_workflow_handle(workflow_id)
    result = await asyncio.wait_for(handle.result(), CALL_TIMEOUT_S)

    record = await stack.records.get_call(call_id)
    # An empty query returns the user's most recent memories.
    memories = await stack.ports.memory.search(user_id, "", limit=20)
    memory_written = bool(result["memory_written"]) and any(
        m.source_call_id == call_id for m in memories
    )
    delivered = bool(result["post_call_webhook_delivered"]) and any(
        e.event.get("call_id") == call_id for e in stack.receiver.events
    )
    pushes = [p for p in stack.apns.received if p.payload.get("call_id") == call_id]
    summary: dict[str, Any] = {
        "call_id": call_id,
        "outcome": result["outcome"],
        "attempts": result["attempts"],
        "stages": result["stages"],
        "memory_written": memory_written,
        "record_saved": bool(result["record_saved"]) and record is not None,
        "post_call_webhook_delivered": delivered,
        "temporal_ui_url": ui_url,
        "pushes_received": len(pushes),
        "ended_by": result.get("ended_by"),
        "memory_degraded": result.get("memory_degraded"),
        "summary": record.summary if record else None,
        "agent_first_audio_ms": result.get("agent_first_audio_ms"),
        "transcript_turns": result.get("transcript_turns"),
        "tools_called": result.get("tools_called") or [],
        "cost_usd": result.get("cost_usd"),
        "recording": await recording_summary(stack, record),
    }
    phone = stack.phone.calls.get(call_id)
    if phone is not None:
        summary["phone"] = {
            "joined_after_push_ms": _ms(phone.push_received_at, phone.joined_at),
            "left_because": phone.left_because,
        }
    return summary


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 1)


def print_timeline(summary: dict[str, Any]) -> None:
    stages = summary["stages"]
    t0 = datetime.fromisoformat(stages[0]["at"])
    _say("")
    _say(f"timeline of call {summary['call_id']}:")
    for mark in stages:
        at = datetime.fromisoformat(mark["at"])
        _say(f"  +{(at - t0).total_seconds():7.2f}s  {mark['stage']}")
    _say(
        f"outcome: {summary['outcome']} after {summary['attempts']} attempt(s), "
        f"ended by {summary.get('ended_by')}"
    )
    if summary.get("summary"):
        _say(f"analysis: {summary['summary']}")
    _say(
        f"memory written: {summary['memory_written']}, record saved: {summary['record_saved']}, "
        f"post-call webhook delivered: {summary['post_call_webhook_delivered']}"
    )
    _say(f"Temporal UI: {summary['temporal_ui_url']}")


async def loop_figures(
    stack: LocalStack, user: User, second: dict[str, Any], due: list[Commitment]
) -> dict[str, Any]:
    """What the second call did with the commitments that fell due: the texts its agent asked
    about (named in an agent turn) and the verdict each got."""
    record = await stack.records.get_call(second["call_id"])
    agent_said = " ".join(
        t.text.lower() for t in (record.transcript if record else []) if t.role == "agent"
    )
    check_ins = [
        c
        for c in await stack.records.commitment_history(user_id=user.user_id, limit=50)
        if c.call_id == second["call_id"]
    ]
    texts = {c.commitment_id: c.text for c in due}
    asked = [text for text in texts.values() if text.lower() in agent_said]
    verdicts = {texts.get(c.commitment_id, c.commitment_id): c.verdict for c in check_ins}
    return {"second_call_asked_about": asked, "verdicts": verdicts}


async def demo(settings: Settings, *, with_agent: bool) -> dict[str, Any]:
    state_dir = settings.state_dir / "demo"
    _say(f"starting the local stack in {state_dir} (agent: {'on' if with_agent else 'off'}) ...")
    stack = await start_local_stack(
        settings, StackOptions(state_dir=state_dir, with_agent=with_agent)
    )
    try:
        for port, adapter in stack.ports.descriptions.items():
            _say(f"  {port:<11} {adapter}")
        # A fresh user per run: the demo's store outlives the run, and the loop starts clean.
        user = await seed_user(stack, f"{DEMO_USER}-{secrets.token_hex(3)}")
        await give_recording_consent(stack, user.user_id)
        summary = await run_call(stack, user.user_id)
        print_timeline(summary)
        if not with_agent:
            return summary
        local_today = datetime.now(ZoneInfo(user.timezone)).date().isoformat()
        due = await stack.records.due_commitments(user.user_id, local_today)
        _say("")
        _say("second call: " + "; ".join(c.text for c in due) + " fall(s) due")
        second = await run_followup_call(stack, user)
        print_timeline(second)
        figures = await loop_figures(stack, user, second, due)
        _say(f"asked about: {figures['second_call_asked_about']}; verdicts: {figures['verdicts']}")
        return {**summary, **figures, "second_call": second}
    finally:
        await stack.stop()


def main(settings: Settings, *, with_agent: bool) -> int:
    summary = asyncio.run(demo(settings, with_agent=with_agent))
    print(json.dumps(summary, default=str), flush=True)
    # Without the agent nobody greets the phone: `no_agent` is that demo's expected outcome.
    expected = "completed" if with_agent else "no_agent"
    return 0 if summary["outcome"] == expected else 1
