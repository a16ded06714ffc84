"""The installed distribution against its code: the shared checks of
occo.util.testing.packaging (version, namespace, __all__, declared dependencies against
real imports, other packages used only through their public surface)."""

from occo.util.testing.packaging import packaging_problems


def test_the_distribution_declares_what_its_code_imports_and_exports():
    assert packaging_problems("occo-compiler") == []
