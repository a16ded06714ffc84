"""Contextualisation: what a node is handed at start-up (FORMATS.md section 2).

- ``cloudinit``: ``context_template`` is a string (rendered as one template) or a
  mapping (dumped as ``#cloud-config``). ``attributes`` (the implementation's, with the
  node's own ``attributes`` deep-merged over them) are deep-merged into the cloud-config
  mapping; for a string template they are merged into it when it is a ``#cloud-config``
  document and refused otherwise. The result is ``{"type": "cloudinit", "user_data": ...}``.
- ``docker``: ``{"type": "docker", "env": ["K=V", ...], "command": str | [str] | None}``;
  ``context_variables`` (a mapping, a list of ``K=V`` or one ``K=V``) become environment
  entries before ``env``'s, so ``env`` wins.
- ``basic``: ``{"type": "basic", "attributes": {...}}``, the merged attributes rendered.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import yaml

from occo.util import describe_value

from ._cloudconfig import CLOUD_CONFIG_HEADER, CloudConfigTemplate, dump_cloud_config
from .errors import ContextError
from .templates import TemplateRenderer, Where

__all__ = ["CONTEXT_TYPES", "Contextualiser", "deep_merge", "merge_attributes"]

CONTEXT_TYPES = ("cloudinit", "docker", "basic")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` merged into ``base``: mappings recursively, anything else replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else value
        return out
    return over


def merge_attributes(section_attrs: Any, node_attrs: Any, where: Where) -> dict[str, Any]:
    """The implementation's attributes with the node's merged over them (node wins).

    A list of mappings (as Occopus allowed) is merged in order.
    """
    merged: dict[str, Any] = {}
    for source, label in ((section_attrs, "attributes"), (node_attrs, "node attributes")):
        if source is None:
            continue
        items = source if isinstance(source, (list, tuple)) else [source]
        for item in items:
            if not isinstance(item, Mapping):
                raise ContextError(f"node {where.node!r}: {label} must be a mapping or a list "
                                   f"of mappings, got {describe_value(item)}",
                                   location=where.at(section_attrs, "attributes").location(),
                                   node=where.node, infra_id=where.infra_id)
            merged = deep_merge(merged, item)
    return merged


class Contextualiser:
    """Turns a rendered-on-demand contextualisation section into a NodeSpec context."""

    def __init__(self, renderer: TemplateRenderer, *, cache_size: int = 256) -> None:
        self._renderer = renderer
        self._cache: OrderedDict[str, CloudConfigTemplate] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def build(self, section: Mapping[str, Any] | None, names: Mapping[str, Any],
              node_attributes: Mapping[str, Any] | None, where: Where) -> dict[str, Any] | None:
        """The context of one instance, or None without a contextualisation section."""
        if section is None:
            return None
        kind = section.get("type")
        if kind == "cloudinit":
            return self._cloudinit(section, names, node_attributes, where)
        if kind == "docker":
            return self._docker(section, names, where)
        if kind == "basic":
            attrs = merge_attributes(section.get("attributes"), node_attributes, where)
            return {"type": "basic",
                    "attributes": self._renderer.render(attrs, names, where.at(section,
                                                                               "attributes"))}
        raise ContextError(f"node {where.node!r}: unknown contextualisation type "
                           f"{describe_value(kind)}; known: {', '.join(CONTEXT_TYPES)}",
                           location=where.at(section, "type").location(), node=where.node,
                           infra_id=where.infra_id)

    # -- cloudinit ---------------------------------------------------------------------

    def _cloudinit(self, section: Mapping[str, Any], names: Mapping[str, Any],
                   node_attributes: Mapping[str, Any] | None, where: Where) -> dict[str, Any]:
        template = section.get("context_template")
        at = where.at(section, "context_template")
        attrs = merge_attributes(section.get("attributes"), node_attributes, where)
        if isinstance(template, Mapping):
            user_data = self._prepared(deep_merge(template, attrs) if attrs else template,
                                       at).render(names)
        elif isinstance(template, str):
            user_data = self._renderer.render_text(template, names, at)
            if attrs:
                user_data = self._merge_into_text(user_data, attrs, names, where, at,
                                                  where.at(section, "attributes"))
            elif user_data.startswith(CLOUD_CONFIG_HEADER.strip()):
                self._parse(user_data, at)
        else:
            raise ContextError(f"node {where.node!r}: context_template must be a string or "
                               f"a mapping, got {describe_value(template)}",
                               location=at.location(), node=where.node, infra_id=where.infra_id)
        limit = self._renderer.limits.max_output
        if len(user_data) > limit:
            raise ContextError(f"node {where.node!r}: the rendered user-data is "
                               f"{len(user_data)} characters; the limit is {limit}",
                               location=at.location(), node=where.node, infra_id=where.infra_id)
        return {"type": "cloudinit", "user_data": user_data}

    def _prepared(self, mapping: Mapping[str, Any], where: Where) -> CloudConfigTemplate:
        key = json.dumps(mapping, sort_keys=True, default=repr)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        prepared = CloudConfigTemplate(self._renderer, mapping, where)
        with self._lock:
            self._cache[key] = prepared
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return prepared

    def _parse(self, text: str, at: Where) -> Any:
        try:
            return yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ContextError(f"node {at.node!r}: the rendered #cloud-config is not valid "
                               f"YAML{line}: {problem} (cloud-init would ignore it)",
                               location=at.location(), node=at.node,
                               infra_id=at.infra_id) from exc

    def _merge_into_text(self, user_data: str, attrs: Mapping[str, Any],
                         names: Mapping[str, Any], where: Where, at: Where,
                         attrs_at: Where) -> str:
        if not user_data.startswith(CLOUD_CONFIG_HEADER.strip()):
            raise ContextError(f"node {where.node!r}: attributes can only be merged into a "
                               "#cloud-config template; this context_template is another kind "
                               "of user-data (move the values into the template instead)",
                               location=at.location(), node=where.node, infra_id=where.infra_id)
        parsed = self._parse(user_data, at) or {}
        if not isinstance(parsed, Mapping):
            raise ContextError(f"node {where.node!r}: the rendered #cloud-config is not a "
                               "mapping, so attributes cannot be merged into it",
                               location=at.location(), node=where.node, infra_id=where.infra_id)
        rendered = self._renderer.render(attrs, names, attrs_at)
        return dump_cloud_config(deep_merge(parsed, rendered))

    # -- docker ------------------------------------------------------------------------

    def _docker(self, section: Mapping[str, Any], names: Mapping[str, Any],
                where: Where) -> dict[str, Any]:
        env: list[str] = []
        extra = section.get("context_variables")
        if extra is not None:
            at = where.at(section, "context_variables")
            rendered = self._renderer.render(extra, names, at)
            if isinstance(rendered, Mapping):
                env += [f"{k}={'' if v is None else v}" for k, v in rendered.items()]
            elif isinstance(rendered, list):
                env += [self._env_entry(item, at.at(extra, i)) for i, item in
                        enumerate(rendered)]
            else:
                env.append(self._env_entry(rendered, at))
        raw_env = section.get("env") or []
        at = where.at(section, "env")
        if not isinstance(raw_env, (list, tuple)):
            raise ContextError(f"node {where.node!r}: env must be a list of 'NAME=value', got "
                               f"{describe_value(raw_env)}", location=at.location(),
                               node=where.node, infra_id=where.infra_id)
        rendered_env = self._renderer.render(raw_env, names, at)
        env += [self._env_entry(item, at.at(raw_env, i)) for i, item in enumerate(rendered_env)]
        command = section.get("command")
        if command is not None:
            at = where.at(section, "command")
            command = self._renderer.render(command, names, at)
            if not isinstance(command, str) and not (
                    isinstance(command, list) and all(isinstance(c, str) for c in command)):
                raise ContextError(f"node {where.node!r}: command must be a string or a list "
                                   f"of strings, got {describe_value(command)}",
                                   location=at.location(), node=where.node,
                                   infra_id=where.infra_id)
        return {"type": "docker", "env": env, "command": command}

    @staticmethod
    def _env_entry(item: Any, where: Where) -> str:
        if not isinstance(item, str) or "=" not in item or item.startswith("="):
            raise ContextError(f"node {where.node!r}: an environment entry must be "
                               f"'NAME=value', got {describe_value(item)}",
                               location=where.location(), node=where.node,
                               infra_id=where.infra_id)
        return item
