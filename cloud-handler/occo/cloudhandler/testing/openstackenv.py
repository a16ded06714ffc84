"""A real OpenStack control plane on loopback for the nova tests.

:func:`provide` starts one with ``openstack/start-openstack.sh`` (beside this module)
when ``CI=true`` or ``OCCO_TEST_OPENSTACK=start``, and otherwise returns the reason it did
not (the tests skip with it). The cloud is keystone, placement, glance, neutron (ML2 with
the ``fake_agent`` driver and ``openstack/fake-neutron-agent.py``, so ports bind and get
fixed IPs) and nova (``fake.FakeDriverWithoutFakeNodes``), every API under uWSGI on 127.0.0.1,
installed from PyPI into one virtualenv (the pins of ``openstack/constraints.txt``).

- The virtualenv is kept between runs (``OCCO_OPENSTACK_VENV``, default
  ``$XDG_CACHE_HOME/occo-openstack/venv``, i.e. ``~/.cache/occo-openstack/venv``): a
  cold start installs it (about a minute), a warm one reuses it.
- Every run has its own MariaDB databases ``ostest_<id>_*`` and RabbitMQ vhost
  ``ostest_<id>`` on the machine's own services (``OSTEST_DB_URL``, default root without
  a password on 127.0.0.1:3306; ``OSTEST_AMQP``, default guest:guest on 5672), and its
  own state directory; :meth:`OpenStack.shutdown` stops every process and drops them.
- The APIs listen on five consecutive free ports (``OSTEST_BASE_PORT`` picks them).
- ``OCCO_TEST_OPENSTACK_DIR=DIR``: use the cloud ``start-openstack.sh DIR`` started and
  keeps running (a developer's loop); it is left as it is at the end.

On top of what the script creates (projects ``admin`` and ``demo``, user ``demo``, the
external network ``public`` and the demo project's ``private`` network with a router),
this adds a public flavor, a public image, a key pair of the demo user and an application
credential of the demo user. Both networks' subnets are in 127.0.0.0/8 (127.77.0.0/24
fixed, 127.78.0.0/24 floating; neutron takes a loopback subnet without DHCP): nothing
carries packets to the servers, but every 127/8 address answers on the host's loopback,
so a health check that pings a server's address (Occopus's default) gets a real reply.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "openstack"
START = HERE / "start-openstack.sh"
STOP = HERE / "stop-openstack.sh"
START_TIMEOUT = 1200.0       # a cold start installs ~590 MB of wheels (uWSGI compiles)
ADMIN_PASSWORD = "ostest-admin-pw"
DEMO_USER, DEMO_PASSWORD, DEMO_PROJECT = "demo", "demo-pw", "demo"
FLAVOR = "occo.tiny"
IMAGE = "occo-img"
NETWORK = "private"
FLOATING_POOL = "public"
KEYPAIR = "occo-test-key"
SECURITY_GROUP = "default"
REGION = "RegionOne"


def venv_dir() -> Path:
    """Where the OpenStack virtualenv lives between runs."""
    if os.environ.get("OCCO_OPENSTACK_VENV"):
        return Path(os.environ["OCCO_OPENSTACK_VENV"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "occo-openstack" / "venv"


@dataclass
class OpenStack:
    """A running test cloud: where it is, who may use it, and what it holds."""

    directory: Path
    auth_url: str
    project_id: str
    project_name: str
    username: str
    password: str
    app_credential_id: str
    app_credential_secret: str
    network: str
    network_id: str
    flavor: str
    flavor_id: str
    image: str
    image_id: str
    keypair: str = KEYPAIR
    security_group: str = SECURITY_GROUP
    floating_pool: str = FLOATING_POOL
    region: str = REGION
    start_seconds: float = 0.0
    warm: bool = False
    keep: bool = False
    _env: dict[str, str] = field(default_factory=dict, repr=False)

    def admin(self) -> Any:
        """An openstacksdk connection as the cloud's admin (for checks behind OCCO)."""
        return _connect(self.auth_url, "admin", ADMIN_PASSWORD, "admin")

    def demo(self) -> Any:
        """An openstacksdk connection as the demo user, in the demo project."""
        return _connect(self.auth_url, self.username, self.password, self.project_name)

    def shutdown(self) -> None:
        """Stop every process and drop the databases, the vhost and the state directory
        (the virtualenv stays); a cloud of ``OCCO_TEST_OPENSTACK_DIR`` is left running."""
        if self.keep:
            return
        subprocess.run(["bash", str(STOP), str(self.directory), "--purge"], env=self._env,
                       check=False, timeout=120, stdout=subprocess.DEVNULL)


def _connect(auth_url: str, user: str, password: str, project: str) -> Any:
    import openstack

    return openstack.connection.Connection(
        auth_url=auth_url, username=user, password=password, project_name=project,
        user_domain_name="Default", project_domain_name="Default", region_name=REGION)


