"""occo.cloudhandler: the cloud handler contract and its backends (dummy, local, ec2,
docker).

- :class:`CloudHandler`: the abstract base every backend subclasses (entry point group
  ``occo.cloudhandler``, name = resource ``type``);
- :class:`CloudHandlerService`: what the rest of OCCO calls (the ``cloudhandler``
  endpoint), with JSON-able inputs and outputs;
- :class:`ResourceState`, :class:`NodeStatus`, :class:`NodeAddresses`: what a cloud says
  about a node;
- the errors of :mod:`occo.cloudhandler.errors`;
- the resource schemas (entry point group ``occo.resource_schema``).

The backends themselves (``occo.cloudhandler.dummy``, ``.local``, ``.ec2``,
``.dockerengine``) are loaded through their entry points, so importing this package does
not import boto3 or the docker SDK. The
contract test suite every backend runs is :mod:`occo.cloudhandler.contract`.
"""

from .base import CloudHandler, NodeAddresses, NodeStatus, ResourceState, ref_resource
from .errors import (
                     BadResource,
                     CapacityExceeded,
                     CloudError,
                     CloudUnavailable,
                     CredentialsRejected,
                     ImageNotFound,
                     NoBackend,
                     PermissionDenied,
                     ResourceConflict,
                     Throttled,
                     UserDataTooLarge,
)
from .schemas import SCHEMAS
from .service import HANDLER_GROUP, SCHEMA_GROUP, CloudHandlerService, installed_types
from .version import __version__

__all__ = [
    "__version__",
    "CloudHandler", "CloudHandlerService", "NodeAddresses", "NodeStatus", "ResourceState",
    "ref_resource", "HANDLER_GROUP", "SCHEMA_GROUP", "SCHEMAS",
    "BadResource", "CapacityExceeded", "CloudError", "CloudUnavailable", "CredentialsRejected",
    "ImageNotFound", "NoBackend", "PermissionDenied", "ResourceConflict", "Throttled",
    "UserDataTooLarge",
    "installed_types",
]
