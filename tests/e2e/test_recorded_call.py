"""Recorded calls through the whole real local stack: the agent records a consenting user's call
with livekit-agents' recorder, the file goes to the stack's S3 server, and the record holds it.
A user who did not consent is not recorded."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from agent.recording import RECORDING_NOTICE
from callflow.local.demo import give_recording_consent, run_call, seed_user
from callflow.local.stack.local import LocalStack
from callflow.models import TranscriptTurn
from callflow.recordings.audio import probe, recording_key
from callflow.recordings.s3 import S3RecordingStore
from tests.recordings.audio_checks import decode, rms

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CALL_TIMEOUT_S = 180.0
SPEECH_RMS = 0.02  # espeak-ng through Opus: ~0.1 while speaking
SILENCE_RMS = 0.005  # Opus-decoded silence stays within a few units of zero


def _store(stack: LocalStack) -> S3RecordingStore:
    assert isinstance(stack.ports.recordings, S3RecordingStore)
    return stack.ports.recordings


def _share_inside(
    samples: np.ndarray, rate: int, channel: int, windows: list[tuple[float, float]]
) -> float:
    """The part of one channel's energy that falls inside the windows (padded 0.3 s)."""
    energy = samples[channel].astype(np.float64) ** 2
    inside = np.zeros(len(energy), dtype=bool)
    for start, end in windows:
        inside[max(0, int((start - 0.3) * rate)) : max(0, int((end + 0.3) * rate))] = True
    return float(energy[inside].sum() / energy.sum())


def _windows(turns: list[TranscriptTurn], role: str, t0: float) -> list[tuple[float, float]]:
    return [(t.started_at - t0, t.ended_at - t0) for t in turns if t.role == role]


async def test_a_consented_call_is_recorded_in_stereo_each_side_on_its_channel(
    agent_stack: LocalStack,
) -> None:
    user = await seed_user(agent_stack, f"e2e-rec-{uuid.uuid4().hex[:6]}")
    await give_recording_consent(agent_stack, user.user_id)

    summary = await asyncio.wait_for(run_call(agent_stack, user.user_id), CALL_TIMEOUT_S)

    assert summary["outcome"] == "completed"
    call_id = summary["call_id"]
    record = await agent_stack.records.get_call(call_id)
    assert record is not None and record.recording is not None
    recording = record.recording
    assert recording.key == recording_key(call_id) and recording.channels == 2
    assert summary["recording"]["key"] == recording.key
    assert summary["recording"]["channels"] == 2
    # The agent said first that the call is recorded.
    assert record.transcript[0].role == "agent" and record.transcript[0].text == RECORDING_NOTICE

    data = await _store(agent_stack).get(recording.key)
    assert len(data) == recording.size_bytes
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "call.ogg"
        path.write_bytes(data)
        info = probe(path)
        samples, rate = decode(path)
    assert info.channels == 2 and samples.shape[0] == 2

    # As long as the phone was in the call (its own clock: joined -> hung up), within 1 s.
    phone = agent_stack.phone.calls[call_id]
    assert phone.joined_at is not None and phone.left_at is not None
    call_s = phone.left_at - phone.joined_at
    assert recording.started_at is not None
    began = datetime.fromisoformat(recording.started_at).timestamp()
    assert abs(recording.duration_s - call_s) < 1.0, (
        f"recording {recording.duration_s:.2f} s, call {call_s:.2f} s; recording began "
        f"{began - phone.joined_at:+.2f} s from the phone's join"
    )
    assert abs(info.duration_s - recording.duration_s) < 0.05

    # Channel 0 carries the phone's speech, channel 1 the agent's, each at its time.
    assert recording.started_at is not None
    t0 = datetime.fromisoformat(recording.started_at).timestamp()
    user_windows = _windows(record.transcript, "user", t0)
    agent_windows = _windows(record.transcript, "agent", t0)
    assert len(user_windows) >= 2 and len(agent_windows) >= 3
    for start, end in user_windows:
        left, right = rms(samples, rate, start, end)
        assert left > SPEECH_RMS, ("user channel quiet while the phone spoke", start, end)
        assert right < SILENCE_RMS, ("agent channel loud while the phone spoke", start, end)
    for start, end in agent_windows:
        left, right = rms(samples, rate, start, end)
        assert right > SPEECH_RMS, ("agent channel quiet while the agent spoke", start, end)
        assert left < SILENCE_RMS, ("user channel loud while the agent spoke", start, end)
    assert _share_inside(samples, rate, 0, user_windows) > 0.95
    assert _share_inside(samples, rate, 1, agent_windows) > 0.95


async def test_nothing_is_recorded_without_consent(agent_stack: LocalStack) -> None:
    user = await seed_user(agent_stack, f"e2e-norec-{uuid.uuid4().hex[:6]}")

    summary = await asyncio.wait_for(run_call(agent_stack, user.user_id), CALL_TIMEOUT_S)

    assert summary["outcome"] == "completed"
    assert summary["recording"] is None
    record = await agent_stack.records.get_call(summary["call_id"])
    assert record is not None and record.recording is None
    assert await _store(agent_stack).size(recording_key(summary["call_id"])) is None
    assert all(t.text != RECORDING_NOTICE for t in record.transcript)
