"""CloudLimits: one type for the pace of a cloud, its layers, and the checks of the
settings that change it."""

from __future__ import annotations

import pytest

from occo.util import LIMIT_KEYS, CloudLimits, ConfigError, Location, check_limits
from occo.util.cloudlimits import configured_limits


def test_layers_apply_in_order_and_keep_types():
    base = CloudLimits(max_parallel=8, rate=0)
    out = base.over({"rate": 5}).over({"max_parallel": 3.0})
    assert out.max_parallel == 3 and isinstance(out.max_parallel, int)
    assert out.rate == 5.0 and isinstance(out.rate, float)
    assert out.batch_size == CloudLimits().batch_size
    assert set(out.to_dict()) == set(LIMIT_KEYS)


@pytest.mark.parametrize("data, words", [
    ({"rat": 3}, ["unknown key 'rat'", "did you mean 'rate'", "valid keys: max_parallel"]),
    ({"rate": -1}, ["x.rate must be a number >= 0, got -1"]),
    ({"rate": True}, ["x.rate must be a number >= 0, got True"]),
    ({"rate": "fast"}, ["x.rate must be a number >= 0, got 'fast'"]),
    ({"batch_size": 0}, ["x.batch_size must be at least 1"]),
    ({"max_parallel": 2.5}, ["x.max_parallel must be a whole number, got 2.5"]),
    ([1, 2], ["x must be a mapping of limits", "got list"]),
])
def test_bad_limits_name_the_path_and_the_key(data, words):
    where = Location(file="occo.yaml", line=7, column=3)
    with pytest.raises(ConfigError) as info:
        check_limits(data, "x", location=where)
    for word in words:
        assert word in str(info.value)
    assert info.value.location == where


def test_an_endpoints_limits_go_over_its_types():
    section = {"store": "ignored here", "limits": {"rate": 4, "batch_size": 10},
               "endpoints": {"dummy:lab": {"limits": {"rate": 1}},
                             "dummy:other": {"limits": {"max_parallel": 2}}}}
    assert configured_limits(section, "dummy") == {"rate": 4, "batch_size": 10}
    assert configured_limits(section, "dummy", "dummy:lab") == {"rate": 1, "batch_size": 10}
    assert configured_limits(None, "dummy") == {}


def test_a_bad_entry_of_another_endpoint_is_still_an_error():
    section = {"endpoints": {"a": {"limits": {"rate": 1}}, "b": {"limit": {"rate": 1}}}}
    with pytest.raises(ConfigError, match=r"clouds.ec2.endpoints.b takes one key, limits"):
        configured_limits(section, "ec2", "a")
    with pytest.raises(ConfigError, match=r"clouds.ec2.endpoints must map endpoint keys"):
        configured_limits({"endpoints": ["a"]}, "ec2")
