"""`callflow dev`: the whole local stack on the configured ports, until Ctrl-C."""

from __future__ import annotations

import asyncio
import sys

from callflow.local.stack.local import StackOptions, settings_env, start_local_stack
from callflow.settings import Settings


async def run_dev(settings: Settings, *, with_agent: bool) -> None:
    stack = await start_local_stack(
        settings,
        StackOptions(
            state_dir=settings.state_dir / "dev",
            with_agent=with_agent,
            temporal_persistent=True,
            fixed_ports=True,
        ),
    )
    try:
        out = sys.stderr
        print("callflow local stack is up:", file=out)
        print(f"  Temporal      {stack.temporal.address}  (UI {stack.temporal.ui_url})", file=out)
        print(f"  call API      {stack.api_url}", file=out)
        print(f"  LiveKit       {stack.livekit.url}", file=out)
        print(f"  local APNs    127.0.0.1:{stack.apns.port}", file=out)
        print(f"  app backend   {stack.receiver.url}", file=out)
        print(f"  Postgres      {stack.postgres.dsn}", file=out)
        print("environment for other processes (worker, agent, CLI):", file=out)
        for key, value in settings_env(stack.settings).items():
            shown = "<set>" if "SECRET" in key else value
            print(f"  {key}={shown}", file=out)
        print("Ctrl-C stops everything.", file=out, flush=True)
        await asyncio.Event().wait()
    finally:
        await stack.stop()
