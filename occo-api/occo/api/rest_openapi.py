"""The OpenAPI 3.0 document of the REST service (``GET /openapi.json``).

Written out by hand, next to the routes it describes; a test checks that every route of
the application appears here with its methods, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from occo.compiler import InstanceLimits

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERR = _ref("Error")
ERRORS = {
    "400": _json(ERR, "bad input; a bad description lists its located errors"),
    "401": _json(ERR, "no valid token (send 'Authorization: Bearer <token>')"),
    "404": _json(ERR, "no such infrastructure, node or instance"),
    "409": _json(ERR, "the infrastructure is being built, destroyed or maintained; retry"),
    "403": _json(ERR, "a scaling secret that is wrong, or used outside the scale paths of "
                      "its infrastructure"),
    "413": _json(ERR, "the request body is larger than rest.max_body"),
    "415": _json(ERR, "a body of a type that is not read; the message names the types "
                      "that are"),
    "429": _json(ERR, "more secret-authorised scaling requests for this infrastructure in "
                      "a minute than allowed; Retry-After says when to retry"),
    "500": _json(ERR, "the operation failed; the service's log has the details"),
}


def _errors(*codes: str) -> dict[str, Any]:
    # every path answers 400 to a query parameter it does not read
    return {code: ERRORS[code] for code in sorted({"400", "401", *codes, "500"})}


def _param(name: str, where: str, description: str, schema: dict[str, Any] | None = None,
           required: bool | None = None) -> dict[str, Any]:
    return {"name": name, "in": where, "description": description,
            "required": where == "path" if required is None else required,
            "schema": schema or {"type": "string"}}


INFRA = _param("infra_id", "path", "the infrastructure id")
NODE = _param("node", "path", "the node's name in the description")
#: the largest number a path or query parameter takes (JSON's exact integers); the
#: service's checks (occo.api.rest) use this one
MAX_NUMBER = 2 ** 53 - 1
#: instances.max_per_node when not configured (occo.compiler.InstanceLimits)
DEFAULT_MAX_PER_NODE = InstanceLimits().max_per_node


def _count(minimum: int, max_per_node: int, what: str) -> dict[str, Any]:
    return _param("count", "path", f"{what} (ASCII digits; at most instances.max_per_node)",
                  {"type": "integer", "minimum": minimum,
                   "maximum": min(max_per_node, MAX_NUMBER)})


SECRET = _param("secret", "query", "the infrastructure's scaling secret, instead of the "
               "token (or the header X-OCCO-Scaling-Secret)", required=False)


def _scale(summary: str, *params: dict[str, Any]) -> dict[str, Any]:
    return {"post": {"summary": summary, "parameters": [INFRA, NODE, *params, SECRET],
                     "security": [{"bearerAuth": []}, {"scalingSecret": []},
                                  {"scalingSecretQuery": []}],
                     "responses": {"202": _json(_ref("ScalingQueued"),
                                                "queued for the next maintenance pass; "
                                                "warnings say if the count was clamped"),
                                   **_errors("400", "403", "404", "429")}}}


def openapi_document(version: str, *, max_per_node: int = DEFAULT_MAX_PER_NODE
                     ) -> dict[str, Any]:
    """The OpenAPI document of this service version; ``max_per_node`` is the service's
    ``instances.max_per_node`` (the largest scale count it takes)."""
    up_count = _count(1, max_per_node, "how many instances to add")
    to_count = _count(0, max_per_node, "the node's new instance count")
    return {
        "openapi": "3.0.3",
        "info": {"title": "OCCO REST API", "version": version,
                 "description": "Build, maintain, scale and destroy infrastructures described "
                                "in Occopus's format. Occopus's paths, JSON bodies, real "
                                "status codes; every path but /health needs the bearer token."},
        "security": [{"bearerAuth": []}],
        "paths": {
            "/health": {"get": {"summary": "liveness and store reachability", "security": [],
                                "responses": {"200": _json(_ref("Health"), "serving"),
                                              "503": _json(ERR, "the store is unreachable")}}},
            "/openapi.json": {"get": {"summary": "this document",
                                      "responses": {"200": {"description": "OpenAPI 3.0"},
                                                    **_errors()}}},
            "/infrastructures/": {
                "get": {"summary": "the infrastructures in the store",
                        "responses": {"200": _json(_ref("InfraList"), "ids and summaries"),
                                      **_errors()}},
                "post": {"summary": "build an infrastructure in the background",
                         "description": "The body is an infrastructure description (YAML or "
                                        "JSON; include tags are refused). Node definitions "
                                        "come from those imported (occo import, "
                                        "occopus-import). A description whose infra_name is "
                                        "in the store continues that infrastructure.",
                         "parameters": [
                             _param("infraid", "query", "rebuild this infrastructure"),
                             _param("keep_on_failure", "query", "keep what is ready when the "
                                    "build fails (default: roll back)", {"type": "boolean"}),
                             _param("maintain", "query", "maintain it afterwards (default "
                                    "true)", {"type": "boolean"})],
                         "requestBody": {"required": True, "content": {
                             "application/yaml": {"schema": {"type": "string"}},
                             "application/json": {"schema": _ref("Description")}}},
                         "responses": {"202": _json(_ref("Accepted"), "registered; building"),
                                       **_errors("400", "404", "409", "413", "415")}}},
            "/infrastructures/{infra_id}": {
                "get": {"summary": "nodes, instances (address, state) and scaling",
                        "parameters": [INFRA, _param("format", "query", "occopus (default): "
                                                     "node name -> instances and scaling; "
                                                     "occo: Occo.status", {
                                                         "type": "string",
                                                         "enum": ["occopus", "occo"]}),
                                       _param("refresh", "query", "ask the clouds and health "
                                              "checks now instead of showing the stored "
                                              "states; writes, heals and queues nothing "
                                              "(default false)", {"type": "boolean"})],
                        "responses": {"200": _json(_ref("Status"), "the status"),
                                      **_errors("400", "404")}},
                "delete": {"summary": "detach and destroy in the background",
                           "parameters": [INFRA],
                           "responses": {"202": _json(_ref("Accepted"), "destroying"),
                                         **_errors("404", "409")}}},
            "/infrastructures/{infra_id}/attach": {"post": {
                "summary": "maintain it (kept in the store: survives a restart)",
                "parameters": [INFRA],
                "responses": {"200": _json(_ref("Maintained"), "attached"),
                              **_errors("404")}}},
            "/infrastructures/{infra_id}/detach": {"post": {
                "summary": "stop maintaining it", "parameters": [INFRA],
                "responses": {"200": _json(_ref("Maintained"), "detached"),
                              **_errors("404")}}},
            "/infrastructures/{infra_id}/scaleup/{node}": _scale("one more instance"),
            "/infrastructures/{infra_id}/scaleup/{node}/{count}": _scale("count more",
                                                                         up_count),
            "/infrastructures/{infra_id}/scaledown/{node}": _scale(
                "one instance fewer (the youngest)"),
            "/infrastructures/{infra_id}/scaledown/{node}/{nodeid}": _scale(
                "remove this instance", _param("nodeid", "path", "instance id or address")),
            "/infrastructures/{infra_id}/scaleto/{node}/{count}": _scale("exactly count",
                                                                         to_count),
            "/infrastructures/{infra_id}/events": {"get": {
                "summary": "the event log, oldest first",
                "parameters": [INFRA,
                               _param("after", "query", "only events after this position",
                                      {"type": "integer", "minimum": 0,
                                       "maximum": MAX_NUMBER}),
                               _param("limit", "query", "at most this many (<= 10000)",
                                      {"type": "integer", "minimum": 1,
                                       "maximum": MAX_NUMBER})],
                "responses": {"200": _json(_ref("Events"), "events"),
                              **_errors("400", "404")}}},
            "/infrastructures/{infra_id}/plan": {
                "get": {"summary": "what a maintenance pass would do now (nothing is done)",
                        "parameters": [INFRA],
                        "responses": {"200": _json(_ref("Plan"), "the plan"),
                                      **_errors("400", "404")}},
                "post": {"summary": "what building this description over the "
                                    "infrastructure would do: per node unchanged, create, "
                                    "drop, replace with the reasons (nothing is stored)",
                         "parameters": [INFRA],
                         "requestBody": {"required": True, "content": {
                             "application/yaml": {"schema": {"type": "string"}},
                             "application/json": {"schema": _ref("Description")}}},
                         "responses": {"200": _json(_ref("Plan"), "the plan"),
                                       **_errors("400", "404", "413", "415")}}},
            "/infrastructures/{infra_id}/rollback": {"post": {
                "summary": "build the definition the last change replaced, in the "
                           "background (occo build --rollback)",
                "parameters": [INFRA, _param("keep_on_failure", "query", "keep what is "
                                             "ready when it fails (default: roll back)",
                                             {"type": "boolean"})],
                "responses": {"202": _json(_ref("Accepted"), "building the previous "
                                                             "definition"),
                              **_errors("400", "404", "409")}}},
            "/info/{key}": {"get": {
                "summary": "Occopus's info broker keys: {\"result\": ...}",
                "description": "The key's arguments are query parameters (infra_id, "
                               "node_name, instance_id, ...). An unknown key is 404 and "
                               "lists the known ones; descriptions and node definitions "
                               "are refused (403).",
                "parameters": [_param("key", "path", "an info key, e.g. "
                                      "infrastructure.state")],
                "responses": {"200": _json(_ref("InfoResult"), "the key's value"),
                              **_errors("400", "403", "404")}}},
            "/infrastructures/{infra_id}/notify": {"post": {
                "summary": "Occopus's notifications: not supported (501)",
                "parameters": [INFRA],
                "responses": {"501": _json(ERR, "not supported"), **_errors("404")}}},
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "scalingSecret": {"type": "apiKey", "in": "header",
                                  "name": "X-OCCO-Scaling-Secret",
                                  "description": "an infrastructure's scaling secret: only "
                                                 "its scale paths"},
                "scalingSecretQuery": {"type": "apiKey", "in": "query", "name": "secret"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message", "status"],
                          "properties": {
                              "error": {"type": "string"}, "message": {"type": "string"},
                              "status": {"type": "integer"},
                              "status_code": {"type": "integer",
                                              "description": "Occopus's key: the status"},
                              "reason": {"type": "string",
                                         "description": "Occopus's key: the message"},
                              "errors": {"type": "array", "items": _ref("LocatedError")},
                              "infra_id": {"type": "string"}, "node": {"type": "string"}}},
                "Description": {
                    "type": "object", "required": ["infra_name", "nodes"],
                    "description": "an infrastructure description (Occopus's format); the "
                                   "service compiles it against the imported node "
                                   "definitions, so a description this schema allows can "
                                   "still be a 400 naming what is wrong",
                    "properties": {
                        "infra_name": {"type": "string", "minLength": 1},
                        "nodes": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "required": ["name", "type"],
                            "properties": {"name": {"type": "string", "minLength": 1},
                                           "type": {"type": "string", "minLength": 1},
                                           "scaling": {"type": "object", "properties": {
                                               "min": {"type": "integer", "minimum": 0},
                                               "max": {"type": "integer",
                                                       "minimum": 0}}}}}}}},
                "LocatedError": {"type": "object", "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"},
                    "file": {"type": "string"}, "line": {"type": "integer"},
                    "column": {"type": "integer"}, "path": {"type": "string"}}},
                "Health": {"type": "object", "properties": {
                    "status": {"type": "string"}, "version": {"type": "string"}}},
                "Accepted": {"type": "object", "required": ["infraid"], "properties": {
                    "infraid": {"type": "string"}, "status": {"type": "string"},
                    "name": {"type": "string"}, "maintained": {"type": "boolean"},
                    "rollback": {"type": "boolean"}}},
                "InfraList": {"type": "object", "properties": {
                    "infrastructures": {"type": "array", "items": {"type": "string"}},
                    "items": {"type": "array", "items": {
                        "type": "object", "description": "one whose records cannot be "
                        "read has status 'damaged', the error as damaged, and null for what "
                        "could not be read", "properties": {
                            "infra_id": {"type": "string"},
                            "name": {"type": "string", "nullable": True},
                            "status": {"type": "string"},
                            "maintained": {"type": "boolean", "nullable": True},
                            "instances": {"type": "integer", "nullable": True},
                            "ready": {"type": "integer", "nullable": True},
                            "wanted": {"type": "integer", "nullable": True,
                                       "description": "the sum of the scaling targets"},
                            "last_event": {"type": "object", "nullable": True,
                                           "description": "the newest event of its log"},
                            "damaged": {"type": "string", "nullable": True}}}}}},
                "Status": {"description": "format=occopus (default): OccopusStatus; "
                                          "format=occo: OccoStatus",
                           "anyOf": [_ref("OccopusStatus"), _ref("OccoStatus")]},
                "OccopusStatus": {"type": "object", "description": "node name -> {type, "
                                  "scaling: {actual, target, min, max}, instances: {instance "
                                  "id -> {resource_address, state, stored_state, "
                                  "confirmed_at, confirmed_by, addresses, intent, ...}}}",
                                  "additionalProperties": {"type": "object"}},
                "OccoStatus": {"type": "object", "description": "Occo.status(): the "
                               "infrastructure, its counts and its nodes as a list, plus busy "
                               "(building/destroying while this service works on it)",
                               "required": ["infra_id", "name", "status", "nodes"],
                               "properties": {
                                   "infra_id": {"type": "string"},
                                   "name": {"type": "string"},
                                   "status": {"type": "string"},
                                   "maintained": {"type": "boolean"},
                                   "busy": {"type": "string", "nullable": True},
                                   "nodes": {"type": "array", "items": {"type": "object"}}}},
                "Maintained": {"type": "object", "properties": {
                    "infraid": {"type": "string"}, "maintained": {"type": "boolean"}}},
                "ScalingQueued": {"type": "object", "properties": {
                    "infraid": {"type": "string"}, "nodename": {"type": "string"},
                    "method": {"type": "string"}, "count": {"type": "integer"},
                    "nodeid": {"type": "string", "nullable": True,
                               "description": "scaledown: the instance asked for, or null"},
                    "target": {"type": "integer"}, "requested": {"type": "integer"},
                    "min": {"type": "integer"}, "max": {"type": "integer"},
                    "maintained": {"type": "boolean"},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                "InfoResult": {"type": "object", "required": ["result"],
                               "properties": {"result": {}}},
                "Plan": {"type": "object", "required": ["nodes", "replaces"], "properties": {
                    "infra_id": {"type": "string", "nullable": True},
                    "name": {"type": "string"}, "creates": {"type": "integer"},
                    "drops": {"type": "integer"}, "replaces": {"type": "integer"},
                    "unchanged": {"type": "integer"},
                    "nodes": {"type": "object", "additionalProperties": {"type": "object"}},
                    "events": {"type": "array", "items": {"type": "object"}},
                    "warnings": {"type": "array", "items": {"type": "string"}}}},
                "Events": {"type": "object", "properties": {
                    "infraid": {"type": "string"}, "last": {"type": "integer"},
                    "events": {"type": "array", "items": {"type": "object"}}}},
            },
        },
    }
