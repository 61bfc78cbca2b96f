"""Watches one AgentSession and turns what happens into the workflow's messages: agent_ready
(time from the phone joining to the agent's first audio frame), one transcript_turn per finished
turn, and the end-of-call agent_report (usage, per-turn latency, tools called, providers)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.metrics.usage import LLMModelUsage, STTModelUsage, TTSModelUsage
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    FunctionToolsExecutedEvent,
)

from agent.signals import WorkflowSignals, ready_event_id, report_event_id, turn_event_id
from workflows.messages import AgentReady, AgentReport, TranscriptTurnSignal, TurnLatency

logger = logging.getLogger("callflow.agent.report")


@dataclass
class CallTracker:
    room: str
    signals: WorkflowSignals
    providers: dict[str, str]
    phone_joined_at: float  # unix seconds
    first_audio_at: float | None = None
    turns: list[TranscriptTurnSignal] = field(default_factory=list)
    latencies: list[TurnLatency] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)
    _pending_eou_s: float | None = None

    @property
    def first_audio_ms(self) -> float | None:
        if self.first_audio_at is None:
            return None
        return (self.first_audio_at - self.phone_joined_at) * 1000.0

    def attach(self, session: AgentSession) -> None:
        session.on("agent_state_changed", self._on_state)
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)

    def _on_state(self, ev: AgentStateChangedEvent) -> None:
        # "speaking" is entered when the first audio frame goes out to the room.
        if ev.new_state == "speaking" and self.first_audio_at is None:
            self.first_audio_at = ev.created_at
            ms = self.first_audio_ms or 0.0
            logger.info("first agent audio %.0f ms after the phone joined %s", ms, self.room)
            self.signals.agent_ready(
                AgentReady(event_id=ready_event_id(self.room), room=self.room, first_audio_ms=ms)
            )

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, ChatMessage) or item.role not in ("user", "assistant"):
            return
        text = (item.text_content or "").strip()
        if not text:
            return
        metrics = item.metrics or {}
        ended = metrics.get("stopped_speaking_at") or time.time()
        started = metrics.get("started_speaking_at") or item.created_at
        role = "user" if item.role == "user" else "agent"
        turn = TranscriptTurnSignal(
            event_id=turn_event_id(self.room, len(self.turns)),
            role=role,
            text=text,
            started_at=float(started),
            ended_at=float(ended),
        )
        self.turns.append(turn)
        self.signals.transcript_turn(turn)
        if role == "user":
            self._pending_eou_s = metrics.get("end_of_turn_delay")
        else:
            eou, self._pending_eou_s = self._pending_eou_s, None
            # e2e_latency is measured from the user's end of speech; only a reply that directly
            # answers a user turn has one that means "how long the user waited".
            e2e = metrics.get("e2e_latency") if eou is not None else None
            self.latencies.append(
                TurnLatency(
                    end_of_utterance_ms=(eou or 0.0) * 1000.0,
                    llm_ttft_ms=(metrics.get("llm_node_ttft") or 0.0) * 1000.0,
                    tts_ttfb_ms=(metrics.get("tts_node_ttfb") or 0.0) * 1000.0,
                    total_ms=None if e2e is None else e2e * 1000.0,
                )
            )

    def _on_tools(self, ev: FunctionToolsExecutedEvent) -> None:
        self.tools_called.extend(call.name for call in ev.function_calls)

    def build_report(self, session: AgentSession) -> AgentReport:
        report = AgentReport(
            event_id=report_event_id(self.room),
            turn_latencies=list(self.latencies),
            tools_called=list(self.tools_called),
            providers=dict(self.providers),
        )
        for usage in session.usage.model_usage:
            if isinstance(usage, LLMModelUsage):
                report.llm_prompt_tokens += usage.input_tokens
                report.llm_completion_tokens += usage.output_tokens
            elif isinstance(usage, TTSModelUsage):
                report.tts_characters += usage.characters_count
            elif isinstance(usage, STTModelUsage):
                report.stt_seconds += usage.audio_duration
        return report

    def send_report(self, session: AgentSession) -> AgentReport:
        report = self.build_report(session)
        self.signals.agent_report(report)
        return report
