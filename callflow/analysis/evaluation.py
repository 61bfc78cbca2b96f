"""Measure a post-call analyzer on labelled transcripts (`callflow eval analysis`).

A labelled transcript is one JSON file:

    {"local_date": "2026-12-01", "timezone": "Europe/Berlin",
     "due_commitments": [{"commitment_id": "c1", "text": "...", "due_date": "2026-12-01"}],
     "transcript": [{"role": "agent", "text": "..."}, {"role": "user", "text": "..."}],
     "expected": {"verdicts": {"c1": "broken"},
                  "new_commitments": [{"text": "...", "due_date": "2026-12-02",
                                       "recurrence": "daily"}]}}

(`recurrence` is null or daily | weekdays | weekly; an optional top-level `default_due_date` is
passed to the analyzer as the user's next call date.) Each file is analysed with its local date,
time zone and due commitments, and scored:

verdict_accuracy
    correct verdicts / all expected verdicts. A due commitment the analysis gives no update for
    counts as `unclear`.
new_commitment_accuracy
    Expected and predicted new commitments are paired one to one by text: a pair is a candidate
    when at least half of the expected text's content words (lowercased, lightly stemmed; no
    stop words, numbers, dates or generic verbs like do/go/get/make/try; see
    callflow.analysis.text) are among the prediction's (`overlap >= 0.5`), best overlaps first.
    An expected commitment is right when it is paired and its due date and recurrence both
    match. A file expecting no new commitment adds one unit, right when nothing was predicted.
    accuracy = right units / (expected new commitments + files expecting none).
due_date_accuracy
    expected new commitments whose paired prediction has the expected due date / all expected
    new commitments (null when the set expects none).
recurrence_accuracy
    the same for the recurrence.
new_commitment_precision
    predictions paired with an expected commitment / all predictions (null when none).

A file that is not valid JSON, or misses or mistypes a field, is reported with its name and the
field and left out of every figure; the others still run. An analyzer that raises on a file is
reported the same way.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from callflow.analysis.text import overlap
from callflow.models import Commitment
from callflow.ports import CallAnalysis, CallAnalyzer

VERDICTS = ("kept", "broken", "partly", "unclear")
RECURRENCES = (None, "daily", "weekdays", "weekly")
MATCH_THRESHOLD = 0.5


class CaseError(ValueError):
    """A labelled transcript that cannot be read; the message names the file and the field."""


@dataclass
class ExpectedNew:
    text: str
    due_date: str
    recurrence: str | None


@dataclass
class Case:
    name: str
    local_date: str
    timezone: str
    due_commitments: list[Commitment]
    transcript: list[dict[str, str]]
    verdicts: dict[str, str]
    new_commitments: list[ExpectedNew]
    default_due_date: str | None = None


def _need(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise CaseError(f"{where}{key}: missing")
    value = doc[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CaseError(f"{where}{key}: expected {names}, got {type(value).__name__}")
    return value


def _iso(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CaseError(f"{where}: expected an ISO date string, got {value!r}")
    try:
        date.fromisoformat(value)
    except ValueError:
        raise CaseError(f"{where}: not an ISO date (YYYY-MM-DD): {value!r}") from None
    return value


def parse_case(name: str, doc: Any) -> Case:
    """The case a decoded file holds; CaseError names the field that is wrong."""
    if not isinstance(doc, dict):
        raise CaseError("top level: expected a JSON object")
    local_date = _iso(_need(doc, "local_date", str, ""), "local_date")
    timezone = _need(doc, "timezone", str, "")
    default_due = doc.get("default_due_date")
    if default_due is not None:
        default_due = _iso(default_due, "default_due_date")
    due: list[Commitment] = []
    for i, raw in enumerate(_need(doc, "due_commitments", list, "")):
        where = f"due_commitments[{i}]."
        if not isinstance(raw, dict):
            raise CaseError(f"due_commitments[{i}]: expected an object")
        due_date = raw.get("due_date")
        due.append(
            Commitment(
                commitment_id=_need(raw, "commitment_id", str, where),
                user_id="eval",
                text=_need(raw, "text", str, where),
                due_date=_iso(due_date, f"{where}due_date") if due_date is not None else None,
            )
        )
    transcript: list[dict[str, str]] = []
    for i, raw in enumerate(_need(doc, "transcript", list, "")):
        where = f"transcript[{i}]."
        if not isinstance(raw, dict):
            raise CaseError(f"transcript[{i}]: expected an object")
        role = _need(raw, "role", str, where)
        if role not in ("agent", "user"):
            raise CaseError(f"{where}role: expected 'agent' or 'user', got {role!r}")
        transcript.append({"role": role, "text": _need(raw, "text", str, where)})
    expected = _need(doc, "expected", dict, "")
    verdicts = _need(expected, "verdicts", dict, "expected.")
    ids = {c.commitment_id for c in due}
    for cid, verdict in verdicts.items():
        if cid not in ids:
            raise CaseError(f"expected.verdicts.{cid}: not a due commitment's id")
        if verdict not in VERDICTS:
            raise CaseError(f"expected.verdicts.{cid}: expected one of {VERDICTS}, got {verdict!r}")
    new: list[ExpectedNew] = []
    for i, raw in enumerate(_need(expected, "new_commitments", list, "expected.")):
        where = f"expected.new_commitments[{i}]."
        if not isinstance(raw, dict):
            raise CaseError(f"expected.new_commitments[{i}]: expected an object")
        recurrence = raw.get("recurrence")
        if "recurrence" not in raw or recurrence not in RECURRENCES:
            raise CaseError(f"{where}recurrence: expected null, daily, weekdays or weekly")
        new.append(
            ExpectedNew(
                text=_need(raw, "text", str, where),
                due_date=_iso(raw.get("due_date"), f"{where}due_date"),
                recurrence=recurrence,
            )
        )
    return Case(name, local_date, timezone, due, transcript, dict(verdicts), new, default_due)


def load_case(path: Path) -> Case:
    """The case in `path`; CaseError("<file>: <field>: <problem>") when it is malformed."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError(f"{path.name}: cannot be read: {e}") from None
    except json.JSONDecodeError as e:
        raise CaseError(f"{path.name}: not valid JSON: {e}") from None
    try:
        return parse_case(path.name, doc)
    except CaseError as e:
        raise CaseError(f"{path.name}: {e}") from None


