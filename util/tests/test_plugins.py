"""Plugin lookup through real entry points (a test distribution put on sys.path)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from occo.util import PluginNotFoundError, load_plugin, plugin_names


@pytest.fixture
def test_distribution(tmp_path, monkeypatch):
    """A minimal installed distribution registering two plugins in a test group."""
    (tmp_path / "occo_test_plugins.py").write_text(textwrap.dedent("""
        class Alpha:
            name = "alpha"
        class Beta:
            name = "beta"
    """))
    info = tmp_path / "occo_test_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: occo-test-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[occo.testgroup]\nalpha = occo_test_plugins:Alpha\nbeta = occo_test_plugins:Beta\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("occo_test_plugins", None)


def test_names_and_loading(test_distribution):
    assert plugin_names("occo.testgroup") == ["alpha", "beta"]
    assert load_plugin("occo.testgroup", "beta").name == "beta"


def test_unknown_plugin_lists_the_available_ones(test_distribution):
    with pytest.raises(PluginNotFoundError) as err:
        load_plugin("occo.testgroup", "gamma")
    assert err.value.available == ["alpha", "beta"]
    assert "available: alpha, beta" in str(err.value)


def test_empty_group():
    assert plugin_names("occo.no-such-group") == []
