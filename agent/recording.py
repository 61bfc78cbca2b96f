"""Recording a consented call (docs/recordings.md).

Only when the call's job says the user consented (`AgentJob.recording_consent`) and the
recordings storage is configured. The recording is livekit-agents' own recorder (`RecorderIO`,
switched on through `AgentSession.start(record=...)` with audio only): stereo Ogg/Opus, channel
0 (left) the user as the agent heard them, channel 1 (right) the agent as it was played out,
both on one timeline. After the call the lead-in before the phone joined is cut, the file is
uploaded under `calls/<call_id>.ogg`, and the workflow is told with `recording_finished`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import av
from livekit import rtc
from livekit.agents import AgentSession, get_job_context
from livekit.agents.voice.agent_session import RecordingOptions

from callflow.recordings.audio import RECORDING_CONTENT_TYPE, probe, recording_key, trim_start
from callflow.recordings.errors import RecordingsError
from callflow.recordings.s3 import S3RecordingStore, recording_store_from
from callflow.settings import Settings
from workflows.agent_job import AgentJob
from workflows.messages import RecordingFinished, SignalName

logger = logging.getLogger("callflow.agent.recording")

# Said before the greeting, whatever the LLM would say first.
RECORDING_NOTICE = "Just so you know, this call is recorded."
# Audio only: no traces, logs or transcript upload to LiveKit Cloud's observability.
AUDIO_ONLY: RecordingOptions = {
    "audio": True,
    "traces": False,
    "logs": False,
    "transcript": False,
}
UPLOAD_TIMEOUT_S = 30.0


def recording_event_id(room: str) -> str:
    return f"{room}:{SignalName.RECORDING_FINISHED}"


class CallRecording:
    def __init__(self, *, call_id: str, room: str, store: S3RecordingStore) -> None:
        self.call_id = call_id
        self.room = room
        self.store = store
        self.phone_left_at: float | None = None

    def watch(self, room: rtc.Room, phone_identity: str) -> None:
        """Note when the phone leaves: the recording ends there, not at the session's teardown."""

        def on_left(participant: rtc.RemoteParticipant) -> None:
            if participant.identity == phone_identity and self.phone_left_at is None:
                self.phone_left_at = time.time()

        room.on("participant_disconnected", on_left)

    @classmethod
    def for_call(cls, call: AgentJob, room: str, settings: Settings) -> CallRecording | None:
        """The call's recording, or None: no consent, or no storage to put it in."""
        if not call.recording_consent:
            return None
        store = recording_store_from(settings)
        if store is None:
            logger.error(
                "call %s: the user consented to recording but CALLFLOW_RECORDINGS_S3_ENDPOINT "
                "is not set; not recording",
                call.call_id,
            )
            return None
        return cls(call_id=call.call_id, room=room, store=store)

    async def finish(
        self, session: AgentSession, phone_joined_at: float
    ) -> RecordingFinished | None:
        """Upload the closed session's recording; None (logged) when there is none to upload."""
        try:
            path, started_at = _recorded_file(session)
            if path is None or started_at is None or not path.is_file():
                logger.error("call %s: the session left no recording", self.call_id)
                return None
            lead_in = max(0.0, phone_joined_at - started_at)
            trimmed = path.with_name("call-recording.ogg")
            until = self.phone_left_at - started_at if self.phone_left_at is not None else None
            await asyncio.to_thread(trim_start, path, trimmed, lead_in, until)
            info = await asyncio.to_thread(probe, trimmed)
            data = await asyncio.to_thread(trimmed.read_bytes)
            key = recording_key(self.call_id)
            began = time.monotonic()
            await asyncio.wait_for(
                self.store.put(key, data, RECORDING_CONTENT_TYPE), UPLOAD_TIMEOUT_S
            )
            logger.info(
                "call %s: recording %s uploaded (%.1f s, %d bytes, %d channels) in %.0f ms",
                self.call_id,
                key,
                info.duration_s,
                len(data),
                info.channels,
                (time.monotonic() - began) * 1000,
            )
            return RecordingFinished(
                event_id=recording_event_id(self.room),
                key=key,
                duration_s=round(info.duration_s, 3),
                size_bytes=len(data),
                channels=info.channels,
                started_at=started_at + lead_in,
            )
        except (
            RecordingsError,
            TimeoutError,
            OSError,
            ValueError,
            RuntimeError,
            av.FFmpegError,
        ) as exc:
            # The call itself is over and fine; the record says it has no recording.
            logger.error("call %s: recording not stored: %s", self.call_id, exc)
            return None
        finally:
            await self.store.aclose()


def _recorded_file(session: AgentSession) -> tuple[Path | None, float | None]:
    job = get_job_context(required=False)
    if job is None:
        return None, None
    report = job.make_session_report(session)
    return report.audio_recording_path, report.audio_recording_started_at
