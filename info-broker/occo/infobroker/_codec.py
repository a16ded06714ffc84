"""How records become stored JSON and back; shared by every backend.

One codec per store, so that every backend stores exactly the same JSON and applies a
change exactly the same way; the backends only decide where the strings go and how a
write is made atomic.

- An infrastructure is two strings: its small fields (``body``) and its ``description``,
  so that a status change does not re-encode a large description.
- An instance is one ``body`` string (every field but the ids and the implementation) and
  a reference (``impl``: a digest) to its implementation, stored once per infrastructure:
  10,000 instances of one node share one implementation text, which keeps the store small
  and reading 10,000 records fast.
- Secret values are sealed (:mod:`occo.infobroker.secretbox`), event details redacted.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from occo.util import InfraStatus, redact

from .errors import DamagedRecord, InvalidRecord
from .model import (
    INSTANCE_FIELDS,
    SCALING_KINDS,
    Event,
    InfraRecord,
    InstanceRecord,
    InstanceState,
    Intent,
    ScalingRequest,
)
from .secretbox import SECRET_MARK, SecretBox

__all__ = ["SCHEMA_VERSION", "Codec", "InfraRow", "InstanceRow", "dumps", "loads"]

SCHEMA_VERSION = 1
"""The version of the stored layout and JSON; a store written by a newer one is refused."""

_IMPL_CACHE_SIZE = 512


_STATES = {str(s): s for s in InstanceState}
_INTENTS = {str(i): i for i in Intent}
_new = object.__new__
_INSTANCE_SLOTS = tuple((name, vars(InstanceRecord)[name].__set__) for name in INSTANCE_FIELDS)


def _plain(value: Any, what: str) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"{what} is not JSON-able: {exc}") from exc


def dumps(value: Any, what: str = "value") -> str:
    """Compact JSON; anything that is not plain JSON is an :class:`InvalidRecord`.

    A value made of JSON's own types only (checked by :func:`_is_plain`: orjson alone
    would write NaN as null and accept UUIDs, enums and the like) is written by orjson,
    about twenty times faster than the standard library: instance records are written
    several times each during a build. Anything else goes through the standard library
    (strict: no NaN, no foreign types), which also writes what orjson refuses: an integer
    beyond 64 bits. Such a value gets a leading space, which is valid JSON and tells
    :func:`loads` to use the standard library, since orjson would read it as a float.
    """
    if _is_plain(value):
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError:  # an integer beyond 64 bits
            pass
    return _marked(_plain(value, what), value)


def _is_plain(value: Any) -> bool:
    """Whether ``value`` holds only str, int, finite float, bool, None, and lists, tuples
    and dicts with str keys of those (exact types: subclasses take the strict path)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    try:
        if kind is dict:
            return all(type(key) is str and _is_plain(item) for key, item in value.items())
        if kind is list or kind is tuple:
            return all(map(_is_plain, value))
    except RecursionError:  # too deep to walk: the standard library reports it
        return False
    return False


def _marked(text: str, value: Any) -> str:
    """``text`` (the JSON of ``value``), with the leading space if orjson cannot hold it."""
    try:
        orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        return " " + text
    return text


def loads(text: str) -> Any:
    """Read stored JSON: orjson (several times faster, and reading 10,000 records is the
    hot path of a status query), or the standard library for texts :func:`dumps` marked."""
    if text[:1] == " ":
        return json.loads(text)
    return orjson.loads(text)


def _instance(values: dict) -> InstanceRecord:
    """Build a stored (already checked) InstanceRecord from a dict by setting its slots
    directly. It skips the frozen ``__init__`` (keyword parsing and one
    ``object.__setattr__`` per field) and is about three times faster, which matters when
    a status query decodes 10,000 records."""
    rec = _new(InstanceRecord)
    for name, set_slot in _INSTANCE_SLOTS:
        set_slot(rec, values[name])
    return rec


@dataclass(slots=True)
class InfraRow:
    infra_id: str
    version: int
    created_at: float
    body: str           # name, user_id, status, maintained, created_at, updated_at, version
    description: str


@dataclass(slots=True)
class InstanceRow:
    instance_id: str
    infra_id: str
    node_name: str
    state: str
    intent: str
    version: int
    created_at: float
    impl: str           # digest of the implementation text
    body: str           # every field but instance_id, infra_id, implementation; plus "impl"
    impl_json: str | None = None   # the implementation text, when it is new or changed


# ---------------------------------------------------------------------- value checks

