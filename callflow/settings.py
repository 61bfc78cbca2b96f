"""The one configuration object of callflow, read from the environment (and `.env`).

Unset provider keys select the local adapters (docs/architecture.md, "Ports and adapters");
`callflow.runtime` makes the choice and logs it, never a secret.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names the variable and the fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLFLOW_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        # `KEY=` (as in .env.example) means "unset", not "empty string": an empty
        # APNS_KEY_PATH would otherwise become Path(".") and look configured.
        env_ignore_empty=True,
    )

    # --- where local state lives (embedded Postgres data, Temporal db, certificates, logs)
    state_dir: Path = Field(default=Path(".callflow"))

    # --- Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "callflow"

    # --- LiveKit
    livekit_url: str = Field(default="ws://127.0.0.1:7880", alias="LIVEKIT_URL")
    livekit_api_key: str = Field(default="devkey", alias="LIVEKIT_API_KEY")
    livekit_api_secret: SecretStr = Field(
        default=SecretStr("secret-devkey-for-local-livekit-only"), alias="LIVEKIT_API_SECRET"
    )
    agent_name: str = "callflow-agent"
    # Seconds LiveKit keeps a room open after the last participant left (then room_finished).
    livekit_departure_timeout_s: int = 20
    phone_token_ttl_s: int = 600

    # --- providers (unset -> offline providers)
    cartesia_api_key: SecretStr | None = Field(default=None, alias="CARTESIA_API_KEY")
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_model: str = "gpt-4o-mini"
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    anthropic_model: str = "claude-3-5-haiku-latest"
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    # voice agent (additive): Cartesia models/voice, where it is reached, the offline voices
    cartesia_base_url: str = Field(default="https://api.cartesia.ai", alias="CARTESIA_BASE_URL")
    cartesia_stt_model: str = "ink-whisper"
    cartesia_tts_model: str = "sonic-3"
    cartesia_voice: str | None = None  # a Cartesia voice id; None = the plugin's default voice
    offline_tts_voice: str = "en-us"  # espeak-ng voice of the agent when offline
    phone_voice: str = "en-gb+f3"  # espeak-ng voice of the phone simulator's user
    device_rpc_timeout_s: float = 5.0
    agent_idle_processes: int = 1  # pre-started job processes of the agent worker
    # The worker stops taking calls above this machine CPU load (0..1). livekit-agents' default,
    # 0.7, refuses calls on a busy 2-core dev machine running the whole stack, and a refused
    # dispatch is not retried by the server: locally, never refuse (set e.g. 0.8 in production).
    agent_load_threshold: float = float("inf")
    # Calls one agent worker takes at once (one job process each), reported to the slots store
    # so a phone is rung only when an agent slot is held for it. 4 suits a 2-core machine with
    # offline voices; raise it with the cores (a cloud STT/TTS call is lighter on the CPU).
    agent_capacity: int = Field(default=4, ge=0)
    # A phone is rung only once an agent slot is held for its call (off: ring regardless, as a
    # stack with no agent worker does). A due call waits at most agent_max_wait_s for a slot.
    agent_slots: bool = True
    agent_max_wait_s: float = Field(default=600.0, gt=0)
    # How often the agent worker reports its capacity; a report counts for 3x this.
    agent_report_interval_s: float = Field(default=5.0, gt=0, le=3600)

    # --- memory (unset -> Postgres full-text)
    supermemory_api_key: SecretStr | None = Field(default=None, alias="SUPERMEMORY_API_KEY")
    supermemory_base_url: str | None = Field(default=None, alias="SUPERMEMORY_BASE_URL")

    # --- records (unset -> embedded Postgres)
    supabase_url: str | None = Field(default=None, alias="SUPABASE_URL")
    supabase_service_role_key: SecretStr | None = Field(
        default=None, alias="SUPABASE_SERVICE_ROLE_KEY"
    )
    database_url: str | None = Field(default=None, alias="DATABASE_URL")

    # --- APNs (unset key -> local APNs endpoint)
    apns_key_path: Path | None = Field(default=None, alias="APNS_KEY_PATH")
    apns_key_id: str | None = Field(default=None, alias="APNS_KEY_ID")
    apns_team_id: str | None = Field(default=None, alias="APNS_TEAM_ID")
    apns_topic: str = Field(default="app.callflow.ios.voip", alias="APNS_TOPIC")
    apns_use_sandbox: bool = Field(default=True, alias="APNS_USE_SANDBOX")
    local_apns_host: str = "127.0.0.1"
    local_apns_port: int = 2197

    # --- the app backend's post-call webhook
    app_backend_webhook_url: str | None = Field(default=None, alias="APP_BACKEND_WEBHOOK_URL")
    app_backend_webhook_secret: SecretStr = Field(
        default=SecretStr("local-app-backend-secret"), alias="APP_BACKEND_WEBHOOK_SECRET"
    )

    # --- webhook + call API service
    api_host: str = "127.0.0.1"
    api_port: int = 8090

    # --- call timings (docs/architecture.md, "One call's life")
    join_timeout_s: float = 45.0
    max_attempts: int = 3
    retry_backoff_s: list[float] = Field(default_factory=lambda: [120.0, 300.0])
    max_call_s: float = 900.0
    room_probe_interval_s: float = 30.0
    memory_budget_ms: int = 400
    # A scheduled call's ring activity starts this long before the due time and waits in the
    # worker, so the due second costs the Temporal server nothing (0 turns arming off).
    ring_arm_s: float = 60.0
    # The agent must join a call's room this long after its dispatch, else it is dispatched once
    # more; after as long again the attempt ends `no_agent` (the room is closed).
    agent_join_timeout_s: float = Field(default=10.0, gt=0)
    # A ring that falls in the user's quiet hours waits for their end, or is skipped.
    quiet_hours_policy: Literal["wait", "skip"] = "wait"
    # `POST /calls` with `scheduled_for` books a call at most this many days ahead.
    booking_horizon_days: int = Field(default=30, ge=1, le=366)

    # --- Temporal worker: every armed ring holds an activity slot until its due time, so
    # slots must outnumber the calls due within ring_arm_s on one worker.
    worker_max_activities: int = 2000
    worker_max_workflow_tasks: int = 200
    # Sleeping calls stay cached: an evicted one replays its history when its timer fires.
    worker_max_cached_workflows: int = 4000
    caller_name: str = "Callflow Coach"

    # --- price table (USD) turning an agent's usage into a cost per call; set to your contracts
    price_stt_per_minute: float = 0.0022  # Cartesia Ink (list price, approx.)
    price_llm_per_1k_prompt_tokens: float = 0.00015  # gpt-4o-mini input
    price_llm_per_1k_completion_tokens: float = 0.0006  # gpt-4o-mini output
    price_tts_per_1k_characters: float = 0.03  # Cartesia Sonic (approx.)
    price_livekit_per_minute: float = 0.0005  # LiveKit agent session minutes (approx.)

    # --- observability (off by default)
    telemetry_enabled: bool = False
    prometheus_bind: str = "127.0.0.1:9464"  # host:port of the SDK runtime's /metrics
    otlp_endpoint: str | None = None  # OTLP/gRPC collector; unset -> spans stay in process

    # --- payload encryption in workflow histories (off by default)
    codec_enabled: bool = False
    # "k1:<base64 of 32 bytes>,k2:<base64>"; old ids stay so old histories stay readable
    codec_keys: SecretStr | None = None
    codec_active_key_id: str | None = None
    codec_server_token: SecretStr | None = None
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = 8081

    @field_validator("max_attempts")
    @classmethod
    def _attempts_positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("CALLFLOW_MAX_ATTEMPTS must be at least 1")
        return v

    @field_validator("ring_arm_s")
    @classmethod
    def _arm_not_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("CALLFLOW_RING_ARM_S must be 0 (off) or a number of seconds")
        return v

    @field_validator(
        "worker_max_activities", "worker_max_workflow_tasks", "worker_max_cached_workflows"
    )
    @classmethod
    def _worker_slots_positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("worker slot counts (CALLFLOW_WORKER_MAX_*) must be at least 1")
        return v

    def require_production_apns(self) -> None:
        """Fail fast, naming every missing variable, when APNs is half-configured."""
        parts = {
            "APNS_KEY_PATH": self.apns_key_path,
            "APNS_KEY_ID": self.apns_key_id,
            "APNS_TEAM_ID": self.apns_team_id,
        }
        missing = [name for name, value in parts.items() if not value]
        if missing and len(missing) < len(parts):
            raise ConfigurationError(
                f"APNs is partly configured: set {', '.join(missing)} too "
                "(or unset all APNS_* variables to use the local APNs endpoint)"
            )

    def require_supabase(self) -> None:
        if self.supabase_url and not self.supabase_service_role_key:
            raise ConfigurationError(
                "SUPABASE_URL is set but SUPABASE_SERVICE_ROLE_KEY is not: set the service-role "
                "key from the Supabase dashboard (Settings > API), or unset SUPABASE_URL to use "
                "embedded Postgres"
            )

    def validate_for_runtime(self) -> None:
        self.require_production_apns()
        self.require_supabase()

    @property
    def uses_production_apns(self) -> bool:
        return bool(self.apns_key_path and self.apns_key_id and self.apns_team_id)


def settings_env_names() -> dict[str, str]:
    """Environment variable name -> Settings field name (alias, else prefix + field name)."""
    prefix = Settings.model_config.get("env_prefix", "")
    names = {}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias or info.alias
        names[alias if isinstance(alias, str) else f"{prefix}{field_name}".upper()] = field_name
    return names


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
