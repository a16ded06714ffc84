"""Packaging metadata of occo-infraprocessor.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/infraprocessor/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/infraprocessor/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-infraprocessor",
    version=VERSION,
    description="OCCO: executes build and drop instructions with a dependency-driven scheduler",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="Apache-2.0",
    python_requires=">=3.11",
    # the supported Pythons (tools/occotool/pythons.py SUPPORTED; a test keeps them equal)
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    ],
    packages=find_namespace_packages(include=["occo.*"]),
    include_package_data=True,
    install_requires=[
        "occo-util",
        "occo-infobroker",
    ],
    # the tests build their descriptions with the compiler (a test-only OCCO dependency:
    # tools/occotool/packages.py)
    extras_require={"test": ["pytest", "pytest-timeout", "occo-compiler"]},
    entry_points={},
)
