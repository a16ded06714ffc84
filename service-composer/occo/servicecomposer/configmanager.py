"""Config management plugins (entry point group ``occo.configmanager``).

A config manager sees the node's ``config_management`` section *after* it was rendered,
and may

- check it (:meth:`ConfigManager.check`), with errors naming node and key;
- contribute names to the contextualisation templates (:meth:`template_names`), as
  Occopus's ``puppet_solo`` handed ``puppet.manifests``, ``puppet.modules`` and
  ``puppet.attributes`` to the cloud-init template;
- have a post-start step (:meth:`ready`): the caller asks it, together with the health
  checks, whether the started node's configuration is done.

Built-ins: ``none`` (the default), ``puppet_solo``, and ``chef``, which OCCO accepts in
files (so Occopus's chef tutorial compiles) but refuses to run with a clear error: it is
not implemented, because it could not be tested against a real Chef server.
"""

from __future__ import annotations

import threading
from abc import ABC
from collections.abc import Mapping
from typing import Any, ClassVar

import yaml

from occo.util import (
    CONFIG_MANAGER_GROUP,
    PluginNotFoundError,
    describe_value,
    load_plugin,
    plugin_names,
)

from .errors import ConfigManagementError, NotSupportedError
from .templates import Where

__all__ = ["CONFIG_MANAGER_GROUP", "ConfigManager", "NoConfigManager",
           "PuppetSoloConfigManager", "ChefConfigManager", "ConfigManagers"]



class ConfigManager(ABC):
    """Base of config management plugins; every hook has a do-nothing default."""

    name: ClassVar[str] = ""
    #: why OCCO refuses every node of this type, or None (asked before a build stores
    #: anything: ``ComposerEndpoint.config_managers``)
    unsupported: ClassVar[str | None] = None

    def check(self, section: Mapping[str, Any], where: Where) -> None:
        """Raise :class:`ConfigManagementError` if ``section`` cannot be used."""

    def template_names(self, section: Mapping[str, Any], where: Where) -> dict[str, Any]:
        """Names added to the contextualisation templates of this node."""
        return {}

    def ready(self, section: Mapping[str, Any], *, instance_id: str, address: str) -> bool:
        """Post-start step: whether the started node's configuration is done."""
        return True

    # helpers for subclasses

    @staticmethod
    def error(where: Where, section: Mapping[str, Any], key: str | None, message: str,
              cls: type[ConfigManagementError] = ConfigManagementError) -> ConfigManagementError:
        """An error about ``section[key]`` (or the whole section) of node ``where.node``."""
        raw = where.container.get(where.key) if isinstance(where.container, Mapping) else None
        source = raw if isinstance(raw, Mapping) and key in raw else section
        at = where.at(source, key) if key is not None else where
        return cls(f"node {where.node!r}: {message}", location=at.location(), node=where.node,
                   infra_id=where.infra_id)


