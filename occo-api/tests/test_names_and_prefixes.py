"""An infrastructure by its id, its unique name or a unique id prefix (4+ characters), in
every `occo` command and REST path; instances by id, short id or address when scaling;
ambiguous and unknown ones are exit 2 (REST 400/404) listing the candidates."""

from __future__ import annotations

import dataclasses
import json

import pytest
from e2e import Setup, write_description

from occo.api.errors import AmbiguousInfrastructure, InstanceNotFound, UnknownInfrastructure

DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.01}}]


@pytest.fixture
def built(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    ids = {}
    for name in ("alpha", "beta"):
        infra = write_description(tmp_path / name, name, {
            "db": {"type": "t"}, "web": {"type": "t", "scaling": {"min": 2, "max": 3}}},
            [("web", "db")], {"t": DUMMY})
        with setup.occo() as occo:
            ids[name] = occo.build(infra)["infra_id"]
    return setup, ids


def test_an_infrastructure_by_id_name_or_prefix(built):
    setup, ids = built
    with setup.occo() as occo:
        for ref in (ids["alpha"], "alpha", ids["alpha"][:4], ids["alpha"][:8].upper()):
            assert occo.resolve_infra(ref) == ids["alpha"], ref
        with pytest.raises(UnknownInfrastructure) as info:
            occo.resolve_infra(ids["alpha"][:3])   # too short to be a prefix
        assert "there are: alpha (" in info.value.message
        with pytest.raises(UnknownInfrastructure) as info:
            occo.resolve_infra("alhpa")
        assert "did you mean 'alpha'?" in info.value.message
        assert info.value.exit_code == 2
        # two infrastructures of one name (written by another tool or an older version)
        beta = ids["beta"]   # a twin id: the same first 7 characters, another 8th
        twin_id = beta[:7] + ("1" if beta[7] == "0" else "0") + beta[8:]
        twin = dataclasses.replace(occo.store.get_infrastructure(beta), infra_id=twin_id,
                                   name="alpha")
        occo.store.create_infrastructure(twin)
        with pytest.raises(AmbiguousInfrastructure) as info:
            occo.resolve_infra("alpha")
        assert ids["alpha"] in info.value.message and twin.infra_id in info.value.message
        with pytest.raises(AmbiguousInfrastructure):
            occo.resolve_infra(ids["beta"][:4])    # beta and its twin share the prefix
        assert occo.resolve_infra(ids["beta"][:8]) == ids["beta"]


def test_the_cli_takes_names_and_prefixes_and_lists_the_candidates(built):
    setup, ids = built
    status = json.loads(setup.cli("status", "-i", "beta", "--json", check=True).stdout)
    assert status["infra_id"] == ids["beta"]
    events = setup.cli("events", "-i", ids["beta"][:6], check=True)
    assert events.returncode == 0
    proc = setup.cli("status", "-i", "gamma")
    assert proc.returncode == 2
    assert "no infrastructure 'gamma' in the store" in proc.stderr
    assert f"alpha ({ids['alpha'][:8]})" in proc.stderr and "beta (" in proc.stderr


def test_scaling_names_an_instance_by_id_short_id_or_address_or_says_which_exist(built):
    setup, ids = built
    with setup.occo() as occo:
        web = [i for n in occo.status(ids["alpha"])["nodes"] if n["name"] == "web"
               for i in n["instances"]]
        with pytest.raises(InstanceNotFound) as info:
            occo.scale(ids["alpha"], "web", remove="10.255.255.1")
        text = info.value.message
        assert "has no instance with the id or address '10.255.255.1'" in text
        assert all(i["instance_id"][:8] in text for i in web), text
        assert info.value.exit_code == 2
        result = occo.scale(ids["alpha"], "web", remove=web[0]["instance_id"][:8])
        assert result["outcome"]["dropped"] == 1, result
        have = len([i for n in occo.status(ids["alpha"])["nodes"] if n["name"] == "web"
                    for i in n["instances"]])
        result = occo.scale(ids["alpha"], "web", to=have)
        assert result["notes"] == [f"node 'web' already has {have} instance(s), the count "
                                   "asked for: nothing to do"]
    proc = setup.cli("scale", "-i", "alpha", "-n", "web", "-f", "10.255.255.1")
    assert proc.returncode == 2 and "its instances:" in proc.stderr
    proc = setup.cli("scale", "-i", "alpha", "-n", "web", "-s", "2")
    assert proc.returncode == 0 and "note: node 'web' already has 2" in proc.stderr
