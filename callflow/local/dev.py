"""`callflow dev`: the whole local stack on the configured ports, until Ctrl-C or SIGTERM.

The stack's servers never outlive it: SIGINT (even when started in the background, where the
shell ignores it) and SIGTERM stop it in order, and a watchdog (stack/reaper.py) stops whatever
is left however this process ended, SIGKILL included.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from callflow.local.dev_env import ENV_FILE, write_env_file
from callflow.local.stack.api_keys import KEY_FILE
from callflow.local.stack.local import StackOptions, start_local_stack
from callflow.local.stack.port_guard import PortTaken
from callflow.local.stack.reaper import Reaper
from callflow.settings import Settings


async def run_dev(settings: Settings, *, with_agent: bool) -> None:
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    stopping: list[str] = []

    def stop(name: str) -> None:
        if not stopping:  # a second signal while stopping changes nothing
            stopping.append(name)
            print(f"{name}: stopping the local stack...", file=sys.stderr, flush=True)
            main.cancel()

    handled = (signal.SIGINT, signal.SIGTERM)
    for sig in handled:
        # Installed explicitly: a shell starting us in the background sets SIGINT to ignored.
        loop.add_signal_handler(sig, stop, sig.name)
    state_dir = (settings.state_dir / "dev").resolve()
    reaper = Reaper(postmaster_pid_file=state_dir / "postgres" / "postmaster.pid")
    reaper.start()
    try:
        await _serve(settings, state_dir, with_agent=with_agent, reaper=reaper)
    except asyncio.CancelledError:
        if not stopping:
            raise
        main.uncancel()
    except PortTaken as e:
        print(f"callflow dev: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    finally:
        await reaper.close()
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _serve(settings: Settings, state_dir: Path, *, with_agent: bool, reaper: Reaper) -> None:
    stack = await start_local_stack(
        settings,
        StackOptions(
            state_dir=state_dir,
            with_agent=with_agent,
            temporal_persistent=True,
            fixed_ports=True,
        ),
    )
    reaper.watch_now()
    try:
        out = sys.stderr
        print("callflow local stack is up:", file=out)
        print(f"  Temporal      {stack.temporal.address}  (UI {stack.temporal.ui_url})", file=out)
        print(f"  call API      {stack.api_url}", file=out)
        if stack.settings.codec_ui_upstream:
            codec_url = f"http://127.0.0.1:{stack.settings.codec_server_port}"
            print(
                f"  decoded UI    {codec_url}/  (sign in at {codec_url}/codec/login with "
                "CALLFLOW_CODEC_SERVER_TOKEN from the environment file below)",
                file=out,
            )
        key_file = stack.settings.state_dir / KEY_FILE
        print(f"  API key       {key_file}  (operator key of this run; the CLI reads it)", file=out)
        print(f"  LiveKit       {stack.livekit.url}", file=out)
        print(f"  local APNs    127.0.0.1:{stack.apns.port}", file=out)
        print(f"  app backend   {stack.receiver.url}", file=out)
        print(f"  Postgres      {stack.postgres.dsn}", file=out)
        env_file = stack.settings.state_dir / ENV_FILE
        write_env_file(stack.settings, env_file)
        print("environment for other processes (worker, agent, CLI), secrets included:", file=out)
        print(f"  {env_file}  (mode 0600; load it with: set -a; . {env_file}; set +a)", file=out)
        print("Ctrl-C stops everything.", file=out, flush=True)
        await asyncio.Event().wait()
    finally:
        await stack.stop()
