"""Infrastructure and node names: Occopus's hostname rule (FORMATS.md section 1).

Occopus 1.10 checks ``infra_name`` and every node ``name`` as a host name, without regard
to case: dot-separated labels of 1 to 63 letters, digits and hyphens, no label starting or
ending with a hyphen, 255 characters at most (one trailing dot allowed). ``A``,
``GENERATOR`` and ``MyInfra`` are valid. Names are compared exactly as written (``A`` and
``a`` are two nodes, as in Occopus's node lookup); where a cloud allows less in its
resource names, the cloud handler derives a safe form and the name itself is kept.
"""

from __future__ import annotations

import re
from typing import Any

from occo.util import InputError, location_of

from ._collect import ErrorCollector

__all__ = ["NAME_RULE", "is_valid_name", "check_name"]

NAME_RULE = ("dot-separated labels of 1 to 63 letters, digits and '-', no label starting or "
             "ending with '-', at most 255 characters")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def is_valid_name(value: Any) -> bool:
    """Whether ``value`` is a valid infrastructure or node name (Occopus's rule)."""
    if not isinstance(value, str) or not value or len(value) > 255:
        return False
    labels = (value[:-1] if value.endswith(".") else value).split(".")
    return all(_LABEL.match(label) for label in labels)


def _suggest(value: str) -> str | None:
    labels = [re.sub(r"[^A-Za-z0-9-]+", "-", label).strip("-")[:63].strip("-")
              for label in value.split(".")]
    cleaned = ".".join(label for label in labels if label)[:255].strip(".-")
    return cleaned if is_valid_name(cleaned) else None


def check_name(value: Any, what: str, container: Any, key: Any, path: str,
               errors: ErrorCollector) -> str | None:
    """``value`` if it is a valid infrastructure or node name, else ``None`` (reported)."""
    if not isinstance(value, str):
        return None  # the schema has reported the wrong type
    if is_valid_name(value):
        return value
    better = _suggest(value)
    hint = f" (e.g. {better!r})" if better and better != value else ""
    errors.add(InputError(f"{value!r} is not a valid {what}: use {NAME_RULE}{hint}",
                          location=location_of(container, key, path=path)))
    return None