def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRecord(f"{name} must be a finite number, not {value!r}")
    return float(value)


def _opt_number(name: str, value: Any) -> float | None:
    return None if value is None else _number(name, value)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"{name} must be a non-empty string, not {value!r}")
    return value


def _opt_text(name: str, value: Any) -> str | None:
    return None if value is None else _text(name, value)


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecord(f"{name} must be an integer, not {value!r}")
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRecord(f"{name} must be true or false, not {value!r}")
    return value


def _strings(name: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise InvalidRecord(f"{name} must be a list of strings, not {value!r}")
    out = list(value)
    if not all(isinstance(item, str) for item in out):
        raise InvalidRecord(f"{name} must be a list of strings, not {out!r}")
    return out


def _mapping(name: str, value: Any) -> dict:
    if not isinstance(value, Mapping):
        raise InvalidRecord(f"{name} must be a mapping, not {type(value).__name__}")
    return dict(value)


def _opt_mapping(name: str, value: Any) -> dict | None:
    return None if value is None else _mapping(name, value)


def _state(name: str, value: Any) -> str:
    try:
        return str(InstanceState(value))
    except ValueError:
        raise InvalidRecord(f"{name} must be one of {', '.join(InstanceState)}, "
                            f"not {value!r}") from None


def _intent(name: str, value: Any) -> str:
    try:
        return str(Intent(value))
    except ValueError:
        raise InvalidRecord(f"{name} must be one of {', '.join(Intent)}, not {value!r}") from None


_STORED_STATUSES = tuple(s for s in InfraStatus if s is not InfraStatus.DAMAGED)


def _status(name: str, value: Any) -> InfraStatus:
    try:
        status = InfraStatus(value)
    except ValueError:
        status = InfraStatus.DAMAGED
    if status is InfraStatus.DAMAGED:
        raise InvalidRecord(f"{name} must be one of {', '.join(_STORED_STATUSES)}, "
                            f"not {value!r}")
    return status


_INFRA_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _text, "user_id": _opt_text, "status": _status, "maintained": _bool,
    "created_at": _number, "updated_at": _number,
}
_INSTANCE_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "node_name": _text, "resource": _opt_mapping, "state": _state, "intent": _intent,
    "addresses": _strings, "private_addresses": _strings, "created_at": _number,
    "updated_at": _number, "ready_at": _opt_number, "failure": _opt_mapping,
    "attempts": _int, "checked_at": _opt_number,
}
_FIXED = ("infra_id", "instance_id", "version")


def _check_changes(kind: str, changes: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for name in changes:
        if name in _FIXED:
            raise InvalidRecord(f"the {name} of an {kind} cannot be changed")
        if name not in allowed:
            raise InvalidRecord(f"an {kind} has no field {name!r}; fields: "
                                f"{', '.join(sorted(allowed))}")


# ---------------------------------------------------------------------- the codec

_NUMBER = (int, float)
# what reading a damaged record raises (orjson's and json's decode errors are ValueErrors)
_DAMAGE = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"it holds a JSON {type(value).__name__}, not an object")
    return value


def _checked(body: dict, checks: Mapping[str, Callable[[str, Any], Any]]) -> dict:
    """``body`` if it has every field of ``checks``, each of the right kind (the checks a
    write makes); else a ValueError or KeyError that says which is wrong."""
    for name, check in checks.items():
        try:
            check(name, body[name])
        except InvalidRecord as exc:
            raise ValueError(str(exc).split(", not ")[0]) from None  # not the value itself
    if isinstance(body.get("version"), bool) or not isinstance(body.get("version"), int):
        raise ValueError("version must be an integer")
    return body


def _shape(body: dict) -> tuple[InstanceState, Intent]:
    """The state and intent of a stored instance body, once the kinds the code that reads
    a record relies on are checked; a ValueError (or KeyError) says what is wrong. Cheap
    type() tests: the full checks of a write would cost a 10,000-instance status query a
    third of its time (``occo store check`` makes them, see Codec.verify_instance)."""
    state = _STATES.get(body["state"])
    intent = _INTENTS.get(body["intent"])
    if state is None or intent is None:
        raise ValueError("its state or intent is not one OCCO knows")
    if type(body["addresses"]) is not list or type(body["private_addresses"]) is not list \
            or type(body["created_at"]) not in _NUMBER \
            or type(body["updated_at"]) not in _NUMBER or type(body["attempts"]) is not int \
            or type(body["node_name"]) is not str \
            or (body["resource"] is not None and type(body["resource"]) is not dict) \
            or (body["failure"] is not None and type(body["failure"]) is not dict):
        raise ValueError("a field is not of the kind OCCO writes (addresses, created_at, "
                         "updated_at, attempts, node_name, resource or failure)")
    if type(body.get("impl")) is not str:
        raise KeyError("impl")
    return state, intent


