"""Which instances are outdated, and why: what each was built from against what the
description resolves to now.

An instance's record carries what it was built from (``implementation`` holds its
template sections and, since OCCO records it, ``built_from``: the variables its templates
name, the node's attributes and the lookups its templates made, such as
``getip('db')``). The same node now resolves to each of its implementations, the current
values of those variables, its attributes, and the lookups' current answers. Every key
that differs is a reason, with the old and the new value; values under secret-looking
keys are masked. A lookup whose answer comes from an instance the same plan drops or
replaces will change: the dependent is replaced too (``forced_by`` names the
dependency). Scaling is not compared: it never replaces; nor is ``getipall``, the
membership of a node, which every scaling and heal of it changes.

A pure function of the description and the records, like :func:`occo.enactor.decide`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from occo.compiler import StaticDescription
from occo.infobroker import InstanceRecord, InstanceState, Intent
from occo.util import REDACTED, is_secret_key, redact

__all__ = ["Change", "diff", "flatten", "outdated", "render_change", "SECTIONS"]

SECTIONS = ("resource", "contextualisation", "config_management", "health_check")
INPUTS = ("variables", "attributes", "lookups")
_LOOKUP = re.compile(r"^(getip|getprivip|getipall|find_node_id)\('(.*)'\)$")


@dataclass(frozen=True, slots=True)
class Change:
    """One key that differs; ``old``/``new`` absent (``MISSING``) where the key is new or
    gone. ``forced_by`` names the dependency whose replacement changes a lookup."""

    key: str
    old: Any
    new: Any
    forced_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with secrets masked (the key names one, or a registered value)."""
        secret = any(is_secret_key(part) for part in re.split(r"[.\[\]]", self.key))
        out: dict[str, Any] = {"key": self.key}
        for name in ("old", "new"):
            value = getattr(self, name)
            if value is not MISSING:
                out[name] = REDACTED if secret and value not in (None, "") else redact(value)
        if self.forced_by:
            out["forced_by"] = self.forced_by
        return out


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of nested mappings (lists are compared whole)."""
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for key in sorted(value, key=str):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value} if prefix else {}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """The keys of ``old`` and ``new`` (flattened) whose values differ, sorted."""
    a, b = flatten(old), flatten(new)
    return [Change(key, a.get(key, MISSING), b.get(key, MISSING))
            for key in sorted(set(a) | set(b)) if a.get(key, MISSING) != b.get(key, MISSING)]


def render_change(change: Mapping[str, Any]) -> list[str]:
    """A change as diff lines: ``- key: old`` and ``+ key: new``."""
    def show(value: Any) -> str:
        text = json.dumps(value, default=str)
        return text if len(text) <= 100 else text[:97] + "..."
    lines = []
    if "old" in change:
        lines.append(f"- {change['key']}: {show(change['old'])}")
    if change.get("forced_by"):
        lines.append(f"+ {change['key']}: (changes: {change['forced_by']} is replaced "
                     "or dropped)")
    elif "new" in change:
        lines.append(f"+ {change['key']}: {show(change['new'])}")
    return lines


class _Answers:
    """The lookups' answers now, from the records, with the instances that leave."""

    def __init__(self, by_node: Mapping[str, list[InstanceRecord]], leaving: set[str]) -> None:
        self.by_node = {n: sorted(rs, key=lambda r: (r.created_at, r.instance_id))
                        for n, rs in by_node.items()}
        self.leaving = leaving

    def answer(self, key: str) -> tuple[Any, str | None]:
        """``(value now, the node forcing a change or None)``; MISSING if unanswerable."""
        match = _LOOKUP.match(key)
        if match is None:
            return MISSING, None
        function, node = match.groups()
        if function == "getipall":
            # membership: it changes with every scaling and heal of the node, which never
            # replace anything; a node that must follow it does so while it runs
            return MISSING, None
        records = [r for r in self.by_node.get(node, []) if r.intent != Intent.DROPPING]
        if function == "find_node_id":
            used = records[:1]
            value = used[0].instance_id if used else MISSING
        else:
            ready = [r for r in records
                     if r.state == InstanceState.READY and r.intent == Intent.CREATED]
            used = ready[:1]
            if not used:
                value = MISSING
            elif function == "getip":
                value = used[0].addresses[0] if used[0].addresses else MISSING
            else:
                rec = used[0]
                value = (rec.private_addresses or rec.addresses or [MISSING])[0]
        forced = node if any(r.instance_id in self.leaving for r in used) else None
        return value, forced


