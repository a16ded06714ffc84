"""Packaging metadata of occo-servicecomposer.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/servicecomposer/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/servicecomposer/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-servicecomposer",
    version=VERSION,
    description="OCCO: sandboxed templates, contextualisation, config management and health checks",
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
        "jinja2",
        "pyyaml",
        "httpx",
        "icmplib",
    ],
    extras_require={
        # The mysqldbs health check needs a MySQL driver; without it that check (and only
        # that check) fails with a clear error naming this extra.
        "mysql": ["pymysql"],
        "test": ["pytest", "pytest-timeout", "pymysql", "hypothesis"],
    },
    entry_points={
        "occo.configmanager": [
            "none = occo.servicecomposer.configmanager:NoConfigManager",
            "puppet_solo = occo.servicecomposer.configmanager:PuppetSoloConfigManager",
            "chef = occo.servicecomposer.configmanager:ChefConfigManager",
        ],
        "occo.healthcheck": [
            "ping = occo.servicecomposer.health.ping:PingCheck",
            "ports = occo.servicecomposer.health.ports:PortsCheck",
            "urls = occo.servicecomposer.health.urls:UrlsCheck",
            "mysqldbs = occo.servicecomposer.health.mysqldbs:MysqlDbsCheck",
            "synch_attrs = occo.servicecomposer.health.synch_attrs:SynchAttrsCheck",
        ],
    },
)
