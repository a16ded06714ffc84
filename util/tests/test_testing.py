"""The shared test helpers of occo.util.testing, on loopback servers made here."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from occo.util import testing
from occo.util.testing import FaultProxy, free_port, wait_for_port, wait_until


class Echo:
    """A TCP server that sends back what it gets, with a prefix."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(b"echo:" + data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def echo():
    server = Echo()
    yield server
    server.close()


def talk(port: int, data: bytes) -> bytes:
    """What the server answers to ``data``; b"" when the connection is closed or reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(data)
            return sock.recv(65536)
        except ConnectionResetError:
            return b""


def test_wait_until_returns_the_first_true_value():
    values = iter([0, None, "", "there"])
    assert wait_until(lambda: next(values), timeout=5, interval=0.001) == "there"


def test_wait_until_names_what_it_waited_for_and_the_last_value():
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s waiting for the "
                                             r"answer \(last: \[\]\)"):
        wait_until(list, timeout=0.05, interval=0.01, what="the answer")


def test_wait_until_moves_a_simulated_clock_instead_of_sleeping():
    now = [0.0]
    assert wait_until(lambda: now[0] >= 3, timeout=5, interval=1.0,
                      advance=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] == 3.0


def test_free_port_is_bindable_and_wait_for_port_sees_a_listener():
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        wait_for_port(port, timeout=5)


def test_wait_for_port_fails_at_once_when_the_server_exits():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(AssertionError, match=r"the server exited with status 3 before it "
                                             r"accepted connections"):
        wait_for_port(free_port(), timeout=30, alive=process, what="the server")


def test_start_moto_says_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(FileNotFoundError, match=r"moto_server is not installed beside "
                                                r"this Python"):
        testing.start_moto(timeout=1)


def test_proxy_forwards_and_counts_connections(echo):
    with FaultProxy(echo.address) as proxy:
        assert talk(proxy.port, b"one") == b"echo:one"
        assert talk(proxy.port, b"two") == b"echo:two"
        assert proxy.accepted == 2


def test_proxy_refuses_then_allows(echo):
    with FaultProxy(echo.address) as proxy:
        proxy.refuse()
        assert talk(proxy.port, b"x") == b""   # closed at once
        proxy.allow()
        assert talk(proxy.port, b"y") == b"echo:y"


def test_proxy_cut_resets_open_connections_and_says_how_many(echo):
    with FaultProxy(echo.address) as proxy:
        socks = [socket.create_connection(proxy.address, timeout=5) for _ in range(3)]
        for sock in socks:
            sock.sendall(b"hi")
            assert sock.recv(100) == b"echo:hi"
        assert proxy.cut() == 3 and proxy.cuts == 1
        for sock in socks:
            assert sock.recv(100) == b""
            sock.close()


def test_proxy_drops_the_reply_after_a_marker_and_closes(echo):
    with FaultProxy(echo.address) as proxy:
        proxy.drop_reply_after(b"COMMIT")
        assert talk(proxy.port, b"BEGIN") == b"echo:BEGIN"
        assert talk(proxy.port, b"COMMIT") == b""
        assert talk(proxy.port, b"again") == b"echo:again"


def test_proxy_cuts_a_request_short_then_refuses(echo):
    with FaultProxy(echo.address) as proxy:
        proxy.cut_request_after(3)
        assert talk(proxy.port, b"abcdef") in (b"", b"echo:abc")
        assert talk(proxy.port, b"later") == b""   # refusing since the cut


def test_proxy_holds_replies_until_a_cut(echo):
    with FaultProxy(echo.address) as proxy:
        sock = socket.create_connection(proxy.address, timeout=0.5)
        proxy.hold()
        sock.sendall(b"held")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert proxy.cut() == 1
        sock.close()


def test_proxy_url_keeps_credentials_path_and_query():
    with FaultProxy(("127.0.0.1", 9)) as proxy:
        assert (proxy.url("amqp://guest:pw@127.0.0.1:5672/%2F?heartbeat=5")
                == f"amqp://guest:pw@127.0.0.1:{proxy.port}/%2F?heartbeat=5")
        assert proxy.url("redis://localhost:6379/2") == f"redis://127.0.0.1:{proxy.port}/2"
