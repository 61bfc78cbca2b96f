"""The alert rules pass `promtool check rules`, their unit tests (`promtool test rules`, every
alert fired by synthetic series and kept quiet by others) pass, and the dashboard and the rules
only read metrics that callflow exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from callflow.monitoring.metrics import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts_test.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "callflow.json"
ALERTS = {
    "CallCompletionRateLow",
    "FirstAudioSlow",
    "CallStuck",
    "PostCallWebhook5xx",
    "ApnsClientErrorSpike",
    "NoAgentCapacity",
}
# Exported by other registries: the agent worker's gauges, the API's request metrics.
OTHER_METRICS = {"callflow_agent_worker_capacity", "callflow_agent_active_calls",
                 "callflow_http_requests_total"}  # fmt: skip


def promtool() -> str:
    """$CALLFLOW_PROMTOOL_BIN (`make test` sets it), else the `make install` cache, else PATH."""
    configured = os.environ.get("CALLFLOW_PROMTOOL_BIN")
    candidates = [configured] if configured else []
    candidates.append(str(Path.home() / ".cache/callflow/bin/promtool-v0.316.0"))
    for candidate in candidates:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: run `make install` (or set CALLFLOW_PROMTOOL_BIN)")
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=120, cwd=MONITORING
    )


def test_the_rules_pass_promtool_check() -> None:
    done = run_promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_unit_tests_that_pass() -> None:
    done = run_promtool("test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = [a for t in tests for a in t.get("alert_rule_test", [])]
    assert {a["alertname"] for a in tested} == ALERTS
    for alert in ALERTS:  # each one seen firing and seen quiet
        cases = [a for a in tested if a["alertname"] == alert]
        assert any(a["exp_alerts"] for a in cases), f"{alert} never fires in a test"
        assert any(not a["exp_alerts"] for a in cases), f"{alert} is never tested quiet"


def test_the_rules_define_the_alerts() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert {r["alert"] for g in groups for r in g["rules"] if "alert" in r} == ALERTS


def exported_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        if family.type == "histogram":
            names |= {f"{family.name}_bucket", f"{family.name}_count", f"{family.name}_sum"}
        elif family.type == "counter":
            names.add(f"{family.name}_total")
        else:
            names.add(family.name)
    return names | OTHER_METRICS


def test_the_dashboard_and_rules_read_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    used = {n for e in exprs for n in re.findall(r"\b(callflow_[a-z_]+)\b", e)}
    assert used, "no callflow metric in the dashboard"
    assert used <= exported_names(), f"not exported: {used - exported_names()}"
    assert dashboard["uid"] == "callflow-calls" and len(dashboard["panels"]) >= 10
