"""Shared fixtures of util's tests (the amqp ones come from amqp_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from amqp_support import BROKER, Broker, Queues, broker_reachable

from occo.util.testing import FaultProxy


@pytest.fixture
def broker() -> Iterator[Broker]:
    if not broker_reachable():
        pytest.skip(f"no RabbitMQ at {BROKER[0]}:{BROKER[1]}")
    b = Broker()
    yield b
    b.close()


@pytest.fixture
def queues(broker: Broker) -> Iterator[Queues]:
    q = Queues(broker)
    yield q
    q.cleanup()


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    with FaultProxy(BROKER) as p:
        yield p