def _now(node: Any, impl: Any, answers: _Answers, lookups: Mapping[str, Any] | None,
         recorded: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """What ``node`` with implementation ``impl`` resolves to now, and forced lookups."""
    plain = node.to_dict()
    now: dict[str, Any] = {s: impl.to_dict()[s] for s in SECTIONS}
    forced: dict[str, str] = {}
    if lookups is not None:
        # the variables it was built with are those its templates named: a template that
        # names another one differs itself
        current = plain.get("variables") or {}
        now["variables"] = {k: current[k] for k in (recorded or {}) if k in current}
        now["attributes"] = plain.get("attributes") or {}
        now["lookups"] = {}
        for key in lookups:
            value, by = answers.answer(key)
            if by is not None:
                forced[key] = by
            # a dependency with no answer now (not ready) is no reason by itself
            now["lookups"][key] = lookups[key] if value is MISSING or by else value
    return now, forced


def _reasons(rec: InstanceRecord, node: Any, answers: _Answers) -> list[Change]:
    impl = rec.implementation or {}
    built = impl.get("built_from")
    built = built if isinstance(built, Mapping) else None
    was: dict[str, Any] = {s: impl.get(s) for s in SECTIONS}
    lookups = None
    if built is not None:
        lookups = dict(built.get("lookups") or {})
        was.update({k: built.get(k) or {} for k in INPUTS})
    best: list[Change] | None = None
    for choice in node.implementations or ():
        now, forced = _now(node, choice, answers, lookups, was.get("variables"))
        changes = diff(was, now)
        if lookups is not None:   # forced lookups are only looked for then
            changes += [Change(f"lookups.{k}", lookups[k], MISSING, forced_by=by)
                        for k, by in forced.items()]
        if best is None or len(changes) < len(best):
            best = sorted(changes, key=lambda c: c.key)
    return best or []


def outdated(description: StaticDescription, instances: Iterable[InstanceRecord], *,
             leaving: Iterable[str] = ()) -> tuple[dict[str, list[dict]], dict[str, int]]:
    """``({node: [{instance_id, built_from, changes, forced_by}]}, {node: unchanged})``
    over the live instances of described nodes, in dependency order; ``leaving`` are
    the ids the plan drops anyway (neither outdated nor unchanged)."""
    gone = set(leaving)
    by_node: dict[str, list[InstanceRecord]] = {}
    for rec in instances:
        if rec.intent != Intent.DROPPING:
            by_node.setdefault(rec.node_name, []).append(rec)
    answers = _Answers(by_node, gone)
    found: dict[str, list[dict]] = {}
    unchanged: dict[str, int] = {}
    for name in description.topological_order:
        node = description.node(name)
        # records of one node share the implementation dict they were built from (the
        # store decodes each once): its reasons are the same, computed once
        memo: dict[int, list[Change]] = {}
        for rec in by_node.get(name, []):
            if rec.instance_id in gone or rec.state == InstanceState.FAILED:
                continue
            key = id(rec.implementation)
            changes = memo.get(key)
            if changes is None:
                changes = memo[key] = _reasons(rec, node, answers)
            if not changes:
                unchanged[name] = unchanged.get(name, 0) + 1
                continue
            gone.add(rec.instance_id)     # its dependents' lookups of it will change
            built = (rec.implementation or {}).get("built_from") or {}
            found.setdefault(name, []).append({
                "instance_id": rec.instance_id,
                "built_from": built.get("digest") if isinstance(built, Mapping) else None,
                "changes": [c.to_dict() for c in changes],
                "forced_by": sorted({c.forced_by for c in changes if c.forced_by})})
    return found, unchanged
