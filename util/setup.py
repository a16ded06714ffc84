"""Packaging metadata of occo-util.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/util/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/util/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-util",
    version=VERSION,
    description="OCCO: the error root and helpers every OCCO package shares",
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
    # the test corpus (occo.util.testing.CORPUS) is data of occo.util.testing, not
    # packages of its own; it is the only package data, named by the pattern below
    packages=find_namespace_packages(include=["occo.*"],
                                     exclude=["occo.util.testing.corpus*"]),
    include_package_data=False,
    package_data={"occo.util.testing": ["corpus/**/*"]},
    install_requires=[
        "PyYAML",
        "pika",
    ],
    extras_require={"test": ["pytest", "pytest-timeout"]},
    entry_points={},
)
