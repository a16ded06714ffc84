"""Helpers of the REST and occopus-* tests: an isolated set-up on the dummy cloud, a real HTTP
client (one connection per client, as a separate program would have), and waiting with a
deadline.

Every test gets its own state, token file and XDG directories under tmp_path.
"""

from __future__ import annotations

import http.client
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FAST = {"poll_interval": 0.02, "first_poll": 0.01, "rate": 0, "create_timeout": 60,
        "backoff": {"base": 0.01, "factor": 2, "cap": 0.1}}

NODE_DEFINITIONS = """\
'node_def:db_t':
  - resource: {type: dummy, create_latency: 0.02}
'node_def:app_t':
  - resource: {type: dummy, create_latency: 0.02}
'node_def:slow_t':
  - resource: {type: dummy, create_latency: 0.5}
'node_def:stuck_t':
  - resource: {type: dummy, create_latency: 3600}
"""

DESCRIPTION = """\
infra_name: shop
variables: {db_password: hunter2-secret}
nodes:
  - &DB {name: db, type: db_t}
  - &APP {name: app, type: app_t, scaling: {min: 1, max: 3}}
dependencies:
  - [*APP, *DB]
"""


@dataclass
class Setup:
    """One isolated OCCO under ``root``: configuration, node definitions, environment."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "occo.yaml"

    @property
    def token_file(self) -> Path:
        return self.root / "secret" / "rest-token"

    def write(self, *, dummy_store: str | None = "memory", **sections: Any) -> Path:
        config: dict[str, Any] = {
            "store": {"backend": "sqlite", "path": str(self.root / "state.sqlite")},
            "processing": dict(FAST),
            "maintenance": {"interval": 0.2, "wake_check": 0.02, "lease_ttl": 2,
                            "choice": "first"},
            "clouds": {"dummy": {"store": dummy_store or str(self.root / "dummy.sqlite")}},
            "rest": {"token_file": str(self.token_file), "threads": 8},
        }
        for name, values in sections.items():
            config[name] = {**config.get(name, {}), **values}
        self.config_file.write_text(yaml.safe_dump(config))
        (self.root / "nodes.yaml").write_text(NODE_DEFINITIONS)
        (self.root / "infra.yaml").write_text(DESCRIPTION)
        return self.config_file

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_DATA_HOME"] = str(self.root / "xdg-data")
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        return env


class Client:
    """A small HTTP client with its own connection; bodies in and out as JSON."""

    def __init__(self, port: int, token: str | None, host: str = "127.0.0.1") -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.token = token

    def request(self, method: str, path: str, body: str | bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        self.conn.request(method, path, body=body, headers=sent)
        response = self.conn.getresponse()
        raw = response.read()
        data = json.loads(raw) if raw and response.getheader("Content-Type", "").startswith(
            "application/json") else raw.decode("utf-8", "replace")
        return response.status, data, {k.lower(): v for k, v in response.getheaders()}

    def get(self, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: str | bytes | None = None, **kw: Any
             ) -> tuple[int, Any, dict[str, str]]:
        return self.request("POST", path, body=body, **kw)

    def delete(self, path: str, **kw: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.conn.close()


def ready_count(client: Client, infra_id: str, node: str) -> tuple[int, int]:
    """(ready instances, target) of ``node``."""
    status, body, _ = client.get(f"/infrastructures/{infra_id}")
    assert status == 200, body
    entry = body[node]
    ready = sum(i["state"] == "ready" for i in entry["instances"].values())
    return ready, entry["scaling"]["target"]


def built(client: Client, infra_id: str) -> bool:
    status, body, _ = client.get(f"/infrastructures/{infra_id}?format=occo")
    assert status == 200, body
    return body["busy"] is None and body["status"] == "ready"
