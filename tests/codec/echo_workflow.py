"""A tiny workflow whose input, activity call and result all carry user text."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def repeat_back(text: str) -> str:
    return f"you said: {text}"


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            repeat_back, text, start_to_close_timeout=timedelta(seconds=10)
        )
