"""Packaging metadata of occo-demo.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/demo/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/demo/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-demo",
    version=VERSION,
    description="OCCO: runnable example infrastructures on the local backend",
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
    packages=find_namespace_packages(include=["occo.*"], exclude=["occo.demo.examples*"]),
    package_data={"occo.demo": ["examples/*/*.yaml", "examples/*/*.rst"]},
    install_requires=[
        "occo-util",
        "occo-compiler",
        "occo-infobroker",
        "occo-enactor",
        "occo-infraprocessor",
        "occo-cloudhandler",
        "occo-servicecomposer",
        "occo-api",
        "pyyaml",
    ],
    extras_require={"test": ["pytest", "pytest-timeout", "sphinx"]},
    entry_points={},
)