def wanted() -> str | None:
    """None when the tests should start a cloud, else why they do not."""
    if os.environ.get("CI") == "true" or os.environ.get("OCCO_TEST_OPENSTACK") == "start":
        return None
    return ("the nova tests need a real OpenStack: set OCCO_TEST_OPENSTACK=start (or CI=true) "
            "to start one on loopback (needs MariaDB on 127.0.0.1:3306 and RabbitMQ on "
            "127.0.0.1:5672; about 2 minutes cold, 1 warm)")


def _free_base(first: int = 18700, count: int = 5) -> int:
    """The first of ``count`` consecutive loopback ports nothing listens on."""
    for base in range(first, first + 200, count):
        busy = False
        for port in range(base, base + count):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    busy = True
                    break
        if not busy:
            return base
    raise RuntimeError(f"no {count} free consecutive ports from {first}")


def provide(directory: Path) -> OpenStack | str:
    """Start the test cloud in ``directory`` (a new, empty one), or say why not."""
    given = os.environ.get("OCCO_TEST_OPENSTACK_DIR")
    if given:
        cloud = _populate(Path(given), dict(os.environ))
        cloud.keep = True
        return cloud
    reason = wanted()
    if reason is not None:
        return reason
    for tool in ("rabbitmqctl", "setsid"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the OpenStack test cloud needs {tool} on PATH")
    venv = venv_dir()
    venv.parent.mkdir(parents=True, exist_ok=True)
    warm = (venv / "bin" / "nova-compute").exists()
    env = {**os.environ, "OSTEST_VENV": str(venv)}
    env.setdefault("OSTEST_BASE_PORT", str(_free_base()))
    started = time.monotonic()
    log = directory.parent / f"{directory.name}-start.log"
    with log.open("w") as out:
        proc = subprocess.run(["bash", str(START), str(directory)], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=START_TIMEOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        _stop(directory, env)
        raise RuntimeError(f"start-openstack.sh failed ({proc.returncode}); its output ends:\n"
                           f"{tail}")
    try:
        cloud = _populate(directory, env)
    except BaseException:
        _stop(directory, env)
        raise
    cloud.start_seconds = time.monotonic() - started
    cloud.warm = warm
    return cloud


def _stop(directory: Path, env: dict[str, str]) -> None:
    if (directory / "id").exists():
        subprocess.run(["bash", str(STOP), str(directory), "--purge"], env=env, check=False,
                       timeout=120, stdout=subprocess.DEVNULL)


def _public_key() -> str:
    """A fresh OpenSSH public key (nova checks the format; the private half is not kept:
    the fake driver's servers run nothing to log in to)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _populate(directory: Path, env: dict[str, str]) -> OpenStack:
    """Flavor and image (admin), and an application credential of the demo user."""
    auth_url = next(line.split("=", 1)[1].strip() for line in
                    (directory / "openrc").read_text().splitlines()
                    if line.startswith("export OS_AUTH_URL="))
    admin = _connect(auth_url, "admin", ADMIN_PASSWORD, "admin")
    demo = _connect(auth_url, DEMO_USER, DEMO_PASSWORD, DEMO_PROJECT)
    flavor = admin.compute.find_flavor(FLAVOR, ignore_missing=True) or \
        admin.compute.create_flavor(name=FLAVOR, ram=64, vcpus=1, disk=1, is_public=True)
    image = admin.image.find_image(IMAGE, ignore_missing=True) or \
        admin.image.create_image(name=IMAGE, data=b"\0" * 65536, disk_format="raw",
                                 container_format="bare", visibility="public",
                                 allow_duplicates=True, wait=True)
    network = demo.network.find_network(NETWORK, ignore_missing=False)
    if demo.compute.find_keypair(KEYPAIR, ignore_missing=True) is None:
        demo.compute.create_keypair(name=KEYPAIR, public_key=_public_key())
    project_id = demo.current_project_id
    credential = demo.identity.create_application_credential(
        user=demo.current_user_id, name=f"occo-tests-{uuid.uuid4().hex[:8]}",
        roles=[{"name": "member"}])
    admin.close()
    demo.close()
    return OpenStack(directory=directory, auth_url=auth_url, project_id=project_id,
                     project_name=DEMO_PROJECT, username=DEMO_USER, password=DEMO_PASSWORD,
                     app_credential_id=credential.id, app_credential_secret=credential.secret,
                     network=NETWORK, network_id=network.id, flavor=FLAVOR, flavor_id=flavor.id,
                     image=IMAGE, image_id=image.id, _env=env)


def session_cloud(directory: Path, skip: Callable[[str], Any]) -> Iterator[OpenStack]:
    """The body of a session-scoped pytest fixture: the cloud started in ``directory``,
    yielded, and shut down at the end whatever happened; ``skip(reason)`` (pytest.skip)
    when the tests should not start one."""
    cloud = provide(directory)
    if isinstance(cloud, str):
        skip(cloud)
        return
    try:
        yield cloud
    finally:
        cloud.shutdown()
