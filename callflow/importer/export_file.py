"""An export file of conversations (docs/history-import.md): JSONL, one conversation body per
line, or JSON, an array of them or an object with a `conversations` array. Each body has the
shape of ElevenLabs' `GET /v1/convai/conversations/{id}`.

Pages are slices by position; a line that is not a conversation becomes an item with an error
naming the line, so it is reported and the rest still import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from callflow.importer.conversation import parse_conversation
from callflow.importer.errors import MalformedItem, UnreadableSource
from workflows.import_messages import PageItem


@dataclass
class _Entry:
    where: str  # "line 3" / "item 3"
    body: object = None
    error: str | None = None


def _read_entries(path: Path) -> list[_Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableSource(f"export file {path}: cannot read it ({exc})") from exc
    stripped = text.lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and path.suffix == ".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UnreadableSource(f"export file {path}: not valid JSON ({exc})") from exc
        items = data.get("conversations") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise UnreadableSource(
                f"export file {path}: expected an array of conversations, or an object with a"
                " `conversations` array"
            )
        return [_Entry(f"item {n}", body) for n, body in enumerate(items, start=1)]
    entries = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(_Entry(f"line {n}", json.loads(line)))
        except ValueError as exc:
            entries.append(_Entry(f"line {n}", error=f"line {n}: not JSON ({exc})"))
    return entries


class ExportFile:
    """Reads one export file; the parse is kept while the file is unchanged."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, int, list[_Entry]]] = {}

    def _entries(self, path: Path) -> list[_Entry]:
        try:
            stat = path.stat()
        except OSError as exc:
            raise UnreadableSource(f"export file {path}: cannot read it ({exc})") from exc
        key = str(path.resolve())
        cached = self._cache.get(key)
        if cached is not None and cached[:2] == (stat.st_mtime, stat.st_size):
            return cached[2]
        entries = _read_entries(path)
        self._cache = {key: (stat.st_mtime, stat.st_size, entries)}
        return entries

    def page(self, path: Path, offset: int, limit: int) -> tuple[list[PageItem], int]:
        """Items `offset..offset+limit` and the number of entries in the file."""
        entries = self._entries(path)
        items = []
        for entry in entries[offset : offset + limit]:
            if entry.error is not None:
                items.append(PageItem(entry.where, error=entry.error))
                continue
            try:
                conversation = parse_conversation(entry.body, entry.where)
            except MalformedItem as exc:
                items.append(PageItem(entry.where, error=str(exc)))
                continue
            assert isinstance(entry.body, dict)
            items.append(PageItem(conversation.conversation_id, payload=entry.body))
        return items, len(entries)
