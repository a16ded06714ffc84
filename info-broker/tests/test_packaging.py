"""The installed distribution and the source agree on name and version."""

from importlib.metadata import version

import occo.infobroker


def test_installed_version_matches_version_py():
    assert version("occo-infobroker") == occo.infobroker.__version__


def test_occo_is_a_namespace_package():
    import occo

    assert getattr(occo, "__file__", None) is None
