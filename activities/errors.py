"""The `ApplicationError` types the workflow tells apart.

Activities let their adapters' errors propagate; activities/error_edge.py turns each into an
`ApplicationError` typed by its class (callflow/errors.py), once, for every activity. The
workflow branches on a few of those types; they are read from the classes here, so a type the
workflow checks cannot drift from the class that is raised.
"""

from __future__ import annotations

from callflow.push.errors import DeviceUnreachable

# A ring whose push fails with this ends the call as `unreachable` (not `failed`).
DEVICE_UNREACHABLE = DeviceUnreachable.error_type
