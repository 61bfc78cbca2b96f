"""The HTTP handlers: each reads its request, calls the gateway, and shapes the JSON answer.

Errors are raised as `ServiceError`s and rendered by the app's exception handlers.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar, cast

from starlette.requests import Request
from starlette.responses import JSONResponse

from callflow.call_inputs import call_input_from
from callflow.ports import RecordingRecords, RecordsStore
from callflow.service.auth import Authenticator, Scope
from callflow.service.call_cap import CallCap, CallCapError, enforce
from callflow.service.call_requests import (
    CancelCallRequest,
    DeclineCallRequest,
    StartCallRequest,
    path_id,
)
from callflow.service.errors import (
    CallConflict,
    CallNotFound,
    RecordsUnavailable,
    ServiceError,
    UserNotFound,
)
from callflow.service.livekit_webhook import Ignored, WebhookVerifier, signal_for
from callflow.service.recording_consent import RecordingConsentRequest
from callflow.service.seen_events import SeenEvents
from callflow.service.workflow_gateway import CallWorkflows
from callflow.settings import Settings
from workflows.messages import (
    CallInput,
    CancelRequest,
    Declined,
    SignalName,
    temporal_ui_link,
    workflow_id_for,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class ServiceRoutes:
    def __init__(
        self,
        *,
        workflows: CallWorkflows,
        records: RecordsStore,
        settings: Settings,
        verifier: WebhookVerifier,
        seen: SeenEvents,
        auth: Authenticator,
        cap: CallCap | None = None,
    ) -> None:
        self.workflows = workflows
        self.records = records
        self.settings = settings
        self.verifier = verifier
        self.seen = seen
        self.auth = auth
        self.cap = cap

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    # --- LiveKit ---------------------------------------------------------------------------

    async def livekit_webhook(self, request: Request) -> JSONResponse:
        body = await request.body()  # raw bytes: the signature covers them exactly
        event = self.verifier.verify(body, request.headers.get("authorization"))
        decision = signal_for(event, max_age_s=self.settings.livekit_webhook_max_age_s)
        if isinstance(decision, Ignored):
            log.info("webhook %s %s ignored: %s", event.event, event.id, decision.reason)
            return JSONResponse({"status": "ignored", "reason": decision.reason})
        if event.id in self.seen:
            log.info("webhook %s %s is a duplicate; not signalled again", event.event, event.id)
            return JSONResponse({"status": "duplicate", "event_id": event.id})
        try:
            await self.workflows.signal(decision.call_id, decision.name, decision.arg)
        except (CallNotFound, CallConflict) as e:
            # Stale rooms, other deployments' rooms, late events after the call ended: LiveKit
            # must not retry these, so 200.
            log.info(
                "webhook %s %s for call %s dropped: %s",
                event.event,
                event.id,
                decision.call_id,
                e.message,
            )
            return JSONResponse({"status": "ignored", "reason": e.message})
        self.seen.add(event.id)
        log.info(
            "webhook %s %s -> %s on call %s", event.event, event.id, decision.name, decision.call_id
        )
        return JSONResponse(
            {"status": "signalled", "call_id": decision.call_id, "signal": decision.name}
        )

    # --- calls -----------------------------------------------------------------------------

    async def start_call(self, request: Request) -> JSONResponse:
        self.auth.require(request, Scope.CALLS_WRITE)
        req = StartCallRequest.parse(
            await request.body(),
            header_key=request.headers.get("idempotency-key"),
            booking_horizon=timedelta(days=self.settings.booking_horizon_days),
        )
        user = await self._read_records("looking up a user", self.records.get_user(req.user_id))
        if user is None:
            raise UserNotFound(
                f"no user {req.user_id!r} in the records store: create the user first",
                field="user_id",
            )
        call_id = req.call_id()
        if self.cap is not None:
            await enforce(self.cap, req.user_id, call_id, limit=self.settings.call_cap_per_day)
        try:
            created = await self.workflows.start(self._call_input(call_id, req))
        except ServiceError:
            if self.cap is not None:  # the call never started: its place is given back
                await self._give_back(call_id)
            raise
        log.info(
            "call %s for user %s %s",
            call_id,
            req.user_id,
            "started" if created else "already existed (idempotency key reused)",
        )
        ref: dict[str, str | None] = {**self._call_ref(call_id)}
        if req.scheduled_for is not None:
            ref["scheduled_for"] = req.scheduled_for.isoformat()
        return JSONResponse(ref, status_code=201 if created else 200)

    async def call_status(self, request: Request) -> JSONResponse:
        self.auth.require(request, Scope.CALLS_READ)
        call_id = path_id(request.path_params, "call_id")
        status = await self.workflows.status(call_id)
        return JSONResponse(dataclasses.asdict(status))

    async def call_record(self, request: Request) -> JSONResponse:
        """The saved record of a finished call (404 while the call runs or if unknown)."""
        self.auth.require(request, Scope.CALLS_READ)
        call_id = path_id(request.path_params, "call_id")
        record = await self._read_records("reading a call record", self.records.get_call(call_id))
        if record is None:
            raise CallNotFound(
                f"no saved record for call {call_id!r}: the call is unknown or still running "
                f"(GET /calls/{call_id} shows its status)",
                field="call_id",
            )
        return JSONResponse(dataclasses.asdict(record))

    async def decline_call(self, request: Request) -> JSONResponse:
        call_id = path_id(request.path_params, "call_id")
        await self.auth.require_decline(request, call_id, self._call_owner)
        req = DeclineCallRequest.parse(
            await request.body(), idempotency_key=request.headers.get("idempotency-key")
        )
        signal = (
            Declined(event_id=req.event_id, reason=req.reason)
            if req.reason
            else Declined(event_id=req.event_id)
        )
        await self.workflows.signal(call_id, SignalName.DECLINED, signal)
        return JSONResponse(
            {"status": "accepted", "call_id": call_id, "event_id": req.event_id}, status_code=202
        )

    async def cancel_call(self, request: Request) -> JSONResponse:
        self.auth.require(request, Scope.OPERATOR)
        call_id = path_id(request.path_params, "call_id")
        req = CancelCallRequest.parse(await request.body())
        accepted = await self.workflows.cancel(
            call_id, CancelRequest(reason=req.reason, requested_by=req.requested_by)
        )
        return JSONResponse(dataclasses.asdict(accepted))

    # --- users -----------------------------------------------------------------------------

    async def put_recording_consent(self, request: Request) -> JSONResponse:
        """The user's recording consent (docs/recordings.md), set by the app backend."""
        self.auth.require(request, Scope.SCHEDULES_WRITE)  # the app's per-user settings
        user_id = path_id(request.path_params, "user_id")
        req = RecordingConsentRequest.parse(await request.body())
        # Both records adapters implement the recordings' side of the port.
        records = cast(RecordingRecords, self.records)
        found = await self._read_records(
            "setting recording consent", records.set_recording_consent(user_id, req.consent)
        )
        if not found:
            raise UserNotFound(f"no user {user_id!r} in the records store", field="user_id")
        log.info("user %s recording consent %s", user_id, "on" if req.consent else "off")
        return JSONResponse({"user_id": user_id, "recording_consent": req.consent})

    # --- helpers ---------------------------------------------------------------------------

    async def _call_owner(self, call_id: str) -> str:
        """The call's user, from the workflow's `status` query (404 for an unknown call)."""
        return (await self.workflows.status(call_id)).user_id

    async def _give_back(self, call_id: str) -> None:
        assert self.cap is not None
        try:
            await self.cap.release(call_id)
        except CallCapError as e:  # the original failure is the one to report
            log.warning("could not give back call %s's place in the cap: %s", call_id, e)

    async def _read_records(self, doing: str, read: Awaitable[T]) -> T:
        try:
            return await read
        except Exception as e:
            # Adapters raise their own hierarchies; only the type is shown (messages may
            # carry connection strings).
            log.error("records store failed %s: %s", doing, type(e).__name__)
            raise RecordsUnavailable(
                f"the records store failed ({type(e).__name__}); retry later"
            ) from e

    def _call_input(self, call_id: str, req: StartCallRequest) -> CallInput:
        return call_input_from(
            self.settings,
            call_id=call_id,
            user_id=req.user_id,
            reason=req.reason,
            scheduled_for=req.scheduled_for.isoformat() if req.scheduled_for else None,
        )

    def _call_ref(self, call_id: str) -> dict[str, str]:
        workflow_id = workflow_id_for(call_id)
        namespace = self.workflows.namespace or self.settings.temporal_namespace
        return {
            "call_id": call_id,
            "workflow_id": workflow_id,
            "temporal_ui_url": temporal_ui_link(
                self.settings.temporal_ui_url, namespace, workflow_id
            ),
        }
