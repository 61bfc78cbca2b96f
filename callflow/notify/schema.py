"""The post-call webhook's JSON Schema (docs/post-call-webhook.md), shipped as package data:
callflow/notify/schemas/post_call.v<N>.json.

`jsonschema` is imported only by `post_call_problems`, which the local receiver and the tests
call; the sender never validates, so production needs no `jsonschema`.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from callflow.ports import POST_CALL_SCHEMA_VERSION

__all__ = ["POST_CALL_SCHEMA_VERSION", "post_call_problems", "post_call_schema"]


@functools.cache
def post_call_schema(version: int = POST_CALL_SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON Schema of the post-call webhook's body, version `version`."""
    source = resources.files("callflow.notify").joinpath(f"schemas/post_call.v{version}.json")
    schema: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    return schema


def post_call_problems(payload: object, version: int = POST_CALL_SCHEMA_VERSION) -> list[str]:
    """Where `payload` (a decoded JSON body) breaks the schema, one line each; [] when valid.

    Formats (date-time, date) are checked as far as the installed `jsonschema` can; the schema's
    patterns hold regardless."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(
        post_call_schema(version), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    problems = []
    for error in sorted(validator.iter_errors(payload), key=lambda e: list(map(str, e.path))):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        problems.append(f"{where}: {error.message}")
    return problems
