"""Shared fixtures: a clock tests move themselves, a local cloud, and helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from occo.cloudhandler import CloudHandlerService
from occo.cloudhandler.contract import infra_id_fixture
from occo.util import forget_secrets


class FakeClock:
    """Seconds since the epoch that pass only when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: the cloud contract's fresh infrastructure id (occo.cloudhandler.contract)
infra_id = pytest.fixture(infra_id_fixture)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _no_leftover_secrets():
    yield
    forget_secrets()


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    """A real Docker engine with the test images and network (tests/dockerenv.py):
    found, or started as root under CI=true (installed first if need be), and stopped
    with its directories removed at the end, whatever happened."""
    import dockerenv

    engine = dockerenv.provide(tmp_path_factory.mktemp("docker"))
    if isinstance(engine, str):
        pytest.skip(engine)
    try:
        yield engine
    finally:
        engine.shutdown()


def drop_everything(service: CloudHandlerService, root: Path) -> None:
    """Leave no process behind, whatever a test did."""
    if not root.is_dir():
        return
    for infra in root.iterdir():
        if infra.is_dir() and infra.name != "addresses":
            left = service.list_nodes(infra.name, [{"type": "local"}])
            left += [{"instance_id": d.name, "infra_id": infra.name,
                      "resource": {"type": "local", "grace_period": 1}}
                     for d in infra.iterdir() if d.is_dir()]
            service.drop_nodes(left)


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "local-root"


@pytest.fixture
def local(root):
    service = CloudHandlerService({"local": {"root": str(root), "grace_period": 5}})
    yield service
    drop_everything(service, root)
    service.close()


@pytest.fixture(scope="session")
def openstack_cloud(tmp_path_factory):
    """A real OpenStack control plane on loopback (occo.cloudhandler.testing.openstackenv):
    started once per session under CI=true or OCCO_TEST_OPENSTACK=start, its processes
    stopped and its databases and vhost dropped at the end, whatever happened; skipped with
    the reason otherwise."""
    from occo.cloudhandler.testing import openstackenv

    yield from openstackenv.session_cloud(tmp_path_factory.mktemp("openstack") / "cloud",
                                          pytest.skip)
