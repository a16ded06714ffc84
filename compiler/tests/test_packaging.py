"""The installed distribution and the source agree; the public surface is what __all__ says."""

from importlib.metadata import requires, version

import occo.compiler


def test_installed_version_matches_version_py():
    assert version("occo-compiler") == occo.compiler.__version__


def test_occo_is_a_namespace_package():
    import occo

    assert getattr(occo, "__file__", None) is None


def test_all_names_are_exported_and_public():
    for name in occo.compiler.__all__:
        assert hasattr(occo.compiler, name), name
    public = {n for n in vars(occo.compiler) if not n.startswith("_")
              and not isinstance(getattr(occo.compiler, n), type(occo))}
    assert public <= set(occo.compiler.__all__) | {"annotations"}


def test_depends_only_on_util_among_occo_packages():
    occo_deps = {r.split()[0].split(";")[0] for r in requires("occo-compiler") or ()
                 if r.lower().startswith("occo")}
    assert occo_deps == {"occo-util"}
