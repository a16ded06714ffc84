"""freeze() and thaw(): read-only user data inside the model, plain copies outside."""

from __future__ import annotations

import copy
import json

import pytest

from occo.compiler import FrozenDict, freeze, thaw


def test_freeze_is_deep_and_json_compatible():
    frozen = freeze({"a": [1, {"b": [2, 3]}], "c": {"d": "e"}})
    assert isinstance(frozen, FrozenDict) and isinstance(frozen["a"], tuple)
    assert isinstance(frozen["a"][1], FrozenDict) and frozen["a"][1]["b"] == (2, 3)
    assert json.loads(json.dumps(frozen)) == {"a": [1, {"b": [2, 3]}], "c": {"d": "e"}}
    with pytest.raises(TypeError):
        frozen["c"]["d"] = "f"
    with pytest.raises(TypeError):
        frozen |= {"x": 1}


def test_thaw_gives_plain_mutable_copies():
    plain = thaw(freeze({"a": [1, {"b": (2,)}]}))
    assert type(plain) is dict and type(plain["a"]) is list and type(plain["a"][1]) is dict
    plain["a"].append(4)
    assert plain == {"a": [1, {"b": [2]}, 4]}


def test_copies_of_frozen_data_are_the_same_object():
    frozen = freeze({"a": {"b": 1}})
    assert copy.copy(frozen) is frozen and copy.deepcopy(frozen) is frozen
    assert freeze(frozen) is frozen
    assert hash(frozen) == hash(freeze({"a": {"b": 1}}))
