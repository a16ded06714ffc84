"""Build, scale, heal and destroy on EC2: a real EC2 API (moto's server) on loopback."""

from __future__ import annotations

import pytest
from e2e import Setup, ec2_auth_data, ec2_definition, start_moto, write_description


@pytest.fixture(scope="module")
def moto():
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path, auth_data=ec2_auth_data(tmp_path))
    s.write_config()
    return s


def cluster(directory, moto, name="ec2-cluster"):
    impl = ec2_definition(moto)
    return write_description(directory, name, {
        "master": {"type": "master_t"},
        "worker": {"type": "worker_t", "scaling": {"min": 3, "max": 5}}},
        [("worker", "master")], {"master_t": [impl], "worker_t": [impl]})


def test_build_scale_heal_destroy_on_ec2(setup, moto, tmp_path):
    with setup.occo() as occo:
        result = occo.build(cluster(tmp_path / "d", moto))
        assert result["status"] == "ready", result
        infra_id = result["infra_id"]
        ec2 = moto.occo_instances(infra_id)
        assert len(ec2) == 4
        tags = [{t["Key"]: t["Value"] for t in i["Tags"]} for i in ec2]
        assert {t["occo:instance_id"] for t in tags} == \
            {r.instance_id for r in occo.store.list_instances(infra_id)}
        assert sorted(t["occo:node"] for t in tags) == ["master", "worker", "worker", "worker"]

        assert occo.scale(infra_id, "worker", change=+1)["outcome"]["created"] == 1
        assert len(moto.occo_instances(infra_id)) == 5

        # heal: an instance terminated behind OCCO's back is replaced
        victim = occo.store.list_instances(infra_id, "worker")[0]
        moto.ec2().terminate_instances(InstanceIds=[victim.resource["resource_id"]])
        outcome = occo.maintain_once(infra_id)
        assert outcome["created"] == 1
        live = moto.occo_instances(infra_id)
        assert len(live) == 5
        assert victim.resource["resource_id"] not in {i["InstanceId"] for i in live}

        assert occo.destroy(infra_id)["status"] == "destroyed"
        assert moto.occo_instances(infra_id) == []


def test_missing_credentials_stop_the_build_before_anything_is_created(moto, tmp_path):
    setup = Setup(tmp_path)  # no auth_data.yaml
    setup.write_config()
    with setup.occo() as occo:
        with pytest.raises(Exception) as err:
            occo.build(cluster(tmp_path / "d", moto, name="no-creds"))
        assert err.value.exit_code == 2
        assert "node 'master'" in str(err.value) and "auth" in str(err.value).lower()
        assert occo.list() == []
    assert not [i for i in moto.ec2().describe_instances()["Reservations"]
                for inst in i["Instances"]
                if any(t["Value"] == "no-creds" for t in inst.get("Tags", []))]
