"""One writer at a time for a dataset's file, whichever worker process it is: the cases are
made side by side, then each is appended under an exclusive lock (``flock`` on a file beside
it), so that no case is written twice (once apart, then copied in)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_SUFFIX = ".lock"


@contextmanager
def exclusive(path: str) -> Iterator[None]:
    """Hold the lock of the file at ``path`` (``{path}.lock``, created where absent)."""
    descriptor = os.open(path + LOCK_SUFFIX, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
