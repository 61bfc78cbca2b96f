"""The one place a `CallInput` is built from Settings (call API, schedules, CLI, benchmarks)."""

from __future__ import annotations

from callflow.settings import Settings
from workflows.messages import CallInput, CallTimings, PriceTable


def timings_from(settings: Settings) -> CallTimings:
    return CallTimings(
        join_timeout_s=settings.join_timeout_s,
        max_attempts=settings.max_attempts,
        retry_backoff_s=list(settings.retry_backoff_s),
        max_call_s=settings.max_call_s,
        room_probe_interval_s=settings.room_probe_interval_s,
        memory_budget_ms=settings.memory_budget_ms,
        ring_arm_s=settings.ring_arm_s,
        agent_join_timeout_s=settings.agent_join_timeout_s,
        agent_max_wait_s=settings.agent_max_wait_s,
    )


def prices_from(settings: Settings) -> PriceTable:
    return PriceTable(
        stt_per_minute=settings.price_stt_per_minute,
        llm_per_1k_prompt_tokens=settings.price_llm_per_1k_prompt_tokens,
        llm_per_1k_completion_tokens=settings.price_llm_per_1k_completion_tokens,
        tts_per_1k_characters=settings.price_tts_per_1k_characters,
        livekit_per_minute=settings.price_livekit_per_minute,
    )


def call_input_from(
    settings: Settings,
    *,
    call_id: str,
    user_id: str,
    reason: str = "on_demand",
    scheduled_for: str | None = None,
) -> CallInput:
    return CallInput(
        call_id=call_id,
        user_id=user_id,
        timings=timings_from(settings),
        reason=reason,
        scheduled_for=scheduled_for,
        quiet_hours_policy=settings.quiet_hours_policy,
        agent_slots=settings.agent_slots,
        caller_name=settings.caller_name,
        agent_name=settings.agent_name,
        phone_token_ttl_s=settings.phone_token_ttl_s,
        prices=prices_from(settings),
    )
