"""The voice agent's livekit-agents worker (explicit dispatch by `agent_name`).

Run it with `python -m agent.worker start` (`agent_command()` gives the argv and `agent_env()`
the environment for a subprocess). `start` is the production mode: no file watching, and
nothing is downloaded at start (silero's model ships in its wheel; the turn detector's
v1-mini weights ship in livekit-local-inference).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import math
import os
import socket
import sys
import uuid
import warnings
from contextlib import AsyncExitStack

from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, cli

from agent.call_session import PhoneNeverJoined, run_call
from agent.errors import AgentError
from agent.metadata import parse_call_context
from agent.offline.script import get_script
from agent.providers import build_providers, load_vad
from agent.signals import TemporalWorkflowSignals
from callflow.monitoring.agent_metrics import serve_agent_metrics
from callflow.ports import AgentSlots, AgentWorkerReport
from callflow.settings import ConfigurationError, Settings, get_settings
from callflow.slots.errors import SlotsError

logger = logging.getLogger("callflow.agent.worker")


def prewarm(proc: JobProcess) -> None:
    """Load the models once per job process, before any call arrives."""
    proc.userdata["vad"] = load_vad()
    # The first workflow signal imports the Temporal client (~1 s of protobuf modules); done
    # during the greeting it froze the job's loop and cut a gap into the agent's audio.
    import temporalio.service  # noqa: F401

    import callflow.temporal_client  # noqa: F401

    try:
        from livekit import local_inference

        local_inference.init_eot()  # ~100 MB of bundled end-of-turn weights
    except Exception:  # the detector loads lazily on first use instead
        logger.exception("could not preload the local end-of-turn model")


async def entrypoint(ctx: JobContext) -> None:
    settings = get_settings()
    await ctx.connect()
    call = parse_call_context(ctx.job.metadata or ctx.room.metadata)
    ctx.log_context_fields = {"call_id": call.call_id, "room": ctx.room.name}
    providers = build_providers(
        settings, get_script(call.script), vad_model=ctx.proc.userdata.get("vad")
    )
    signals = TemporalWorkflowSignals.from_settings(call.workflow_id, settings)
    try:
        await run_call(ctx.room, call, settings=settings, providers=providers, signals=signals)
    except PhoneNeverJoined as exc:
        logger.warning("%s", exc)
    except AgentError:
        logger.exception("call %s failed in the agent", call.call_id)
        raise
    finally:
        await signals.aclose()
        ctx.shutdown("call ended")


def no_reported_load() -> float:
    """The load the worker reports when it has no threshold of its own (locally).

    livekit-server hands a job only to a worker whose *reported* load leaves room (its job
    affinity is 1 - load), and the default report is the machine's CPU average: on a busy
    2-core machine running the whole stack it sits near 1.0 after a call, and the next call's
    dispatch was dropped ("no servers available"), never retried.
    """
    return 0.0


# Where each call runs. A process per call, measured against a thread per call with
# `callflow bench agent` (offline providers, 2 cores): threads take less memory per extra
# concurrent call (~15-20 MB against ~65 MB of PSS: the job processes share the forkserver's
# pages copy-on-write), but no less CPU (5.9-6.1 against 5.5-5.7 CPU-s per call-minute) and
# every call's Python shares one GIL: at 10 calls the turn latency p95 was 5.9 s with threads,
# 0.8 s with processes. Both are within the memory budget (150 MB a call), so CPU, latency and
# crash isolation decide: a call that crashes or leaks in its process takes no other call down.
# CALLFLOW_AGENT_JOB_EXECUTOR=thread|process overrides it (for measuring, or a memory-bound host).
JOB_EXECUTOR_ENV = "CALLFLOW_AGENT_JOB_EXECUTOR"
DEFAULT_JOB_EXECUTOR = JobExecutorType.PROCESS
# Imported once in the forkserver, so each job process starts with them (copy-on-write shared)
# instead of importing ~2 CPU-s of modules itself: what `entrypoint` and `prewarm` import.
JOB_PRELOAD_MODULES = [
    "agent.worker",
    "livekit.plugins.silero",
    "temporalio.service",
    "callflow.temporal_client",
]


def plugin_modules(settings: Settings) -> list[str]:
    """The livekit plugins the calls use: silero always, a provider's once its key is set."""
    modules = ["livekit.plugins.silero"]
    if settings.openai_api_key:
        modules.append("livekit.plugins.openai")
    if settings.anthropic_api_key:
        modules.append("livekit.plugins.anthropic")
    if settings.cartesia_api_key:
        modules.append("livekit.plugins.cartesia")
    return modules


