"""Packaging metadata of occo-cloudhandler.

Dependencies here are abstract (names only); requirements.txt holds the exact versions
this package was tested with. The version lives in occo/cloudhandler/version.py alone.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (HERE / "occo/cloudhandler/version.py").read_text(encoding="utf-8")).group(1)

setup(
    name="occo-cloudhandler",
    version=VERSION,
    description="OCCO: the cloud handler contract and its backends",
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
    # the OpenStack test cloud's scripts are data of occo.cloudhandler.testing
    packages=find_namespace_packages(include=["occo.*"],
                                     exclude=["occo.cloudhandler.testing.openstack"]),
    include_package_data=False,
    package_data={"occo.cloudhandler.testing": ["openstack/*"]},
    install_requires=[
        "occo-util",
        "boto3",
        "botocore",
        "docker",
        "requests",
        "openstacksdk>=4.22",
        "keystoneauth1",
        "cryptography",      # the test cloud's key pair (occo.cloudhandler.testing)
    ],
    extras_require={"test": ["pytest", "pytest-timeout", "moto[server]"]},
    entry_points={
        "occo.cloudhandler": [
            "dummy = occo.cloudhandler.dummy:DummyCloudHandler",
            "local = occo.cloudhandler.local:LocalCloudHandler",
            "ec2 = occo.cloudhandler.ec2:EC2CloudHandler",
            "docker = occo.cloudhandler.dockerengine:DockerCloudHandler",
            "nova = occo.cloudhandler.nova:NovaCloudHandler",
        ],
        "occo.resource_schema": [
            "ec2 = occo.cloudhandler.schemas:EC2",
            "nova = occo.cloudhandler.schemas:NOVA",
            "docker = occo.cloudhandler.schemas:DOCKER",
            "cloudsigma = occo.cloudhandler.schemas:CLOUDSIGMA",
            "cloudbroker = occo.cloudhandler.schemas:CLOUDBROKER",
            "azure_vm = occo.cloudhandler.schemas:AZURE_VM",
            "azure_aci = occo.cloudhandler.schemas:AZURE_ACI",
            "dummy = occo.cloudhandler.schemas:DUMMY",
            "local = occo.cloudhandler.schemas:LOCAL",
        ],
    },
)
