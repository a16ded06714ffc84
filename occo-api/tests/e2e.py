"""Helpers of the end-to-end tests: an isolated OCCO set-up, descriptions, moto, clouds.

Every test gets its own state file, local-cloud root and XDG directories under tmp_path,
so nothing touches the user's real state and tests never see each other's nodes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from occo.api import Occo, load_config
from occo.cloudhandler import CloudHandlerService
from occo.util import testing
from occo.util.testing import MotoServer

REGION = "us-east-1"
IMAGE = "ami-04681a1dbd79675a5"   # one of the images moto lists

FAST_PROCESSING = {"poll_interval": 0.1, "first_poll": 0.02, "rate": 0, "create_timeout": 60,
                   "health_timeout": 30, "backoff": {"base": 0.01, "factor": 2, "cap": 0.2}}


@dataclass
class Setup:
    """One isolated OCCO: its directory, configuration file and helpers to use it."""

    root: Path
    config: dict[str, Any] = field(default_factory=dict)
    auth_data: Path | None = None

    @property
    def config_file(self) -> Path:
        return self.root / "occo.yaml"

    @property
    def state(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def local_root(self) -> Path:
        return self.root / "local"

    def write_config(self, **sections: Any) -> Path:
        config = {"store": {"backend": "sqlite", "path": str(self.state)},
                  "processing": dict(FAST_PROCESSING),
                  "maintenance": {"lease_ttl": 30, "choice": "first"},
                  "clouds": {"local": {"root": str(self.local_root), "grace_period": 2},
                             "dummy": {"store": str(self.root / "dummy.sqlite")}}}
        for name, values in sections.items():
            config[name] = {**config.get(name, {}), **values}
        self.config = config
        self.config_file.write_text(yaml.safe_dump(config))
        return self.config_file

    def occo(self) -> Occo:
        if not self.config_file.exists():
            self.write_config()
        return Occo(load_config(self.config_file), auth_data=self.auth_data)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_DATA_HOME"] = str(self.root / "xdg-data")
        env["XDG_CONFIG_HOME"] = str(self.root / "xdg-config")
        return env

    def cli(self, *args: str, check: bool = False, timeout: float = 300,
            **kwargs: Any) -> subprocess.CompletedProcess:
        """Run the `occo` command with this set-up's configuration."""
        if not self.config_file.exists():
            self.write_config()
        cmd = [str(Path(sys.executable).parent / "occo"), "--config", str(self.config_file)]
        if self.auth_data:
            cmd += ["--auth-data", str(self.auth_data)]
        proc = subprocess.run([*cmd, *args], capture_output=True, text=True, env=self.env(),
                              timeout=timeout, **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError(f"occo {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def spawn(self, *args: str) -> subprocess.Popen:
        """Start `occo ...` without waiting (for kill tests)."""
        if not self.config_file.exists():
            self.write_config()
        cmd = [str(Path(sys.executable).parent / "occo"), "--config", str(self.config_file)]
        if self.auth_data:
            cmd += ["--auth-data", str(self.auth_data)]
        return subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(),
                                start_new_session=True)

    def cloud(self) -> CloudHandlerService:
        """The cloud handlers as the orchestrator configures them (to count resources)."""
        from occo.util import load_credentials
        config = load_config(self.config_file)
        creds = load_credentials(self.auth_data) if self.auth_data else None
        return CloudHandlerService(config.clouds, creds)


def write_description(directory: Path, name: str, nodes: dict[str, dict],
                      edges: list[tuple[str, str]], definitions: dict[str, list[dict]],
                      variables: dict | None = None) -> Path:
    """infra.yaml and nodes/node_definitions.yaml in ``directory``; returns infra.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    description = {"infra_name": name,
                   "nodes": [{"name": n, **spec} for n, spec in nodes.items()],
                   "dependencies": [[a, b] for a, b in edges]}
    if variables:
        description["variables"] = variables
    (directory / "nodes").mkdir(exist_ok=True)
    (directory / "nodes" / "node_definitions.yaml").write_text(yaml.safe_dump(
        {f"node_def:{t}": impls for t, impls in definitions.items()}, sort_keys=False))
    infra = directory / "infra.yaml"
    infra.write_text(yaml.safe_dump(description, sort_keys=False))
    return infra


class Moto(MotoServer):
    """moto's EC2 API server (:func:`occo.util.testing.start_moto`) and what these tests ask
    of it."""

    def ec2(self):
        import boto3
        return boto3.client("ec2", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def occo_instances(self, infra_id: str) -> list[dict]:
        """Instances carrying this infrastructure's tag and not terminated."""
        found = []
        pages = self.ec2().get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag:occo:infra_id", "Values": [infra_id]}])
        for page in pages:
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    if inst["State"]["Name"] not in ("terminated", "shutting-down"):
                        found.append(inst)
        return found


def start_moto(timeout: float = 60.0) -> Moto:
    server = testing.start_moto(timeout=timeout)
    return Moto(server.url, server.port, server.process)


def ec2_definition(moto: Moto) -> dict:
    return {"resource": {"type": "ec2", "endpoint": moto.url, "regionname": REGION,
                         "image_id": IMAGE, "instance_type": "t3.micro"},
            "health_check": {"ping": False}}


def ec2_auth_data(directory: Path) -> Path:
    path = directory / "auth_data.yaml"
    path.write_text(yaml.safe_dump({"resource": [
        {"type": "ec2", "auth_data": {"accesskey": "testing", "secretkey": "testing"}}]}))
    return path


#: a node definition on the dummy cloud that is up almost at once
DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.01}}]