def import_plugins(settings: Settings) -> None:
    """livekit registers a plugin only on the main thread: imported first inside a job thread
    (the thread executor) it raises. Imported here they also reach the forkserver's preload."""
    for module in plugin_modules(settings):
        importlib.import_module(module)


def job_executor_type(settings: Settings) -> JobExecutorType:
    """A process per call (the default) or a thread per call in the worker process."""
    name = getattr(settings, "agent_job_executor", None) or os.environ.get(JOB_EXECUTOR_ENV)
    if not name:
        return DEFAULT_JOB_EXECUTOR
    try:
        return JobExecutorType(str(name).strip().lower())
    except ValueError:
        raise ConfigurationError(
            f"{JOB_EXECUTOR_ENV} is {name!r}: use 'process' (a process per call) or 'thread'"
        ) from None


def warm_executors(settings: Settings) -> int:
    """Job processes (or threads) kept started and prewarmed ahead of calls: the worker's
    capacity, so a burst of that many calls never waits for a cold start (~2-5 s on a busy
    machine); `agent_idle_processes` when it asks for more."""
    capacity = int(getattr(settings, "agent_capacity", 0) or 0)
    return max(capacity, settings.agent_idle_processes)


def build_server(settings: Settings) -> AgentServer:
    """The agent server: `entrypoint` as its one rtc session, explicitly dispatched by
    `settings.agent_name`, with `prewarm` run in every job process before a call arrives."""
    import_plugins(settings)
    server = AgentServer(
        job_executor_type=job_executor_type(settings),
        preload_modules=list(JOB_PRELOAD_MODULES),
        setup_fnc=prewarm,
        # With a finite threshold (production) keep livekit's CPU-based load (None is its
        # default): that is the back-pressure wanted there.
        load_fnc=no_reported_load if math.isinf(settings.agent_load_threshold) else None,
        load_threshold=settings.agent_load_threshold,
        num_idle_processes=warm_executors(settings),
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret.get_secret_value(),
        host="127.0.0.1",
        port=0,  # the worker's health endpoint; 0 = any free port, several workers may run
    )
    # rtc_session's registrar form, not `@server.rtc_session` over a nested function: the
    # server is made from settings at run time, and the job processes need `entrypoint`
    # importable from this module.
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    reporter = CapacityReporter(server, settings)
    reporter.attach()
    # On worker_started: in the main process, once its pool is up (never in a job process).
    server.on(
        "worker_started",
        lambda: serve_agent_metrics(settings.agent_metrics_bind, reporter.current),
    )
    return server


# --- capacity reports: how many calls this worker takes, for the ring path's agent slots


