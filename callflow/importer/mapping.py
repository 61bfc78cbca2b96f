"""Which callflow user a source conversation belongs to.

The rule: a CSV mapping file first (columns `key,user_id`; the key is matched against the
conversation id, then the source system's user id, then the value of the dynamic variable),
then the dynamic variable itself (`user_id` by default). No match: the conversation is
unmapped, and reported with the keys that were tried.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from callflow.importer.conversation import SourceConversation
from callflow.importer.errors import UnreadableSource


@dataclass
class UserMapping:
    user_id_variable: str = "user_id"
    by_key: dict[str, str] = field(default_factory=dict)  # from the CSV file

    def user_for(self, conversation: SourceConversation) -> str | None:
        variable = conversation.dynamic_variables.get(self.user_id_variable)
        for key in (conversation.conversation_id, conversation.source_user_id, variable):
            if key and key in self.by_key:
                return self.by_key[key]
        return variable or None

    def unmapped_reason(self, conversation: SourceConversation) -> str:
        tried = [f"dynamic variable `{self.user_id_variable}` is not set"]
        if self.by_key:
            tried.insert(0, "no row of the mapping file matches its id, user id or variable")
        return "; ".join(tried)


def read_mapping_csv(path: Path) -> dict[str, str]:
    """`key,user_id` rows (a header row naming `user_id` is skipped)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableSource(f"mapping file {path}: cannot read it ({exc})") from exc
    mapping: dict[str, str] = {}
    for n, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise UnreadableSource(f"mapping file {path}, line {n}: expected `key,user_id`")
        if n == 1 and cells[1].lower() == "user_id":
            continue
        mapping[cells[0]] = cells[1]
    return mapping
