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
    packages=find_namespace_packages(include=["occo.*"]),
    include_package_data=True,
    install_requires=[
        "PyYAML",
        "pika",
    ],
    extras_require={"test": ["pytest", "pytest-timeout"]},
    entry_points={},
)
