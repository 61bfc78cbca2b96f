"""The `callflow` command line: dev, demo, call, status, worker, agent, services, schedules,
calls and benchmarks. Output meant for machines (JSON) goes to stdout, everything else to stderr."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import click

from callflow.importer.cli import import_group
from callflow.operator.cli import calls
from callflow.report.cli import report
from callflow.schedules.cli import schedules
from callflow.settings import ConfigurationError, get_settings
from callflow.telemetry import shutdown_sdk_runtimes


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log at INFO level")
def main(verbose: bool) -> None:
    """callflow: scheduled AI accountability calls."""
    _setup_logging(verbose)


@main.command()
@click.option("--agent/--no-agent", default=True, show_default=True, help="run the voice agent")
def demo(agent: bool) -> None:
    """Run one call end to end on the embedded local stack; the last line is JSON."""
    from callflow.local import demo as demo_module

    sys.exit(demo_module.main(get_settings(), with_agent=agent))


@main.command()
@click.option("--agent/--no-agent", default=True, show_default=True)
def dev(agent: bool) -> None:
    """Start the whole local stack on the configured ports and keep it running."""
    from callflow.local.dev import run_dev

    asyncio.run(run_dev(get_settings(), with_agent=agent))


@main.command()
def worker() -> None:
    """Run the Temporal worker (adapters chosen from the settings)."""
    from callflow.runtime import run_worker_from_settings

    asyncio.run(run_worker_from_settings())


@main.command("serve-api")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def serve_api(host: str | None, port: int | None) -> None:
    """Run the webhook + call API service."""
    from callflow.service.main import run_service

    asyncio.run(run_service(get_settings(), host=host, port=port))


@main.command("codec-server")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def codec_server(host: str | None, port: int | None) -> None:
    """Run the payload codec server the Temporal UI and CLI use to decrypt histories."""
    from callflow.codec.server import serve_codec

    serve_codec(get_settings(), host, port)


@main.command()
@click.argument("user_id")
@click.option("--api", default=None, help="call API base URL (default: from settings)")
@click.option("--idempotency-key", default=None)
@click.option(
    "--at",
    "at",
    default=None,
    help="book the call for later: an ISO 8601 time with an offset (2026-12-02T07:30:00+01:00)",
)
def call(user_id: str, api: str | None, idempotency_key: str | None, at: str | None) -> None:
    """Start a call for USER_ID through the call API: now, or at --at."""
    import httpx

    settings = get_settings()
    base = api or f"http://{settings.api_host}:{settings.api_port}"
    body = {"user_id": user_id, "reason": "on_demand"}
    if idempotency_key:
        body["idempotency_key"] = idempotency_key
    if at:
        body["scheduled_for"] = at
    from callflow.service.auth import client_headers

    response = httpx.post(f"{base}/calls", json=body, headers=client_headers(settings), timeout=30)
    click.echo(json.dumps(response.json(), indent=2))
    sys.exit(0 if response.is_success else 1)


@main.command()
@click.argument("call_id")
@click.option("--api", default=None, help="call API base URL (default: from settings)")
def status(call_id: str, api: str | None) -> None:
    """Show a call's status (the workflow's `status` query)."""
    import httpx

    settings = get_settings()
    base = api or f"http://{settings.api_host}:{settings.api_port}"
    from callflow.service.auth import client_headers

    response = httpx.get(f"{base}/calls/{call_id}", headers=client_headers(settings), timeout=30)
    click.echo(json.dumps(response.json(), indent=2))
    sys.exit(0 if response.is_success else 1)


@main.group("api-key")
def api_key() -> None:
    """Call API keys (README, "Security")."""


@api_key.command("new")
@click.option("--name", required=True, help="who holds it, e.g. app-backend (safe to log)")
@click.option(
    "--scopes",
    default="calls:write,calls:read,schedules:write",
    show_default=True,
    help="comma-separated: calls:write, calls:read, schedules:write, operator",
)
def api_key_new(name: str, scopes: str) -> None:
    """Print a new key (give it to its holder) and its CALLFLOW_API_KEYS entry (a digest)."""
    from callflow.service.auth import ALL_SCOPES, api_key_entry, new_api_key

    wanted = {s.strip() for s in scopes.split(",") if s.strip()}
    if not wanted or wanted - ALL_SCOPES or ":" in name or "," in name or not name:
        raise click.UsageError(
            f"--name must have no ':' or ','; --scopes must be some of {sorted(ALL_SCOPES)}"
        )
    key = new_api_key()
    click.echo(json.dumps({"key": key, "api_keys_entry": api_key_entry(name, key, wanted)}))


@main.group()
def bench() -> None:
    """Benchmarks; each ends with one JSON line of figures."""


@bench.command("peak")
@click.option("--calls", "n_calls", type=int, default=1000, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="print the JSON line")
@click.option(
    "--persistence",
    type=click.Choice(["memory", "file"]),
    default="memory",
    show_default=True,
    help="the Temporal dev server's store: in memory or a SQLite file",
)
@click.option(
    "--via",
    type=click.Choice(["direct", "schedules"]),
    default="direct",
    show_default=True,
    help="start the calls directly, or from one Temporal Schedule per user firing "
    "production's lead (300 s) ahead of the due time",
)
@click.option(
    "--agents",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="0: no agent (phones answer without media); C: a voice agent worker of capacity C, "
    "calls hold an agent slot before ringing, phones join LiveKit and talk",
)
def bench_peak(n_calls: int, json_output: bool, persistence: str, via: str, agents: int) -> None:
    """N calls due in the same minute: how fast every phone rings."""
    from callflow.local.bench.peak import main as peak_main

    sys.exit(peak_main(n_calls, json_output, persistence, via, agents))  # type: ignore[arg-type]


@bench.command("agent")
@click.option("--calls", "n_calls", type=int, default=5, show_default=True)
@click.option(
    "--concurrent", type=int, default=1, show_default=True, help="calls in progress at once"
)
@click.option(
    "--agent-workers", type=int, default=1, show_default=True, help="agent worker processes"
)
@click.option("--json", "json_output", is_flag=True, help="print the JSON line")
def bench_agent(n_calls: int, concurrent: int, agent_workers: int, json_output: bool) -> None:
    """M calls with the voice agent, N at a time: first audio, turn latency, audio gaps, and
    the agent's memory and CPU per call."""
    from callflow.local.bench.agent import main as agent_main

    sys.exit(agent_main(n_calls, json_output, concurrent=concurrent, agent_workers=agent_workers))