def two_tier(directory: Path) -> Path:
    """A db and two to four apps that depend on it, on the dummy cloud."""
    return write_description(directory, "two-tier", {
        "db": {"type": "t"}, "app": {"type": "t", "scaling": {"min": 2, "max": 4}}},
        [("app", "db")], {"t": DUMMY})


def local_definition(command: str, **extra: Any) -> dict:
    resource = {"type": "local", "command": command, "grace_period": 2}
    resource.update(extra.pop("resource", {}))
    return {"resource": resource, **extra}


def cloud_nodes(setup: Setup, description: dict, infra_id: str) -> list[dict]:
    """Every live resource the clouds hold for ``infra_id`` (from the description's endpoints)."""
    resources = [impl["resource"] for node in description["nodes"]
                 for impl in node["implementations"]]
    return setup.cloud().list_nodes(infra_id, resources)


# ------------------------------------------------------------------ nova (OpenStack)

def nova_resource(cloud: Any, **extra: Any) -> dict:
    """A nova resource section on the test cloud (occo.cloudhandler.testing.openstackenv)."""
    return {"type": "nova", "endpoint": cloud.auth_url, "project_id": cloud.project_id,
            "user_domain_name": "Default", "image_id": cloud.image,
            "flavor_name": cloud.flavor, "network_id": cloud.network, **extra}


def nova_auth_data(directory: Path, cloud: Any) -> Path:
    """auth_data.yaml with the demo user's password for the test cloud's Keystone."""
    path = directory / "auth_data.yaml"
    path.write_text(yaml.safe_dump({"resource": [
        {"type": "nova", "endpoint": cloud.auth_url,
         "auth_data": {"username": cloud.username, "password": cloud.password}}]}))
    return path


def nova_servers(cloud: Any, infra_id: str) -> list[Any]:
    """The servers nova holds for ``infra_id`` (by OCCO's tag, seen by the cloud's admin),
    without those already DELETED (an admin's list shows them until nova has cleaned up)."""
    from occo.cloudhandler.nova import tag
    from occo.util import TAG_INFRA

    admin = cloud.admin()
    try:
        return [server for server in
                admin.compute.servers(all_projects=True, tags=tag(TAG_INFRA, infra_id))
                if server.status not in ("DELETED", "SOFT_DELETED")]
    finally:
        admin.close()
