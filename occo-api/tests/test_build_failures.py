"""A build that breaks under way (the pass raises: the store, a transport, the process)
leaves the infrastructure failed (new) or as it was (existing), with a build.failed
event, never `building` for ever."""

from __future__ import annotations

import pytest
from e2e import Setup, two_tier


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    s.write_config()
    return s


def breaking(occo, exc):
    def broken(*args, **kwargs):
        raise exc
    occo.system.enactor.maintain_once = broken


@pytest.mark.parametrize("exc", [RuntimeError("the transport went away"),
                                 OSError(28, "No space left on device"),
                                 KeyboardInterrupt()], ids=["error", "oserror", "interrupt"])
def test_a_new_infrastructure_whose_build_breaks_is_failed_with_the_reason(setup, tmp_path,
                                                                           exc):
    occo = setup.occo()
    try:
        breaking(occo, exc)
        with pytest.raises(type(exc)):
            occo.build(two_tier(tmp_path / "d"))
        [record] = occo.store.list_infrastructures()
        assert record.status == "failed"
        [event] = [e for e in occo.store.read_events(record.infra_id, after=0)
                   if e.type == "build.failed"]
        said = str(exc) or "interrupted"
        assert said in event.details["reason"] and event.details["status"] == "failed"
    finally:
        occo.close()


def test_a_ready_infrastructure_whose_rebuild_breaks_keeps_its_status(setup, tmp_path):
    occo = setup.occo()
    try:
        infra = two_tier(tmp_path / "d")
        built = occo.build(infra)
        assert built["status"] == "ready"
        breaking(occo, RuntimeError("lost the store's connection"))
        with pytest.raises(RuntimeError):
            occo.build(infra)
        record = occo.store.get_infrastructure(built["infra_id"])
        assert record.status == "ready"
        assert len(occo.store.list_instances(record.infra_id)) == 3
        kinds = [e.type for e in occo.store.read_events(record.infra_id, after=0)]
        assert kinds[-1] == "build.failed"
    finally:
        occo.close()
