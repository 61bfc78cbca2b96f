"""Post-call analysis and the app backend's post-call webhook."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio import activity

from callflow.models import Commitment
from callflow.ports import AppBackendNotifier, CallAnalysis, CallAnalyzer, PostCallEvent


@dataclass
class AnalyzeInput:
    call_id: str
    transcript: list[dict[str, str]] = field(default_factory=list)
    due_commitments: list[Commitment] = field(default_factory=list)
    local_date: str | None = None  # the user's date at the call: relative dates resolve on it
    timezone: str = "UTC"  # the user's time zone


@dataclass
class NotifyOutput:
    delivered: bool
    # False when no app backend is configured: nothing was due, so nothing failed.
    configured: bool = True


class AnalysisActivities:
    def __init__(self, analyzer: CallAnalyzer) -> None:
        self._analyzer = analyzer

    @activity.defn
    async def analyze_call(self, input: AnalyzeInput) -> CallAnalysis:
        return await self._analyzer.analyze(
            input.transcript,
            input.due_commitments,
            local_date=input.local_date,
            timezone=input.timezone,
        )


class NotifyActivities:
    def __init__(self, notifier: AppBackendNotifier | None) -> None:
        self._notifier = notifier

    @activity.defn
    async def notify_app_backend(self, input: PostCallEvent) -> NotifyOutput:
        if self._notifier is None:
            return NotifyOutput(delivered=False, configured=False)
        return NotifyOutput(delivered=await self._notifier.post_call(input))
