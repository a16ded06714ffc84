"""Health checks against real listeners on loopback (and the real MariaDB on 3306)."""

from __future__ import annotations

import asyncio
import http.server
import os
import secrets
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import make_request

from occo.servicecomposer import (
    CheckStatus,
    HealthCheck,
    HealthChecker,
    HealthCheckError,
    HealthCheckUnavailableError,
    HealthConfig,
    HealthPlan,
    HealthReport,
    ProbeFailed,
    Where,
)
from occo.servicecomposer.health.ping import ping_method
from occo.util import plugin_names

WHERE = Where("web", "web_node", "infra-h", "health_check")
FAST = HealthConfig(timeouts={"ping": 2.0, "ports": 1.0, "urls": 1.0, "mysqldbs": 5.0})


@pytest.fixture
def checker():
    with HealthChecker(FAST) as hc:
        yield hc


def listener(address: str = "127.0.0.1", backlog: int = 16) -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.listen(backlog)
    return sock


def plan_for(checker, section, address="127.0.0.1", instance_id="web-1"):
    return checker.plan(section, instance_id=instance_id, address=address, where=WHERE)


def test_builtins_are_entry_points():
    known = set(plugin_names("occo.healthcheck"))
    assert {"ping", "ports", "urls", "mysqldbs", "synch_attrs"} <= known


def test_ports_open_and_refused(checker):
    with listener() as open_sock, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        good, bad = open_sock.getsockname()[1], closed.getsockname()[1]
        (report,) = checker.run([plan_for(checker, {"ping": False, "ports": [good, str(bad)]})])
    assert [c.status for c in report.checks] == [CheckStatus.OK, CheckStatus.FAILED]
    assert report.checks[1].detail == "connection refused"
    assert report.checks[1].target == str(bad)
    assert not report.healthy and f"ports {bad}: failed: connection refused" in report.summary()


def test_each_probe_has_its_own_timeout(checker):
    with listener(backlog=0) as full:
        port = full.getsockname()[1]
        fillers = []
        for _ in range(4):  # fill the accept queue: further SYNs are dropped
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        try:
            config = HealthConfig(timeouts={"ports": 0.3})
            with HealthChecker(config) as hc:
                (report,) = hc.run([plan_for(hc, {"ping": False, "ports": [port]})])
        finally:
            for s in fillers:
                s.close()
    assert report.checks[0].status is CheckStatus.FAILED
    assert report.checks[0].detail == "no answer within 0.3 s"


class _Handler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self):  # noqa: N802
        if self.path == "/slow":
            self.release.wait(10)
        codes = {"/ok": 200, "/moved": 302, "/missing": 404, "/broken": 500, "/slow": 200}
        self.send_response(codes.get(self.path, 404))
        if self.path == "/moved":
            self.send_header("Location", "/elsewhere-that-is-404")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    _Handler.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)
    _Handler.release.clear()


def test_urls_2xx_and_3xx_are_healthy(checker, http_server):
    base = f"http://127.0.0.1:{http_server}"
    urls = [f"{base}/ok", f"{base}/moved", f"{base}/missing", f"{base}/broken", f"{base}/slow",
            f"http://user:Sekr3tPw@127.0.0.1:{http_server}/ok"]
    (report,) = checker.run([plan_for(checker, {"ping": False, "urls": urls})])
    statuses = [(c.status, c.detail) for c in report.checks]
    assert statuses[:4] == [(CheckStatus.OK, "HTTP 200"), (CheckStatus.OK, "HTTP 302"),
                            (CheckStatus.FAILED, "HTTP 404 Not Found"),
                            (CheckStatus.FAILED, "HTTP 500 Internal Server Error")]
    assert statuses[4] == (CheckStatus.FAILED, "no answer within 1 s")
    assert report.checks[5].ok and "Sekr3tPw" not in report.checks[5].target
    assert report.checks[5].target == f"http://user:***@127.0.0.1:{http_server}/ok"


def test_urls_are_rendered_with_ip(composer, http_server):
    request = make_request(health_check={"ping": False,
                                         "urls": [f"http://{{{{ip}}}}:{http_server}/ok"]})
    (report,) = composer.check_health([(request, "127.0.0.1")])
    assert report.healthy and report.checks[0].target == f"http://127.0.0.1:{http_server}/ok"


