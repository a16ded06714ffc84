"""The web node: pages from the data service, its health, and its registration."""

from __future__ import annotations

import pytest
from conftest import wait_http

from occo.demo._node import http_request
from occo.demo.kvstore import KeyValueStore, KVHandler
from occo.demo.web import Registration, WebHandler, render_page
from occo.util.testing import free_port, wait_until

SITE = {"site/title": "Shop <1>", "site/message": "hello", "site/items": ["a", "b & c"]}
WHO = {"instance_id": "0123456789abcdef", "address": "127.0.0.9", "url": "http://127.0.0.9:1"}


def test_text_page_lists_the_data_and_who_served_it():
    page = render_page(SITE, views=7, served_by=WHO, as_text=True)
    assert page.splitlines()[:2] == ["Shop <1>", "========"]
    assert "  * b & c" in page
    assert "page views (all web nodes): 7" in page
    assert "served by web node 01234567 at 127.0.0.9" in page


def test_html_page_escapes_the_data():
    page = render_page(SITE, views=None, served_by=WHO, as_text=False)
    assert "<title>Shop &lt;1&gt;</title>" in page
    assert "<li>b &amp; c</li>" in page
    assert "page views (all web nodes): unknown" in page


@pytest.fixture
def kv(thread_servers):
    store = KeyValueStore()
    for key, value in SITE.items():
        store.put(key, value)
    return thread_servers(KVHandler, store=store)


def test_pages_count_views_in_the_data_service(kv, thread_servers):
    web = thread_servers(WebHandler, kv_url=kv.url, identity=WHO)
    first = http_request("GET", f"{web.url}/?format=text")
    second = http_request("GET", f"{web.url}/", headers={"Accept": "text/plain"})
    assert first.status == second.status == 200
    assert "page views (all web nodes): 1" in first.text
    assert "page views (all web nodes): 2" in second.text
    assert first.headers["x-served-by"] == "0123456789abcdef 127.0.0.9"
    html = http_request("GET", f"{web.url}/", headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert http_request("GET", f"{web.url}/health").status == 200


def test_without_the_data_service_the_node_is_unhealthy_and_says_why(thread_servers):
    dead = f"http://127.0.0.1:{free_port()}"
    web = thread_servers(WebHandler, kv_url=dead, identity=WHO)
    health = http_request("GET", f"{web.url}/health")
    assert health.status == 503
    assert health.json()["status"] == "the data service does not answer"
    page = http_request("GET", f"{web.url}/?format=text")
    assert page.status == 503
    assert page.text.startswith(f"the data service at {dead} does not answer")


def test_unknown_page_is_404(kv, thread_servers):
    web = thread_servers(WebHandler, kv_url=kv.url, identity=WHO)
    answer = http_request("GET", f"{web.url}/admin")
    assert (answer.status, answer.text) == (404, "no page /admin\n")


def test_registration_is_renewed_and_removed_on_stop(kv):
    registration = Registration(kv.url, WHO, interval=0.1)
    registration.start()
    key = "registry/web/0123456789abcdef"
    wait_until(lambda: key in http_request("GET", f"{kv.url}/kv?prefix=registry/").json())
    registration.stop()
    assert http_request("GET", f"{kv.url}/kv?prefix=registry/").json() == {}


def test_registration_without_data_service_fails_quietly():
    registration = Registration(f"http://127.0.0.1:{free_port()}", WHO, interval=1)
    assert registration.register_once() is False


def test_the_program_needs_kv_url(node_processes):
    node = node_processes("web", env={"OCCO_NODE_IP": "127.0.0.1"})
    assert node.proc.wait(timeout=20) == 2
    assert "the environment variable KV_URL is not set" in node.output()


def test_the_program_registers_and_unregisters(kv, node_processes):
    port = free_port()
    node = node_processes("web", env={"OCCO_NODE_IP": "127.0.0.1", "KV_URL": kv.url,
                                      "WEB_PORT": str(port), "OCCO_INSTANCE_ID": "web-1",
                                      "REGISTER_INTERVAL": "0.2"})
    wait_http(f"http://127.0.0.1:{port}/health")
    entry = wait_until(lambda: http_request("GET", f"{kv.url}/kv?prefix=registry/").json())
    assert entry == {"registry/web/web-1": {"address": "127.0.0.1", "instance_id": "web-1",
                                            "url": f"http://127.0.0.1:{port}"}}
    assert node.stop() == 0
    assert http_request("GET", f"{kv.url}/kv?prefix=registry/").json() == {}
