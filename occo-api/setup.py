"""Packaging metadata of occo-api.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/api/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/api/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-api",
    version=VERSION,
    description=("OCCO: the occo command, the Occopus-compatible commands, the REST service "
                 "and the Python API"),
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
    package_data={"occo.api.ui": ["static/*.html", "static/*.css", "static/*.js"]},
    install_requires=[
        "occo-util",
        "occo-compiler",
        "occo-infobroker",
        "occo-enactor",
        "occo-infraprocessor",
        "occo-cloudhandler",
        "occo-servicecomposer",
        "flask",
        "werkzeug",
        "waitress",
        "flask-cors",
        "orjson",
        "PyYAML",
    ],
    extras_require={"test": ["pytest", "pytest-timeout", "moto[server]", "boto3", "hypothesis",
                             "schemathesis", "playwright"]},
    entry_points={
        "console_scripts": [
            "occo = occo.api.cli:main",
            "occopus-build = occo.api.occopus:build_main",
            "occopus-destroy = occo.api.occopus:destroy_main",
            "occopus-maintain = occo.api.occopus:maintain_main",
            "occopus-scale = occo.api.occopus:scale_main",
            "occopus-import = occo.api.occopus:import_main",
            "occopus-rest-service = occo.api.occopus:rest_service_main",
        ],
    },
)
