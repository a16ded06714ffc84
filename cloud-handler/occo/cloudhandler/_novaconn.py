"""The nova backend's connection to one OpenStack cloud, and its error translation.

One :class:`openstack.connection.Connection` per handler, i.e. per (Keystone URL,
project, region, credentials entry). It is built from OCCO's own settings only: no
``clouds.yaml`` and no ``OS_*`` variables are read. Every request it sends is counted
(``requests``, by method and service), so the tests can check the batching.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import openstack
import openstack.config
from keystoneauth1 import exceptions as ksa

from occo.util import CredentialEntry, InputError, OccoError, register_secret, scrub

from .errors import (
    BadResource,
    CapacityExceeded,
    CloudError,
    CloudUnavailable,
    CredentialsRejected,
    PermissionDenied,
    Throttled,
)

__all__ = ["connect", "translate", "auth_settings"]

log = logging.getLogger(__name__)

_APP_CREDENTIAL = ("application_credential", "v3applicationcredential")


def auth_settings(resource: Mapping[str, Any], entry: CredentialEntry | None) -> tuple[str,
                                                                                   dict]:
    """The keystoneauth plugin name and its options for ``resource`` and ``entry``.

    ``auth_data`` is ``{username, password}`` (optionally ``user_domain_name``,
    ``project_domain_name``) or ``{type: application_credential, id, secret}`` (or
    ``name`` with ``username``); the project is the resource's ``project_id``.
    """
    data = entry.auth_data if entry is not None else None
    where = entry.describe() if entry is not None else "no auth_data entry"
    url = str(resource.get("endpoint"))
    if not isinstance(data, Mapping):
        raise InputError(f"nova at {url} needs auth_data with username and password (or "
                         f"type: application_credential with id and secret); the matching "
                         f"entry {where} has none")
    kind = str(data.get("type") or "password")
    if kind in _APP_CREDENTIAL:
        secret = data.get("secret") or data.get("application_credential_secret")
        ident = data.get("id") or data.get("application_credential_id")
        if not secret or not (ident or data.get("name")):
            raise InputError(f"nova at {url}: auth_data entry {where} is an application "
                             "credential and needs id (or name and username) and secret")
        register_secret(str(secret))
        options: dict[str, Any] = {"auth_url": url, "application_credential_secret":
                                   str(secret)}
        if ident:
            options["application_credential_id"] = str(ident)
        else:
            options.update(application_credential_name=str(data["name"]),
                           username=str(data.get("username") or ""),
                           user_domain_name=str(data.get("user_domain_name") or "Default"))
        return "v3applicationcredential", options
    if kind not in ("password", "v3password"):
        raise InputError(f"nova at {url}: auth_data entry {where} has type {kind!r}; "
                         "the types are password and application_credential")
    if not data.get("username") or not data.get("password"):
        raise InputError(f"nova at {url} needs auth_data with username and password; the "
                         f"matching entry {where} lacks them")
    register_secret(str(data["password"]))
    domain = str(data.get("user_domain_name") or resource.get("user_domain_name")
                 or "Default")
    return "password", {
        "auth_url": url, "username": str(data["username"]), "password": str(data["password"]),
        "user_domain_name": domain,
        "project_domain_name": str(data.get("project_domain_name") or domain),
        "project_id": str(resource.get("project_id"))}


def connect(resource: Mapping[str, Any], entry: CredentialEntry | None,
            config: Mapping[str, Any], requests: Counter[str]) -> Any:
    """A connection to the cloud of ``resource``; nothing is sent until it is used."""
    auth_type, auth = auth_settings(resource, entry)
    data = entry.auth_data if entry is not None and isinstance(entry.auth_data, Mapping) \
        else {}
    region = config.get("region_name") or resource.get("region_name") or \
        data.get("region_name")
    interface = config.get("interface") or data.get("interface") or "public"
    cloud = openstack.config.get_cloud_region(
        load_yaml_config=False, load_envvars=False, auth_type=auth_type, auth=auth,
        region_name=str(region) if region else None, interface=str(interface),
        api_timeout=float(config.get("api_timeout", 30)),
        connect_retries=int(config.get("connect_retries", 2)),
        app_name="occo", app_version="nova")
    conn = openstack.connection.Connection(config=cloud)

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        path = urlsplit(response.request.url).path
        requests[f"{response.request.method} {_service(path)}"] += 1

    conn.session.session.hooks.setdefault("response", []).append(count)
    return conn


def _service(path: str) -> str:
    """``/v2.1/servers/detail`` -> ``servers``; ``/v2.0/floatingips`` -> ``floatingips``."""
    parts = [p for p in path.split("/") if p]
    while parts and (parts[0][:1] == "v" and parts[0][1:2].isdigit()):
        parts.pop(0)
    return parts[0] if parts else "/"


def translate(exc: BaseException, where: str, action: str,
              entry: CredentialEntry | None) -> OccoError:
    """An openstacksdk or keystoneauth error as OCCO's error (never with a secret)."""
    label = entry.describe() if entry is not None else "(none)"
    text = scrub(_message(exc))
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None) or 0
    if isinstance(exc, ksa.Unauthorized) or status == 401:
        return CredentialsRejected(f"{where} rejected the credentials of auth_data entry "
                                   f"{label}: {text}")
    if status == 413 or "quota" in text.lower():
        return CapacityExceeded(f"{where} has no room ({action}): {text}")
    if status == 403 or isinstance(exc, ksa.Forbidden):
        return PermissionDenied(f"{where}: the credentials of auth_data entry {label} may "
                                f"not {action}: {text}")
    if status == 429:
        return Throttled(f"{where} throttled {action}: {text}")
    if status == 400:
        return BadResource(f"{where} refused {action}: {text}")
    if isinstance(exc, (ksa.ConnectionError, ksa.RequestTimeout, ksa.DiscoveryFailure)) \
            or status >= 500:
        return CloudUnavailable(f"{where} failed {action} (unreachable or a server error): "
                                f"{text}")
    if isinstance(exc, ksa.EndpointNotFound):
        return CloudError(f"{where}: the catalog has no endpoint for {action}: {text}")
    return CloudError(f"{where} refused {action}: {text}")


def _message(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    text = str(details or exc) or type(exc).__name__
    return " ".join(text.split())[:500]