class NoConfigManager(ConfigManager):
    """``type: none``: no config management (the default)."""

    name = "none"

    def check(self, section: Mapping[str, Any], where: Where) -> None:
        extra = sorted(str(k) for k in section if k != "type")
        if extra:
            raise self.error(where, section, extra[0],
                             f"config_management type 'none' takes no other keys, got "
                             f"{', '.join(extra)}")


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class PuppetSoloConfigManager(ConfigManager):
    """``type: puppet_solo``, as Occopus defined it.

    ``manifests`` (required) and ``modules`` are lists of strings; ``attributes`` is a
    list of one-key mappings (or a mapping). The cloud-init template gets::

        puppet.manifests   the manifests, space-separated
        puppet.modules     the modules, space-separated
        puppet.attributes  each attribute mapping as Python writes it
                           ({'dbuser': 'wp'} {'dbpass': '...'}), space-separated,
                           which the tutorial's sed turns into hiera YAML
        puppet.hieradata   (OCCO) the attributes merged, as a YAML document
    """

    name = "puppet_solo"
    keys = ("type", "manifests", "modules", "attributes")

    def check(self, section: Mapping[str, Any], where: Where) -> None:
        for key in section:
            if key not in self.keys:
                raise self.error(where, section, key,
                                 f"unknown key {key!r} in config_management of type "
                                 f"puppet_solo; valid keys: {', '.join(self.keys)}")
        if not section.get("manifests"):
            raise self.error(where, section, None, "config_management of type puppet_solo needs "
                                          "'manifests' (a list of manifest URLs)")
        for key in ("manifests", "modules"):
            value = section.get(key)
            if value is not None and not isinstance(value, (list, tuple, str)):
                raise self.error(where, section, key, f"{key} must be a list of strings, got "
                                             f"{describe_value(value)}")
        attrs = section.get("attributes")
        if attrs is not None and not isinstance(attrs, Mapping) and not (
                isinstance(attrs, (list, tuple)) and all(isinstance(a, Mapping) for a in attrs)):
            raise self.error(where, section, "attributes", "attributes must be a list of mappings "
                                                  f"(- name: value), got {describe_value(attrs)}")

    def template_names(self, section: Mapping[str, Any], where: Where) -> dict[str, Any]:
        attrs = section.get("attributes") or []
        items = [{k: v} for k, v in attrs.items()] if isinstance(attrs, Mapping) \
            else [dict(a) for a in attrs]
        merged: dict[str, Any] = {}
        for item in items:
            merged.update(item)
        return {"puppet": {
            "manifests": " ".join(_strings(section.get("manifests") or [])),
            "modules": " ".join(_strings(section.get("modules") or [])),
            "attributes": " ".join(repr(item) for item in items),
            "hieradata": yaml.safe_dump(merged, default_flow_style=False, sort_keys=False)
            if merged else "",
        }}


class ChefConfigManager(ConfigManager):
    """``type: chef``: accepted in files, refused when a node would use it."""

    name = "chef"
    unsupported = ("config_management type 'chef' is not supported by OCCO (it is not "
                   "implemented against a real Chef server). Use 'puppet_solo', or install "
                   "and run chef-client from a cloud-init context_template (cloud-init's "
                   "chef module) instead")

    def check(self, section: Mapping[str, Any], where: Where) -> None:
        raise self.error(where, section, "type", self.unsupported, NotSupportedError)


class ConfigManagers:
    """The config managers by type name: given ones, else the ``occo.configmanager``
    entry points (loaded once each). Thread-safe."""

    def __init__(self, given: Mapping[str, ConfigManager] | None = None) -> None:
        self._given = dict(given) if given is not None else None
        self._loaded: dict[str, ConfigManager] = {}
        self._lock = threading.Lock()

    def unsupported(self) -> dict[str, str]:
        """``{type: why}`` for the config manager types OCCO refuses outright."""
        out: dict[str, str] = {}
        for name in self.names():
            try:
                manager = self.get(name, Where("", "", None, "config_management"))
            except ConfigManagementError:
                continue  # a broken plugin is reported where a node uses it
            if manager.unsupported:
                out[name] = manager.unsupported
        return out

    def names(self) -> list[str]:
        return sorted(self._given) if self._given is not None \
            else plugin_names(CONFIG_MANAGER_GROUP)

    def get(self, name: Any, where: Where) -> ConfigManager:
        """The config manager of ``type: name``; a located error if there is none."""
        if self._given is not None:
            if name in self._given:
                return self._given[name]
            raise self._unknown(name, where)
        if not isinstance(name, str):
            raise ConfigManagementError(f"node {where.node!r}: config_management type must be "
                                        f"a string, got {describe_value(name)}",
                                        location=where.location(), node=where.node,
                                        infra_id=where.infra_id)
        with self._lock:
            found = self._loaded.get(name)
        if found is None:
            try:
                cls = load_plugin(CONFIG_MANAGER_GROUP, name, location=where.location())
            except PluginNotFoundError:
                raise self._unknown(name, where) from None
            found = cls() if isinstance(cls, type) else cls
            if not isinstance(found, ConfigManager):
                raise ConfigManagementError(f"the {CONFIG_MANAGER_GROUP} plugin {name!r} is "
                                            f"not a ConfigManager ({type(found).__name__})")
            with self._lock:
                self._loaded[name] = found
        return found

    def _unknown(self, name: Any, where: Where) -> ConfigManagementError:
        return ConfigManagementError(f"node {where.node!r}: unknown config_management type "
                                     f"{describe_value(name)}; known: "
                                     f"{', '.join(self.names())}", location=where.location(),
                                     node=where.node, infra_id=where.infra_id)
