"""The rule of when a dependent may start, alone."""

from __future__ import annotations

from occo.infraprocessor._progress import NodeProgress


def test_a_dependent_starts_once_its_dependency_has_nothing_pending_and_one_ready():
    progress = NodeProgress()
    for _ in range(2):
        progress.planned("db")
    assert progress.take_changed() is True       # the first round looks at everything
    assert progress.take_changed() is False
    assert not progress.may_start(["db"]) and progress.without_ready(["db"]) == ["db"]
    progress.became_ready("db")
    assert progress.take_changed() is True
    assert not progress.may_start(["db"])        # one of this run's two is still pending
    progress.became_ready("db")
    assert progress.may_start(["db"]) and progress.without_ready(["db"]) == []


def test_only_its_own_dependencies_count():
    progress = NodeProgress()
    progress.planned("slow")
    progress.ready_before("db")
    assert progress.may_start(["db"]) and not progress.may_start(["db", "slow"])
    assert progress.may_start([])


def test_a_withdrawn_create_unblocks_without_a_recheck():
    progress = NodeProgress()
    progress.ready_before("db")
    progress.planned("db")
    progress.take_changed()
    progress.withdrawn("db")
    assert progress.may_start(["db"]) and progress.changed is False
