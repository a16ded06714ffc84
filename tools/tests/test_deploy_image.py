"""OCCO's container image (deploy/), built offline from the wheelhouse and run for real:
it answers /health, builds an infrastructure through REST with its token, keeps its
state across a restart, and runs the distributed set-up (one worker container per
endpoint, through the machine's RabbitMQ and Redis)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from deployenv import ROOT, Docker, apt_install, build_image, engine

NODES = """\
node_def:small:
  - resource: {type: dummy, create_latency: 0.05}
"""



def description(name: str, apps: int) -> str:
    """A db and ``apps`` apps that depend on it, on the dummy cloud."""
    return (f"infra_name: {name}\nnodes:\n  - &DB {{name: db, type: small}}\n"
            f"  - &APP {{name: app, type: small, scaling: {{min: {apps}}}}}\n"
            "dependencies:\n  - [*APP, *DB]\n")


TOKEN_FILE = "/var/lib/occo/config/occo/rest-token"


@pytest.fixture(scope="module")
def image(wheelhouses):
    found = engine()
    if isinstance(found, str):
        pytest.skip(found)
    docker, daemon = found
    tag = f"occo-test/occo:{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        built = build_image(docker, tag)
        print(f"image {built} built in {time.monotonic() - started:.1f} s")
        yield docker, built
    finally:
        if daemon is not None:
            daemon.stop()
        else:
            docker.run("image", "rm", "-f", tag, f"{tag}-base", check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, token: str | None = None,
            body: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/yaml"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 headers=headers,
                                 data=body.encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def until(what: str, check, timeout: float = 90.0):
    """``check()``'s first true value, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.5)


def healthy(docker: Docker, container: str) -> bool:
    state = docker.inspect(container)["State"]
    assert state["Running"], f"{container} stopped:\n{logs(docker, container)}"
    return state.get("Health", {}).get("Status") == "healthy"


def logs(docker: Docker, container: str) -> str:
    proc = docker.run("logs", container, check=False)
    return proc.stdout + proc.stderr


def ready(port: int, token: str, infra_id: str, count: int) -> bool:
    status, body = request(port, "GET", f"/infrastructures/{infra_id}?format=occo", token)
    assert status == 200, body
    return body["ready"] == count


def serve(docker: Docker, image: str, name: str, port: int, *mounts: str) -> None:
    docker.run("run", "-d", "--name", name, "--network", "host",
               "-e", "OCCO_HOST=127.0.0.1", "-e", f"OCCO_PORT={port}", *mounts, image)


