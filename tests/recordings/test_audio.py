"""Trimming the recording's lead-in and reading its duration and channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from callflow.recordings.audio import probe, recording_key, trim_start
from tests.recordings.audio_checks import decode, rms, write_tones


def test_trim_start_drops_the_lead_in_and_keeps_both_channels(tmp_path: Path) -> None:
    source, trimmed = tmp_path / "in.ogg", tmp_path / "out.ogg"
    write_tones(source, seconds=10, left_from=3, right_from=6)

    trim_start(source, trimmed, 2.5)

    info = probe(trimmed)
    assert info.channels == 2 and info.sample_rate == 48000
    assert info.duration_s == pytest.approx(7.5, abs=0.05)
    samples, rate = decode(trimmed)
    assert samples.shape[1] / rate == pytest.approx(7.5, abs=0.05)
    # The tones moved 2.5 s earlier, each on its own channel.
    left_silent, right_silent = rms(samples, rate, 0.0, 0.4)
    assert left_silent < 0.01 and right_silent < 0.01
    left, right = rms(samples, rate, 1.0, 3.0)
    assert left > 0.15 and right < 0.01
    left, right = rms(samples, rate, 4.0, 7.0)
    assert left > 0.15 and right > 0.15


def test_nothing_to_trim_keeps_the_whole_file(tmp_path: Path) -> None:
    source, same = tmp_path / "in.ogg", tmp_path / "out.ogg"
    write_tones(source, seconds=3, left_from=0, right_from=1)
    trim_start(source, same, 0.0)
    assert probe(same).duration_s == pytest.approx(probe(source).duration_s, abs=0.001)


def test_a_recording_is_keyed_by_its_call_id() -> None:
    assert recording_key("abc123") == "calls/abc123.ogg"


def test_trim_keeps_only_the_window_between_start_and_until(tmp_path: Path) -> None:
    source, trimmed = tmp_path / "in.ogg", tmp_path / "out.ogg"
    write_tones(source, seconds=10, left_from=3, right_from=6)

    trim_start(source, trimmed, 2.0, until_s=8.5)

    assert probe(trimmed).duration_s == pytest.approx(6.5, abs=0.05)
