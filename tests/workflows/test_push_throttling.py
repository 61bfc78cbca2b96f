"""APNs throttling (429) or unavailability (503) lasting longer than a few quick retries makes
the ring late, not the call failed: the ring is retried with back-off within its window."""

from __future__ import annotations

from tests.workflows.test_call_workflow import Harness, h  # noqa: F401


async def test_apns_throttling_for_twenty_seconds_still_rings_the_phone_once(
    h: Harness,  # noqa: F811
) -> None:
    # Eight 429s in a row: about 20 s of back-off, past the old ~3 s of quick retries.
    result, _ = await h.run(["busy"] * 8 + ["answer"])

    assert result.outcome == "completed", result.failure_reason
    assert result.attempts == 1 and len(h.phone.pushes) == 1  # type: ignore[union-attr]
