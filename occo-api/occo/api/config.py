"""OCCO's configuration (``occo.yaml``): plain, validated YAML with a default for every key.

No file is needed for the embedded default: in-process transport, SQLite state under the
user's data directory, the local and dummy clouds. Every key and value is checked; a
mistake is an error naming the file, line and key. ``Config.show()`` gives the effective
configuration with secrets (passwords in URLs, tokens) redacted.

Where things live by default (XDG base directories):

- state: ``$XDG_DATA_HOME/occo/state.sqlite`` (``~/.local/share/occo/state.sqlite``)
- local cloud's nodes: ``$XDG_DATA_HOME/occo/local/``
- configuration and credentials: ``$XDG_CONFIG_HOME/occo/occo.yaml`` and
  ``auth_data.yaml`` (``~/.config/occo/...``), the REST token ``rest-token`` beside them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from occo.compiler import InstanceLimits
from occo.util import (
    ConfigError,
    Field,
    InputErrors,
    Schema,
    configured_limits,
    load_yaml_file,
    location_of,
    redact,
)

__all__ = ["Config", "load_config", "data_home", "config_home", "CONFIG_SCHEMA"]

STORE_BACKENDS = ("sqlite", "memory", "redis", "postgresql")
TRANSPORT_BACKENDS = ("inprocess", "amqp")


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "occo"


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "occo"


SECTIONS: dict[str, Schema] = {
    "store": Schema("store", (
        Field("backend", choices=STORE_BACKENDS,
              doc="sqlite (default), memory, redis or postgresql"),
        Field("path", doc="SQLite file (default: data directory/state.sqlite)"),
        Field("url", doc="redis://host:port/db or postgresql://user@host:port/dbname"),
        Field("prefix", doc="key prefix in Redis (default: occo)"),
    )),
    "transport": Schema("transport", (
        Field("backend", choices=TRANSPORT_BACKENDS, doc="inprocess (default) or amqp"),
        Field("url", doc="amqp://user:password@host:port/vhost"),
        Field("prefix", doc="queue name prefix (default: occo)"),
        Field("rpc_timeout", "number", minimum=0, doc="seconds an RPC may take"),
        Field("prefetch", "int", minimum=1, doc="unacknowledged messages per worker"),
        Field("max_redeliveries", "int", minimum=0,
              doc="redeliveries of a failing message before it goes to the dead-letter "
                  "queue (it is delivered at most max_redeliveries + 1 times)"),
        Field("reconnect_timeout", "number", minimum=0,
              doc="how long calls wait for a broker that went away before they fail"),
        Field("connect_timeout", "number", minimum=0),
        Field("close_grace", "number", minimum=0),
    )),
    "rest": Schema("rest", (
        Field("host", doc="address to bind (default 127.0.0.1)"),
        Field("port", "int", minimum=0, doc="TCP port (default 5000)"),
        Field("token_file", doc="where the bearer token is kept (created with mode 0600)"),
        Field("cors_origins", "list", items="str", doc="origins allowed by CORS (default none)"),
        Field("max_body", "int", minimum=1, doc="largest request body in bytes (default 1 MiB)"),
        Field("threads", "int", minimum=1, doc="worker threads (default 16)"),
        Field("scaling_host", doc="address of a second listener that serves only the scale "
                                  "paths, to nodes with their scaling secret (default none)"),
        Field("scaling_port", "int", minimum=0, doc="its TCP port (default 5001)"),
        Field("scaling_rate", "int", minimum=1,
              doc="scaling requests a minute per infrastructure by secret (default 30)"),
    )),
    "processing": Schema("processing", (
        Field("max_parallel", "int", minimum=1,
              doc="nodes in flight per cloud endpoint, for every cloud (default: each "
                  "cloud's own, see clouds.<type>.limits and `occo config show`)"),
        Field("rate", "number", minimum=0, doc="nodes started per second per endpoint, "
                                                "0 unlimited (default: the cloud's)"),
        Field("burst", "int", minimum=1, doc="nodes started at once before the rate "
                                              "applies (default: the cloud's)"),
        Field("batch_size", "int", minimum=1, doc="nodes per cloud call (default: the "
                                                   "cloud's)"),
        Field("poll_interval", "number", minimum=0,
              doc="seconds between state polls of a starting node (default: the cloud's)"),
        Field("first_poll", "number", minimum=0,
              doc="first look at a new node (default: the cloud's)"),
        Field("create_timeout", "number", minimum=0), Field("health_timeout", "number", minimum=0),
        Field("max_attempts", "int", minimum=1), Field("call_retries", "int", minimum=0),
        Field("drop_retries", "int", minimum=0), Field("backoff", "mapping"),
        Field("lease_ttl", "number", minimum=1),
    )),
    "maintenance": Schema("maintenance", (
        Field("interval", "number", minimum=0), Field("wake_check", "number", minimum=0),
        Field("health_timeout", "number", minimum=0), Field("brake_fraction", "number", minimum=0),
        Field("lease_ttl", "number", minimum=0),
        Field("choice", choices=("random", "first", "seeded")),
        Field("seed", "int"),
    )),
    "clouds": Schema("clouds", (), extra_keys=True,
                     doc="settings per cloud handler backend, e.g. local: {root: DIR}, and "
                         "their limits: dummy: {limits: {rate: 50}, endpoints: "
                         "{'dummy:lab': {limits: {...}}}}"),
    "instances": Schema("instances", (
        Field("max_per_node", "int", minimum=1,
              doc="most instances one node may have: scaling min and max, scale requests "
                  "(default 10000)"),
        Field("max_per_infrastructure", "int", minimum=1,
              doc="most instances one infrastructure may reach: the sum of its nodes' "
                  "scaling max (default 100000)"),
    )),
    "rollout": Schema("rollout", (
        Field("auto_rollback", "bool",
              doc="a build whose rollout fails returns to the previous definition at once "
                  "(default false: the old instances keep serving, `occo build --rollback` "
                  "returns)"),
    )),
    "includes": Schema("includes", (
        Field("allow_outside", "bool",
              doc="let !yaml_import/!text_import read outside the description's directory"),
    )),
    "logging": Schema("logging", (
        Field("level", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
        Field("json", "bool", doc="one JSON object per log line"),
    )),
}

CONFIG_SCHEMA = Schema("occo.yaml", tuple(
    [Field(name, "mapping", doc=schema.doc or name) for name, schema in SECTIONS.items()]
    + [Field("auth_data", doc="the credentials file (default: config directory)")]))

_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@]*:)(?P<pw>[^@]*)(?=@)")


@dataclass(frozen=True, slots=True)
class Config:
    """The effective configuration: the file's values over the defaults."""

    source: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.values.get(name) or {})

    @property
    def store(self) -> dict[str, Any]:
        out = {"backend": "sqlite", "path": str(data_home() / "state.sqlite"), "prefix": "occo"}
        out.update(self.section("store"))
        return out

    @property
    def transport(self) -> dict[str, Any]:
        out = {"backend": "inprocess", "url": "amqp://guest:guest@127.0.0.1:5672/%2F",
               "prefix": "occo", "rpc_timeout": 3600, "prefetch": 8, "max_redeliveries": 3}
        out.update(self.section("transport"))
        return out

    @property
    def rest(self) -> dict[str, Any]:
        out = {"host": "127.0.0.1", "port": 5000, "token_file": str(config_home() / "rest-token"),
               "cors_origins": [], "max_body": 1024 * 1024, "threads": 16,
               "scaling_host": None, "scaling_port": 5001, "scaling_rate": 30}
        out.update(self.section("rest"))
        return out

    @property
    def clouds(self) -> dict[str, Any]:
        # the dummy cloud lives in a file by default, so that it outlasts one command like a
        # real cloud does; `store: memory` keeps it in the process (benchmarks, tests)
        out: dict[str, Any] = {"local": {"root": str(data_home() / "local")},
                               "dummy": {"store": str(data_home() / "dummy-cloud.sqlite")}}
        for name, settings in self.section("clouds").items():
            out[name] = {**out.get(name, {}), **dict(settings or {})}
        if out["dummy"].get("store") in (None, "", "memory"):
            out["dummy"].pop("store", None)
        return out

    @property
    def instance_limits(self) -> InstanceLimits:
        """The bounds the compiler and scale requests apply (``instances:``)."""
        return InstanceLimits(**self.section("instances"))

    @property
    def rollout(self) -> dict[str, Any]:
        return {"auto_rollback": False, **self.section("rollout")}

    @property
    def auth_data(self) -> Path | None:
        given = self.values.get("auth_data")
        if given:
            return Path(given)
        default = config_home() / "auth_data.yaml"
        return default if default.is_file() else None

    def effective(self) -> dict[str, Any]:
        from occo.enactor import MaintenanceConfig
        from occo.infraprocessor import ProcessingConfig

        processing = ProcessingConfig.from_mapping(self.section("processing"))
        maintenance = MaintenanceConfig.from_mapping(self.section("maintenance"))
        return {
            "store": self.store, "transport": self.transport, "rest": self.rest,
            "processing": {f: getattr(processing, f) if f != "backoff" else
                           {"base": processing.backoff.base, "factor": processing.backoff.factor,
                            "cap": processing.backoff.cap}
                           for f in processing.__dataclass_fields__
                           if getattr(processing, f) is not None},  # unset: the cloud's
            "limits": self.cloud_limits(processing),
            "maintenance": {f: getattr(maintenance, f)
                            for f in maintenance.__dataclass_fields__},
            "clouds": self.clouds,
            "instances": {"max_per_node": self.instance_limits.max_per_node,
                          "max_per_infrastructure": self.instance_limits.max_per_infrastructure},
            "rollout": self.rollout,
            "includes": {"allow_outside": False, **self.section("includes")},
            "logging": {"level": "WARNING", "json": False, **self.section("logging")},
            "auth_data": str(self.auth_data) if self.auth_data else None,
        }

    def cloud_limits(self, processing: Any = None) -> dict[str, Any]:
        """The pace per installed cloud backend, as the processor will use it: the
        backend's defaults, then ``processing:``, then ``clouds.<type>.limits``; each
        configured endpoint under ``endpoints``. ``set_by`` names the layer of each key the
        configuration changed (the others are the backend's defaults)."""
        from occo.cloudhandler import CloudHandlerService, installed_types
        from occo.infraprocessor import ProcessingConfig

        processing = processing or ProcessingConfig.from_mapping(self.section("processing"))
        service = CloudHandlerService(self.clouds)
        out: dict[str, Any] = {}
        for kind in installed_types():
            try:
                cls = service.handler_class(kind)
            except Exception:  # noqa: BLE001 - a backend that cannot load shows why
                out[kind] = {"error": "its backend cannot be loaded"}
                continue
            configured = service.configured_limits(kind)
            entry: dict[str, Any] = processing.limits_for(cls.limits, configured).to_dict()
            set_by = {k: "processing" for k in processing.limit_overrides()}
            set_by.update({k: f"clouds.{kind}.limits" for k in configured})
            if set_by:
                entry["set_by"] = set_by
            endpoints = (self.clouds.get(kind) or {}).get("endpoints") or {}
            if endpoints:
                entry["endpoints"] = {
                    key: processing.limits_for(
                        cls.limits, service.configured_limits(kind, key)).to_dict()
                    for key in endpoints}
            out[kind] = entry
        return out

    def show(self) -> dict[str, Any]:
        """The effective configuration with secrets redacted."""
        return _hide_url_passwords(redact(self.effective()))


