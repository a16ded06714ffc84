"""The slot table alone: the phase index, the count of active slots, hiding."""

from __future__ import annotations

from occo.infraprocessor._slots import Phase, Slot, SlotTable


def slot(instance_id: str, phase: Phase = Phase.WAITING) -> Slot:
    return Slot(instance_id=instance_id, node_name="web", endpoint="e", phase=phase)


def test_moves_keep_the_index_and_the_active_count():
    table = SlotTable()
    a, b = slot("a"), slot("b", Phase.QUEUED)
    table.add(a)
    table.add(b)
    assert table.active == 2 and list(table.in_phase(Phase.WAITING)) == ["a"]
    table.move(a, Phase.QUEUED)
    assert set(table.in_phase(Phase.QUEUED)) == {"a", "b"} and not table.in_phase(Phase.WAITING)
    table.move(a, Phase.READY)          # final: no longer active
    table.move(a, Phase.READY)          # a move to where it is changes nothing
    assert table.active == 1 and a.phase is Phase.READY
    table.move(a, Phase.DROP_QUEUED)    # active again (being dropped)
    assert table.active == 2 and table.in_phases(Phase.DROP_QUEUED) == [a]


def test_a_slot_added_again_replaces_the_one_tracked():
    table = SlotTable()
    first = slot("a", Phase.READY)
    table.add(first)
    again = slot("a", Phase.DROP_QUEUED)
    table.add(again)
    assert table.get("a") is again and table.active == 1
    assert not table.in_phase(Phase.READY) and table.in_phase(Phase.DROP_QUEUED) == {"a": again}


def test_a_hidden_slot_keeps_its_phase_but_leaves_the_index_until_shown():
    table = SlotTable()
    a = slot("a", Phase.QUEUED)
    table.add(a)
    table.hide(a)
    assert not table.in_phase(Phase.QUEUED) and table.in_phases(Phase.QUEUED) == [a]
    assert table.active == 1
    table.show(a)
    assert table.in_phase(Phase.QUEUED) == {"a": a}
