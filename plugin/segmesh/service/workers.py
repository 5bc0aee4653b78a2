"""Worker processes for the heavy core work (decoding, rasterising, meshing, DICOM encoding).

All Python callbacks of Orthanc share one interpreter and one GIL; CPU-heavy steps run in a pool
of processes instead (the Orthanc Book's advice). Workers are started with the spawn method
(never a fork of the multi-threaded Orthanc) from the venv's Python: inside Orthanc,
``sys.executable`` is the Orthanc binary. They import only the core, which never imports
``orthanc``, and run only units of work (:mod:`segmesh.work`: frozen dataclasses, each with its
``run()``) through :func:`segmesh.work.run_work`. A worker that dies fails the calls it was
running with a 500 JSON error and the pool is started anew; Orthanc's start starts them
(:meth:`WorkerPool.start`), its stop ends the pool, and a worker whose Orthanc was killed ends
itself (:mod:`segmesh.worker_io.worker_process`).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from ..errors import SegMeshError
from ..work import ProcessId, Work, run_work
from ..worker_io import worker_process

logger = logging.getLogger(__name__)

R = TypeVar("R")


class WorkerCrashedError(SegMeshError):
    """A worker process died while running a request's work."""

    http_status = 500


def venv_python() -> Path:
    """The Python of the venv that holds segmesh's dependencies (on ``sys.path``)."""
    for entry in sys.path:
        path = Path(entry)
        if path.name == "site-packages" and (path.parents[2] / "pyvenv.cfg").is_file():
            candidate = path.parents[2] / "bin" / "python"
            if candidate.exists():
                return candidate
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Path(f"/usr/bin/python{version}")


def _close_call_queue_reader(broken: ProcessPoolExecutor) -> None:
    """Let a broken pool end (CPython gh-94777, fixed in 3.12; Debian 12 has 3.11).

    A pool that breaks while the thread feeding its call queue is blocked writing to the pipe,
    which no worker reads any more, waits for that thread forever, and Orthanc's stop then
    hangs on the pool. This runs as the broken pool fails its calls, before it waits: with
    this process's read end closed too, the write fails once the workers are gone (what 3.12
    does at the same point; closing twice is harmless).
    """
    reader = getattr(getattr(broken, "_call_queue", None), "_reader", None)
    if reader is not None:
        reader.close()


def _check_work(work: object) -> None:
    """A TypeError for anything but a unit of work: a dataclass instance with ``run()`` (a
    bare function or a tuple of arguments is refused even without workers, where it would
    run, so that what works in-process also pickles)."""
    if not (
        dataclasses.is_dataclass(work) and not isinstance(work, type) and isinstance(work, Work)
    ):
        raise TypeError(f"not a unit of work (segmesh.work): {work!r}")


class StoppingError(SegMeshError):
    """Orthanc is stopping: the worker pool takes no more work."""

    http_status = 503


class WorkerPool:
    """``count`` worker processes, or the calling thread where ``count`` is 0."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self._starting: threading.Thread | None = None
        #: Calls submitted and not done (a metric). Counted under a lock of its own: the pool's
        #: management thread updates it in the calls' done callbacks, while it may hold the
        #: pool's own lock, which a thread holding ``_lock`` may be waiting for (_restart).
        self.busy = 0
        self._busy_lock = threading.Lock()
        if count:
            # Spawn, not fork: Orthanc is multi-threaded. set_executable is process-wide, but
            # this interpreter is segmesh's own.
            self._context = multiprocessing.get_context("spawn")
            self._context.set_executable(str(venv_python()))

    def describe(self) -> str:
        """For the start-up log."""
        if not self.count:
            return "in-process (Workers 0)"
        return f"{self.count} worker processes ({venv_python()})"

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise StoppingError("Orthanc is stopping", "the work was not started")
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.count,
                    mp_context=self._context,
                    initializer=worker_process.start,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def start(self) -> None:
        """Start the worker processes in the background (Orthanc has started): the first
        request then finds them started, the core imported, instead of waiting seconds."""
        if self.count:
            self._starting = threading.Thread(target=self._start, name="segmesh-workers-start")
            self._starting.start()

    def _start(self) -> None:
        # Each call finds no idle worker and so starts one more, up to the pool's size.
        try:
            for _ in range(self.count):
                self.submit(ProcessId())
        except StoppingError:
            pass

    def _restart(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                logger.error("segmesh: a worker process died; starting the pool anew")
                # A broken pool fails its pending calls itself; cancelling them as well races
                # with that (CPython 3.11 then raises InvalidStateError in its own thread).
                broken.shutdown(wait=False)
                self._executor = None

    def submit(self, work: Work[R]) -> Future[R]:
        """Run ``work`` in a worker (or here, with no workers); see :meth:`result`. A
        TypeError for anything but a unit of work (:mod:`segmesh.work`)."""
        _check_work(work)
        if not self.count:
            future: Future[R] = Future()
            try:
                future.set_result(work.run())
            except BaseException as error:
                future.set_exception(error)
            return future
        pool = self._pool()
        try:
            submitted = pool.submit(run_work, work)
        except BrokenProcessPool:
            self._restart(pool)
            submitted = self._pool().submit(run_work, work)
        except RuntimeError as error:  # shut down since _pool() answered
            raise StoppingError("Orthanc is stopping", "the work was not started") from error
        with self._busy_lock:
            self.busy += 1
        submitted.add_done_callback(lambda done: self._check(pool, done))
        return submitted

    def _check(self, pool: ProcessPoolExecutor, done: Future[Any]) -> None:
        with self._busy_lock:
            self.busy -= 1
        if not done.cancelled() and isinstance(done.exception(), BrokenProcessPool):
            _close_call_queue_reader(pool)
            # This runs on the broken pool's own management thread, which shutting the pool
            # down from here would wait for (Python 3.13 deadlocks): restart from another.
            threading.Thread(target=self._restart, args=(pool,), daemon=True).start()

    @staticmethod
    def result(future: Future[R]) -> R:
        """The result of a submitted call; a dead worker becomes :class:`WorkerCrashedError`."""
        try:
            return future.result()
        except BrokenProcessPool as error:
            raise WorkerCrashedError(
                "Worker process died", "the work was stopped; repeat the request"
            ) from error

    def run(self, work: Work[R]) -> R:
        """``work`` run in a worker, waited for."""
        return self.result(self.submit(work))

    def imap(self, works: Iterable[Work[R]]) -> Generator[R, None, None]:
        """Each of ``works`` run, results in order, a few ahead of the one waited for (one at a
        time, as asked for, without workers). ``works`` is read as they are submitted: an
        iterator of them makes each only when a worker is about to need it.

        Work is never cancelled: CPython 3.11's pool fails when it breaks while holding a
        cancelled call. Closing the iterator early leaves at most the work already submitted
        (twice the workers) to finish unused.
        """
        if not self.count:
            for work in works:
                _check_work(work)
                yield work.run()
            return
        waiting = iter(works)
        submitted: deque[Future[R]] = deque()
        while True:
            for work in itertools.islice(waiting, 2 * self.count - len(submitted)):
                submitted.append(self.submit(work))
            if not submitted:
                return
            yield self.result(submitted.popleft())

    def shutdown(self) -> None:
        """End the workers (Orthanc stops): pending calls are cancelled, running ones finish,
        and no call is taken any more."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if self._starting is not None:
            self._starting.join()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
