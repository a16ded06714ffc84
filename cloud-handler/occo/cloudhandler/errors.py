"""The errors cloud handlers raise.

Every cloud call's failure is translated at the handler's boundary into one of these (the
third-party error kept as ``__cause__``). ``retryable`` tells the caller (the
infrastructure processor) whether the same call may succeed later; handlers keep their own
retries bounded (EC2: botocore's retry configuration, see docs/cloudhandlers.rst). The tree::

    OccoError (occo.util)
    ├── CloudError                   retryable = False: the cloud refused or failed
    │   ├── Throttled                retryable: the cloud asked us to slow down
    │   ├── CloudUnavailable         retryable: endpoint down, timeout, 5xx
    │   ├── ImageNotFound            the image (or local command) does not exist
    │   ├── CapacityExceeded         no room: quota, instance limit, dummy capacity
    │   ├── PermissionDenied         the credentials are valid but not allowed to do this
    │   ├── ResourceConflict         the name OCCO gives a resource is held by one OCCO did
    │   │                            not create (docker: a container named occo-<id>)
    │   └── NoBackend                a resource type with a schema but no installed backend
    └── InputError (occo.util)       exit 2: the user's input is wrong
        ├── CredentialsRejected      (also a CloudError) the cloud did not accept the
        │                            credentials of the chosen auth_data entry
        ├── UserDataTooLarge         contextualisation beyond the cloud's limit (EC2: 16 KB)
        └── BadResource              a resource section a backend cannot use

Messages name the node and, for credential problems, the ``auth_data`` entry by its filter
keys (``resource[0] (type=ec2, endpoint=...)``), never a secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from occo.util import InputError, OccoError

__all__ = ["CloudError", "Throttled", "CloudUnavailable", "ImageNotFound", "CapacityExceeded",
           "PermissionDenied", "ResourceConflict", "NoBackend", "CredentialsRejected",
           "UserDataTooLarge",
           "BadResource"]


class CloudError(OccoError):
    """A cloud call failed. ``retryable`` says whether trying again later may help."""

    retryable: bool = False

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["retryable"] = self.retryable
        return out


class Throttled(CloudError):
    """The cloud rate-limited the call (after the handler's own bounded retries)."""

    retryable = True


class CloudUnavailable(CloudError):
    """The endpoint could not be reached, timed out, or answered with a server error."""

    retryable = True


class ImageNotFound(CloudError):
    """The image the resource names (EC2 AMI, dummy image, local command) does not exist."""


class CapacityExceeded(CloudError):
    """The cloud has no room for another node (quota, instance limit, capacity)."""


class PermissionDenied(CloudError):
    """The credentials were accepted but may not perform this action."""


class ResourceConflict(CloudError):
    """A resource under the name OCCO would use exists but was not made by OCCO for this
    instance; it is refused, never adopted (it may be someone else's)."""


class NoBackend(CloudError):
    """A resource type that has a schema but no cloud handler installed."""

    def __init__(self, kind: str, available: Iterable[str], *, node: str | None = None) -> None:
        self.kind = kind
        self.available = sorted(available)
        known = ", ".join(self.available) or "none"
        who = f"node {node!r}: " if node else ""
        super().__init__(f"{who}no cloud handler is installed for resource type {kind!r}; "
                         f"types with a backend: {known}", node=node)


class CredentialsRejected(InputError, CloudError):
    """The cloud did not accept the credentials of the chosen ``auth_data`` entry."""


class UserDataTooLarge(InputError):
    """The contextualisation's user-data exceeds what the cloud accepts."""


class BadResource(InputError):
    """A resource section (or its contextualisation) that the backend cannot use."""
