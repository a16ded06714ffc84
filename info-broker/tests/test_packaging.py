"""The installed distribution and the source agree on name and version."""

from importlib.metadata import version

import occo.infobroker


def test_installed_version_matches_version_py():
    assert version("occo-infobroker") == occo.infobroker.__version__


def test_occo_is_a_namespace_package():
    import occo

    assert getattr(occo, "__file__", None) is None


def test_public_names_are_exported():
    for name in occo.infobroker.__all__:
        assert hasattr(occo.infobroker, name), name
    public = {n for n in dir(occo.infobroker) if not n.startswith("_")}
    modules = {"errors", "events", "locate", "memory_store", "model", "redis_store", "router",
               "secretbox", "sqlite_store", "store", "store_provider", "version", "redis_url",
               "lease", "postgresql_store"}
    # imported on first use (module __getattr__), not at import time
    lazy = {"RedisStore", "PostgreSQLStore"}
    assert public - modules == set(occo.infobroker.__all__) - {"__version__"} - lazy