def import_nodes(docker: Docker, container: str, tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(NODES)
    docker.run("cp", str(nodes), f"{container}:/tmp/nodes.yaml")
    docker.run("exec", "-u", "0", container, "chmod", "0644", "/tmp/nodes.yaml")
    docker.run("exec", container, "occo", "import", "/tmp/nodes.yaml")


def test_the_image_serves_builds_and_keeps_its_state_across_a_restart(image, tmp_path):
    docker, tag = image
    name, volume, port = f"occo-{uuid.uuid4().hex[:8]}", f"occo-state-{uuid.uuid4().hex[:8]}", \
        free_port()
    docker.run("volume", "create", volume)
    try:
        serve(docker, tag, name, port, "-v", f"{volume}:/var/lib/occo")
        until("the image's health check passes", lambda: healthy(docker, name))
        # the service runs as the image's own user, not root
        uid = docker.run("exec", name, "sh", "-c", "awk '/^Uid:/ {print $2}' /proc/1/status")
        assert uid.stdout.strip() == "10001"
        token = docker.run("exec", name, "cat", TOKEN_FILE).stdout.strip()
        assert len(token) >= 32
        assert token not in logs(docker, name), "the token must not be in the container's log"
        assert "a new REST token was made in " + TOKEN_FILE in logs(docker, name)
        assert request(port, "GET", "/infrastructures/")[0] == 401

        import_nodes(docker, name, tmp_path)
        status, body = request(port, "POST", "/infrastructures/", token, description("few", 2))
        assert status == 202, body
        infra_id = body["infraid"]
        until("the infrastructure is built", lambda: ready(port, token, infra_id, 3))

        docker.run("restart", "--time", "30", name)
        until("healthy again after the restart", lambda: healthy(docker, name))
        assert docker.run("exec", name, "cat", TOKEN_FILE).stdout.strip() == token
        status, body = request(port, "GET", "/infrastructures/", token)
        assert status == 200 and body["infrastructures"] == [infra_id], body
        assert ready(port, token, infra_id, 3)
        assert "REST token: in " + TOKEN_FILE in logs(docker, name)

        status, body = request(port, "DELETE", f"/infrastructures/{infra_id}", token)
        assert status == 202, body
        until("destroyed", lambda: request(port, "GET", "/infrastructures/", token)[1]
              ["infrastructures"] == [])
    finally:
        docker.run("rm", "-f", "-v", name, check=False)
        docker.run("volume", "rm", "-f", volume, check=False)


def test_worker_containers_build_20_nodes_through_rabbitmq_and_redis(image, tmp_path):
    """``occo serve`` and one ``occo worker`` per endpoint, each in a container of the
    image, with the configuration of docs/user/distributed.rst mounted as a file. With
    the amqp transport the service serves no endpoint itself: the workers do the work."""
    docker, tag = image
    prefix = f"occotest-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "occo.yaml"
    config.write_text(json.dumps({
        "store": {"backend": "redis", "url": "redis://127.0.0.1:6379/0", "prefix": prefix},
        "transport": {"backend": "amqp", "url": "amqp://guest:guest@127.0.0.1:5672/%2F",
                      "prefix": prefix, "rpc_timeout": 120},
        "rest": {"token_file": "/var/lib/occo/rest-token"}}))
    config.chmod(0o644)
    mount = ["-v", f"{config}:/etc/occo/occo.yaml:ro"]
    port = free_port()
    names = {"serve": f"{prefix}-serve"}
    try:
        serve(docker, tag, names["serve"], port, *mount)
        until("the service is healthy", lambda: healthy(docker, names["serve"]))
        token = docker.run("exec", names["serve"], "cat", "/var/lib/occo/rest-token"
                           ).stdout.strip()
        for endpoint in ("infraprocessor", "cloudhandler", "servicecomposer"):
            names[endpoint] = f"{prefix}-{endpoint}"
            docker.run("run", "-d", "--name", names[endpoint], "--network", "host", *mount,
                       tag, "worker", endpoint)
        for endpoint in ("infraprocessor", "cloudhandler", "servicecomposer"):
            until(f"the {endpoint} worker serves",
                  lambda endpoint=endpoint: f"serving {endpoint}" in logs(docker, names[endpoint]),
                  timeout=60)
        import_nodes(docker, names["serve"], tmp_path)
        status, body = request(port, "POST", "/infrastructures/", token, description("twenty", 19))
        assert status == 202, body
        infra_id = body["infraid"]
        until("20 nodes built by the workers", lambda: ready(port, token, infra_id, 20),
              timeout=180)
        assert "serving cloudhandler" in logs(docker, names["cloudhandler"])

        status, body = request(port, "DELETE", f"/infrastructures/{infra_id}", token)
        assert status == 202, body
        until("destroyed", lambda: request(port, "GET", "/infrastructures/", token)[1]
              ["infrastructures"] == [], timeout=180)
    finally:
        for container in names.values():
            docker.run("rm", "-f", "-v", container, check=False)
        clean_broker_and_store(docker, tag, prefix)


CLEANUP = """
import sys, pika, redis
prefix = sys.argv[1]
client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
keys = list(client.scan_iter(match=prefix + ":*", count=1000))
if keys:
    client.delete(*keys)
conn = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F"))
channel = conn.channel()
for endpoint in ("cloudhandler", "servicecomposer", "infraprocessor"):
    for queue in (prefix + "." + endpoint, prefix + "." + endpoint + ".dead"):
        channel.queue_delete(queue)
conn.close()
"""


def clean_broker_and_store(docker: Docker, tag: str, prefix: str) -> None:
    """Remove the test's Redis keys and RabbitMQ queues, with the image's own clients."""
    docker.run("run", "--rm", "--network", "host", "--entrypoint", "/opt/occo/bin/python",
               tag, "-c", CLEANUP, prefix)


COMPOSE = ROOT / "deploy" / "compose"


def compose_command() -> list[str]:
    """docker-compose (Debian's package; installed when missing, as root under CI)."""
    if not shutil.which("docker-compose") and os.geteuid() == 0 and (
            os.environ.get("CI") == "true" or os.environ.get("OCCO_TEST_DOCKER") == "start"):
        apt_install(["docker-compose"])
    found = shutil.which("docker-compose")
    assert found, "docker-compose is not installed (apt-get install docker-compose)"
    return [found]


def test_the_compose_set_up_is_valid_and_its_secrets_are_files(image, tmp_path):
    """make-secrets.sh makes the secret files (0600, owned by the containers' users), the
    compose file is valid with them, and OCCO's image accepts the configuration made,
    showing none of its passwords."""
    docker, tag = image
    secrets = tmp_path / "secrets"
    made = subprocess.run([str(COMPOSE / "make-secrets.sh"), str(secrets)],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    owners = {"occo.yaml": 10001, "auth_data.yaml": 10001, "rabbitmq.conf": 999,
              "redis.conf": 999}
    for name, owner in owners.items():
        info = (secrets / name).stat()
        assert info.st_mode & 0o777 == 0o600, name
        if os.geteuid() == 0:
            assert info.st_uid == owner, name
    again = subprocess.run([str(COMPOSE / "make-secrets.sh"), str(secrets)],
                           capture_output=True, text=True, timeout=60)
    assert again.stdout.count("kept ") == 4, again.stdout      # never overwritten

    checked = subprocess.run([*compose_command(), "-f", str(COMPOSE / "compose.yaml"),
                              "config"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "OCCO_SECRETS": str(secrets),
                                  "OCCO_IMAGE": tag, "DOCKER_HOST": docker.host})
    assert checked.returncode == 0, checked.stderr
    for service in ("rabbitmq", "redis", "serve", "infraprocessor", "cloudhandler",
                    "servicecomposer"):
        assert f"  {service}:" in checked.stdout
    assert "127.0.0.1:5000" in checked.stdout or "host_ip: 127.0.0.1" in checked.stdout

    password = (secrets / "redis.conf").read_text().split()[1]
    # mounted file by file, as compose mounts secrets
    shown = docker.run("run", "--rm", "--network", "none",
                       "-v", f"{secrets}/occo.yaml:/run/secrets/occo.yaml:ro",
                       "-v", f"{secrets}/auth_data.yaml:/run/secrets/auth_data.yaml:ro",
                       "-e", "OCCO_CONFIG=/run/secrets/occo.yaml", tag, "config", "show")
    assert "amqp" in shown.stdout and "redis" in shown.stdout, shown.stdout
    assert password not in shown.stdout + shown.stderr
    amqp_password = (secrets / "rabbitmq.conf").read_text().split("default_pass = ")[1].strip()
    assert amqp_password not in shown.stdout + shown.stderr
