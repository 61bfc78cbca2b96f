"""`callflow import file`: an export with a malformed line among good ones, through the same
workflow and activities; and the export reader on its own."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import asyncpg
import pytest

from callflow.importer.errors import UnreadableSource
from callflow.importer.export_file import ExportFile
from callflow.importer.runner import ImportTarget, run_import
from callflow.models import User
from callflow.records.postgres import PostgresRecords
from tests.importer.conftest import ImportWorkers
from tests.importer.elevenlabs_server import conversation_body
from tests.importer.test_elevenlabs_import import MONDAY
from workflows.import_messages import ImportInput, ImportSource


def write_export(path: Path, tag: str, user_id: str) -> None:
    good = [
        conversation_body(
            f"file-{n}-{tag}",
            agent_id="agent-file",
            start_unix_s=MONDAY + n * 3600,
            turns=[("agent", "Hi"), ("user", f"Tomorrow I will read {n + 1} chapters.")],
            dynamic_variables={"user_id": user_id},
        )
        for n in range(3)
    ]
    unmapped = conversation_body(
        f"file-u-{tag}", agent_id="agent-file", start_unix_s=MONDAY, turns=[("user", "Hi")]
    )
    lines = [json.dumps(good[0]), "{not json", json.dumps(good[1]), ""]
    lines += [json.dumps({"conversation_id": f"file-m-{tag}", "metadata": {}})]
    lines += [json.dumps(unmapped), json.dumps(good[2])]
    path.write_text("\n".join(lines) + "\n")


async def test_a_malformed_line_is_reported_and_the_rest_imported(
    import_workers: ImportWorkers,
    records: PostgresRecords,
    db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    tag = secrets.token_hex(3)
    user_id = f"cy-{tag}"
    await records.upsert_user(User(user_id, "Cy", None, timezone="UTC"))
    export = tmp_path / "export.jsonl"
    write_export(export, tag, user_id)
    source = ImportSource(kind="file", path=str(export))
    target = ImportTarget(
        import_workers.client, import_workers.settings.task_queue, import_workers.settings
    )

    async with import_workers.running():
        first = await asyncio.wait_for(
            run_import(target, ImportInput(f"f-{tag}", source, page_size=3, rate_per_s=0)), 120
        )
        second = await asyncio.wait_for(
            run_import(target, ImportInput(f"f2-{tag}", source, page_size=3, rate_per_s=0)), 120
        )

    c = first.counts
    assert (c.imported, c.skipped, c.unmapped, c.failed) == (3, 0, 1, 2), first
    assert first.total == 6 and first.done
    reasons = {r.item_id: r.reason or "" for r in first.reasons}
    assert reasons["line 2"].startswith("line 2: not JSON")
    assert "line 5" in reasons["line 5"] and "start_time_unix_secs" in reasons["line 5"]
    assert "user_id" in reasons[f"file-u-{tag}"]
    c2 = second.counts
    assert (c2.imported, c2.skipped, c2.unmapped, c2.failed) == (0, 3, 1, 2), second
    calls = await db.fetchval("select count(*) from calls where user_id = $1", user_id)
    assert calls == 3
    due = sorted(c.due_date for c in await records.open_commitments(user_id))
    assert due == ["2026-03-03"] * 3


def test_a_json_array_export_reads_like_jsonl(tmp_path: Path) -> None:
    body = conversation_body("c1", agent_id="a", start_unix_s=MONDAY, turns=[("user", "Hi")])
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"conversations": [body, {"metadata": {}}]}))
    items, total = ExportFile().page(path, 0, 10)
    assert total == 2
    assert items[0].item_id == "c1" and items[0].payload == body
    assert items[1].item_id == "item 2" and "conversation_id" in (items[1].error or "")


def test_an_unreadable_export_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(UnreadableSource, match=r"nope\.jsonl"):
        ExportFile().page(missing, 0, 1)
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(UnreadableSource, match=r"broken\.json: not valid JSON"):
        ExportFile().page(broken, 0, 1)
