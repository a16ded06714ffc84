"""The installed distribution and the source agree on name and version."""

import types
from importlib.metadata import version

import occo.servicecomposer


def test_installed_version_matches_version_py():
    assert version("occo-servicecomposer") == occo.servicecomposer.__version__


def test_occo_is_a_namespace_package():
    import occo

    assert getattr(occo, "__file__", None) is None


def test_all_lists_exactly_the_public_names():
    # submodules (some are imported only by the tests that use them) are not names
    public = {name for name in dir(occo.servicecomposer)
              if not name.startswith("_") and name != "annotations"
              and not isinstance(getattr(occo.servicecomposer, name), types.ModuleType)}
    assert set(occo.servicecomposer.__all__) == public | {"__version__"}
    for name in occo.servicecomposer.__all__:
        assert getattr(occo.servicecomposer, name) is not None
