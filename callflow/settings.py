"""The one configuration object of callflow, read from the environment (and `.env`).

Unset provider keys select the local adapters (docs/architecture.md, "Ports and adapters");
`callflow.runtime` makes the choice and logs it, never a secret.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names the variable and the fix."""


# Secrets published in this repository (Settings' defaults, compose's defaults): fine on
# loopback, refused when the service they sign for is elsewhere.
DEVELOPMENT_SECRETS = frozenset(
    {"secret-devkey-for-local-livekit-only", "local-app-backend-secret", "secret", "devkey"}
)
# livekit-server refuses API secrets under 32 characters; the same bar for the others.
MIN_SECRET_CHARS = 32


def _url_host(url: str | None) -> str | None:
    if not url:
        return None
    return urlsplit(url).hostname or None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    # What phones receive in the VoIP push (iOS needs wss:// reachable from the internet);
    # unset = LIVEKIT_URL, right only when the server API URL is itself public.
    livekit_public_url: str | None = Field(default=None, alias="LIVEKIT_PUBLIC_URL")
    livekit_api_key: str = Field(default="devkey", alias="LIVEKIT_API_KEY")
    livekit_api_secret: SecretStr = Field(
        default=SecretStr("secret-devkey-for-local-livekit-only"), alias="LIVEKIT_API_SECRET"
    )
    agent_name: str = "callflow-agent"
    # Seconds LiveKit keeps a room open after the last participant left (then room_finished).
    livekit_departure_timeout_s: int = 20
    # Webhooks created longer ago are acknowledged and ignored: a replayed or long-delayed
    # event must not end a live call's wait (LiveKit itself gives up on events after ~30 s).
    livekit_webhook_max_age_s: float = Field(default=300.0, gt=0)
    phone_token_ttl_s: int = 600

    # --- providers (unset -> offline providers)
    cartesia_api_key: SecretStr | None = Field(default=None, alias="CARTESIA_API_KEY")
    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    # Checked 2026-12-01: OpenAI's recommended replacement for gpt-4o-mini (which shuts down
    # 2027-01-14); a reasoning model, so no temperature (callflow/model_params.py).
    openai_model: str = "gpt-6-luna"
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    # Checked 2026-12-01: Anthropic's current Haiku (claude-3-5-haiku-* retired 2026-02-19);
    # refuses temperature/top_p/top_k.
    anthropic_model: str = "claude-haiku-5-5"
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    # voice agent (additive): Cartesia models/voice, where it is reached, the offline voices
    cartesia_base_url: str = Field(default="https://api.cartesia.ai", alias="CARTESIA_BASE_URL")
    # Reviewed 2026-12-01: Cartesia lists ink-whisper under older models (active, multilingual);
    # ink-2 is current but a Preview, English-only, with its own turn detection in place of the
    # agent's VAD and turn detector. Kept on ink-whisper; set ink-2 here to try it.
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

    # --- the history import from ElevenLabs (docs/history-import.md)
    elevenlabs_api_key: SecretStr | None = Field(default=None, alias="ELEVENLABS_API_KEY")
    elevenlabs_base_url: str | None = Field(default=None, alias="ELEVENLABS_BASE_URL")
    import_rate_per_s: float = Field(default=5.0, ge=0)  # items a second at most (0: no limit)
    import_batch_size: int = Field(default=10, ge=1, le=200)  # items imported at once
    import_page_size: int = Field(default=50, ge=1, le=100)  # conversations per source page

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
    # Production by default: TestFlight and App Store builds get production VoIP tokens; only
    # a debug build run from Xcode gets sandbox tokens (APNS_USE_SANDBOX=true).
    apns_use_sandbox: bool = Field(default=False, alias="APNS_USE_SANDBOX")
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
    # Accepted API keys, "<name>:<sha256 hex of the key>:<scope>+<scope>" comma-separated
    # (`callflow api-key new` prints one); only hashes are kept. Several at once for rotation.
    api_keys: SecretStr | None = None
    # The key this process's own clients (`callflow call`, `callflow status`) send.
    api_key: SecretStr | None = None
    # Supabase's JWT secret: lets the app decline with the user's Supabase session JWT too.
    supabase_jwt_secret: SecretStr | None = Field(default=None, alias="SUPABASE_JWT_SECRET")
    # At most this many POST /calls per user in a rolling 24 h, counted in the records store.
    call_cap_per_day: int = Field(default=20, ge=1)
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)  # larger bodies: 413
    # A second listener serving POST /livekit/webhook alone (unset: none), so only it need be
    # public while the call API stays private.
    webhook_host: str = "127.0.0.1"
    webhook_port: int | None = None

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
    price_llm_per_1k_prompt_tokens: float = 0.0001  # gpt-6-luna input, $0.10/1M (2026-12-01)
    price_llm_per_1k_completion_tokens: float = 0.0005  # gpt-6-luna output, $0.50/1M
    price_tts_per_1k_characters: float = 0.03  # Cartesia Sonic (approx.)
    price_livekit_per_minute: float = 0.0005  # LiveKit agent session minutes (approx.)

    # --- call recordings (docs/recordings.md): only for users whose recording_consent is on,
    # into S3-compatible storage (Supabase Storage: https://<ref>.supabase.co/storage/v1/s3).
    # Unset endpoint: nothing is recorded. The local stack sets these to its own S3 server.
    recordings_s3_endpoint: str | None = None
    recordings_s3_bucket: str = "call-recordings"
    recordings_s3_region: str = "us-east-1"
    recordings_s3_access_key: str | None = None
    recordings_s3_secret_key: SecretStr | None = None
    # Recordings older than this are deleted by the daily cleanup Schedule.
    recording_retention_days: int = Field(default=30, ge=1, le=3650)

    # --- observability (off by default)
    telemetry_enabled: bool = False
    prometheus_bind: str = "127.0.0.1:9464"  # host:port of the SDK runtime's /metrics
    otlp_endpoint: str | None = None  # OTLP/gRPC collector; unset -> spans stay in process
    # callflow's own call metrics (callflow/metrics.py) at http://<bind>/metrics, host:port;
    # unset -> not served. The worker's and the agent worker's endpoints; the API serves them
    # on its own /metrics when telemetry is on.
    metrics_bind: str | None = None
    agent_metrics_bind: str | None = None

    @field_validator("metrics_bind", "agent_metrics_bind")
    @classmethod
    def _check_metrics_bind(cls, value: str | None) -> str | None:
        if not value:
            return None
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{value!r} is not host:port (example: 0.0.0.0:9465)")
        return value

    # --- payload encryption in workflow histories (off by default)
    codec_enabled: bool = False
    # "k1:<base64 of 32 bytes>,k2:<base64>"; old ids stay so old histories stay readable
    codec_keys: SecretStr | None = None
    codec_active_key_id: str | None = None
    codec_server_token: SecretStr | None = None
    codec_server_host: str = "127.0.0.1"
    codec_server_port: int = 8081
    # The Temporal UI the codec server serves on its own origin (unset: none), so operators
    # read decoded payloads in the UI after signing in at /codec/login (codec/ui_gateway.py).
    codec_ui_upstream: str | None = None

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

    def require_production_secrets(self) -> None:
        """Fail, naming the variable and the fix, when a service outside loopback would be
        signed for with a published development secret or one shorter than it needs."""
        checks = [
            (
                "LIVEKIT_API_SECRET",
                _url_host(self.livekit_url),
                self.livekit_api_secret,
                "LiveKit",
            ),
            (
                "APP_BACKEND_WEBHOOK_SECRET",
                _url_host(self.app_backend_webhook_url),
                self.app_backend_webhook_secret,
                "the app backend",
            ),
            (
                "CALLFLOW_CODEC_SERVER_TOKEN",
                self.codec_server_host,
                self.codec_server_token,
                "the codec server",
            ),
        ]
        for name, host, secret, service in checks:
            if host is None or _is_loopback(host) or secret is None:
                continue
            value = secret.get_secret_value()
            if value in DEVELOPMENT_SECRETS or len(value) < MIN_SECRET_CHARS:
                why = (
                    "is a development default published in the repository"
                    if value in DEVELOPMENT_SECRETS
                    else f"is shorter than {MIN_SECRET_CHARS} characters"
                )
                raise ConfigurationError(
                    f"{name} {why}, but {service} is at {host}, not loopback: set {name} to a "
                    f"random secret of {MIN_SECRET_CHARS}+ characters (for example "
                    "`openssl rand -base64 33`) in the environment of every process and on "
                    f"{service}'s side"
                )

    def validate_for_runtime(self) -> None:
        self.require_production_apns()
        self.require_supabase()
        self.require_production_secrets()

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
