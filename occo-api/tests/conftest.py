"""Fixtures shared by the occo-api tests: a PostgreSQL database and schema of their own.

PostgreSQL runs at 127.0.0.1:5432 (trust authentication, user postgres). Outside CI a test
that needs it skips when it is absent; under CI=true it fails instead. Each test module
has a fresh database, dropped at the end; each test a fresh schema in it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_SERVER = f"postgresql://postgres@{PG_HOST}:{PG_PORT}"


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """The URL of a fresh database for this test module; dropped at the end."""
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=1).close()
    except OSError:
        message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: PostgreSQL must run)")
        pytest.skip(message)
    name = f"occo_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_SERVER}/{name}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A store URL with a fresh schema of its own."""
    return f"{pg_database}?schema=t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def openstack_cloud(tmp_path_factory):
    """A real OpenStack control plane on loopback (occo.cloudhandler.testing.openstackenv),
    started once per session under CI=true or OCCO_TEST_OPENSTACK=start and torn down at
    the end; skipped with the reason otherwise."""
    from occo.cloudhandler.testing import openstackenv

    yield from openstackenv.session_cloud(tmp_path_factory.mktemp("openstack") / "cloud",
                                          pytest.skip)
