"""The history import's vocabulary: its workflow type, query name, and one dataclass per input,
output and query result (workflows/import_history.py, activities/importing.py, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IMPORT_WORKFLOW_TYPE = "ImportHistoryWorkflow"
IMPORT_STATUS_QUERY = "status"
KEPT_REASONS = 500  # item reasons a run carries (the rest are counted in `reasons_omitted`)


def import_workflow_id(run_id: str) -> str:
    return f"import-{run_id}"


class ItemStatus:
    IMPORTED = "imported"
    SKIPPED = "skipped"
    UNMAPPED = "unmapped"
    FAILED = "failed"


@dataclass
class ImportSource:
    kind: str  # "elevenlabs" | "file"
    agent_id: str | None = None  # elevenlabs
    path: str | None = None  # file: a JSON or JSONL export
    since_unix_s: int | None = None  # only conversations started at or after this
    mapping_path: str | None = None  # CSV `key,user_id`
    user_id_variable: str = "user_id"
    source_name: str = "elevenlabs"  # the call records' `source`


@dataclass
class PageItem:
    item_id: str  # the conversation id, or "line N" for a line that could not be read
    payload: dict[str, Any] | None = None  # the conversation body (file imports)
    error: str | None = None  # why the item cannot be read (malformed)


@dataclass
class PageInput:
    run_id: str
    source: ImportSource
    cursor: str | None = None  # elevenlabs: the API's cursor; file: the offset, as text
    page_size: int = 50


@dataclass
class PageOutput:
    items: list[PageItem] = field(default_factory=list)
    next_cursor: str | None = None  # None: this was the last page
    total: int | None = None  # known for files


@dataclass
class ItemInput:
    run_id: str
    source: ImportSource
    item: PageItem
    dry_run: bool = False


@dataclass
class ItemOutcome:
    item_id: str
    status: str  # an ItemStatus
    reason: str | None = None
    user_id: str | None = None


@dataclass
class ImportCounts:
    imported: int = 0
    skipped: int = 0
    unmapped: int = 0
    failed: int = 0

    @property
    def processed(self) -> int:
        return self.imported + self.skipped + self.unmapped + self.failed

    def add(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)


@dataclass
class ImportReport:
    run_id: str
    kind: str
    counts: ImportCounts = field(default_factory=ImportCounts)
    reasons: list[ItemOutcome] = field(default_factory=list)  # every item not imported
    reasons_omitted: int = 0
    pages: int = 0
    total: int | None = None
    done: bool = False
    dry_run: bool = False
    error: str | None = None  # the run itself could not go on (unknown agent, unreadable file)


@dataclass
class ImportInput:
    run_id: str
    source: ImportSource
    dry_run: bool = False
    page_size: int = 50
    batch_size: int = 10  # items imported at once
    rate_per_s: float = 5.0  # items per second at most (0: unlimited)
    item_attempts: int = 5
    # Carried across continue-as-new:
    cursor: str | None = None
    report: ImportReport | None = None
