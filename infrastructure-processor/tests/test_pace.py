"""Admission and limits alone: EndpointPace with a fake cloud handler answer."""

from __future__ import annotations

import logging

from occo.infraprocessor._pace import WAVE_BATCHES, EndpointPace
from occo.infraprocessor.config import ProcessingConfig


def pace_with(answer=None, fail=False, **shared):
    asked = []

    def ask(resource):
        asked.append(dict(resource))
        if fail:
            raise RuntimeError("no such method: limits")
        return answer

    return EndpointPace(ProcessingConfig(), ask, **shared), asked


def test_limits_are_asked_once_per_endpoint_with_its_resource_and_merged():
    pace, asked = pace_with({"cloud": {"max_parallel": 7, "batch_size": 2},
                             "configured": {"batch_size": 3}, "watches": True})
    pace.note("e", {"type": "dummy", "name": "one"})
    pace.note("e", {"type": "dummy", "name": "two"})   # the first resource stays
    assert pace.limits("e").max_parallel == 7 and pace.limits("e").batch_size == 3
    assert asked == [{"type": "dummy", "name": "one"}] and pace.watches == {"e": True}


def test_a_cloud_handler_that_cannot_tell_gets_the_cautious_defaults(caplog):
    pace, _ = pace_with(fail=True)
    with caplog.at_level(logging.WARNING, "occo.infraprocessor"):
        limits = pace.limits("e")
    assert limits == ProcessingConfig().limits_for(type(limits)())
    assert pace.watches == {"e": False}
    assert "the cloud handler gave no limits for e (no such method: limits)" in caplog.text


def test_grant_keeps_within_max_parallel_and_counts_what_is_in_flight():
    pace, _ = pace_with({"cloud": {"max_parallel": 5, "batch_size": 64, "rate": 0}})
    assert pace.grant("e", 3) == (3, False)
    pace.inflight["e"] = 4
    assert pace.grant("e", 3) == (1, False)
    pace.inflight["e"] = 5
    assert pace.grant("e", 3) == (0, False) and not pace.has_room("e")


def test_grant_admits_a_wave_of_batches_per_round_and_says_more_are_left():
    pace, _ = pace_with({"cloud": {"max_parallel": 1000, "batch_size": 10, "rate": 0}})
    wave = 10 * WAVE_BATCHES
    assert pace.grant("e", wave + 5) == (wave, True)
    assert pace.grant("e", wave) == (wave, False)


def test_grant_takes_tokens_of_the_rate_and_shares_limits_between_runs():
    shared = {"limits": {}, "watches": {}, "buckets": {}}
    pace, asked = pace_with({"cloud": {"max_parallel": 100, "rate": 1, "burst": 2}}, **shared)
    assert pace.grant("e", 10) == (2, False)    # the burst, then the rate
    again, asked_again = pace_with({"cloud": {}}, **shared)
    assert again.grant("e", 10) == (0, False)   # the same bucket, already empty
    assert len(asked) == 1 and asked_again == []  # the limits were learned once
