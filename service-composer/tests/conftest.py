"""Shared fixtures: an in-memory lookup, a composer, and request builders."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from occo.servicecomposer import MemoryLookup, ServiceComposer
from occo.util import forget_secrets

INFRA = "infra-test-1"


def make_request(*, resource: dict | None = None, contextualisation: dict | None = None,
                 config_management: dict | None = None, health_check: dict | None = None,
                 variables: dict | None = None, name: str = "web", node_type: str = "web_node",
                 instance_id: str = "web-0001", infra_id: str = INFRA, **node: Any) -> dict:
    """A resolve request of the documented shape."""
    return {
        "instance_id": instance_id, "infra_id": infra_id, "infra_name": "demo",
        "user_id": "me@example.org",
        "node": {"name": name, "type": node_type, "variables": variables or {},
                 "scaling": {"min": 1, "max": 1}, **node},
        "implementation": {
            "resource": resource or {"type": "dummy"},
            "contextualisation": copy.deepcopy(contextualisation),
            "config_management": copy.deepcopy(config_management),
            "health_check": copy.deepcopy(health_check),
        },
    }


@pytest.fixture
def lookup() -> MemoryLookup:
    lk = MemoryLookup()
    lk.add(INFRA, "db", "db-0001", addresses=["10.0.0.5"], private_addresses=["192.168.0.5"])
    lk.add(INFRA, "db", "db-0002", addresses=["10.0.0.6"], private_addresses=["192.168.0.6"])
    lk.add(INFRA, "cache", "cache-0001", addresses=["10.0.1.1"], ready=False)
    return lk


@pytest.fixture
def composer(lookup: MemoryLookup):
    with ServiceComposer(lookup) as sc:
        yield sc


@pytest.fixture(autouse=True)
def _no_leftover_secrets():
    yield
    forget_secrets()
