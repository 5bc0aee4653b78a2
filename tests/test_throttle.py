"""The throttle of a job's progress writes and source checks."""

from __future__ import annotations

import time

from segmesh.throttle import Throttle


def test_due_at_first_then_once_per_interval() -> None:
    throttle = Throttle(0.2)
    assert throttle.due()
    assert not throttle.due()  # at once again: not yet
    time.sleep(0.25)
    assert throttle.due()
    assert not throttle.due()
    every_time = Throttle(0.0)
    assert every_time.due()
    assert every_time.due()
