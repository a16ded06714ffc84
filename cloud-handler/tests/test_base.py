"""The public surface: exports, states, status objects, refs and the error tree."""

from __future__ import annotations

import inspect

import occo.cloudhandler as ch
from occo.cloudhandler import errors
from occo.cloudhandler.base import NodeAddresses, NodeStatus, ResourceState, ref_resource
from occo.util import InputError, OccoError, register_secret


def test_all_lists_exactly_the_public_names():
    public = {n for n in vars(ch) if not n.startswith("_") and not inspect.ismodule(
        getattr(ch, n))}
    assert set(ch.__all__) == public | {"__version__"}
    for name in ch.__all__:
        assert hasattr(ch, name)


def test_importing_the_package_does_not_import_boto3():
    import subprocess
    import sys
    code = "import sys, occo.cloudhandler; print('boto3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_states_are_the_documented_strings():
    assert [s.value for s in ResourceState] == ["pending", "running", "stopping", "stopped",
                                                "terminated", "failed", "missing", "unknown"]
    assert ResourceState("running") == "running"


def test_status_and_addresses_are_json_able_and_scrubbed():
    register_secret("hunter2-db-password")
    status = NodeStatus(ResourceState.FAILED, "connect with hunter2-db-password failed",
                        raw="exited", exit_code=1)
    assert status.to_json() == {"state": "failed", "detail": "connect with *** failed",
                                "raw": "exited", "exit_code": 1}
    assert NodeStatus(ResourceState.RUNNING).to_json() == {"state": "running"}
    assert NodeAddresses(("1.2.3.4",), ("10.0.0.1",)).to_json() == {
        "addresses": ["1.2.3.4"], "private_addresses": ["10.0.0.1"], "checkable": True}
    assert NodeAddresses(("10.0.0.1",)).to_json()["private_addresses"] == ["10.0.0.1"]


def test_refs_keep_no_secret_named_keys():
    resource = {"type": "cloudsigma", "endpoint": "e", "libdrive_id": "d",
                "description": {"cpu": 1}, "password": "pw", "api_key": "k"}
    assert ref_resource(resource) == {"type": "cloudsigma", "endpoint": "e",
                                      "libdrive_id": "d", "description": {"cpu": 1}}
    assert ref_resource(resource, ("type", "password")) == {"type": "cloudsigma"}


def test_the_error_tree_and_retryable_flags():
    assert errors.Throttled.retryable and errors.CloudUnavailable.retryable
    for cls in (errors.CloudError, errors.ImageNotFound, errors.CapacityExceeded,
                errors.PermissionDenied, errors.NoBackend, errors.CredentialsRejected):
        assert cls.retryable is False
    rejected = errors.CredentialsRejected("no")
    assert isinstance(rejected, InputError) and isinstance(rejected, errors.CloudError)
    assert rejected.exit_code == 2 and rejected.to_dict()["retryable"] is False
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, OccoError)
        assert name in errors.__doc__   # the tree in the docstring names every class
    assert issubclass(errors.UserDataTooLarge, InputError)
    assert issubclass(errors.BadResource, InputError)
