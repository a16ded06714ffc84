"""What an instance was built from, recorded in its implementation as ``built_from``.

A plan compares this with what the description resolves to now (occo.enactor.changes),
so it holds everything a render of the instance's templates read besides the templates
themselves (which the implementation already holds): the node's merged ``variables``
that its templates name,
its ``attributes``, and the ``lookups`` its templates made of other nodes
(``{"getip('db')": "10.0.0.5"}``, as the service composer reports them). ``digest``
identifies the whole: the four template sections and these inputs.

It lives inside the existing ``implementation`` field, so no store backend changes and
records written before it existed read as before (without ``built_from``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["BUILT_FROM", "SECTIONS", "built_from", "digest", "used_variables",
           "with_built_from", "without"]

BUILT_FROM = "built_from"
SECTIONS = ("resource", "contextualisation", "config_management", "health_check")
#: ``variables.name`` or ``variables['name']``; ``variables`` alone (or computed) uses all
_USE = re.compile(r"\bvariables\b(?:\s*\.\s*(\w+)|\s*\[\s*(['\"])(.+?)\2\s*\])?")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def used_variables(implementation: Mapping[str, Any], variables: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """The variables the implementation's templates name (all of them where a template
    uses ``variables`` whole or with a computed key): a variable no template reads
    changes nothing, so it is no reason to replace."""
    names: set[str] = set()
    for text in _strings([implementation.get(s) for s in SECTIONS]):
        for match in _USE.finditer(text):
            name = match.group(1) or match.group(3)
            if name is None:
                return dict(variables)
            names.add(name)
    return {k: v for k, v in variables.items() if k in names}


def digest(implementation: Mapping[str, Any], inputs: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the template sections and the inputs, canonical JSON."""
    whole = {**{s: implementation.get(s) for s in SECTIONS},
             **{k: inputs.get(k) for k in ("variables", "attributes", "lookups")}}
    text = json.dumps(whole, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def built_from(implementation: Mapping[str, Any], node: Mapping[str, Any],
               lookups: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``built_from`` of an instance of ``node`` (the description's plain form)."""
    inputs = {"variables": used_variables(implementation, node.get("variables") or {}),
              "attributes": dict(node.get("attributes") or {}),
              "lookups": dict(lookups or {})}
    return {"digest": digest(implementation, inputs), **inputs}


def without(implementation: Mapping[str, Any]) -> dict[str, Any]:
    """The implementation as the description gave it (no ``built_from``)."""
    return {k: v for k, v in implementation.items() if k != BUILT_FROM}


def with_built_from(implementation: Mapping[str, Any], node: Mapping[str, Any],
                    lookups: Mapping[str, Any] | None) -> dict[str, Any]:
    plain = without(implementation)
    return {**plain, BUILT_FROM: built_from(plain, node, lookups)}
