"""Work done now and then rather than on every step: a job's progress, the check that its sources
are still stored. In Orthanc each is a transaction of the index, which the light routes' reads
wait behind."""

from __future__ import annotations

import threading
import time


class Throttle:
    """Due at the first ask, then at most once every ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Whether it is time again (and, if so, the time is taken)."""
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last < self.seconds:
                return False
            self._last = now
            return True