def _service_absent(reason: str) -> None:
    """Outside CI a test whose service is missing skips; under CI=true it fails."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def test_ping_on_loopback(checker):
    try:
        assert ping_method() in ("datagram", "raw", "binary")
    except HealthCheckUnavailableError as exc:
        _service_absent(f"this host cannot ping: {exc}")
    (report,) = checker.run([plan_for(checker, None, address="127.0.0.1")])
    assert [c.kind for c in report.checks] == ["ping"]  # ping is the default
    assert report.healthy, report.summary()
    assert report.checks[0].detail.startswith("echo reply")
    plans = [plan_for(checker, {"ping": True}, address=f"127.0.4.{i + 1}", instance_id=f"n{i}")
             for i in range(50)]
    assert all(r.healthy for r in checker.run(plans))


_PING_PROBE = """
import asyncio, os, sys
from occo.servicecomposer import HealthChecker, HealthCheckUnavailableError, Where
from occo.servicecomposer.health.ping import ping_method
if len(sys.argv) > 1:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    method = ping_method()
except HealthCheckUnavailableError as exc:
    print("UNAVAILABLE", exc); sys.exit(0)
with HealthChecker() as hc:
    plan = hc.plan({"ping": True}, instance_id="i", address="127.0.0.1",
                   where=Where("n", "t", "x", "health_check"))
    (report,) = hc.run([plan])
