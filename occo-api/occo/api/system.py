"""Wiring: the only place where OCCO's concrete parts meet.

A :class:`System` opens the store, the transport and the credentials named by the
configuration, serves the endpoints this process runs (all three with the default
in-process transport; those of ``occo worker`` with AMQP), and makes the clients and the
enactor that the Python API, the CLI and the REST service use.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from occo.cloudhandler import CloudHandlerService
from occo.enactor import Enactor, MaintenanceConfig
from occo.infobroker import Store, open_store
from occo.infraprocessor import ProcessingConfig, Processor
from occo.servicecomposer import ComposerEndpoint, ServiceComposer, StoreLookup
from occo.util import ConfigError, Credentials, load_credentials
from occo.util.comm import ENDPOINTS, InProcessTransport, Transport, open_transport

from .config import Config

__all__ = ["System", "open_transport_from"]

log = logging.getLogger(__name__)

ALL = ENDPOINTS


def open_transport_from(config: Config) -> Transport:
    return open_transport(config.transport)


def _store_url(config: Config) -> str:
    store = config.store
    if store["backend"] == "memory":
        return "memory://"
    if store["backend"] == "postgresql":
        return store["url"]
    if store["backend"] == "redis":
        url = store["url"]
        prefix = store.get("prefix")
        if prefix and "prefix=" not in url:
            url += ("&" if "?" in url else "?") + f"prefix={prefix}"
        return url
    path = Path(store["path"]).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file():
            kind = "a directory" if path.is_dir() else "not a regular file"
            raise ConfigError(f"store.path {path}: the state file is {kind}; give --state "
                              "or store.path a file (it is created on first use)")
    except OSError as exc:
        reason = "a part of its path is a file, not a directory" if isinstance(
            exc, (FileExistsError, NotADirectoryError)) else (exc.strerror or str(exc))
        raise ConfigError(f"store.path {path}: the state file's directory cannot be made "
                          f"({reason}); give --state or store.path a writable place") \
            from None
    return str(path)


class System:
    """Store, transport, served endpoints and the clients of one OCCO process."""

    def __init__(self, config: Config, *, auth_data: str | Path | None = None,
                 serve: Iterable[str] | None = None, store: Store | None = None,
                 transport: Transport | None = None) -> None:
        self.config = config
        self.store = store or open_store(_store_url(config))
        self.transport = transport or open_transport_from(config)
        local = config.transport["backend"] == "inprocess"
        self.serving = tuple(serve if serve is not None else (ALL if local else ()))
        auth_path = Path(auth_data) if auth_data else config.auth_data
        self.credentials = load_credentials(auth_path) if auth_path else Credentials.empty()
        self.processing = ProcessingConfig.from_mapping(config.section("processing"))
        self.maintenance = MaintenanceConfig.from_mapping(config.section("maintenance"))
        self.cloud_service: CloudHandlerService | None = None
        self.processor: Processor | None = None
        for endpoint in self.serving:
            self._serve(endpoint)
        self.cloud = self.transport.client("cloudhandler")
        self.composer = self.transport.client("servicecomposer")
        self.processor_client = self.transport.client("infraprocessor")
        self.enactor = Enactor(self.store, processor=self.processor_client, cloud=self.cloud,
                               composer=self.composer, config=self.maintenance)

    def _serve(self, endpoint: str) -> None:
        # in-process: threads enough for the processor's parallel calls (batched: 64 at
        # most); over amqp: the transport's prefetch (configured per worker) decides
        parallel = max(4, min(64, self.processing.max_parallel or 64)) \
            if isinstance(self.transport, InProcessTransport) else None
        if endpoint == "cloudhandler":
            self.cloud_service = CloudHandlerService(self.config.clouds, self.credentials)
            self._offer("cloudhandler", self.cloud_service, parallel)
        elif endpoint == "servicecomposer":
            composer = ServiceComposer(StoreLookup(self.store))
            self._offer("servicecomposer", ComposerEndpoint(composer), parallel)
        elif endpoint == "infraprocessor":
            self.processor = Processor(self.store, cloud=self.transport.client("cloudhandler"),
                                       composer=self.transport.client("servicecomposer"),
                                       config=self.processing)
            self._offer("infraprocessor", self.processor, 16 if parallel else None)
        else:
            raise ConfigError(f"no endpoint {endpoint!r}; endpoints: {', '.join(ALL)}")

    def _offer(self, endpoint: str, handler: object, concurrency: int | None) -> None:
        """Serve ``endpoint`` with ``concurrency`` handler threads; None: as many as the
        transport takes by default (over amqp, its prefetch)."""
        if concurrency is None:
            self.transport.serve(endpoint, handler)
        else:
            self.transport.serve(endpoint, handler, concurrency=concurrency)

    def close(self) -> None:
        self.transport.close()
        if self.cloud_service is not None:
            self.cloud_service.close()
        self.store.close()

    def __enter__(self) -> System:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
