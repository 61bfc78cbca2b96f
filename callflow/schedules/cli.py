"""`callflow schedules create|update|pause|resume|delete|list|describe`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from temporalio.client import Client

from callflow.cli_support import run_with_temporal
from callflow.schedules.dst import dst_notes
from callflow.schedules.errors import ScheduleError, ScheduleInvalid
from callflow.schedules.intents import PostgresScheduleIntentStore
from callflow.schedules.manager import DEFAULT_LEAD_S, OPT_OUT_NOTE, ScheduleManager, ScheduleView
from callflow.schedules.spec import CallSchedule
from callflow.settings import Settings, get_settings

T = TypeVar("T")

# Which command-line option sets each schedule field, for error messages.
OPTION_FOR_FIELD = {
    "timezone": "--tz",
    "days": "--days",
    "times": "--times",
    "quiet_hours": "--quiet-hours",
    "quiet_hours.start": "--quiet-hours",
    "quiet_hours.end": "--quiet-hours",
    "jitter_s": "--jitter",
    "user_id": "--user",
    "lead_s": "--lead",
}


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _quiet_hours(value: str | None) -> dict[str, str] | None:
    if value is None or value.strip().lower() in ("", "none"):
        return None
    start, sep, end = value.partition("-")
    if not sep:
        raise ScheduleInvalid(
            "quiet_hours", f"quiet hours {value!r} must look like 22:00-07:00 (start-end)"
        )
    return {"start": start.strip(), "end": end.strip()}


def _explain(exc: Exception) -> str | None:
    if isinstance(exc, ScheduleInvalid):
        option = OPTION_FOR_FIELD.get(exc.field, exc.field)
        return f"invalid {option} ({exc.field}): {exc.message}"
    if isinstance(exc, ScheduleError):
        return str(exc)
    return None


def _run(settings: Settings, lead_s: float, work: Callable[[ScheduleManager], Awaitable[T]]) -> T:
    async def with_manager(client: Client) -> T:
        store = None
        if settings.database_url:
            store = await PostgresScheduleIntentStore.connect(settings.database_url)
        try:
            return await work(ScheduleManager(client, settings, store, lead_s=lead_s))
        finally:
            if store is not None:
                await store.close()

    return run_with_temporal(settings, with_manager, _explain)


def format_view(view: ScheduleView) -> str:
    s = view.schedule
    lines = [
        f"{view.user_id}  [{'PAUSED' if view.paused else 'active'}]  schedule {view.schedule_id}",
    ]
    if s is not None:
        quiet = f"  quiet {s.quiet_hours}" if s.quiet_hours else ""
        lines.append(
            f"  calls {','.join(s.times)} on {','.join(s.days)} ({s.timezone})"
            f"  jitter {s.jitter_s}s{quiet}"
        )
    lines.append(
        f"  fires {int(view.lead_s)}s ahead: {'; '.join(view.calendars)}  overlap {view.overlap}"
    )
    if view.note:
        lines.append(f"  note: {view.note}")
    if view.next_call_times and not view.paused:
        lines.append(f"  next call {view.next_call_times[0].isoformat()}")
    return "\n".join(lines)


def _schedule_from(
    tz: str | None,
    days: str | None,
    times: str | None,
    quiet: str | None,
    jitter: int | None,
    paused: bool | None,
    base: CallSchedule | None = None,
) -> CallSchedule:
    data: dict[str, Any] = base.model_dump(mode="json") if base else {}
    given = {
        "timezone": tz,
        "days": _split(days),
        "times": _split(times),
        "jitter_s": jitter,
        "paused": paused,
    }
    data.update({k: v for k, v in given.items() if v is not None})
    if quiet is not None:
        data["quiet_hours"] = _quiet_hours(quiet)
    for name, option in (("timezone", "--tz"), ("days", "--days"), ("times", "--times")):
        if name not in data:
            raise ScheduleInvalid(name, f"{option} is required")
    return CallSchedule.parse(data)


def _emit(view: ScheduleView, lead_s: float) -> None:
    click.echo(format_view(view))
    if view.schedule is not None:
        for note in dst_notes(view.schedule, lead_s, datetime.now(UTC).date()):
            click.echo(f"  warning: {note}")


_user = click.option("--user", "user_id", required=True, help="The user's id.")
_lead = click.option(
    "--lead",
    "lead_s",
    type=int,
    default=int(DEFAULT_LEAD_S),
    show_default=True,
    help="Seconds the schedule fires before the call time (preparation).",
)


def _spec_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--tz", help="IANA time zone, e.g. Europe/Paris."),
            click.option("--days", help="Days of the week, e.g. mon,tue,wed."),
            click.option("--times", help="Local call times, e.g. 07:30,19:00."),
            click.option("--quiet-hours", "quiet", help="No calls in START-END, e.g. 22:00-07:00."),
            click.option("--jitter", type=int, help="Spread firings by up to N seconds (0-900)."),
            click.option("--paused/--active", default=None, help="Create or set paused."),
        ]
    ):
        fn = option(fn)
    return fn


@click.group("schedules")
def schedules() -> None:
    """Recurring calls: one Temporal Schedule per user."""


@schedules.command()
@_user
@_spec_options
@_lead
def create(user_id: str, lead_s: int, **spec: Any) -> None:
    """Create a user's schedule."""

    async def work(m: ScheduleManager) -> ScheduleView:
        return await m.create(user_id, _schedule_from(**spec))

    settings = get_settings()
    _emit(_run(settings, lead_s, work), lead_s)


@schedules.command()
@_user
@_spec_options
@_lead
def update(user_id: str, lead_s: int, **spec: Any) -> None:
    """Change a user's schedule; options not given keep their current value."""

    async def work(m: ScheduleManager) -> ScheduleView:
        current = await m.describe(user_id)
        return await m.update(user_id, _schedule_from(**spec, base=current.schedule))

    _emit(_run(get_settings(), lead_s, work), lead_s)


@schedules.command()
@_user
@click.option("--note", default=OPT_OUT_NOTE, show_default=True)
def pause(user_id: str, note: str) -> None:
    """Pause a user's calls (what an opt-out does)."""

    async def work(m: ScheduleManager) -> ScheduleView:
        return await m.pause(user_id, note)

    click.echo(format_view(_run(get_settings(), DEFAULT_LEAD_S, work)))


@schedules.command()
@_user
def resume(user_id: str) -> None:
    """Resume a paused schedule."""

    async def work(m: ScheduleManager) -> ScheduleView:
        return await m.resume(user_id)

    click.echo(format_view(_run(get_settings(), DEFAULT_LEAD_S, work)))


@schedules.command()
@_user
def delete(user_id: str) -> None:
    """Delete a user's schedule."""

    async def work(m: ScheduleManager) -> None:
        await m.delete(user_id)

    _run(get_settings(), DEFAULT_LEAD_S, work)
    click.echo(f"deleted the schedule of {user_id}")


@schedules.command("list")
def list_() -> None:
    """Every user's schedule."""

    async def work(m: ScheduleManager) -> list[ScheduleView]:
        return await m.list()

    views = _run(get_settings(), DEFAULT_LEAD_S, work)
    if not views:
        click.echo("no schedules")
    for view in views:
        click.echo(format_view(view))


@schedules.command()
@_user
def describe(user_id: str) -> None:
    """One user's schedule, with daylight-saving warnings for the coming year."""

    async def work(m: ScheduleManager) -> ScheduleView:
        return await m.describe(user_id)

    view = _run(get_settings(), DEFAULT_LEAD_S, work)
    _emit(view, view.lead_s)
