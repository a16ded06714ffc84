"""``ec2``: Amazon EC2 and EC2-compatible clouds, through boto3.

- Idempotency is OCCO's own: every instance is tagged at creation (``TagSpecifications``)
  with ``occo:infra_id``, ``occo:node``, ``occo:instance_id`` and the user's tags, and
  before creating, the handler looks the instance id up by tag and returns what it
  finds. ``ClientToken`` = the instance id is passed as well, for real EC2 (moto stores
  it but does not honour it).
- One boto3 client per handler, i.e. per (endpoint, region, credentials entry), reused
  for every call. Throttling, 5xx answers and connection errors are retried by
  botocore's ``standard`` retry mode, at most ``max_attempts`` attempts per call
  (handler config, default 5) with its capped, jittered exponential backoff; what still
  fails is translated to a retryable :class:`~occo.cloudhandler.errors.Throttled` or
  :class:`~occo.cloudhandler.errors.CloudUnavailable`.
- Batches: one ``DescribeInstances`` (tag filter, 200 values a page) per poll round for
  many instances, one lookup before a batch of creates, one ``TerminateInstances`` per
  batch of drops. Addresses seen by a state poll are kept for the next ``get_addresses``.
- User-data (cloud-init contextualisation) is checked against EC2's 16 KB limit before
  any call.

Handler config (``ec2:`` in the service config): ``max_attempts``, ``connect_timeout``
(5 s), ``read_timeout`` (30 s).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ParamValidationError,
    ReadTimeoutError,
)

from occo.util import (
    TAG_INFRA,
    TAG_INSTANCE,
    TAG_NODE,
    CloudLimits,
    CredentialEntry,
    InputError,
    NodeSpec,
    OccoError,
    scrub,
)

from .base import (
    AddressCache,
    BatchCreatingHandler,
    Clock,
    NodeAddresses,
    NodeStatus,
    ResourceState,
)
from .errors import (
    BadResource,
    CapacityExceeded,
    CloudError,
    CloudUnavailable,
    CredentialsRejected,
    ImageNotFound,
    PermissionDenied,
    Throttled,
    UserDataTooLarge,
)
from .schemas import EC2

__all__ = ["EC2CloudHandler", "USER_DATA_LIMIT"]

log = logging.getLogger(__name__)

USER_DATA_LIMIT = 16 * 1024          # bytes, before base64 (EC2's documented limit)
_FILTER_VALUES = 200                 # values per filter in one DescribeInstances
_TERMINATE_CHUNK = 1000
_MAX_USER_TAGS = 50 - 4              # EC2 allows 50; OCCO writes 3 and Name
_ADDRESS_TTL = 60.0                  # seconds a polled address is reused
_LIVE = ("pending", "running", "stopping", "stopped")

_CREDENTIALS = {"AuthFailure", "InvalidClientTokenId", "SignatureDoesNotMatch",
                "UnrecognizedClientException", "IncompleteSignature", "InvalidAccessKeyId",
                "MissingAuthenticationToken", "ExpiredToken", "InvalidToken"}
_PERMISSION = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException",
               "OptInRequired", "Blocked", "PendingVerification"}
_CAPACITY = {"InsufficientInstanceCapacity", "InstanceLimitExceeded", "VcpuLimitExceeded",
             "InsufficientFreeAddressesInSubnet", "InsufficientCapacity",
             "MaxSpotInstanceCountExceeded", "ResourceLimitExceeded"}
_THROTTLE = {"RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled",
             "TooManyRequestsException", "SlowDown", "RequestThrottledException"}
_UNAVAILABLE = {"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"}


class EC2CloudHandler(BatchCreatingHandler):
    """One EC2 endpoint and region, reached with one credentials entry."""

    type_name = "ec2"
    # AWS's documented limits per account and region: RunInstances takes instances from a
    # bucket of 1,000 refilled at 2 per second, Describe* calls from one of 100 refilled
    # at 20 per second. OCCO starts at most half the bucket at once (other users of the
    # account keep the rest), then the refill rate; one DescribeInstances per batch.
    limits = CloudLimits(max_parallel=32, rate=2.0, burst=500, batch_size=64,
                         poll_interval=2.0, first_poll=0.5)
    schema = EC2
    needs_credentials = True
    STATE_MAP = {"pending": ResourceState.PENDING, "running": ResourceState.RUNNING,
                 "stopping": ResourceState.STOPPING, "stopped": ResourceState.STOPPED,
                 "shutting-down": ResourceState.STOPPING,
                 "terminated": ResourceState.TERMINATED}

    def __init__(self, resource: Mapping[str, Any], *, config: Mapping[str, Any] | None = None,
                 auth: CredentialEntry | None = None, clock: Clock | None = None) -> None:
        super().__init__(resource, config=config, auth=auth, clock=clock)
        self.url = str(resource.get("endpoint"))
        self.region = str(resource.get("regionname"))
        self.max_attempts = int(self.config.get("max_attempts", 5))
        data = auth.auth_data if auth is not None else None
        if not isinstance(data, Mapping) or not data.get("accesskey") or \
                not data.get("secretkey"):
            where = auth.describe() if auth is not None else "no auth_data entry"
            raise InputError(f"EC2 at {self.url} needs auth_data with accesskey and secretkey; "
                             f"the matching entry {where} lacks them")
        settings = Config(region_name=self.region,
                          retries={"total_max_attempts": self.max_attempts,
                                   "mode": "standard"},
                          connect_timeout=float(self.config.get("connect_timeout", 5)),
                          read_timeout=float(self.config.get("read_timeout", 30)),
                          user_agent_extra="occo")
        self.client = boto3.session.Session().client(
            "ec2", endpoint_url=self.url, region_name=self.region,
            aws_access_key_id=str(data["accesskey"]),
            aws_secret_access_key=str(data["secretkey"]),
            aws_session_token=data.get("session_token"), config=settings)
        self.calls: Counter[str] = Counter()      # API calls, by operation
        self.attempts: Counter[str] = Counter()   # HTTP requests sent, retries included
        events = self.client.meta.events
        events.register("before-call.ec2.*", self._count_call)
        events.register("before-send.ec2.*", self._count_attempt)
        self._images: set[str] = set()
        self._addresses = AddressCache(_ADDRESS_TTL)
        self._lock = threading.Lock()

    @classmethod
    def endpoint_key(cls, resource: Mapping[str, Any]) -> str:
        return f"ec2:{resource.get('endpoint')}|{resource.get('regionname')}"

    def _count_call(self, model: Any = None, **_: Any) -> None:
        self.calls[getattr(model, "name", "?")] += 1

    def _count_attempt(self, request: Any = None, **_: Any) -> None:
        body = getattr(request, "body", b"") or b""
        if isinstance(body, str):
            body = body.encode()
        action = body.split(b"Action=", 1)[1].split(b"&", 1)[0].decode() \
            if b"Action=" in body else "?"
        self.attempts[action] += 1

    # ------------------------------------------------------------- cloud calls

    def _call(self, action: str, **params: Any) -> Any:
        """One EC2 API call, its errors translated (botocore retries inside)."""
        try:
            return getattr(self.client, action)(**params)
        except ClientError as exc:
            raise self._translate(exc, action) from exc
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
                ConnectionClosedError) as exc:
            raise CloudUnavailable(f"EC2 endpoint {self.url} ({self.region}) is unreachable "
                                   f"after {self.max_attempts} attempts ({action}): "
                                   f"{scrub(str(exc))}") from exc
        except ParamValidationError as exc:
            raise BadResource(f"EC2 {action}: the resource section gives a value EC2 does "
                              f"not accept: {scrub(str(exc))}") from exc
        except BotoCoreError as exc:
            raise CloudError(f"EC2 {action} at {self.url} failed: {scrub(str(exc))}") from exc

    def _translate(self, exc: ClientError, action: str) -> OccoError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = scrub(str(error.get("Message", "")))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        said = f"{code}: {message}" if message else code
        where = f"EC2 at {self.url} ({self.region})"
        if code in _CREDENTIALS:
            entry = self.auth.describe() if self.auth else "(none)"
            return CredentialsRejected(f"{where} rejected the credentials of auth_data entry "
                                       f"{entry}: {said}")
        if code in _PERMISSION:
            entry = self.auth.describe() if self.auth else "(none)"
            return PermissionDenied(f"{where}: the credentials of auth_data entry {entry} may "
                                    f"not {action}: {said}")
        if code.startswith("InvalidAMIID"):
            return ImageNotFound(f"{where} has no such image: {said}")
        if code in _CAPACITY:
            return CapacityExceeded(f"{where} has no room: {said}")
        if code in _THROTTLE or status == 429:
            return Throttled(f"{where} throttled {action} after {self.max_attempts} attempts: "
                             f"{said}")
        if code in _UNAVAILABLE or status >= 500:
            return CloudUnavailable(f"{where} failed {action} after {self.max_attempts} "
                                    f"attempts: {said or status}")
        return CloudError(f"{where} refused {action}: {said}")

    def _describe(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every instance matching ``filters``, all pages, values chunked."""
        out: list[dict[str, Any]] = []
        chunked = next((f for f in filters if len(f["Values"]) > _FILTER_VALUES), None)
        if chunked is not None:
            rest = [f for f in filters if f is not chunked]
            values = chunked["Values"]
            for i in range(0, len(values), _FILTER_VALUES):
                part = {"Name": chunked["Name"], "Values": values[i:i + _FILTER_VALUES]}
                out.extend(self._describe([*rest, part]))
            return out
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Filters": filters, "MaxResults": 1000}
            if token:
                params["NextToken"] = token
            page = self._call("describe_instances", **params)
            for reservation in page.get("Reservations", ()):
                out.extend(reservation.get("Instances", ()))
            token = page.get("NextToken")
            if not token:
                return out

    def _by_instance_id(self, instance_ids: Iterable[str],
                        states: Sequence[str] | None = None) -> dict[str, list[dict]]:
        """Instances tagged with each OCCO instance id (normally one each)."""
        ids = sorted(set(instance_ids))
        if not ids:
            return {}
        filters = [{"Name": f"tag:{TAG_INSTANCE}", "Values": ids}]
        if states:
            filters.append({"Name": "instance-state-name", "Values": list(states)})
        found: dict[str, list[dict]] = {}
        for inst in self._describe(filters):
            iid = _tags(inst).get(TAG_INSTANCE)
            if iid:
                found.setdefault(iid, []).append(inst)
        return found

    # ---------------------------------------------------------------- creating

    def _user_data(self, spec: NodeSpec) -> str | None:
        context = spec.context or {}
        kind = context.get("type")
        if kind == "cloudinit":
            data = str(context.get("user_data") or "")
            size = len(data.encode("utf-8"))
            if size > USER_DATA_LIMIT:
                raise UserDataTooLarge(f"node {spec.node_name!r}: the cloud-init user-data is "
                                       f"{size} bytes; EC2 accepts at most {USER_DATA_LIMIT} "
                                       "(16 KB)", node=spec.node_name, infra_id=spec.infra_id)
            return data
        if kind == "docker":
            raise self.bad_resource(spec, "contextualisation type 'docker' is for containers; "
                                          "an EC2 node takes 'cloudinit' or 'basic'")
        return None

    def _tag_list(self, spec: NodeSpec) -> list[dict[str, str]]:
        user = {str(k): str(v) for k, v in (spec.resource.get("tags") or {}).items()}
        user.update({str(k): str(v) for k, v in spec.tags.items()})
        if len(user) > _MAX_USER_TAGS:
            raise self.bad_resource(spec, f"{len(user)} tags; EC2 allows {_MAX_USER_TAGS} "
                                          "besides OCCO's own")
        for key in user:
            if key.lower().startswith("aws:") or key.startswith("occo:"):
                raise self.bad_resource(spec, f"tag {key!r}: the prefixes aws: and occo: are "
                                              "reserved")
        tags = {"Name": f"occo-{spec.node_name}-{spec.instance_id[:8]}", **user,
                **spec.occo_tags()}
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def _check_image(self, image_id: str) -> None:
        if image_id in self._images:
            return
        found = self._call("describe_images", ImageIds=[image_id]).get("Images") or []
        if not found:
            raise ImageNotFound(f"EC2 at {self.url} ({self.region}) has no image {image_id!r}")
        with self._lock:
            self._images.add(image_id)

    def _create_batch(self, specs: Sequence[NodeSpec]) -> list[dict[str, Any] | OccoError]:
        out: list[dict[str, Any] | OccoError] = []
        prepared: list[tuple[NodeSpec, str | None, list[dict[str, str]]]] = []
        for spec in specs:   # input checks first: nothing is called for a bad spec
            try:
                prepared.append((spec, self._user_data(spec), self._tag_list(spec)))
            except OccoError as exc:
                prepared.append((spec, None, []))
                out.append(exc)
                continue
            out.append(None)  # type: ignore[arg-type]
        pending = [i for i, item in enumerate(out) if item is None]
        if not pending:
            return out
        existing = self._by_instance_id(specs[i].instance_id for i in pending)
        for i in pending:
            spec, user_data, tags = prepared[i]
            found = existing.get(spec.instance_id)
            if found:
                out[i] = self._adopt(spec, found)
                continue
            try:
                out[i] = self._run(spec, user_data, tags)
            except OccoError as exc:
                out[i] = exc
        return out

    def _adopt(self, spec: NodeSpec, found: list[dict[str, Any]]) -> dict[str, Any]:
        """The instance created for ``spec`` before; duplicates (a lost race) are ended."""
        live = sorted((x for x in found if x["State"]["Name"] in _LIVE),
                      key=lambda x: (str(x.get("LaunchTime", "")), x["InstanceId"]))
        keep = live[0] if live else found[0]
        extra = [x["InstanceId"] for x in live[1:]]
        if extra:
            log.warning("node %s (%s): %d duplicate instance(s) %s terminated", spec.node_name,
                        spec.instance_id, len(extra), ", ".join(extra))
            self._call("terminate_instances", InstanceIds=extra)
        return self.make_ref(spec, keep["InstanceId"])

    def _run(self, spec: NodeSpec, user_data: str | None,
             tags: list[dict[str, str]]) -> dict[str, Any]:
        res = spec.resource
        image = str(res["image_id"])
        self._check_image(image)
        params: dict[str, Any] = {
            "ImageId": image, "InstanceType": str(res["instance_type"]), "MinCount": 1,
            "MaxCount": 1, "ClientToken": spec.instance_id,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}]}
        if user_data is not None:
            params["UserData"] = user_data
        if res.get("key_name"):
            params["KeyName"] = str(res["key_name"])
        if res.get("security_group_ids"):
            params["SecurityGroupIds"] = [str(g) for g in res["security_group_ids"]]
        if res.get("subnet_id"):
            params["SubnetId"] = str(res["subnet_id"])
        answer = self._call("run_instances", **params)
        instance = answer["Instances"][0]
        log.info("node %s (%s): EC2 instance %s at %s", spec.node_name, spec.instance_id,
                 instance["InstanceId"], self.url)
        return self.make_ref(spec, instance["InstanceId"])

    # ---------------------------------------------------------------- watching

    def _current(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """The instance behind each ref (a live one before a terminated one)."""
        found = self._by_instance_id(str(r["instance_id"]) for r in refs)
        out: dict[str, dict[str, Any]] = {}
        for iid, instances in found.items():
            instances.sort(key=lambda x: (x["State"]["Name"] not in _LIVE,
                                          str(x.get("LaunchTime", ""))))
            out[iid] = instances[0]
        return out

    def _get_states(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeStatus]:
        current = self._current(refs)
        out: dict[str, NodeStatus] = {}
        for ref in refs:
            iid = str(ref["instance_id"])
            inst = current.get(iid)
            if inst is None:
                out[iid] = NodeStatus(ResourceState.MISSING, "EC2 does not know this instance")
                continue
            raw = inst["State"]["Name"]
            state = self.map_state(raw)
            reason = (inst.get("StateReason") or {}).get("Message")
            detail = f"{inst['InstanceId']}: {reason}" if reason and state != \
                ResourceState.RUNNING else None
            out[iid] = NodeStatus(state, detail, raw=raw)
            self._addresses.put(iid, _addresses(inst) if state == ResourceState.RUNNING
                                else None)
        return out

    def _get_addresses(self, refs: Sequence[Mapping[str, Any]]) -> dict[str, NodeAddresses]:
        out, ask = self._addresses.split(refs)
        if ask:
            for iid, inst in self._current(ask).items():
                if inst["State"]["Name"] in _LIVE:
                    addresses = _addresses(inst)
                    if addresses is not None:
                        out[iid] = addresses
        return out

    def _list_nodes(self, infra_id: str) -> list[dict[str, Any]]:
        found = self._describe([{"Name": f"tag:{TAG_INFRA}", "Values": [infra_id]},
                                {"Name": "instance-state-name", "Values": list(_LIVE)}])
        out = []
        for inst in found:
            tags = _tags(inst)
            iid = tags.get(TAG_INSTANCE)
            if not iid:
                continue
            out.append({"instance_id": iid, "infra_id": infra_id,
                        "node_name": tags.get(TAG_NODE, ""), "type": self.type_name,
                        "endpoint": self.endpoint,
                        "resource": {"type": self.type_name, "endpoint": self.url,
                                     "regionname": self.region},
                        "resource_id": inst["InstanceId"], "tags": tags})
        return out

    # ---------------------------------------------------------------- dropping

    def _drop_nodes(self, refs: Sequence[Mapping[str, Any]]) -> list[OccoError | None]:
        found = self._by_instance_id((str(r["instance_id"]) for r in refs), states=_LIVE)
        victims = [(iid, inst["InstanceId"]) for iid, insts in found.items() for inst in insts]
        errors: dict[str, OccoError] = {}
        for i in range(0, len(victims), _TERMINATE_CHUNK):
            chunk = victims[i:i + _TERMINATE_CHUNK]
            try:
                self._call("terminate_instances", InstanceIds=[v for _, v in chunk])
            except OccoError as exc:
                if "InvalidInstanceID.NotFound" in exc.message:
                    continue   # gone between the lookup and the call: dropped
                for iid, _ in chunk:
                    errors[iid] = exc
        for iid, _ in victims:
            self._addresses.drop(iid)
        return [errors.get(str(r["instance_id"])) for r in refs]

    def close(self) -> None:
        self.client.close()


def _tags(inst: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in inst.get("Tags") or ()}


def _addresses(inst: Mapping[str, Any]) -> NodeAddresses | None:
    public = inst.get("PublicIpAddress")
    private = inst.get("PrivateIpAddress")
    if not public and not private:
        return None
    shown = tuple(a for a in (public or private,) if a)
    return NodeAddresses(shown, tuple(a for a in (private,) if a))
