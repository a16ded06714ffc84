"""End to end: resolve requests into NodeSpecs, concurrently and repeatedly."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import INFRA, make_request

from occo.servicecomposer import RequestError, ServiceComposer
from occo.util import NodeSpec

CONTEXT = {"type": "cloudinit",
           "context_template": {"runcmd": ["echo {{ node_id }} {{ getip('db') }}"],
                                "write_files": [{"path": "/etc/app",
                                                 "content": "id={{ node_id }}\n"}]}}


def test_a_node_spec_with_tags_and_json_round_trip(composer):
    request = make_request(resource={"type": "dummy", "name": "web-{{ cut(infra_id, 0, 5) }}",
                                     "tags": {"team": "{{ variables.team }}", "n": 1}},
                           contextualisation=CONTEXT, variables={"team": "blue"})
    spec = composer.resolve(json.loads(json.dumps(request)))
    assert spec.instance_id == "web-0001" and spec.infra_id == INFRA
    assert spec.node_name == "web" and spec.node_type == "web_node"
    assert spec.resource["name"] == "web-infra"
    assert spec.tags == {"team": "blue", "n": "1"}
    assert spec.occo_tags()["occo:instance_id"] == "web-0001"
    assert NodeSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_resource_tags_must_be_a_mapping(composer):
    with pytest.raises(RequestError) as info:
        composer.resolve(make_request(resource={"type": "dummy", "tags": ["a"]}))
    assert "resource tags must be a mapping" in str(info.value)


def test_resolving_concurrently_gives_the_same_as_one_by_one(lookup):
    requests = [make_request(instance_id=f"web-{i:04d}", contextualisation=CONTEXT)
                for i in range(200)]
    with ServiceComposer(lookup) as one, ServiceComposer(lookup) as many:
        expected = [one.resolve(r) for r in requests]
        with ThreadPoolExecutor(max_workers=8) as pool:
            got = list(pool.map(many.resolve, requests))
    assert got == expected
    assert "echo web-0199 10.0.0.5" in got[-1].context["user_data"]


def test_the_input_request_is_not_modified(composer):
    request = make_request(contextualisation=CONTEXT,
                           config_management={"type": "none"}, health_check={"ports": [1]})
    before = json.dumps(request, sort_keys=True)
    composer.resolve(request)
    composer.health_plan(request, "127.0.0.1")
    assert json.dumps(request, sort_keys=True) == before


def test_resolve_reports_what_the_templates_read_of_other_nodes(composer):
    """What an instance was built from includes its lookups' answers (issue 24)."""
    from occo.servicecomposer.endpoint import ComposerEndpoint
    request = make_request(contextualisation={
        "type": "cloudinit", "context_template": {"runcmd": [
            "echo {{ getip('db') }} {{ getip('db') }} {{ getprivip(db) }}",
            "echo {{ getipall('db') | join(',') }}"]}})
    spec, used = composer.resolve_traced(request)
    assert used == {"getip('db')": "10.0.0.5", "getprivip('db')": "192.168.0.5",
                    "getipall('db')": ["10.0.0.5", "10.0.0.6"]}
    assert spec == composer.resolve(request)
    [result] = ComposerEndpoint(composer).resolve_many([request])
    assert result == {"spec": spec.to_dict(), "used": used}
    plain = make_request(resource={"type": "dummy", "name": "{{ node_id }}"})
    assert composer.resolve_traced(plain)[1] == {}
