"""What an instance was built from lives inside its ``implementation`` (issue 24): the
processor writes it with the batch ``update_instances`` once the cloud took the
instance. Every backend keeps each instance's own version, secrets included, while
instances built alike still share one stored implementation, and a record without it
reads as before."""

from __future__ import annotations

from test_store import IMPL_WEB, make_infra, make_instance


def built(lookup: str, password: str = "pw-1") -> dict:
    return {**IMPL_WEB, "built_from": {
        "digest": f"sha256:{lookup}", "variables": {"db_password": password},
        "attributes": {}, "lookups": {"getip('db')": lookup}}}


def test_built_from_round_trips_through_batch_updates(store):
    make_infra(store, "b")
    recs = [make_instance("b", n) for n in range(3)]
    store.add_instances(recs)
    store.update_instances({recs[0].instance_id: {"implementation": built("10.0.0.1"),
                                                  "state": "starting"},
                            recs[1].instance_id: {"implementation": built("10.0.0.1")},
                            recs[2].instance_id: {"implementation": built("10.0.0.2",
                                                                          "pw-2")}})
    got = {r.instance_id: r for r in store.list_instances("b")}
    assert got[recs[0].instance_id].implementation == built("10.0.0.1")
    assert got[recs[1].instance_id].implementation == built("10.0.0.1")
    assert got[recs[2].instance_id].implementation == built("10.0.0.2", "pw-2")
    assert str(got[recs[0].instance_id].state) == "starting"
    assert store.get_instance(recs[2].instance_id).implementation["built_from"][
        "variables"] == {"db_password": "pw-2"}


def test_a_record_without_built_from_reads_as_before(store):
    make_infra(store, "o")
    old = make_instance("o", 0)
    store.add_instances([old])
    [got] = store.list_instances("o")
    assert got.implementation == IMPL_WEB and "built_from" not in got.implementation
