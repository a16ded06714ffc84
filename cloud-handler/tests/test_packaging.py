"""The installed distribution and the source agree on name and version."""

from importlib.metadata import version

import occo.cloudhandler


def test_installed_version_matches_version_py():
    assert version("occo-cloudhandler") == occo.cloudhandler.__version__


def test_occo_is_a_namespace_package():
    import occo

    assert getattr(occo, "__file__", None) is None
