"""A command that needs an infrastructure takes the store's only one when -i is not
given, and says so; with none or several it is exit 2 listing them; destroy never
defaults."""

from __future__ import annotations

import json

from e2e import Setup, write_description

DUMMY = [{"resource": {"type": "dummy", "create_latency": 0.01}}]


def build(setup: Setup, name: str) -> str:
    infra = write_description(setup.root / name, name, {"db": {"type": "t"}}, [],
                              {"t": DUMMY})
    with setup.occo() as occo:
        return occo.build(infra)["infra_id"]


def test_none_then_one_then_two(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    empty = setup.cli("status")
    assert empty.returncode == 2
    assert "occo status needs -i INFRA" in empty.stderr
    assert "the store holds no infrastructure" in empty.stderr

    alpha = build(setup, "alpha")
    status = setup.cli("status", "--json", check=True)
    assert json.loads(status.stdout)["infra_id"] == alpha
    assert f"occo: note: using infrastructure alpha ({alpha}), the only one in the " \
           "store" in status.stderr
    events = setup.cli("events", check=True)
    assert "infra.ready" in events.stdout
    scaled = setup.cli("scale", "-n", "db", "-s", "1", check=True)
    assert "occo: note:" in scaled.stderr

    beta = build(setup, "beta")
    two = setup.cli("status")
    assert two.returncode == 2
    assert "the store holds 2 infrastructures" in two.stderr
    assert f"alpha ({alpha[:8]})" in two.stderr and f"beta ({beta[:8]})" in two.stderr


def test_destroy_must_name_it(tmp_path):
    setup = Setup(tmp_path)
    setup.write_config()
    only = build(setup, "solo")
    proc = setup.cli("destroy")
    assert proc.returncode == 2
    assert "the following arguments are required: -i/--infra-id" in proc.stderr
    with setup.occo() as occo:
        assert [r.infra_id for r in occo.store.list_infrastructures()] == [only]