@dataclass
class FileScore:
    file: str
    verdicts_right: int = 0
    verdicts: int = 0
    new_right: int = 0  # units for new_commitment_accuracy
    new_units: int = 0
    expected_new: int = 0
    due_dates_right: int = 0
    recurrences_right: int = 0
    predicted_new: int = 0
    predicted_paired: int = 0
    misses: list[str] = field(default_factory=list)


def _pairs(expected: list[ExpectedNew], predicted: list[Any]) -> dict[int, int]:
    """expected index -> predicted index, one to one, best text overlap first."""
    candidates = sorted(
        (
            (-overlap(e.text, p.text), i, j)
            for i, e in enumerate(expected)
            for j, p in enumerate(predicted)
            if overlap(e.text, p.text) >= MATCH_THRESHOLD
        ),
    )
    paired: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in candidates:
        if i not in paired and j not in used:
            paired[i] = j
            used.add(j)
    return paired


def score(case: Case, analysis: CallAnalysis) -> FileScore:
    s = FileScore(case.name)
    got: dict[str, str] = {}
    for u in analysis.commitment_updates:
        got.setdefault(u.commitment_id, u.status)
    for cid, want in case.verdicts.items():
        s.verdicts += 1
        have = got.get(cid, "unclear")
        if have == want:
            s.verdicts_right += 1
        else:
            s.misses.append(f"verdict {cid}: expected {want}, got {have}")
    predicted = list(analysis.new_commitments)
    s.predicted_new = len(predicted)
    if not case.new_commitments:
        s.new_units = 1
        if predicted:
            s.misses.append(
                "expected no new commitment, got " + ", ".join(repr(p.text) for p in predicted)
            )
        else:
            s.new_right = 1
        return s
    paired = _pairs(case.new_commitments, predicted)
    s.expected_new = s.new_units = len(case.new_commitments)
    s.predicted_paired = len(paired)
    for i, e in enumerate(case.new_commitments):
        if i not in paired:
            s.misses.append(
                f"new commitment {e.text!r}: not found among "
                f"[{', '.join(repr(p.text) for p in predicted)}]"
            )
            continue
        p = predicted[paired[i]]
        date_ok, recurrence_ok = p.due_date == e.due_date, p.recurrence == e.recurrence
        s.due_dates_right += date_ok
        s.recurrences_right += recurrence_ok
        s.new_right += date_ok and recurrence_ok
        if not date_ok:
            s.misses.append(f"new commitment {e.text!r}: due {p.due_date}, expected {e.due_date}")
        if not recurrence_ok:
            s.misses.append(
                f"new commitment {e.text!r}: recurrence {p.recurrence}, expected {e.recurrence}"
            )
    for j, p in enumerate(predicted):
        if j not in paired.values():
            s.misses.append(f"extra new commitment {p.text!r}")
    return s


