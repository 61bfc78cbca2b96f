"""The strict JSON reader shared by the call API and the codec server."""

from __future__ import annotations

import pytest

from callflow.strict_json import (
    NotJson,
    TooDeep,
    UnstorableText,
    json_depth_exceeds,
    loads_strict,
)


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(b'{"a": [[1]], "b": "[[[[[[["}', 3)
    assert json_depth_exceeds(b'{"a": [[[1]]]}', 3)
    assert not json_depth_exceeds(b'{"a": "\\"[[[[["}', 1)


def test_refusals_name_the_path() -> None:
    with pytest.raises(TooDeep):
        loads_strict(b"[" * 100_000)
    with pytest.raises(UnstorableText) as nul:
        loads_strict(b'{"user": {"names": ["ok", "a\\u0000b"]}}')
    assert nul.value.field == "user.names.1"
    with pytest.raises(UnstorableText) as key:
        loads_strict(b'{"a\\ud800": 1}')
    assert key.value.field == "body"
    with pytest.raises(NotJson):
        loads_strict(b"\xff")


def test_paired_surrogates_and_plain_text_pass() -> None:
    assert loads_strict(b'{"a": "\\ud83d\\ude00 caf\xc3\xa9"}') == {"a": "\U0001f600 café"}