def worker_report_id() -> str:
    """This worker process's row in the slots store (host, pid and a nonce: never reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def capacity_report(
    worker_id: str, settings: Settings, *, active: int, draining: bool = False
) -> AgentWorkerReport:
    """What the worker says about itself: `agent_capacity`, or nothing while it drains
    (livekit-server hands a draining worker no more jobs)."""
    capacity = 0 if draining else settings.agent_capacity
    return AgentWorkerReport(worker_id, capacity=capacity, active=active)


async def report_capacity(slots: AgentSlots, settings: Settings, report: AgentWorkerReport) -> None:
    """One report; it counts for three report intervals, so a dead worker stops counting."""
    await slots.report_worker(report, ttl_s=3 * settings.agent_report_interval_s)


class CapacityReporter:
    """Reports the worker's capacity every `agent_report_interval_s`, from the AgentServer's
    main process (one task per worker, never per job).

    `attach()` starts it on the server's `worker_started` event, which `AgentServer.run` emits
    on the CLI's event loop once its process pool is up; the CLI cancels every task left on
    that loop after `aclose()`, and the reporter then withdraws its capacity (reports 0).
    Store failures are logged and the next tick tries again: the agent keeps taking calls.
    """

    def __init__(
        self,
        server: AgentServer,
        settings: Settings,
        *,
        worker_id: str | None = None,
        slots: AgentSlots | None = None,
    ) -> None:
        self.server = server
        self.settings = settings
        self.worker_id = worker_id or worker_report_id()
        self._slots = slots  # None: built by callflow.runtime.build_agent_slots
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def attach(self) -> None:
        self.server.on("worker_started", self.start)

    def start(self) -> None:
        if self._task is None or self._task.done():
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self.run(), name="callflow-capacity-reporter")

    def current(self) -> AgentWorkerReport:
        return capacity_report(
            self.worker_id,
            self.settings,
            active=len(self.server.active_jobs),
            draining=self.server.draining,
        )

    async def report_once(self, slots: AgentSlots, report: AgentWorkerReport | None = None) -> bool:
        """One report (the current one by default); False, logged, when the store failed."""
        try:
            async with asyncio.timeout(self.settings.agent_report_interval_s):
                await report_capacity(slots, self.settings, report or self.current())
        except (SlotsError, TimeoutError) as exc:
            if not self._failing:
                logger.warning("agent capacity report failed (retrying): %s", exc or "timeout")
            self._failing = True
            return False
        except Exception:  # a bug, not the store: say so, keep reporting
            logger.exception("agent capacity report failed")
            self._failing = True
            return False
        if self._failing:
            logger.info("agent capacity reports resumed")
        self._failing = False
        return True

    async def _connect(self, stack: AsyncExitStack) -> AgentSlots | None:
        if self._slots is not None:
            return self._slots
        # callflow.runtime imports the whole assembly (~1 s): not on the worker's event loop.
        await asyncio.to_thread(__import__, "callflow.runtime")
        from callflow.runtime import build_agent_slots

        while True:
            try:
                built = await build_agent_slots(self.settings, stack)
            except ConfigurationError as exc:
                logger.error("agent capacity is not reported, no call gets a slot here: %s", exc)
                return None
            except SlotsError as exc:
                if not self._failing:
                    logger.warning("agent slots store unreachable (retrying): %s", exc)
                self._failing = True
                await asyncio.sleep(self.settings.agent_report_interval_s)
                continue
            logger.info("adapter agent_slots %s, worker %s", built.description, self.worker_id)
            return built.adapter

    async def run(self) -> None:
        async with AsyncExitStack() as stack:
            slots = await self._connect(stack)
            if slots is None:
                return
            try:
                while True:
                    await self.report_once(slots)
                    await asyncio.sleep(self.settings.agent_report_interval_s)
            finally:
                # Stopping: the capacity goes now, not when the report expires.
                final = AgentWorkerReport(self.worker_id, capacity=0, active=0)
                try:
                    await asyncio.wait_for(report_capacity(slots, self.settings, final), 2.0)
                except (SlotsError, TimeoutError, asyncio.CancelledError):
                    pass


def agent_env(settings: Settings) -> dict[str, str]:
    """Environment for the worker subprocess: LiveKit credentials under the names the
    livekit-agents CLI reads, and no pre-loading of models the calls do not use."""
    return {
        **os.environ,
        "LIVEKIT_URL": settings.livekit_url,
        "LIVEKIT_API_KEY": settings.livekit_api_key,
        "LIVEKIT_API_SECRET": settings.livekit_api_secret.get_secret_value(),
    }


def agent_command() -> list[str]:
    return [sys.executable, "-m", "agent.worker", "start"]


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    os.environ.update({k: v for k, v in agent_env(settings).items() if k.startswith("LIVEKIT_")})
    args = list(sys.argv[1:] if argv is None else argv) or ["start"]
    if args[0] == "dev":
        raise SystemExit("use `start`: `dev` watches files and is not how callflow runs the agent")
    sys.argv = [sys.argv[0], *args]
    # run_app is the documented entry for `python myagent.py start`; it warns that the rich CLI
    # will move to `lk agent`, which is not installed here.
    warnings.filterwarnings("ignore", message="the built-in Python CLI is deprecated")
    cli.run_app(build_server(settings))


if __name__ == "__main__":
    main()
