"""What the service needs from the outside, passed in so tests and the CLI wire it their way."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

from callflow.ports import RecordsStore
from callflow.service.auth import Authenticator
from callflow.service.call_cap import CallCap
from callflow.service.workflow_gateway import ClientFactory
from callflow.settings import Settings


@dataclass
class ServiceDeps:
    """`temporal` is a connected client, or an async factory called on first use (so the
    service starts, and answers 503, while Temporal is still down). The LiveKit key and
    secret default to the settings' `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET`."""

    temporal: Client | ClientFactory
    records: RecordsStore
    settings: Settings
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = None
    temporal_budget_s: float = 5.0  # per Temporal call; past it the service answers 503
    seen_event_capacity: int = 4096
    # Default: built from the settings (CALLFLOW_API_KEYS, the LiveKit key, SUPABASE_JWT_SECRET).
    authenticator: Authenticator | None = None
    # The per-user cap's store; None leaves POST /calls uncapped (`build_service_app` sets it).
    call_cap: CallCap | None = None

    def livekit_credentials(self) -> tuple[str, str]:
        key = self.livekit_api_key or self.settings.livekit_api_key
        secret = self.livekit_api_secret or self.settings.livekit_api_secret.get_secret_value()
        return key, secret
