"""APNs environments: production by default, and a BadDeviceToken names the likely mismatch."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from callflow.push.apns import ApnsPushSender
from callflow.push.errors import DeviceUnreachable
from callflow.settings import Settings
from tests.push.conftest import new_token
from tests.push.test_apns_sender import push_to


def test_production_apns_is_the_default(tmp_path: Path) -> None:
    # TestFlight and App Store builds hold production VoIP tokens.
    key = tmp_path / "AuthKey_ABCDEFGHIJ.p8"
    key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, APNS_KEY_PATH=key, APNS_KEY_ID="ABCDEFGHIJ", APNS_TEAM_ID="TEAM123456"
    )
    assert settings.apns_use_sandbox is False
    assert ApnsPushSender.production(settings).server == ("api.push.apple.com", 443)


async def test_bad_device_token_says_which_environment_to_try(sender: ApnsPushSender) -> None:
    with pytest.raises(DeviceUnreachable) as caught:
        await sender.send_voip(push_to(new_token()))
    assert caught.value.reason == "BadDeviceToken"
    assert "APNs production" in str(caught.value)
    assert "APNS_USE_SANDBOX=true" in str(caught.value)
