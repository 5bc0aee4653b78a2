"""Automatic models and label maps (``SegMesh.AutoGenerate``): once per source and parameter
set, on any node.

Each product (:class:`Product`: the models, ``Stl``; the label-map attachment, ``LabelMap``)
is a run of its own. A stored SEG or RT-STRUCT (never one segmesh wrote) is claimed by
creating its run records (metadata :data:`STATUS_METADATA` of the instance, ``{"Runs": {key:
run}}``) with a compare-and-set: of two events, two restarts or two nodes, only the first
creates them. The runs then wait, polled in a thread of their own, for the referenced images
(:mod:`.image_arrival`: every image the source names stored, and the series unchanged for
``StableAge`` seconds, both read from the shared database; a SEG often arrives before its CT,
and maybe at another node). Then each becomes a job, started by whichever node moves it from
Waiting by compare-and-set (any node resumes waiting runs at its start, so a run outlives the
node that claimed it); after ``AutoGenerateTimeout`` seconds without its images it ends as a
Failure saying why.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import logging
import queue
import threading
import urllib.error
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..dicom.provenance import is_imported, is_written_by_segmesh
from ..dicom.references import referenced_images
from ..dicom.sop_classes import SOURCE_SOP_CLASSES, Kind
from ..errors import NotFoundError, SegMeshError
from . import store
from .host import Host, HostError, JsonObject, read_json_metadata, update_metadata
from .image_arrival import missing_images
from .jobs import JobRunner
from .jobs.records import now_text
from .tasks.storing import INSTANCE_LABELMAP_KIND, INSTANCE_MODELS_KIND

logger = logging.getLogger(__name__)

#: segmesh's user metadata on a source instance: its automatic runs.
STATUS_METADATA = 4602
#: Seconds between two looks at the runs that wait for their images.
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Product:
    """What an automatic run makes: a job of ``kind`` with ``parameters`` (its body); ``key``
    names the run among the source's (from what it is made of and segmesh's version)."""

    kind: str
    parameters: dict[str, Any]
    key: str


def _key(made_of: dict[str, Any]) -> str:
    text = json.dumps({**made_of, "Version": __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def products(stl: dict[str, Any] | None, labelmap: bool) -> list[Product]:
    """The products of ``AutoGenerate``: the label map first, so that a models job queued
    beside it on the same node waits for its load (the cache loads a key once) instead of
    decoding the source again."""
    made = [Product(INSTANCE_LABELMAP_KIND, {}, _key({"LabelMap": True}))] if labelmap else []
    if stl is not None:
        made.append(Product(INSTANCE_MODELS_KIND, stl, _key({"Stl": stl})))
    return made


class AutomaticRuns:
    """Claims, waits for and starts the automatic runs of this node."""

    def __init__(
        self,
        made: Sequence[Product],
        timeout: int,
        stable_age: int,
        runner: JobRunner,
        host: Host,
    ) -> None:
        self.products = tuple(made)
        self.timeout = timeout
        self.stable_age = stable_age
        self.runner = runner
        self.host = host
        self._arrived: queue.Queue[str] = queue.Queue()
        self._waiting: dict[str, dict[str, set[str]]] = {}
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def stored(self, instance_id: str) -> None:
        """A new instance (from Orthanc's storing thread, which waits: only queued here)."""
        self._arrived.put(instance_id)

    def start(self) -> None:
        """Resume this node's waiting runs, then poll (once Orthanc has started)."""
        if not self._started.is_set():
            self._started.set()
            self._thread = threading.Thread(target=self._loop, name="segmesh-auto")
            self._thread.start()

    def stop(self) -> None:
        """Orthanc stops: poll no more (its REST API is going away); returns once the loop has
        ended, so that it writes nothing to Orthanc any more."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        self._guarded(self._resume)
        while not self._stopping.is_set():
            try:
                instance_id = self._arrived.get(timeout=POLL_SECONDS)
            except queue.Empty:
                pass
            else:
                self._guarded(functools.partial(self._consider, instance_id))
            # A failed look (the database busy with another node, Orthanc stopping) must not
            # end this thread: the runs stay in the database and the next poll tries again.
            self._guarded(self._poll)

    def _guarded(self, step: Callable[[], None]) -> None:
        try:
            step()
        except NotFoundError as error:
            logger.info("segmesh: automatic run left, its source was deleted: %s", error)
        except (urllib.error.URLError, ConnectionError, HostError) as error:
            if not self._stopping.is_set():
                logger.warning("segmesh: automatic runs wait, Orthanc did not answer: %s", error)
        except Exception:
            logger.exception("segmesh: automatic run failed")

    def _consider(self, instance_id: str) -> None:
        if self.host.sop_class_uid(instance_id) not in SOURCE_SOP_CLASSES:
            return  # not a source, or deleted meanwhile
        try:
            series_id = self.host.summary("instances", instance_id)["ParentSeries"]
            series = self.host.summary("series", series_id)
        except NotFoundError:
            return  # deleted meanwhile
        if is_written_by_segmesh(series.get("MainDicomTags", {})) and not self._is_imported(
            instance_id
        ):
            return
        since, node = now_text(), self.runner.node
        claimed = {
            product.key: {
                "Kind": product.kind,
                "State": "Waiting",
                "Parameters": product.parameters,
                "Since": since,
                "Node": node,
            }
            for product in self.products
        }

        def claim(value: JsonObject | None) -> JsonObject | None:
            runs = (value or {}).get("Runs", {})
            new = {key: run for key, run in claimed.items() if key not in runs}
            return {"Runs": {**runs, **new}} if new else None

        written = update_metadata(self.host, "instances", instance_id, STATUS_METADATA, claim)
        runs = (written or {}).get("Runs", {})
        if any(runs.get(key) == run for key, run in claimed.items()):
            logger.info("segmesh: automatic runs of %s wait for their images", instance_id)
            self._wait_for(instance_id)

    def _is_imported(self, instance_id: str) -> bool:
        """Whether segmesh's object is an imported label map's, a source like any other
        (its header tells; only segmesh's own SEG and RT-STRUCT objects are read)."""
        try:
            stored = store.instance_stored_file(self.host, instance_id)
            return is_imported(store.read_header(self.host, stored))
        except SegMeshError:  # deleted meanwhile, or unreadable: no run either way
            return False

    def _wait_for(self, instance_id: str) -> None:
        dataset = store.read_header(self.host, store.instance_stored_file(self.host, instance_id))
        self._waiting[instance_id] = referenced_images(dataset)

    def _resume(self) -> None:
        """At start, every waiting run waits here too, whichever node claimed it (that node
        may never come back; the compare-and-set from Waiting decides who starts the job),
        and this node's started runs whose job record it had no time to write get it."""
        for modality in Kind:
            for instance_id in self.host.find(
                {"Level": "Instance", "Query": {"Modality": modality}}
            ):
                try:
                    self._resume_one(instance_id)
                except NotFoundError:
                    logger.info("segmesh: %s was deleted while its runs resumed", instance_id)
                except Exception:
                    logger.exception("segmesh: automatic run of %s not resumed", instance_id)

    def _runs(self, instance_id: str) -> dict[str, JsonObject]:
        """This node's products' runs of the instance, by key."""
        record = read_json_metadata(self.host, "instances", instance_id, STATUS_METADATA)
        runs = (record or {}).get("Runs", {})
        return {p.key: runs[p.key] for p in self.products if p.key in runs}

    def _resume_one(self, instance_id: str) -> None:
        runs = self._runs(instance_id)
        for product in self.products:
            run = runs.get(product.key)
            if run is None:
                continue
            if run["State"] == "Waiting":
                self._wait_for(instance_id)
            elif run["State"] == "Started" and run.get("Node") == self.runner.node:
                try:
                    self.runner.store.get(run["Job"])
                except NotFoundError:
                    logger.warning(
                        "segmesh: automatic job %s of %s is queued", run["Job"], instance_id
                    )
                    self.runner.enqueue(
                        self.runner.new(product.kind, instance_id, product.parameters, run["Job"])
                    )

    def _poll(self) -> None:
        # Orthanc closes its REST API before it tears down what in-process calls reach: a poll
        # reaching in after that aborted Orthanc 1.10.1 as it stopped (boost::lock_error, a
        # node stopped with a run waiting). Runs wait while the API does not answer.
        if not self._waiting or not self.host.alive():
            return
        for instance_id, images in list(self._waiting.items()):
            try:
                self._advance(instance_id, images)
            except SegMeshError as error:
                fields = {"State": "Failure", "Error": error.message, "Details": error.details}
                for product in self.products:
                    self._leave_waiting(instance_id, product.key, fields)
                del self._waiting[instance_id]

    def _advance(self, instance_id: str, images: dict[str, set[str]]) -> None:
        if not self.host.exists("instances", instance_id):
            # Deleted while it waited (its run record went with it): even where its images
            # are ready now, there is nothing to start.
            del self._waiting[instance_id]
            return
        missing = missing_images(self.host, images, self.stable_age)
        if missing is None:
            for product in self.products:
                # The job's id is promised in the run before its record exists: of two nodes
                # (or a node and its restarted self) only the one whose compare-and-set moved
                # the run from Waiting starts it, so a source never gets two jobs.
                record = self.runner.new(product.kind, instance_id, product.parameters)
                started = {"State": "Started", "Job": record["ID"], "Node": self.runner.node}
                if self._leave_waiting(instance_id, product.key, started):
                    self.runner.enqueue(record)
            del self._waiting[instance_id]
            return
        runs = self._runs(instance_id)
        waiting = [key for key, run in runs.items() if run["State"] == "Waiting"]
        if not waiting:
            del self._waiting[instance_id]  # deleted, or advanced by another node
        elif max(_age(runs[key]["Since"]) for key in waiting) > self.timeout:
            failure = {
                "State": "Failure",
                "Error": "Images never came",
                "Details": f"after {self.timeout} s, {missing}",
            }
            for key in waiting:
                self._leave_waiting(instance_id, key, failure)
            del self._waiting[instance_id]

    def _leave_waiting(self, instance_id: str, key: str, fields: JsonObject) -> bool:
        """Compare-and-set the run ``key`` from Waiting to ``fields``; False where it was no
        longer waiting (another node moved it first) or is gone."""

        def change(value: JsonObject | None) -> JsonObject | None:
            run = (value or {}).get("Runs", {}).get(key)
            if value is None or run is None or run["State"] != "Waiting":
                return None
            run.update(fields, Time=now_text())
            return value

        written = update_metadata(self.host, "instances", instance_id, STATUS_METADATA, change)
        run = (written or {}).get("Runs", {}).get(key) or {}
        return all(run.get(name) == value for name, value in fields.items())


def _age(utc_time: str) -> float:
    then = datetime.datetime.strptime(utc_time, "%Y%m%dT%H%M%S").replace(tzinfo=datetime.UTC)
    return (datetime.datetime.now(datetime.UTC) - then).total_seconds()