def _hide_url_passwords(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _hide_url_passwords(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_url_passwords(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: m["head"] + "***", value)
    return value


def load_config(path: str | Path | None = None, *, state: str | None = None) -> Config:
    """Read ``path`` (or the default file if it exists), validate it, apply ``--state``."""
    source: Path | None = Path(path) if path else None
    if source is None and (config_home() / "occo.yaml").is_file():
        source = config_home() / "occo.yaml"
    values: dict[str, Any] = {}
    if source is not None:
        if not source.is_file():
            raise ConfigError(f"configuration file not found: {source}")
        data = load_yaml_file(source)
        if data is None:
            data = {}
        errors = CONFIG_SCHEMA.check(data, "")
        if isinstance(data, dict):
            for name, schema in SECTIONS.items():
                if isinstance(data.get(name), dict):
                    errors += schema.check(data[name], name, parent=data, key=name)
            _check_backends(data, errors)
            _check_cloud_limits(data, errors)
        if errors:
            raise InputErrors([ConfigError(e.message, location=e.location) for e in errors])
        values = {k: v for k, v in data.items()}
    if state:
        values = dict(values)
        values["store"] = {**dict(values.get("store") or {}), **_state_option(state)}
    return Config(str(source) if source else None, values)


def _check_backends(data: dict, errors: list) -> None:
    store = data.get("store")
    if not isinstance(store, dict):
        return
    backend = store.get("backend")
    if backend in ("redis", "postgresql") and not store.get("url"):
        errors.append(ConfigError(f"the {backend} store needs url: "
                                  + ("redis://host:port/db" if backend == "redis" else
                                     "postgresql://user@host:port/dbname"),
                                  location=location_of(data, "store", path="store")))


def _check_cloud_limits(data: dict, errors: list) -> None:
    """Each ``clouds.<type>.limits`` and ``endpoints.<key>.limits``, checked where written."""
    clouds = data.get("clouds")
    if not isinstance(clouds, dict):
        return

    def locate(*keys: Any) -> Any:
        container, loc = clouds, location_of(clouds)
        for key in keys:
            if not isinstance(container, dict) or key not in container:
                break
            loc = location_of(container, key) or loc
            container = container[key]
        return loc

    for kind, section in clouds.items():
        if isinstance(section, dict):
            try:
                configured_limits(section, kind, locate=locate)
            except ConfigError as exc:
                errors.append(exc)


def _state_option(state: str) -> dict[str, Any]:
    """``--state``: what :func:`occo.infobroker.open_store` takes (checked as it checks it:
    a mistyped URL is an error, never a file name)."""
    from occo.infobroker import state_backend
    backend = state_backend(state)
    if backend in ("redis", "postgresql"):
        return {"backend": backend, "url": state}
    if backend == "memory":
        return {"backend": "memory"}
    if state.startswith("sqlite://"):
        state = state[len("sqlite://"):]
    return {"backend": "sqlite", "path": str(Path(state).expanduser())}
