"""Settings refuse development secrets outside loopback: a published default or a too-short
secret for LiveKit, the app backend or the codec server fails start-up, naming the variable
and the fix. On loopback (the local stack) the defaults stay fine."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from callflow.settings import ConfigurationError, Settings

STRONG = "k3J9x-strong-random-secret-0123456789abcdef"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_local_defaults_pass_on_loopback() -> None:
    settings().validate_for_runtime()
    settings(APP_BACKEND_WEBHOOK_URL="http://127.0.0.1:9999/hook").validate_for_runtime()
    settings(LIVEKIT_URL="ws://localhost:7880").validate_for_runtime()
    settings(LIVEKIT_URL="ws://[::1]:7880").validate_for_runtime()


@pytest.mark.parametrize(
    ("values", "variable", "why"),
    [
        ({"LIVEKIT_URL": "wss://lk.example.com"}, "LIVEKIT_API_SECRET", "development default"),
        (
            {"LIVEKIT_URL": "ws://livekit:7880", "LIVEKIT_API_SECRET": SecretStr("secret")},
            "LIVEKIT_API_SECRET",
            "development default",
        ),
        (
            {"LIVEKIT_URL": "wss://10.0.0.5", "LIVEKIT_API_SECRET": SecretStr("short-one")},
            "LIVEKIT_API_SECRET",
            "shorter than 32",
        ),
        (
            {"APP_BACKEND_WEBHOOK_URL": "https://backend.example.com/hooks/call"},
            "APP_BACKEND_WEBHOOK_SECRET",
            "development default",
        ),
        (
            {
                "APP_BACKEND_WEBHOOK_URL": "https://backend.example.com/hooks/call",
                "APP_BACKEND_WEBHOOK_SECRET": SecretStr("abc123"),
            },
            "APP_BACKEND_WEBHOOK_SECRET",
            "shorter than 32",
        ),
        (
            {"codec_server_host": "0.0.0.0", "codec_server_token": SecretStr("tok")},
            "CALLFLOW_CODEC_SERVER_TOKEN",
            "shorter than 32",
        ),
    ],
    ids=[
        "livekit default secret",
        "livekit 'secret'",
        "livekit short secret",
        "app backend default secret",
        "app backend short secret",
        "codec short token",
    ],
)
def test_each_development_secret_is_refused_naming_the_variable_and_fix(
    values: dict[str, Any], variable: str, why: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings(**values).validate_for_runtime()
    message = str(refused.value)
    assert message.startswith(variable) and why in message
    assert "openssl rand" in message  # the fix
    for value in values.values():  # the refused secret itself is never echoed
        if isinstance(value, SecretStr) and len(value.get_secret_value()) > 6:
            assert value.get_secret_value() not in message.replace(variable, "")


def test_strong_secrets_pass_anywhere() -> None:
    settings(
        LIVEKIT_URL="wss://lk.example.com",
        LIVEKIT_API_SECRET=SecretStr(STRONG),
        APP_BACKEND_WEBHOOK_URL="https://backend.example.com/hooks/call",
        APP_BACKEND_WEBHOOK_SECRET=SecretStr(STRONG),
        codec_server_host="0.0.0.0",
        codec_server_token=SecretStr(STRONG),
    ).validate_for_runtime()


async def test_the_api_service_refuses_to_start_with_them() -> None:
    from contextlib import AsyncExitStack

    from callflow.runtime import build_service_app

    class NoRecords:
        async def get_user(self, user_id: str) -> None:
            return None

    refused = settings(LIVEKIT_URL="wss://lk.example.com")
    async with AsyncExitStack() as stack:
        with pytest.raises(ConfigurationError, match="LIVEKIT_API_SECRET"):
            await build_service_app(refused, stack, records=NoRecords())  # type: ignore[arg-type]
