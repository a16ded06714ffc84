"""The names a template of one node instance sees (FORMATS.md section 4).

``getip``, ``getprivip``, ``getipall`` and ``find_node_id`` read other nodes through the
:class:`~occo.servicecomposer.lookup.NodeLookup`; answers are memoised for the duration
of one instance's resolution, so a template that says ``getip('db')`` ten times asks
once. Occopus templates write ``getip(master)`` with a bare, undefined name: an
undefined *bare name* is taken as the node name it was looked up by; every other
undefined value stays an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Undefined
from jinja2.utils import missing

from occo.util import describe_value

from .errors import DependencyNotReadyError, ServiceComposerError, TemplateError
from .lookup import NodeLookup

__all__ = ["node_functions", "traced", "NODE_FUNCTIONS"]

NODE_FUNCTIONS = ("getip", "getprivip", "getipall", "find_node_id")


def _node_name(function: str, value: Any) -> str:
    if isinstance(value, Undefined):
        bare = (getattr(value, "_undefined_obj", None) is missing
                and getattr(value, "_undefined_hint", None) is None)
        if bare and isinstance(getattr(value, "_undefined_name", None), str):
            return value._undefined_name
        value._fail_with_undefined_error()
    if not isinstance(value, str) or not value:
        raise TemplateError(f"{function}() takes a node name, got {describe_value(value)}")
    return value


def _first(addresses: Any) -> str | None:
    if isinstance(addresses, str):
        return addresses or None
    if isinstance(addresses, (list, tuple)) and addresses:
        return str(addresses[0])
    return None


def node_functions(lookup: NodeLookup, *, infra_id: str, node: str,
                   dependencies: frozenset[str] | None) -> dict[str, Callable[..., Any]]:
    """``getip`` and friends for one instance of ``node`` in ``infra_id``.

    With ``dependencies`` given, naming a node outside it (other than ``node`` itself)
    is an error; without, any node of the infrastructure may be named.
    """
    memo: dict[tuple[bool, str], list[Mapping[str, Any]]] = {}

    def fetch(function: str, value: Any, *, ready: bool) -> tuple[str, list[Mapping[str, Any]]]:
        name = _node_name(function, value)
        if dependencies is not None and name != node and name not in dependencies:
            known = ", ".join(sorted(dependencies)) or "none"
            raise TemplateError(f"{function}({name!r}): node {name!r} is not a dependency "
                                f"of node {node!r} (its dependencies: {known})")
        key = (ready, name)
        if key not in memo:
            try:
                found = (lookup.ready_instances if ready else lookup.instances)(infra_id, name)
            except ServiceComposerError:
                raise
            except Exception as exc:  # the lookup's backend failed
                raise ServiceComposerError(f"{function}({name!r}): looking up the instances "
                                           f"of node {name!r} failed: {type(exc).__name__}: "
                                           f"{exc}") from exc
            memo[key] = list(found)
        return name, memo[key]

    def not_ready(function: str, name: str, what: str) -> DependencyNotReadyError:
        hint = ""
        if not fetch(function, name, ready=False)[1]:
            hint = (f"; infrastructure {infra_id!r} has no instance of {name!r} at all "
                    "(is it the name of one of its nodes?)")
        return DependencyNotReadyError(f"{function}({name!r}): node {name!r} has {what}{hint}",
                                       node=node, infra_id=infra_id)

    def first_ready(function: str, value: Any) -> tuple[str, Mapping[str, Any]]:
        name, found = fetch(function, value, ready=True)
        if not found:
            raise not_ready(function, name, "no ready instance")
        return name, found[0]

    def getip(value: Any) -> str:
        name, instance = first_ready("getip", value)
        address = _first(instance.get("addresses"))
        if address is None:
            raise not_ready("getip", name, "no address yet")
        return address

    def getprivip(value: Any) -> str:
        name, instance = first_ready("getprivip", value)
        address = _first(instance.get("private_addresses")) or _first(instance.get("addresses"))
        if address is None:
            raise not_ready("getprivip", name, "no address yet")
        return address

    def getipall(value: Any) -> list[str]:
        _, found = fetch("getipall", value, ready=True)
        return [a for a in (_first(i.get("addresses")) for i in found) if a is not None]

    def find_node_id(value: Any) -> str:
        name, found = fetch("find_node_id", value, ready=False)
        if not found:
            raise not_ready("find_node_id", name, "no instance")
        return str(found[0]["instance_id"])

    return {"getip": getip, "getprivip": getprivip, "getipall": getipall,
            "find_node_id": find_node_id}


def traced(functions: Mapping[str, Callable[..., Any]], used: dict[str, Any]
           ) -> dict[str, Callable[..., Any]]:
    """``functions`` that also note each answer in ``used`` as ``{"getip('db')": value}``
    (only calls that succeeded: a failed one fails the render anyway)."""
    def wrap(function: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def noted(value: Any) -> Any:
            result = call(value)
            used[f"{function}({_node_name(function, value)!r})"] = result
            return result
        return noted
    return {name: wrap(name, call) for name, call in functions.items()}


def cut(text: Any, start: Any = None, end: Any = None) -> str:
    """``text[start:end]``, as Occopus's ``cut``."""
    for label, bound in (("start", start), ("end", end)):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise TemplateError(f"cut(): {label} must be an integer, got {describe_value(bound)}")
    if isinstance(text, Undefined):
        text._fail_with_undefined_error()
    return str(text)[start:end]
