"""segmesh's start and stop inside Orthanc, without a change callback.

orthanc-python 7.1 on Orthanc 1.13 crashes as Orthanc exits (SIGSEGV or SIGABRT in the plugin's
static destructors, "corrupted size vs. prev_size") whenever a plugin registered a change
callback and Orthanc signalled a change after ``ORTHANC_STOPPED``, such as the stable events of
a study stored just before the stop: orthanc-python stops its change thread at
``ORTHANC_STOPPED``, and freeing the changes left in its queue crashes. A five-line script that
only registers an empty change callback does it too. So segmesh registers none:

- it starts (workers, unfinished jobs, automatic runs) once Orthanc's REST API answers on the
  loopback, from a thread started at registration;
- it stops in the interpreter's own shutdown (``threading._register_atexit``, the hook the
  standard library's executors use), before the interpreter waits for threads: every segmesh
  thread that writes to Orthanc has ended when Orthanc unloads the plugin;
- new instances reach the automatic runs through the stored-instance callback (only where
  automatic runs are configured), and the label-map cache drops an entry as soon as a request
  finds its source gone or stored anew (its stamp), instead of on the DELETED change.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .automatic import AutomaticRuns
from .host import Host
from .jobs import JobRunner
from .metrics import Metrics
from .workers import WorkerPool

logger = logging.getLogger(__name__)

#: Seconds between two looks for Orthanc's REST API at start, and before a warning says it
#: still does not answer.
POLL_SECONDS = 0.1
PATIENCE_SECONDS = 60.0


class Lifecycle:
    """Starts segmesh's background work once Orthanc answers, and ends it at Orthanc's stop."""

    def __init__(
        self,
        host: Host,
        workers: WorkerPool,
        runner: JobRunner,
        automatic: AutomaticRuns | None,
        metrics: Metrics,
    ) -> None:
        self.host = host
        self.workers = workers
        self.runner = runner
        self.automatic = automatic
        self._stopping = threading.Event()
        self._starting = threading.Thread(target=self._start, name="segmesh-start")
        self._publishing = threading.Thread(
            target=metrics.publish_until, args=(self._stopping,), name="segmesh-metrics"
        )

    def begin(self) -> None:
        """At registration: start when Orthanc answers; stop with the interpreter."""
        # The hook of concurrent.futures too: it runs before the interpreter waits for its
        # threads (atexit handlers run after), and a later hook runs first.
        threading._register_atexit(self.end)  # type: ignore[attr-defined]
        self._starting.start()

    def on_stored_instance(self, dicom: Any, instance_id: str) -> None:
        """orthanc-python's stored-instance callback: a new instance for the automatic runs
        (only queued here: Orthanc waits on this while it stores)."""
        if self.automatic is not None:
            self.automatic.stored(instance_id)

    def _start(self) -> None:
        if not self._wait_for_orthanc():
            return
        self.workers.start()
        self.runner.start()
        if self.automatic is not None:
            self.automatic.start()
        self._publishing.start()

    def _wait_for_orthanc(self) -> bool:
        """Whether Orthanc's REST API answered before the stop."""
        since = time.monotonic()
        warned = False
        while not self._stopping.is_set():
            if self.host.alive():
                return True
            if not warned and time.monotonic() - since > PATIENCE_SECONDS:
                warned = True
                logger.warning(
                    "segmesh: Orthanc's REST API does not answer on %s yet: unfinished jobs "
                    "and automatic runs wait for it",
                    self.host.files.base_url,
                )
            self._stopping.wait(POLL_SECONDS)
        return False

    def end(self) -> None:
        """Orthanc stops: end every thread of segmesh that writes to Orthanc, and the
        workers. Jobs keep their Running record and run again at the next start."""
        self._stopping.set()
        self._starting.join()
        if self._publishing.is_alive():
            self._publishing.join()
        if self.automatic is not None:
            self.automatic.stop()
        self.runner.stop()
        # Pending worker calls are cancelled; the jobs waiting on them end, and the others at
        # their next step.
        self.workers.shutdown()
        self.runner.join()
