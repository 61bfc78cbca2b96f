"""JSON request bodies read strictly: bounded nesting and only text that every store can hold.

Shared by the call API and the codec server. The nesting is counted on the raw bytes before
anything is decoded, so a body nested 100,000 deep is refused in one pass instead of reaching
the decoder's recursion limit. Strings (keys and values) with a NUL or an unpaired surrogate
are refused too: Postgres cannot store either, so letting them through turns a bad request
into a "store unavailable" answer that a good client retries forever.
"""

from __future__ import annotations

import json
import re

MAX_JSON_DEPTH = 32
# NUL, and surrogate code points (only an unpaired `\ud8xx` escape can produce them: a
# well-formed pair decodes to one astral character).
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
_OPEN, _CLOSE, _QUOTE, _BACKSLASH = b"[{", b"]}", ord('"'), ord("\\")


class StrictJsonError(ValueError):
    """The body is refused; `field` is the dotted path of the offending value, if any."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TooDeep(StrictJsonError):
    pass


class NotJson(StrictJsonError):
    pass


class UnstorableText(StrictJsonError):
    pass


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """True when arrays/objects in `body` nest deeper than `limit` (brackets in strings skipped)."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False


def loads_strict(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Decode `body` as UTF-8 JSON, refusing deep nesting and unstorable strings."""
    if json_depth_exceeds(body, max_depth):
        raise TooDeep(f"request body nests arrays/objects deeper than {max_depth} levels")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NotJson(f"request body is not valid JSON: {e}") from None
    _check_text(data, "")
    return data


def _check_text(value: object, path: str) -> None:
    if isinstance(value, str):
        _check_string(value, path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if UNSTORABLE_TEXT.search(key):
                raise UnstorableText(
                    f"a key of {path or 'the body'} {_why(key)}: send plain UTF-8 text",
                    field=path or "body",
                )
            _check_text(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}.{index}" if path else str(index))


def _check_string(text: str, path: str) -> None:
    if UNSTORABLE_TEXT.search(text):
        raise UnstorableText(f"`{path}` {_why(text)}: send plain UTF-8 text", field=path)


def _why(text: str) -> str:
    found = UNSTORABLE_TEXT.search(text)
    assert found is not None
    if found.group() == "\x00":
        return f"contains a NUL character (at index {found.start()})"
    return f"contains an unpaired UTF-16 surrogate (\\u{ord(found.group()):04x})"
