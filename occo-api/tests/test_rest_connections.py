"""The REST server under idle, slow and many connections (GuardedServer): a request that
trickles or never ends is closed after its timeout, the connections that wait longest are
closed to make room past the limits, and a new client is always served, with requests in
service left alone. Small limits here; the service's defaults are checked separately."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest

from occo.api.rest_server import ConnectionLimits, GuardedServer, create_guarded_server

LIMITS = ConnectionLimits(header_timeout=1.0, body_timeout=2.0, idle_timeout=2,
                          max_connections=20, max_per_client=10)


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.5)
    body = b"ok\n"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def server():
    srv = create_guarded_server(app, host="127.0.0.1", port=0, threads=4, limits=LIMITS)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield srv
    srv.close()
    srv.task_dispatcher.shutdown(timeout=5)


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=5)
    return sock


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes ``sock`` within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def get(server, path: str = "/") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.timeout(60)
def test_a_request_trickled_a_byte_at_a_time_is_closed_after_the_header_timeout(server):
    sock = connect(server)
    began = time.monotonic()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    closed = False
    for _ in range(40):   # one header line every 0.25 s: never idle, never finished
        try:
            sock.sendall(b"X-Slow: a\r\n")
        except OSError:
            closed = True
            break
        if closed_by_server(sock, 0.25):
            closed = True
            break
    assert closed and time.monotonic() - began < 6
    assert get(server) == 200
    sock.close()


@pytest.mark.timeout(60)
def test_a_body_that_never_ends_is_closed_after_the_body_timeout(server):
    sock = connect(server)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
    assert closed_by_server(sock, 8)
    sock.close()


@pytest.mark.timeout(60)
def test_past_the_limits_the_longest_waiting_make_room_and_a_new_client_is_served(server):
    idle = []
    for _ in range(3 * LIMITS.max_connections):
        idle.append(connect(server))
        time.sleep(0.005)
    assert get(server) == 200
    time.sleep(0.5)
    still_open = [s for s in idle if not closed_by_server(s, 0.01)]
    assert len(still_open) <= LIMITS.max_per_client
    assert server.shed >= len(idle) - LIMITS.max_per_client
    # the oldest went first: the newest are the ones left
    assert set(map(id, still_open)) <= set(map(id, idle[-LIMITS.max_per_client - 1:]))
    for s in idle:
        s.close()


@pytest.mark.timeout(60)
def test_requests_in_service_keep_their_connections(server):
    answers = []
    slow = [threading.Thread(target=lambda: answers.append(get(server, "/slow")))
            for _ in range(3)]
    for t in slow:
        t.start()
    time.sleep(0.3)   # they are being served
    flood = [connect(server) for _ in range(2 * LIMITS.max_connections)]
    for t in slow:
        t.join(timeout=10)
    assert answers == [200, 200, 200]
    for s in flood:
        s.close()


def test_the_rest_service_listens_with_the_guarded_server(tmp_path, monkeypatch):
    from occo.api.config import load_config
    from occo.api.rest import RestService
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    service = RestService(load_config(None, state="memory://"), port=0)
    try:
        assert isinstance(service.server, GuardedServer)
        assert service.server.limits == ConnectionLimits()
        assert service.server.adj.channel_timeout == ConnectionLimits().idle_timeout
    finally:
        service.stop()


@pytest.mark.timeout(120)
def test_past_1024_descriptors_the_server_still_serves(server):
    # select() cannot watch a descriptor past 1024; the server polls instead
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2600
    if soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"this process may open {hard} files; the test needs {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    held = []
    try:
        for _ in range(1100):
            sock = connect(server)
            sock.sendall(b"GET / HTTP/1.1\r\n")
            held.append(sock)
        assert max(s.fileno() for s in held) > 1024
        assert get(server) == 200
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
