"""The webhook + call API service: LiveKit webhooks and call requests into Temporal."""

from callflow.service.app import create_app
from callflow.service.deps import ServiceDeps
from callflow.service.runner import RunningServer, ServiceStartError, serve

__all__ = ["RunningServer", "ServiceDeps", "ServiceStartError", "create_app", "serve"]
