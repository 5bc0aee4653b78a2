"""What each worker process runs first (:func:`start`): a lower CPU priority, a watch that ends
it once its parent (Orthanc) is gone, then the units of work it runs (:mod:`segmesh.work`, and
with them the core), imported.

Workers run below Orthanc's priority (:data:`NICENESS`): with every core busy meshing, the CPU
still goes first to Orthanc's own threads, which answer the light requests (an overlay, a
segment list) and feed the workers; the heavy work only takes what is left.

A worker waits for calls on a pipe whose write end it holds itself (multiprocessing hands both
ends of a queue to the child), so it never reads an end of file: killed with SIGKILL, Orthanc
would leave its workers running as orphans, each holding its memory. ``PR_SET_PDEATHSIG`` is
no help here: it fires when the *thread* that started the worker ends, and Orthanc's threads
come and go. This module lives in the core because workers import only the core.
"""

from __future__ import annotations

import importlib
import os
import threading
import time

#: How much lower than Orthanc's a worker's CPU priority is (``nice``).
NICENESS = 10
#: Seconds between two looks at the parent: an orphan lives at most this long.
WATCH_INTERVAL = 0.5

#: The units of work workers run (decoding, meshing, encoding): imported as a worker starts
#: (with numpy, scipy, scikit-image and pydicom, seconds), not by its first call.
WORK_MODULES = ("segmesh.work",)


def start(parent_pid: int) -> None:
    """A worker's initializer: a lower priority, :func:`end_with_parent`, then WORK_MODULES
    imported."""
    os.nice(NICENESS)
    end_with_parent(parent_pid)
    for name in WORK_MODULES:
        importlib.import_module(name)


def end_with_parent(parent_pid: int) -> None:
    """Start a daemon thread that ends this process as soon as ``parent_pid`` is no longer its
    parent (the parent died and the process was handed to init or a subreaper)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCH_INTERVAL)
        # No clean-up to wait for: the work in hand was for a parent that is gone.
        os._exit(1)

    threading.Thread(target=watch, name="segmesh-parent-watch", daemon=True).start()