@main.group("eval")
def eval_group() -> None:
    """Measure parts of the system on labelled data; each ends with one JSON line (--json)."""


@eval_group.command("analysis")
@click.option(
    "--transcripts",
    "directory",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="directory of labelled transcripts (*.json)",
)
@click.option("--json", "json_output", is_flag=True, help="print the JSON line on stdout")
def eval_analysis(directory: Path, json_output: bool) -> None:
    """Score the configured post-call analyzer on labelled transcripts.

    The analyzer is the one the worker would build: the LLM analyzer when OPENAI_API_KEY is set,
    else the offline one. Figures go to stderr; --json adds one JSON line on stdout with
    transcripts, verdict_accuracy, new_commitment_accuracy, due_date_accuracy,
    recurrence_accuracy, new_commitment_precision, analyzer, errors and per-file misses.

    \b
    verdict_accuracy: correct verdicts / expected verdicts (no update counts as unclear).
    new_commitment_accuracy: expected and predicted new commitments are paired by text (at
      least half of the expected text's content words, stemmed, without stop words, numbers,
      dates or generic verbs, appear in the prediction); a pair is right when its due date and
      recurrence match; a file expecting none is one unit, right when none is predicted.
    due_date_accuracy: expected new commitments whose paired prediction has the right due
      date / expected new commitments.

    Exits 1 when a file could not be read or analysed (named with the field at fault).
    """
    from callflow.analysis.evaluation import main as eval_main

    sys.exit(eval_main(directory, json_output))


main.add_command(schedules)
main.add_command(calls)
main.add_command(import_group)
main.add_command(report)


def run() -> None:
    try:
        main()
    except ConfigurationError as e:
        click.echo(f"configuration error: {e}", err=True)
        sys.exit(2)
    finally:
        # Before the interpreter finalises: a Temporal SDK thread still running then aborts the
        # process after the command succeeded (callflow/telemetry.py says why).
        shutdown_sdk_runtimes()


if __name__ == "__main__":
    run()
