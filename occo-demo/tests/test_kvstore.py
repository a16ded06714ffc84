"""The data node: the key-value store, its HTTP interface, and the program itself."""

from __future__ import annotations

import json

import pytest
from conftest import wait_http

from occo.demo._node import MAX_BODY, http_request
from occo.demo.kvstore import KeyValueStore, KVHandler
from occo.util.testing import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_values_expire_after_their_ttl_and_not_before():
    clock = Clock()
    store = KeyValueStore(clock)
    store.put("registry/web/a", {"url": "http://x"}, ttl=3)
    store.put("site/title", "shop")
    clock.now += 2.9
    assert store.get("registry/web/a") == (True, {"url": "http://x"})
    clock.now += 0.2
    assert store.get("registry/web/a") == (False, None)
    assert store.items() == {"site/title": "shop"}


def test_incr_counts_from_zero_and_refuses_a_non_integer():
    store = KeyValueStore()
    assert [store.incr("views") for _ in range(3)] == [1, 2, 3]
    assert store.incr("views", 10) == 13
    store.put("title", "shop")
    with pytest.raises(TypeError, match="'title' is not an integer"):
        store.incr("title")


def test_items_by_prefix_are_sorted():
    store = KeyValueStore()
    for key in ("site/b", "site/a", "stats/x"):
        store.put(key, key)
    assert list(store.items("site/")) == ["site/a", "site/b"]


@pytest.fixture
def kv(thread_servers):
    return thread_servers(KVHandler, store=KeyValueStore())


def test_http_put_get_delete_round_trip(kv):
    put = http_request("PUT", f"{kv.url}/kv/site/items", body=b'["a", "b"]')
    assert put.status == 204
    assert http_request("GET", f"{kv.url}/kv/site/items").json() == ["a", "b"]
    assert http_request("GET", f"{kv.url}/kv?prefix=site/").json() == {"site/items": ["a", "b"]}
    assert http_request("DELETE", f"{kv.url}/kv/site/items").status == 204
    missing = http_request("GET", f"{kv.url}/kv/site/items")
    assert missing.status == 404
    assert missing.json() == {"error": "no key 'site/items'"}


def test_http_incr_is_shared_by_all_clients(kv):
    values = [http_request("POST", f"{kv.url}/kv/stats/views/incr").json()["value"]
              for _ in range(3)]
    assert values == [1, 2, 3]
    assert http_request("GET", f"{kv.url}/health").json() == {"status": "ok", "keys": 1}


def test_http_ttl_registration_is_listed(kv):
    answer = http_request("PUT", f"{kv.url}/kv/registry/web/i1?ttl=30", body=b'{"url": "u"}')
    assert answer.status == 204
    assert http_request("GET", f"{kv.url}/kv?prefix=registry/").json() == {
        "registry/web/i1": {"url": "u"}}


@pytest.mark.parametrize("path, body, status, message", [
    ("/kv/k", b"{not json", 400, "the body is not JSON"),
    ("/kv/k?ttl=-1", b"1", 400, "ttl must be a number of seconds in (0, 86400]"),
    ("/kv/k?ttl=soon", b"1", 400, "ttl must be a number of seconds"),
    ("/kv/" + "k" * 300, b"1", 400, "a key is 1 to 256 characters"),
    ("/kv/k", b"1" * (MAX_BODY + 1), 413, f"the body is larger than {MAX_BODY} bytes"),
])
def test_bad_puts_are_refused_with_a_reason(kv, path, body, status, message):
    answer = http_request("PUT", kv.url + path, body=body)
    assert answer.status == status
    assert message in answer.json()["error"]
    assert http_request("GET", f"{kv.url}/kv").json() == {}


def test_incr_of_text_is_a_conflict(kv):
    http_request("PUT", f"{kv.url}/kv/title", body=b'"shop"')
    answer = http_request("POST", f"{kv.url}/kv/title/incr")
    assert answer.status == 409
    assert answer.json() == {"error": "the value of 'title' is not an integer"}


def test_the_program_serves_its_seed_and_stops_on_sigterm(node_processes, tmp_path):
    port = free_port()
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"site/title": "OCCO demo shop"}))
    node = node_processes("kvstore", env={"OCCO_NODE_IP": "127.0.0.1", "KV_PORT": str(port),
                                          "KV_SEED": str(seed)}, name="kv")
    wait_http(f"http://127.0.0.1:{port}/health")
    answer = http_request("GET", f"http://127.0.0.1:{port}/kv/site/title")
    assert answer.json() == "OCCO demo shop"
    assert node.stop() == 0
    assert "seeded 1 keys" in node.output()
    assert "kvstore stopped" in node.output()


def test_a_seed_that_is_not_an_object_stops_the_program(node_processes, tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text("[1, 2]")
    node = node_processes("kvstore", env={"OCCO_NODE_IP": "127.0.0.1",
                                          "KV_PORT": str(free_port()), "KV_SEED": str(seed)})
    assert node.proc.wait(timeout=20) == 2
    assert "the seed must be a JSON object, got list" in node.output()


def test_a_busy_port_is_reported(node_processes):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        node = node_processes("kvstore", env={"OCCO_NODE_IP": "127.0.0.1",
                                              "KV_PORT": str(port)})
        assert node.proc.wait(timeout=20) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in node.output()
