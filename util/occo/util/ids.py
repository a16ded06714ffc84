"""Identifiers: infrastructure and node instance ids.

Ids are random UUIDs (36 characters): unique without coordination between processes and
machines, short enough for every cloud's idempotency key (EC2's ClientToken takes 64) and
valid as container and directory names.
"""

from __future__ import annotations

import uuid

__all__ = ["new_id"]


def new_id() -> str:
    """A fresh, random identifier."""
    return str(uuid.uuid4())