def _fraction(right: int, total: int) -> float | None:
    return round(right / total, 4) if total else None


@dataclass
class Report:
    analyzer: str
    scores: list[FileScore] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.scores)

    def figures(self) -> dict[str, Any]:
        return {
            "analyzer": self.analyzer,
            "transcripts": len(self.scores),
            "verdicts": self._sum("verdicts"),
            "verdict_accuracy": _fraction(self._sum("verdicts_right"), self._sum("verdicts")),
            "expected_new_commitments": self._sum("expected_new"),
            "new_commitment_accuracy": _fraction(self._sum("new_right"), self._sum("new_units")),
            "due_date_accuracy": _fraction(self._sum("due_dates_right"), self._sum("expected_new")),
            "recurrence_accuracy": _fraction(
                self._sum("recurrences_right"), self._sum("expected_new")
            ),
            "new_commitment_precision": _fraction(
                self._sum("predicted_paired"), self._sum("predicted_new")
            ),
            "errors": self.errors,
            "misses": [{"file": s.file, "misses": s.misses} for s in self.scores if s.misses],
        }

    def human(self) -> str:
        f = self.figures()

        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.1%}"

        lines = [
            f"analyzer: {f['analyzer']}",
            f"transcripts: {f['transcripts']} scored, {len(self.errors)} unreadable",
            f"verdict accuracy:        {pct(f['verdict_accuracy'])} of {f['verdicts']} verdicts",
            f"new commitment accuracy: {pct(f['new_commitment_accuracy'])}",
            f"due date accuracy:       {pct(f['due_date_accuracy'])} of "
            f"{f['expected_new_commitments']} expected new commitments",
            f"recurrence accuracy:     {pct(f['recurrence_accuracy'])}",
            f"new commitment precision: {pct(f['new_commitment_precision'])}",
        ]
        for s in self.scores:
            for miss in s.misses:
                lines.append(f"  miss {s.file}: {miss}")
        for e in self.errors:
            lines.append(f"  error {e['file']}: {e['error']}")
        return "\n".join(lines)


async def evaluate(analyzer: CallAnalyzer, directory: Path, description: str) -> Report:
    """Run `analyzer` on every `*.json` in `directory` (sorted by name) and score it."""
    report = Report(description)
    for path in sorted(directory.glob("*.json")):
        try:
            case = load_case(path)
        except CaseError as e:
            report.errors.append({"file": path.name, "error": str(e)})
            continue
        try:
            analysis = await analyzer.analyze(
                case.transcript,
                case.due_commitments,
                local_date=case.local_date,
                timezone=case.timezone,
                default_due_date=case.default_due_date,
            )
        except Exception as e:  # one failing file must not hide the others' figures
            report.errors.append(
                {
                    "file": path.name,
                    "error": f"{path.name}: analyzer failed: {type(e).__name__}: {e}",
                }
            )
            continue
        report.scores.append(score(case, analysis))
    return report


async def _run_configured(directory: Path) -> Report:
    from callflow.runtime import build_analyzer
    from callflow.settings import get_settings

    built = build_analyzer(get_settings())
    try:
        return await evaluate(built.adapter, directory, built.description)
    finally:
        close = getattr(built.adapter, "close", None)
        if close is not None:
            await close()


def main(directory: Path, json_output: bool) -> int:
    """The command: figures on stderr, the JSON line on stdout with --json; 1 if a file failed."""
    report = asyncio.run(_run_configured(directory))
    print(report.human(), file=sys.stderr)
    if json_output:
        print(json.dumps(report.figures()), flush=True)
    return 1 if report.errors else 0