print("METHOD", method, report.healthy, report.checks[0].detail)
"""


def _in_range(gid: int, text: str) -> bool:
    low, high = (int(x) for x in text.split())
    return low <= gid <= high


def test_ping_without_privileges_or_binary_says_what_to_do(tmp_path):
    ranges = Path("/proc/sys/net/ipv4/ping_group_range").read_text()
    env = {"PATH": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _PING_PROBE, "drop"], capture_output=True,
                          text=True, timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    if _in_range(65534, ranges):  # this host allows unprivileged ICMP to everyone
        assert proc.stdout.startswith("METHOD datagram True"), proc.stdout
    else:
        assert proc.stdout.startswith("UNAVAILABLE the ping health check cannot run on this "
                                      "host"), proc.stdout
        assert "ping_group_range" in proc.stdout and "install iputils-ping" in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a network namespace")
def test_ping_through_an_unprivileged_datagram_socket(tmp_path):
    # a network namespace of our own, where ping_group_range can be widened safely
    script = ("ip link set lo up && echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range"
              f" && exec {sys.executable} -c \"$PROBE\"")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin"),
           "PYTHONPATH": os.pathsep.join(sys.path), "PROBE": _PING_PROBE}
    proc = subprocess.run(["unshare", "--net", "--", "sh", "-c", script], capture_output=True,
                          text=True, timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("METHOD datagram True echo reply"), proc.stdout


def test_many_nodes_are_checked_concurrently():
    socks = [listener(f"127.0.{1 + i // 250}.{1 + i % 250}", backlog=4) for i in range(300)]
    try:
        with HealthChecker(HealthConfig(max_concurrency=64)) as hc:
            plans = [plan_for(hc, {"ping": False, "ports": [s.getsockname()[1]]},
                              address=s.getsockname()[0], instance_id=f"n{i}")
                     for i, s in enumerate(socks)]
            plans.append(plan_for(hc, {"ping": False, "ports": [1]}, address="127.0.9.9",
                                  instance_id="dead"))
            reports = hc.run(plans)
    finally:
        for s in socks:
            s.close()
    assert [r.instance_id for r in reports] == [p.instance_id for p in plans]
    assert all(r.healthy for r in reports[:-1])
    assert not reports[-1].healthy


@pytest.mark.parametrize("section, problem", [
    ({"ports": ["http"]}, "health_check ports: item 0: 'http' is not a port number"),
    ({"ports": [70000]}, "health_check ports: item 0: 70000 is not a port number"),
    ({"urls": ["ftp://x/"]}, "health_check urls: item 0: 'ftp://x/' is not an http"),
    ({"ping": "maybe"}, "health_check ping: must be true or false, got 'maybe'"),
    ({"mysqldbs": [{"name": "x", "user": "u"}]}, "health_check mysqldbs: item 0: missing pass"),
    ({"pnig": True},
     "unknown health check 'pnig'; known: mysqldbs, ping, ports, synch_attrs, urls"),
    ({"synch_attrs": "port"}, "health_check synch_attrs: must be a list of attribute names"),
])
def test_wrong_values_are_located_errors(checker, section, problem):
    with pytest.raises(HealthCheckError) as info:
        plan_for(checker, section)
    assert problem in str(info.value) and "node 'web'" in str(info.value)
    assert info.value.exit_code == 2


def test_settings_are_not_checks_and_ping_false_checks_nothing(checker):
    plan = plan_for(checker, {"ping": False, "timeout": 600, "type": "basic"})
    assert plan.checks == ()
    assert checker.plan({"ping": False}, instance_id="i", address="127.0.0.1").checks == ()
    with pytest.raises(HealthCheckError) as info:
        checker.plan({"ports": ["x"]}, instance_id="i-7", address="127.0.0.1")
    assert str(info.value).startswith("health_check.ports: node 'i-7': health_check ports")
    (report,) = checker.run([plan])
    assert report.healthy and report.summary() == "healthy (0 checks)"


def test_plans_and_reports_are_json_round_trips(checker):
    plan = plan_for(checker, {"ping": False, "ports": [22, "80"]})
    assert HealthPlan.from_dict(plan.to_dict()) == plan
    (report,) = checker.run([plan.to_dict()])
    assert HealthReport.from_dict(report.to_dict()) == report
    assert report.to_dict()["healthy"] == report.healthy


class Flaky(HealthCheck):
    key = "flaky"

    def targets(self, value, *, address):
        return list(value)

    async def probe(self, address, target, timeout, state):
        if target == "boom":
            raise RuntimeError("plugin bug")
        if target == "hang":
            await asyncio.Event().wait()
        if target == "bad":
            raise ProbeFailed("wrong answer")
        return "fine"


def test_plugins_and_their_failures():
    with HealthChecker(HealthConfig(default_timeout=0.2), checks={"flaky": Flaky()}) as hc:
        plan = hc.plan({"flaky": ["ok", "boom", "hang", "bad"], "ping": False},
                       instance_id="i", address="127.0.0.1", where=WHERE)
        (report,) = hc.run([plan])
    assert [(c.status, c.detail) for c in report.checks] == [
        (CheckStatus.OK, "fine"), (CheckStatus.FAILED, "RuntimeError: plugin bug"),
        (CheckStatus.FAILED, "no answer within 0.2 s"), (CheckStatus.FAILED, "wrong answer")]
    with HealthChecker(checks={"flaky": Flaky()}) as hc:
        assert "flaky" in hc.known() and "ports" in hc.known()


def test_a_round_can_be_run_from_inside_an_event_loop(checker):
    with listener() as sock:
        plan = plan_for(checker, {"ping": False, "ports": [sock.getsockname()[1]]})

        async def main():
            return checker.run([plan]), await checker.arun([plan])

        sync_reports, async_reports = asyncio.run(main())
    assert sync_reports[0].healthy and async_reports[0].healthy


# -- mysqldbs against the real MariaDB ------------------------------------------------

@pytest.fixture
def mariadb_user():
    pymysql = pytest.importorskip("pymysql")
    suffix = secrets.token_hex(4)
    name, user, password = f"occo_sc_{suffix}", f"occo_sc_{suffix}", f"pw-{secrets.token_hex(8)}"
    try:
        root = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True,
                               connect_timeout=5)
    except pymysql.MySQLError as exc:
        _service_absent(f"no MariaDB at 127.0.0.1:3306 (root, empty password): {exc}")
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        for host in ("localhost", "127.0.0.1", "%"):
            cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY "
                        f"{root.escape(password)}")
            cur.execute(f"GRANT ALL ON `{name}`.* TO '{user}'@'{host}'")
    try:
        yield name, user, password
    finally:
        with root.cursor() as cur:
            for host in ("localhost", "127.0.0.1", "%"):
                cur.execute(f"DROP USER IF EXISTS '{user}'@'{host}'")
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        root.close()


def test_mysqldbs_against_mariadb(composer, mariadb_user):
    name, user, password = mariadb_user
    section = {"ping": False, "mysqldbs": [
        {"name": "{{ variables.db }}", "user": user, "pass": "{{ variables.db_pass }}"},
        {"name": name, "user": user, "pass": "wrong-password"},
        {"name": "no_such_db_occo", "user": user, "pass": password}]}
    request = make_request(health_check=section, variables={"db": name, "db_pass": password})
    (report,) = composer.check_health([(request, "127.0.0.1")])
    assert [c.status for c in report.checks] == [CheckStatus.OK, CheckStatus.FAILED,
                                                 CheckStatus.FAILED]
    assert report.checks[0].target == f"{user}@{name}"
    assert report.checks[1].detail.startswith("MySQL error 1045: Access denied")
    assert password not in str(report.to_dict())


_NO_DRIVER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "pymysql" or name.startswith("pymysql."):
            raise ImportError("blocked for this test")
sys.meta_path.insert(0, Block())
from occo.servicecomposer import HealthChecker, HealthCheckUnavailableError, Where
with HealthChecker() as hc:
    where = Where("db", "t", "x", "health_check")
    print("PINGONLY", len(hc.plan({"ping": False, "ports": [1]}, instance_id="i",
                                  address="127.0.0.1", where=where).checks))
    try:
        hc.plan({"ping": False, "mysqldbs": [{"name": "a", "user": "b", "pass": "c"}]},
                instance_id="i", address="127.0.0.1", where=where)
    except HealthCheckUnavailableError as exc:
        print("ERROR", exc)
"""


def test_mysqldbs_without_the_driver_is_a_clear_error():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", _NO_DRIVER], capture_output=True, text=True,
                          timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "PINGONLY 1"
    assert lines[1].startswith("ERROR health_check.mysqldbs: node 'db': the mysqldbs health "
                               "check needs a MySQL driver")
    assert "occo-servicecomposer[mysql]" in lines[1]
