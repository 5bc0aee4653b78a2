"""Running segmesh's jobs: a few threads of this process, whose heavy steps go to the workers.

orthanc-python cannot create jobs in Orthanc's own ``/jobs`` (``OrthancPluginCreateJob`` is not
wrapped), so segmesh keeps its own. A job is claimed by compare-and-set on its record
(Pending -> Running, with this node's name), so two nodes never run the same job; its progress
and heartbeat are written as its models are stored. At start, a node runs again the jobs it
left unfinished, and those another node left with no heartbeat for :data:`STALE_SECONDS`.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
import urllib.error
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...errors import SegMeshError, error_answer
from ..host import JsonObject
from ..tasks.context import CancelledError, TaskContext
from ..tasks.storing import StoringKind
from ..throttle import Throttle
from .records import JobState, JobStore, new_record, now_text

logger = logging.getLogger(__name__)

#: A Running job whose node wrote no heartbeat for this long is taken over by another node.
STALE_SECONDS = 300
#: Jobs running at once on one node (their heavy steps share the worker pool).
JOB_THREADS = 2
#: Seconds between two writes of a running job's progress (the first is written at once).
PROGRESS_INTERVAL = 0.5


def _stale(record: JsonObject) -> bool:
    beat = datetime.datetime.strptime(str(record["Heartbeat"]), "%Y%m%dT%H%M%S")
    age = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - beat
    return age.total_seconds() > STALE_SECONDS


class JobRunner:
    """Queues, runs and cancels jobs; ``node`` names this Orthanc among those of a database;
    ``kinds`` are the jobs it knows to run, by name (registration gives it
    :data:`segmesh.requests.storing_kinds.KINDS`: their parsing sits above the service)."""

    def __init__(
        self,
        context: TaskContext,
        store: JobStore,
        node: str,
        kinds: Mapping[str, StoringKind],
    ) -> None:
        self.context = context
        self.store = store
        self.node = node
        self.kinds = dict(kinds)
        self._executor = ThreadPoolExecutor(JOB_THREADS, thread_name_prefix="segmesh-job")
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._resuming: threading.Thread | None = None
        #: This node's jobs queued and running now (metrics).
        self.pending = 0
        self.running = 0

    def submit(self, kind: str, resource_id: str, body: Mapping[str, Any]) -> JsonObject:
        """A new job of ``kind`` on the resource, with the request's ``body`` (checked now:
        400 before anything is queued)."""
        return self.enqueue(self.new(kind, resource_id, body))

    def new(
        self, kind: str, resource_id: str, body: Mapping[str, Any], job_id: str | None = None
    ) -> JsonObject:
        """The record of a job :meth:`submit` would start, checked but neither stored nor
        queued (an automatic run promises its id first, then enqueues it)."""
        storing = self.kinds[kind]
        storing.prepare(resource_id, body)
        study_id = self.context.host.study_of(storing.level, resource_id)
        return new_record(study_id, kind, storing.level, resource_id, dict(body), self.node, job_id)

    def enqueue(self, record: JsonObject) -> JsonObject:
        """Store a record made by :meth:`new` and queue its job on this node."""
        self.store.add(record)
        self._queue(record["ID"])
        return record

    def cancel(self, job_id: str) -> JsonObject:
        """Cancel a pending or running job (a finished one is left as it is)."""

        def cancel(record: JsonObject) -> JsonObject | None:
            if JobState(record["State"]).finished:
                return None
            return {**record, "State": JobState.CANCELLED.value, "CompletionTime": now_text()}

        with self._lock:
            self._cancelled.add(job_id)
        return self.store.change(job_id, cancel)

    def resume(self, study_ids: list[str]) -> None:
        """Queue again the unfinished jobs of this node, and the stale ones of other nodes."""
        for record in self.store.all(study_ids):
            if JobState(record["State"]).finished:
                continue
            if record["Node"] != self.node and not _stale(record):
                continue
            seen = (record["State"], record["Heartbeat"], record["Node"])

            def take(current: JsonObject, seen: tuple[Any, ...] = seen) -> JsonObject | None:
                if (current["State"], current["Heartbeat"], current["Node"]) != seen:
                    return None
                return {
                    **current,
                    "State": JobState.PENDING.value,
                    "Node": self.node,
                    "Heartbeat": now_text(),
                }

            taken = self.store.change(record["ID"], take)
            if taken["Node"] == self.node and taken["State"] == JobState.PENDING.value:
                logger.warning("segmesh: job %s is run again", record["ID"])
                self._queue(record["ID"])

    def start(self) -> None:
        """Orthanc has started: queue again, in the background, the unfinished jobs of every
        study (:meth:`resume`)."""
        self._resuming = threading.Thread(target=self._resume_all, name="segmesh-resume")
        self._resuming.start()

    def _resume_all(self) -> None:
        try:
            self.resume(self.context.host.studies())
        except Exception:
            if not self._stopping.is_set():
                logger.exception("segmesh: unfinished jobs could not be resumed")

    def stop(self) -> None:
        """Orthanc stops: take no more jobs; the running ones end at their next step (or with
        the workers) and keep their Running record, so that this node runs them again at its
        next start. :meth:`join` waits for them."""
        self._stopping.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def join(self) -> None:
        """Wait until no job thread of :meth:`stop` runs any more."""
        if self._resuming is not None:
            self._resuming.join()
        self._executor.shutdown(wait=True)

    def _is_cancelled(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def _queue(self, job_id: str) -> None:
        with self._lock:
            self.pending += 1
        self._executor.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        with self._lock:
            self.pending -= 1
            self.running += 1
        try:
            self._claim_and_run(job_id)
        finally:
            with self._lock:
                self.running -= 1

    def _claim_and_run(self, job_id: str) -> None:
        def claim(record: JsonObject) -> JsonObject | None:
            if record["State"] != JobState.PENDING.value or record["Node"] != self.node:
                return None
            return {**record, "State": JobState.RUNNING.value, "Heartbeat": now_text()}

        try:
            record = self.store.change(job_id, claim)
        except SegMeshError as error:
            logger.warning("segmesh: job %s cannot start: %s", job_id, error)
            return
        if record["State"] != JobState.RUNNING.value or record["Node"] != self.node:
            return

        # One write per model of a 100-model job doubled the index's writes of storing.
        throttle = Throttle(PROGRESS_INTERVAL)

        def progress(done: int, total: int) -> None:
            if not throttle.due():
                return

            def advance(current: JsonObject) -> JsonObject | None:
                if current["State"] == JobState.CANCELLED.value:
                    with self._lock:
                        self._cancelled.add(job_id)
                    return None
                percent = min(99, int(100 * done / max(total, 1)))
                return {**current, "Progress": percent, "Heartbeat": now_text()}

            self.store.change(job_id, advance)

        context = dataclasses.replace(
            self.context,
            progress=progress,
            cancelled=lambda: self._stopping.is_set() or self._is_cancelled(job_id),
        )
        source = record["Source"]["ID"]
        try:
            result = self.kinds[record["Kind"]].prepare(source, record["Parameters"])(context)
            self._finish(job_id, JobState.SUCCESS, {"Result": result, "Progress": 100})
        except Exception as error:
            if self._stopping.is_set() or self._orthanc_stopped(error):
                logger.warning("segmesh: job %s stopped with Orthanc; it runs again", job_id)
                return
            if isinstance(error, CancelledError):
                self._finish(job_id, JobState.CANCELLED, {})
                return
            status, message, details = error_answer(error, f"job {job_id}")
            error_json = {"Error": message, "Details": details, "HttpStatus": status}
            self.context.metrics.add("segmesh_jobs_failed_total", 1)
            self._finish(job_id, JobState.FAILURE, {"Error": error_json})

    def _orthanc_stopped(self, error: BaseException) -> bool:
        """Whether ``error`` comes from Orthanc's HTTP server closing as Orthanc stops: it
        closes seconds before segmesh hears of the stop (:mod:`..lifecycle`), and a job then
        finds its loopback refused or reset. Told apart from a failure by asking Orthanc."""
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, ConnectionError):
            reason = getattr(cause, "reason", None)
            if isinstance(cause, urllib.error.URLError) and isinstance(reason, ConnectionError):
                break
            cause = cause.__cause__ or cause.__context__
        return cause is not None and not self.context.host.alive()

    def _finish(self, job_id: str, state: JobState, fields: JsonObject) -> None:
        def finish(record: JsonObject) -> JsonObject:
            if record["State"] == JobState.CANCELLED.value:
                # Cancelled meanwhile: what was stored so far stays, the state says cancelled.
                return {**record, "CompletionTime": record["CompletionTime"] or now_text()}
            return {
                **record,
                **fields,
                "State": state.value,
                "CompletionTime": now_text(),
                "Heartbeat": now_text(),
            }

        self.store.change(job_id, finish)
        with self._lock:
            self._cancelled.discard(job_id)