def _reason(exc: BaseException) -> str:
    """Why a record could not be read, without its content (it may hold secrets)."""
    if isinstance(exc, (orjson.JSONDecodeError, json.JSONDecodeError)):
        return f"its JSON does not parse: {exc}"
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing"
    if isinstance(exc, TypeError):
        return f"a field is of the wrong kind: {exc}"
    return str(exc)


class Codec:
    """Encodes and decodes records for one store (which owns the :class:`SecretBox`).

    Decoding a stored record that cannot be read raises :class:`DamagedRecord` naming the
    record and ``where()`` (the store), never a bare decoding error."""

    def __init__(self, box: SecretBox, where: Callable[[], str] = lambda: "the store") -> None:
        self.box = box
        self.where = where
        self._impls: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._impls_lock = threading.Lock()

    # --------------------------------------------------------------- infrastructures

    def infra_row(self, rec: InfraRecord) -> InfraRow:
        """The row of a new infrastructure (version 1)."""
        if not isinstance(rec, InfraRecord):
            raise InvalidRecord(f"expected an InfraRecord, not {type(rec).__name__}")
        _text("infra_id", rec.infra_id)
        body = {name: check(name, getattr(rec, name)) for name, check in _INFRA_CHECKS.items()}
        body["version"] = 1
        description = self.box.seal(_mapping("description", rec.description))
        return InfraRow(rec.infra_id, 1, body["created_at"], dumps(body, "the infrastructure"),
                        dumps(description, "the description"))

    def damaged(self, kind: str, key: Any, exc: BaseException,
                infra_id: str | None = None) -> DamagedRecord:
        """The error for a stored record that could not be read."""
        return DamagedRecord(kind, str(key), where=self.where(), reason=_reason(exc),
                             infra_id=infra_id)

    def infra_record(self, row: InfraRow) -> InfraRecord:
        try:
            body = _checked(_object(loads(row.body)), _INFRA_CHECKS)
            description = _object(loads(row.description))
            if SECRET_MARK in row.description:
                description = self.box.unseal(description)
            return InfraRecord(infra_id=row.infra_id, description=description, **body)
        except _DAMAGE as exc:
            raise self.damaged("infrastructure", row.infra_id, exc) from None

    @staticmethod
    def check_infra_changes(changes: Mapping[str, Any]) -> None:
        """Refuse unknown or fixed fields and ill-typed values before any I/O."""
        _check_changes("infrastructure", changes, [*_INFRA_CHECKS, "description"])
        for name, value in changes.items():
            if name == "description":
                _mapping(name, value)
            else:
                _INFRA_CHECKS[name](name, value)

    def change_infra(self, row: InfraRow, changes: Mapping[str, Any],
                     now: float | None = None) -> InfraRow:
        """``row`` with ``changes`` applied, its version raised and ``updated_at`` set."""
        _check_changes("infrastructure", changes, [*_INFRA_CHECKS, "description"])
        self.infra_record(row)      # a damaged row is refused, not overwritten
        body = loads(row.body)
        for name, value in changes.items():
            if name != "description":
                body[name] = _INFRA_CHECKS[name](name, value)
        if "updated_at" not in changes:
            body["updated_at"] = time.time() if now is None else now
        body["version"] = row.version + 1
        description = row.description
        if "description" in changes:
            description = dumps(self.box.seal(_mapping("description", changes["description"])),
                                "the description")
        return InfraRow(row.infra_id, row.version + 1, body["created_at"],
                        dumps(body, "the infrastructure"), description)

    # --------------------------------------------------------------- implementations

    def _impl(self, implementation: Any) -> tuple[str, str]:
        """(digest, stored text) of an implementation; cached by its plain text."""
        implementation = _mapping("implementation", implementation)
        plain = _plain(implementation, "the implementation")
        with self._impls_lock:
            hit = self._impls.get(plain)
            if hit is not None:
                self._impls.move_to_end(plain)
                return hit
        sealed = _marked(_plain(self.box.seal(implementation), "the implementation")
                         if _may_hold_secrets(plain) else plain, implementation)
        digest = hashlib.sha256(sealed.encode()).hexdigest()[:32]
        with self._impls_lock:
            self._impls[plain] = (digest, sealed)
            if len(self._impls) > _IMPL_CACHE_SIZE:
                self._impls.popitem(last=False)
        return digest, sealed

    def _sealed(self, value: Any) -> Any:
        """``value`` with its secrets sealed; the value itself when no key in it could
        name one (a ref or failure usually: walking it key by key was a third of the
        cost of an instance write)."""
        try:
            text = orjson.dumps(value).decode()
        except (orjson.JSONEncodeError, TypeError):
            return self.box.seal(value)
        return self.box.seal(value) if _may_hold_secrets(text) else value

    def implementation(self, text: str, *, kind: str = "implementation", key: Any = "?",
                       infra_id: str | None = None) -> Any:
        """A stored implementation (``kind`` ``node definition``: a node type's list of
        them), named in a :class:`DamagedRecord` by ``kind`` and ``key``."""
        try:
            value = loads(text)
            if not isinstance(value, dict if kind == "implementation" else list):
                raise ValueError(f"it holds a JSON {type(value).__name__}, not "
                                 f"{'an object' if kind == 'implementation' else 'a list'}")
            return self.box.unseal(value) if SECRET_MARK in text else value
        except _DAMAGE as exc:
            raise self.damaged(kind, key, exc, infra_id) from None

    # --------------------------------------------------------------- instances

    def instance_row(self, rec: InstanceRecord) -> InstanceRow:
        """The row of a new instance (version 1); ``impl_json`` is always set."""
        if not isinstance(rec, InstanceRecord):
            raise InvalidRecord(f"expected an InstanceRecord, not {type(rec).__name__}")
        _text("instance_id", rec.instance_id)
        _text("infra_id", rec.infra_id)
        body = {name: check(name, getattr(rec, name))
                for name, check in _INSTANCE_CHECKS.items()}
        for name in ("resource", "failure"):
            if body[name] is not None:
                body[name] = self._sealed(body[name])
        digest, impl_json = self._impl(rec.implementation)
        body["version"] = 1
        body["impl"] = digest       # the last key: the Redis store's read script relies on it
        return InstanceRow(rec.instance_id, rec.infra_id, body["node_name"], body["state"],
                           body["intent"], 1, body["created_at"], digest,
                           dumps(body, f"instance {rec.instance_id}"), impl_json)

    def instance_record(self, instance_id: str, infra_id: str, body_text: str,
                        implementation: Callable[[str], dict]) -> InstanceRecord:
        """Decode a stored body; ``implementation(digest)`` gives the decoded implementation."""
        try:
            body = _object(loads(body_text))
            if SECRET_MARK in body_text:
                for name in ("resource", "failure"):
                    if body.get(name) is not None:
                        body[name] = self.box.unseal(body[name])
            state, intent = _shape(body)
            body["state"] = state
            body["intent"] = intent
            body["implementation"] = implementation(body["impl"])
            body["instance_id"] = instance_id
            body["infra_id"] = infra_id
            body.setdefault("checked_at", None)  # written before the field existed
            return _instance(body)
        except _DAMAGE as exc:
            raise self.damaged("instance", instance_id, exc, infra_id) from None

    @staticmethod
    def check_instance_changes(changes: Mapping[str, Any]) -> None:
        """Refuse unknown or fixed fields and ill-typed values before any I/O."""
        _check_changes("instance", changes, [*_INSTANCE_CHECKS, "implementation"])
        for name, value in changes.items():
            if name == "implementation":
                _mapping(name, value)
            else:
                _INSTANCE_CHECKS[name](name, value)

    def verify_instance(self, rec: InstanceRecord) -> None:
        """What a read does not check (it would cost a status query of 10,000 instances a
        third of its time): every field of a decoded record of the kind a write needs.
        :class:`DamagedRecord` names the first that is not (``occo store check``)."""
        try:
            for name, check in _INSTANCE_CHECKS.items():
                value = getattr(rec, name)
                try:
                    check(name, value)
                except InvalidRecord as exc:
                    raise ValueError(str(exc).split(", not ")[0]) from None
            _mapping("implementation", rec.implementation)
        except (InvalidRecord, *_DAMAGE) as exc:
            raise self.damaged("instance", rec.instance_id, exc, rec.infra_id) from None

    def change_instance(self, row: InstanceRow, changes: Mapping[str, Any],
                        now: float | None = None) -> InstanceRow:
        """``row`` with ``changes`` applied, its version raised and ``updated_at`` set;
        ``impl_json`` is set only when the implementation changed."""
        _check_changes("instance", changes, [*_INSTANCE_CHECKS, "implementation"])
        try:        # a damaged row is refused, not overwritten
            body = _object(loads(row.body))
            _shape(body)
            missing = [name for name in _INSTANCE_CHECKS
                       if name not in body and name != "checked_at"]
            if missing:
                raise KeyError(missing[0])
        except _DAMAGE as exc:
            raise self.damaged("instance", row.instance_id, exc, row.infra_id) from None
        for name, value in changes.items():
            if name == "implementation":
                continue
            value = _INSTANCE_CHECKS[name](name, value)
            if name in ("resource", "failure") and value is not None:
                value = self._sealed(value)
            body[name] = value
        if "updated_at" not in changes:
            body["updated_at"] = time.time() if now is None else now
        impl_json = None
        if "implementation" in changes:
            body["impl"], impl_json = self._impl(changes["implementation"])
        # "impl" stays the last key (the Redis read script relies on it), also when a
        # body written before a field existed gets that field now
        body["impl"] = body.pop("impl")
        body["version"] = row.version + 1
        return InstanceRow(row.instance_id, row.infra_id, body["node_name"], body["state"],
                           body["intent"], row.version + 1, body["created_at"], body["impl"],
                           dumps(body, f"instance {row.instance_id}"), impl_json)

    def row_from_body(self, instance_id: str, infra_id: str, body_text: str) -> InstanceRow:
        """An :class:`InstanceRow` rebuilt from a stored body (Redis keeps only that)."""
        try:
            body = _object(loads(body_text))
            return InstanceRow(instance_id, infra_id, body["node_name"], body["state"],
                               body["intent"], body["version"], body["created_at"],
                               body["impl"], body_text)
        except _DAMAGE as exc:
            raise self.damaged("instance", instance_id, exc, infra_id) from None

    # --------------------------------------------------------------- scaling, events

    @staticmethod
    def request_json(req: ScalingRequest) -> str:
        if not isinstance(req, ScalingRequest):
            raise InvalidRecord(f"expected a ScalingRequest, not {type(req).__name__}")
        if req.kind not in SCALING_KINDS:
            raise InvalidRecord(f"a scaling request's kind must be one of "
                                f"{', '.join(SCALING_KINDS)}, not {req.kind!r}")
        _text("infra_id", req.infra_id)
        _text("node_name", req.node_name)
        if _int("count", req.count) < 0:
            raise InvalidRecord(f"a scaling request's count must be >= 0, not {req.count}")
        _opt_text("instance_id", req.instance_id)
        _opt_text("address", req.address)
        _number("requested_at", req.requested_at)
        return dumps(req.to_dict(), "the scaling request")

    def request(self, text: str, infra_id: str, number: int) -> ScalingRequest:
        """The ``number``-th (from 1) pending scaling request of ``infra_id``."""
        try:
            return ScalingRequest.from_dict(_object(loads(text)))
        except _DAMAGE as exc:
            raise self.damaged("scaling request", f"#{number}", exc, infra_id) from None

    @staticmethod
    def event_json(event: Event) -> str:
        """The stored form of an event: its details redacted, without its position."""
        if not isinstance(event, Event):
            raise InvalidRecord(f"expected an Event, not {type(event).__name__}")
        _text("type", event.type)
        _text("infra_id", event.infra_id)
        _opt_text("node_name", event.node_name)
        _opt_text("instance_id", event.instance_id)
        out = {"type": event.type, "infra_id": event.infra_id, "node_name": event.node_name,
               "instance_id": event.instance_id, "time": _number("time", event.time),
               "details": redact(_mapping("details", event.details))}
        return dumps(out, f"event {event.type}")

    def event(self, text: str, position: int, infra_id: str | None = None) -> Event:
        try:
            return Event(position=position, **_object(loads(text)))
        except _DAMAGE as exc:
            raise self.damaged("event", f"#{position}", exc, infra_id) from None

    @staticmethod
    def with_position(event: Event, position: int) -> Event:
        return replace(event, position=position)


def _may_hold_secrets(plain_json: str) -> bool:
    """Cheap pre-check: sealing is needed only if some key could name a secret."""
    lowered = plain_json.lower()
    return any(word in lowered for word in ("pass", "secret", "token", "auth_data",
                                             "credential", "key"))
