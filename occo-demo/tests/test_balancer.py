"""The load balancer: round robin, skipping dead web nodes, following the registry."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import wait_http

from occo.demo._node import JsonHandler, http_request
from occo.demo.balancer import Backends, BalancerHandler, RegistryWatcher, parse_backends
from occo.demo.kvstore import KeyValueStore, KVHandler
from occo.util.testing import free_port


class Named(JsonHandler):
    def do_GET(self) -> None:
        self.send_text(200, f"{self.server.name} {self.path}\n",
                       {"X-Served-By": self.server.name})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_parse_backends_takes_addresses_or_urls():
    assert parse_backends("127.1.0.2,127.1.0.3, http://h:9/,127.1.0.2", 8080) == [
        "http://127.1.0.2:8080", "http://127.1.0.3:8080", "http://h:9/"]
    assert parse_backends(" ", 8080) == []


def test_round_robin_puts_backends_marked_down_last_until_they_recover():
    clock = Clock()
    backends = Backends(["a", "b", "c"], down_seconds=3, clock=clock)
    assert [backends.order()[0] for _ in range(4)] == ["a", "b", "c", "a"]
    backends.mark_down("c")
    assert backends.order() == ["b", "a", "c"]      # b's turn; c (down) last
    clock.now = 3.5
    assert backends.view()["down"] == []
    assert backends.order() == ["c", "a", "b"]      # c's turn, and c is back


def test_order_skips_down_backends_first():
    clock = Clock()
    backends = Backends(["a", "b"], clock=clock)
    backends.mark_down("a")
    assert backends.order() == ["b", "a"]
    assert backends.order() == ["b", "a"]
    assert backends.view()["down"] == ["a"]


@pytest.fixture
def webs(thread_servers):
    return [thread_servers(Named, name=f"web{i}") for i in range(2)]


def test_requests_are_spread_and_forwarded_with_the_path(webs, thread_servers):
    backends = Backends([w.url for w in webs])
    lb = thread_servers(BalancerHandler, backends=backends)
    answers = [http_request("GET", f"{lb.url}/page?x=1") for _ in range(4)]
    assert Counter(a.headers["x-served-by"] for a in answers) == {"web0": 2, "web1": 2}
    assert answers[0].text.endswith(" /page?x=1\n")
    assert answers[0].headers["x-occo-backend"] in {w.url for w in webs}
    status = http_request("GET", f"{lb.url}/lb-status").json()
    assert status["sent"] == {webs[0].url: 2, webs[1].url: 2}
    assert status["source"] == "rendered"


def test_a_dead_backend_costs_no_failed_request(webs, thread_servers):
    dead = f"http://127.0.0.1:{free_port()}"
    backends = Backends([dead, webs[0].url])
    lb = thread_servers(BalancerHandler, backends=backends)
    answers = [http_request("GET", f"{lb.url}/") for _ in range(4)]
    assert [a.status for a in answers] == [200] * 4
    assert {a.headers["x-served-by"] for a in answers} == {"web0"}
    assert http_request("GET", f"{lb.url}/lb-status").json()["down"] == [dead]


def test_no_backend_answering_is_a_502_naming_them(thread_servers):
    dead = f"http://127.0.0.1:{free_port()}"
    lb = thread_servers(BalancerHandler, backends=Backends([dead]))
    answer = http_request("GET", f"{lb.url}/")
    assert answer.status == 502
    assert answer.text == f"no web node answered (tried {dead})\n"
    empty = thread_servers(BalancerHandler, backends=Backends([]))
    assert http_request("GET", f"{empty.url}/").text == "no web node answered (none known)\n"


def test_the_registry_replaces_the_rendered_list(webs, thread_servers):
    store = KeyValueStore()
    kv = thread_servers(KVHandler, store=store)
    backends = Backends(["http://127.0.0.1:1"])
    watcher = RegistryWatcher(kv.url, backends, interval=1)
    assert watcher.refresh() is False           # nothing registered: keep the rendered list
    assert backends.view()["backends"] == ["http://127.0.0.1:1"]
    store.put("registry/web/a", {"url": webs[1].url})
    store.put("registry/web/b", {"url": webs[0].url})
    assert watcher.refresh() is True
    assert backends.view() | {"sent": {}} == {"backends": sorted([webs[0].url, webs[1].url]),
                                              "source": "registry", "down": [], "sent": {}}


def test_the_program_forwards_to_rendered_backends(webs, node_processes):
    port = free_port()
    backends = ",".join(w.url for w in webs)
    node_processes("balancer", env={"OCCO_NODE_IP": "127.0.0.1", "LB_PORT": str(port),
                                    "BACKENDS": backends})
    answer = wait_http(f"http://127.0.0.1:{port}/")
    assert answer.headers["x-served-by"] in {"web0", "web1"}
