"""The model defaults are current: none is retired or shutting down (tests/support/model_catalog.py,
checked 2026-12-01), no such id is written anywhere in the code or the shipped configuration, and
the Cartesia STT default is a model the installed plugin knows."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from livekit.plugins.cartesia.models import STTModels

from callflow.settings import Settings
from tests.support.model_catalog import RETIRED_ANTHROPIC_MODELS, RETIRED_OPENAI_MODELS

ROOT = Path(__file__).resolve().parents[1]
RETIRED = RETIRED_ANTHROPIC_MODELS | RETIRED_OPENAI_MODELS
SHIPPED = [
    *sorted((ROOT / "callflow").rglob("*.py")),
    *sorted((ROOT / "agent").rglob("*.py")),
    *sorted((ROOT / "activities").rglob("*.py")),
    *sorted((ROOT / "workflows").rglob("*.py")),
    ROOT / "worker.py",
    ROOT / ".env.example",
    ROOT / "docker-compose.yml",
]


@pytest.mark.parametrize("field", ["openai_model", "anthropic_model"])
def test_llm_defaults_are_not_retired(field: str) -> None:
    default = Settings.model_fields[field].default
    assert default not in RETIRED, f"{field} defaults to {default}, which is retired"


def test_the_cartesia_stt_default_is_a_model_the_plugin_knows() -> None:
    known: set[str] = set()
    for arg in typing.get_args(STTModels):
        known |= set(typing.get_args(arg)) or {arg}
    assert Settings.model_fields["cartesia_stt_model"].default in known


def test_no_retired_model_id_is_written_in_shipped_files() -> None:
    """As a value: a quoted string in Python, a `KEY=value` or `key: value` in the configuration
    (comments may name a retired model, to say why it is gone)."""
    ids = "|".join(re.escape(m) for m in sorted(RETIRED, key=len, reverse=True))
    quoted = re.compile(rf"""["']({ids})["']""")
    assigned = re.compile(rf"^[^#]*(?:=|:-?)\s*({ids})\s*}}?\s*$")
    found = []
    for path in SHIPPED:
        if not path.exists() or path.name == "model_params.py":  # that one names families
            continue
        pattern = quoted if path.suffix == ".py" else assigned
        for n, line in enumerate(path.read_text().splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{n}: {m[1]}" for m in pattern.finditer(line)]
    assert found == []
