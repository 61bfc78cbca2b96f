"""The user id -> Supermemory namespace mapping: valid for every user id, stable, distinct."""

from __future__ import annotations

import itertools

import pytest

from callflow.memory.errors import InvalidMemory
from callflow.memory.namespaces import NAMESPACE_MAX_LEN, NAMESPACE_PATTERN, namespace_for

USER_IDS = [
    "u-1",
    "ada.lovelace@example.com",
    "ada-lovelace-example-com",
    "ada+calls@example.com",
    "ADA.LOVELACE@EXAMPLE.COM",
    "a:b",
    "a-b",
    "a.b",
    "x" * 128,
    "x" * 127 + "y",
    "a" * 200,
    "a" * 199,
    "ünïcødé",
    "用户",
    "...",
    " padded ",
]


@pytest.mark.parametrize("user_id", USER_IDS)
def test_every_namespace_satisfies_the_api_rule(user_id: str) -> None:
    namespace = namespace_for(user_id)
    assert NAMESPACE_PATTERN.fullmatch(namespace), namespace
    assert len(namespace) <= NAMESPACE_MAX_LEN


def test_distinct_user_ids_get_distinct_namespaces() -> None:
    namespaces = [namespace_for(u) for u in USER_IDS]
    assert len(set(namespaces)) == len(USER_IDS)
    for a, b in itertools.combinations(USER_IDS, 2):
        assert namespace_for(a) != namespace_for(b), (a, b)


def test_the_mapping_is_pinned() -> None:
    """Stored memories live under these names: a changed mapping would orphan them all."""
    assert namespace_for("u-1") == "user:u-1:a24a7f55f278dd49fb1f99c5507800cb"
    assert (
        namespace_for("ada.lovelace@example.com")
        == "user:ada-lovelace-example-com:e814ff3dc480a94c7ce9334062ec4733"
    )
    assert namespace_for("a" * 200) == "user:" + "a" * 50 + ":c2a908d98f5df987ade41b5fce213067"


@pytest.mark.parametrize("user_id", ["", "   "])
def test_an_empty_user_id_is_invalid(user_id: str) -> None:
    with pytest.raises(InvalidMemory):
        namespace_for(user_id)
