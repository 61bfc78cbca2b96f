"""Errors of the voice agent, one hierarchy for the whole package.

Library exceptions (rtc.RpcError, Temporal RPC errors, subprocess failures) are translated into
these at the edge, so callers handle one family and messages name the field and the fix.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent package raises on purpose."""


class JobMetadataInvalid(AgentError):
    """The dispatch/room metadata is not the JSON the workflow's activity writes."""


class ProviderConfigError(AgentError):
    """The STT/LLM/TTS settings cannot build a provider (e.g. a missing binary)."""


class OfflineSpeechError(AgentError):
    """espeak-ng failed or produced no audio."""


class ScriptNotFound(AgentError):
    """The metadata names an offline conversation script that does not exist."""


class SignalDeliveryFailed(AgentError):
    """A signal to the call workflow could not be delivered after every retry."""


class DeviceError(AgentError):
    """A device tool call to the phone failed; `spoken` is what the LLM may tell the user."""

    def __init__(self, method: str, spoken: str) -> None:
        super().__init__(f"{method}: {spoken}")
        self.method = method
        self.spoken = spoken


class DeviceUnavailable(DeviceError):
    """The phone is not in the room (never joined, or hung up)."""


class DeviceTimeout(DeviceError):
    """The phone did not answer in time."""


class DeviceRefused(DeviceError):
    """The phone answered with an error (e.g. permission denied)."""


class DeviceUnsupported(DeviceError):
    """The phone's app does not implement this method (older app version)."""


class DeviceProtocolError(DeviceError):
    """The phone's answer was not the JSON object the contract describes."""
