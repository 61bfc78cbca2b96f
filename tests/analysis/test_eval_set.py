"""The labelled transcripts: the offline analyzer's measured accuracy, the scoring rules, the
handling of malformed files, and `callflow eval analysis`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from callflow.analysis.evaluation import (
    CaseError,
    evaluate,
    load_case,
    parse_case,
    score,
)
from callflow.analysis.offline import OfflineAnalyzer
from callflow.cli import main
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment

TRANSCRIPTS = Path(__file__).parent / "transcripts"
TARGET = 0.9


def case_doc(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "local_date": "2026-12-01",
        "timezone": "Europe/Berlin",
        "due_commitments": [
            {"commitment_id": "c1", "text": "run three times this week", "due_date": "2026-12-01"}
        ],
        "transcript": [
            {"role": "agent", "text": "Did you get your three runs in?"},
            {"role": "user", "text": "Yes, well, no, actually I skipped it all week."},
            {"role": "agent", "text": "Something smaller for the coming days?"},
            {"role": "user", "text": "I'll walk every evening."},
        ],
        "expected": {
            "verdicts": {"c1": "broken"},
            "new_commitments": [
                {"text": "walk every evening", "due_date": "2026-12-02", "recurrence": "daily"}
            ],
        },
    }
    doc.update(overrides)
    return doc


def test_the_set_is_large_and_every_file_reads() -> None:
    files = sorted(TRANSCRIPTS.glob("*.json"))
    assert len(files) >= 45
    cases = [load_case(f) for f in files]
    assert sum(1 for c in cases if not c.new_commitments) >= 10  # calls with nothing new
    assert any(not any(t["role"] == "user" for t in c.transcript) for c in cases)  # silence
    assert len({c.timezone for c in cases}) >= 10
    verdicts = {v for c in cases for v in c.verdicts.values()}
    assert verdicts == {"kept", "broken", "partly", "unclear"}
    recurrences = {n.recurrence for c in cases for n in c.new_commitments}
    assert recurrences == {None, "daily", "weekdays", "weekly"}


async def test_offline_analyzer_meets_the_targets_on_the_labelled_set() -> None:
    report = await evaluate(OfflineAnalyzer(), TRANSCRIPTS, "offline")
    figures = report.figures()
    assert figures["errors"] == []
    assert figures["transcripts"] >= 45
    assert figures["verdict_accuracy"] >= TARGET, report.human()
    assert figures["due_date_accuracy"] >= TARGET, report.human()


def test_scoring_pairs_by_content_words_and_checks_date_and_recurrence() -> None:
    case = parse_case("x.json", case_doc())
    right = CallAnalysis(
        summary="s",
        mood="low",
        commitment_updates=[CommitmentUpdate("c1", "broken")],
        # Half of the expected content words ({walk}) is enough: "a walk after dinner" names it.
        new_commitments=[NewCommitment("go for a walk after dinner", "2026-12-02", "daily")],
    )
    s = score(case, right)
    assert (s.verdicts_right, s.verdicts, s.new_right, s.due_dates_right, s.misses) == (
        1,
        1,
        1,
        1,
        [],
    )
    wrong = CallAnalysis(
        summary="s",
        mood="low",
        commitment_updates=[],  # no update: read as unclear
        new_commitments=[
            NewCommitment("walk every evening", "2026-12-03", None),
            NewCommitment("call mum", "2026-12-02"),
        ],
    )
    s = score(case, wrong)
    assert (s.verdicts_right, s.new_right, s.due_dates_right, s.recurrences_right) == (0, 0, 0, 0)
    assert s.misses == [
        "verdict c1: expected broken, got unclear",
        "new commitment 'walk every evening': due 2026-12-03, expected 2026-12-02",
        "new commitment 'walk every evening': recurrence None, expected daily",
        "extra new commitment 'call mum'",
    ]


def test_a_file_expecting_nothing_new_is_right_only_when_nothing_is_predicted() -> None:
    case = parse_case("x.json", case_doc(expected={"verdicts": {}, "new_commitments": []}))
    nothing = CallAnalysis(summary="s", mood="neutral")
    assert (score(case, nothing).new_right, score(case, nothing).new_units) == (1, 1)
    something = CallAnalysis(
        summary="s", mood="neutral", new_commitments=[NewCommitment("be honest", "2026-12-02")]
    )
    s = score(case, something)
    assert (s.new_right, s.new_units) == (0, 1)
    assert s.misses == ["expected no new commitment, got 'be honest'"]


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps(case_doc(local_date="1 December")), "local_date: not an ISO date"),
        (json.dumps({k: v for k, v in case_doc().items() if k != "timezone"}), "timezone: missing"),
        (
            json.dumps(case_doc(expected={"verdicts": {"c1": "maybe"}, "new_commitments": []})),
            "expected.verdicts.c1",
        ),
        (
            json.dumps(case_doc(expected={"verdicts": {"c9": "kept"}, "new_commitments": []})),
            "expected.verdicts.c9: not a due commitment's id",
        ),
        (
            json.dumps(
                case_doc(
                    expected={
                        "verdicts": {},
                        "new_commitments": [{"text": "walk", "due_date": "2026-12-02"}],
                    }
                )
            ),
            "expected.new_commitments[0].recurrence",
        ),
        (
            json.dumps(case_doc(transcript=[{"role": "coach", "text": "hi"}])),
            "transcript[0].role",
        ),
    ],
)
def test_a_malformed_file_names_the_file_and_the_field(
    tmp_path: Path, content: str, named: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CaseError, match=r"^bad\.json: ") as raised:
        load_case(path)
    assert named in str(raised.value)


async def test_malformed_files_are_reported_and_the_rest_still_run(tmp_path: Path) -> None:
    (tmp_path / "a_good.json").write_text(json.dumps(case_doc()))
    (tmp_path / "b_broken.json").write_text("{")
    (tmp_path / "c_missing.json").write_text(
        json.dumps({k: v for k, v in case_doc().items() if k != "expected"})
    )
    report = await evaluate(OfflineAnalyzer(), tmp_path, "offline")
    figures = report.figures()
    assert figures["transcripts"] == 1
    assert figures["verdict_accuracy"] == 1.0 and figures["due_date_accuracy"] == 1.0
    assert [(e["file"], e["error"].split(": ")[1]) for e in figures["errors"]] == [
        ("b_broken.json", "not valid JSON"),
        ("c_missing.json", "expected"),
    ]
    assert "c_missing.json: expected: missing" in report.human()


def test_cli_prints_the_json_line_with_the_figures() -> None:
    result = CliRunner().invoke(
        main, ["eval", "analysis", "--transcripts", str(TRANSCRIPTS), "--json"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in (
        "transcripts",
        "verdict_accuracy",
        "due_date_accuracy",
        "new_commitment_accuracy",
        "analyzer",
        "misses",
    ):
        assert key in figures
    assert figures["transcripts"] == len(list(TRANSCRIPTS.glob("*.json")))
    assert "offline" in figures["analyzer"]  # no OPENAI_API_KEY in tests
    for key in ("verdict_accuracy", "due_date_accuracy", "new_commitment_accuracy"):
        assert 0.0 <= figures[key] <= 1.0
    assert "verdict accuracy" in result.stderr  # the human-readable figures
    assert len(lines) == 1  # stdout holds the JSON line only


def test_cli_exits_1_naming_a_malformed_file(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps(case_doc()))
    (tmp_path / "bad.json").write_text(json.dumps(case_doc(timezone=3)))
    result = CliRunner().invoke(main, ["eval", "analysis", "--transcripts", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.json: timezone: expected str, got int" in result.stderr
    assert result.stdout == ""  # no --json: nothing on stdout
