"""The one assembly: what each builder builds is what it says it built, and the worker's tuning
comes from the settings it is given (the local stack's worker is the production one)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from callflow.analysis.anthropic import AnthropicAnalyzer
from callflow.analysis.offline import OfflineAnalyzer
from callflow.analysis.openai import OpenAIAnalyzer
from callflow.runtime import Ports, build_analyzer, create_worker
from callflow.settings import Settings
from tests.workflows.fakes import (
    FakeRooms,
    MemoryMemory,
    MemoryRecords,
    RecordingNotifier,
    ScriptedAnalyzer,
)

ROOT = Path(__file__).resolve().parents[1]


def test_only_an_anthropic_key_builds_and_names_the_anthropic_analyzer() -> None:
    settings = Settings(_env_file=None, ANTHROPIC_API_KEY=SecretStr("sk-ant-x"))  # type: ignore[call-arg]
    built = build_analyzer(settings)
    assert isinstance(built.adapter, AnthropicAnalyzer)
    assert built.description == f"anthropic tool-use structured output ({settings.anthropic_model})"
    assert "sk-ant-x" not in built.description


def test_no_llm_key_builds_and_names_the_offline_analyzer() -> None:
    built = build_analyzer(Settings(_env_file=None))  # type: ignore[call-arg]
    assert isinstance(built.adapter, OfflineAnalyzer)
    assert built.description.startswith("offline heuristic analyzer")
    assert "OPENAI_API_KEY" in built.description and "ANTHROPIC_API_KEY" in built.description


def test_an_openai_key_builds_and_names_the_llm_analyzer() -> None:
    settings = Settings(_env_file=None, OPENAI_API_KEY=SecretStr("sk-x"))  # type: ignore[call-arg]
    built = build_analyzer(settings)
    assert isinstance(built.adapter, OpenAIAnalyzer)
    assert settings.openai_model in built.description
    assert "sk-x" not in built.description


@pytest.mark.parametrize("slots", [(7, 3, 11), (2000, 200, 4000)])
async def test_the_worker_is_tuned_by_its_settings(
    time_env: WorkflowEnvironment, slots: tuple[int, int, int]
) -> None:
    activities, workflow_tasks, cached = slots
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        task_queue=f"tuned-{activities}",
        worker_max_activities=activities,
        worker_max_workflow_tasks=workflow_tasks,
        worker_max_cached_workflows=cached,
    )
    ports = Ports(
        MemoryRecords(),
        MemoryMemory(),
        None,  # type: ignore[arg-type]
        FakeRooms(),
        ScriptedAnalyzer(),
        RecordingNotifier(),
    )
    worker = create_worker(time_env.client, ports, settings)
    config = worker.config()
    assert config["task_queue"] == f"tuned-{activities}"
    assert config["max_concurrent_activities"] == activities
    assert config["max_concurrent_workflow_tasks"] == workflow_tasks
    assert config["max_cached_workflows"] == cached


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_imports_the_worker_entry_point_and_production_never_imports_local() -> None:
    production = [
        p
        for folder in ("callflow", "activities", "workflows", "agent")
        for p in (ROOT / folder).rglob("*.py")
        if "local" not in p.relative_to(ROOT).parts and p.name != "cli.py"
    ]
    for path in production:
        imported = _imports(path)
        assert "worker" not in imported, f"{path} imports the worker.py entry point"
        local = {m for m in imported if m.startswith("callflow.local")}
        assert not local, f"{path} imports the local machinery: {sorted(local)}"
