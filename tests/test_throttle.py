"""The throttle of a job's progress writes and source checks."""

from __future__ import annotations

import time

from segmesh.service.throttle import Throttle


def test_due_at_first_then_once_per_interval() -> None:
    slow = Throttle(60.0)
    assert slow.due()
    assert not slow.due()  # within the interval: not yet, however often asked
    assert not slow.due()
    fast = Throttle(0.05)
    assert fast.due()
    time.sleep(0.1)
    assert fast.due()  # the interval has passed
    every_time = Throttle(0.0)
    assert every_time.due()
    assert every_time.due()
