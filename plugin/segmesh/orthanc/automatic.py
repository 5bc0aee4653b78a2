"""Automatic models (``SegMesh.AutoGenerate``): once per source and parameter set, on any node.

A stored SEG or RT-STRUCT (never one segmesh wrote) is claimed by creating its run record
(metadata :data:`STATUS_METADATA` of the instance, ``{"Runs": {key: run}}``) with a
compare-and-set: of two events, two restarts or two nodes, only the first creates it. The run
then waits, polled in a thread of its own, for its referenced images: every image the source
names stored, and the series unchanged for ``StableAge`` seconds by its ``LastUpdate`` (both in
the shared database, unlike Orthanc's per-node stable events; a SEG often arrives before its
CT, and maybe at another node). Then it becomes a job, started by whichever node moves it
from Waiting by compare-and-set (any node resumes waiting runs at its start, so a run outlives
the node that claimed it); after ``AutoGenerateTimeout`` seconds without its images it ends as
a Failure saying why.
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
from collections.abc import Callable
from typing import Any

import orthanc

from .. import __version__
from ..dicom.provenance import is_written_by_segmesh
from ..dicom.references import referenced_images
from ..dicom.sop_classes import RT_STRUCTURE_SET_STORAGE, SEGMENTATION_SOP_CLASSES
from ..errors import NotFoundError, SegMeshError
from . import store
from .jobs import JobRunner
from .jobs.records import now_text
from .revisions import JsonObject, RevisionedMetadata

logger = logging.getLogger(__name__)

#: segmesh's user metadata on a source instance: its automatic runs.
STATUS_METADATA = 4602
#: Seconds between two looks at the runs that wait for their images.
POLL_SECONDS = 1.0
SOURCE_CLASSES = (*SEGMENTATION_SOP_CLASSES, RT_STRUCTURE_SET_STORAGE)


def status_path(instance_id: str) -> str:
    """Where an instance's automatic runs are recorded."""
    return f"/instances/{instance_id}/metadata/{STATUS_METADATA}"


def _get_json(path: str) -> Any:
    return json.loads(orthanc.RestApiGet(path))


def _seconds_since(orthanc_time: str) -> float:
    # Orthanc writes LastUpdate in local time, segmesh's records in UTC.
    then = datetime.datetime.strptime(orthanc_time, "%Y%m%dT%H%M%S")
    return (datetime.datetime.now() - then).total_seconds()


class AutomaticRuns:
    """Claims, waits for and starts the automatic runs of this node."""

    def __init__(
        self,
        stl: dict[str, Any],
        timeout: int,
        stable_age: int,
        runner: JobRunner,
        metadata: RevisionedMetadata,
    ) -> None:
        self.stl = stl
        self.timeout = timeout
        self.stable_age = stable_age
        self.runner = runner
        self.metadata = metadata
        self.key = hashlib.sha256(
            json.dumps({"Stl": stl, "Version": __version__}, sort_keys=True).encode()
        ).hexdigest()[:16]
        self._arrived: queue.Queue[str] = queue.Queue()
        self._waiting: dict[str, dict[str, set[str]]] = {}
        self._started = threading.Event()
        self._stopping = threading.Event()

    def stored(self, instance_id: str) -> None:
        """A new instance (from Orthanc's change thread: only queued here)."""
        self._arrived.put(instance_id)

    def start(self) -> None:
        """Resume this node's waiting runs, then poll (once Orthanc has started)."""
        if not self._started.is_set():
            self._started.set()
            threading.Thread(target=self._loop, name="segmesh-auto", daemon=True).start()

    def stop(self) -> None:
        """Orthanc stops: poll no more (its REST API is going away)."""
        self._stopping.set()

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
        except (urllib.error.URLError, ConnectionError, orthanc.OrthancException) as error:
            if not self._stopping.is_set():
                logger.warning("segmesh: automatic runs wait, Orthanc did not answer: %s", error)
        except Exception:
            logger.exception("segmesh: automatic run failed")

    def _consider(self, instance_id: str) -> None:
        try:
            sop_class = orthanc.RestApiGet(f"/instances/{instance_id}/metadata/SopClassUid")
            series = _get_json(f"/instances/{instance_id}/series")
        except orthanc.OrthancException:
            return  # deleted meanwhile
        if sop_class.decode() not in SOURCE_CLASSES or is_written_by_segmesh(
            series.get("MainDicomTags", {})
        ):
            return
        run = {"State": "Waiting", "Parameters": self.stl, "Since": now_text()}
        run["Node"] = self.runner.node

        def claim(value: JsonObject | None) -> JsonObject | None:
            runs = (value or {}).get("Runs", {})
            if self.key in runs:
                return None
            return {"Runs": {**runs, self.key: run}}

        written = self.metadata.update(status_path(instance_id), claim)
        if written and written["Runs"].get(self.key) == run:
            logger.info("segmesh: automatic models of %s wait for their images", instance_id)
            self._wait_for(instance_id)

    def _wait_for(self, instance_id: str) -> None:
        dataset = store.read_instance(instance_id, stop_before_pixels=True)
        self._waiting[instance_id] = referenced_images(dataset)

    def _resume(self) -> None:
        """At start, every waiting run waits here too, whichever node claimed it (that node
        may never come back; the compare-and-set from Waiting decides who starts the job),
        and this node's started runs whose job record it had no time to write get it."""
        for modality in ("SEG", "RTSTRUCT"):
            found = json.loads(
                orthanc.RestApiPost(
                    "/tools/find",
                    json.dumps({"Level": "Instance", "Query": {"Modality": modality}}),
                )
            )
            for instance_id in found:
                try:
                    self._resume_one(instance_id)
                except Exception:
                    logger.exception("segmesh: automatic run of %s not resumed", instance_id)

    def _resume_one(self, instance_id: str) -> None:
        current = self.metadata.read(status_path(instance_id))
        run = json.loads(current.text).get("Runs", {}).get(self.key) if current else None
        if run is None:
            return
        if run["State"] == "Waiting":
            self._wait_for(instance_id)
        elif run["State"] == "Started" and run.get("Node") == self.runner.node:
            try:
                self.runner.store.get(run["Job"])
            except NotFoundError:
                logger.warning("segmesh: automatic job %s of %s is queued", run["Job"], instance_id)
                self.runner.enqueue(
                    self.runner.new("InstanceModels", instance_id, self.stl, run["Job"])
                )

    def _ready(self, images: dict[str, set[str]]) -> str | None:
        """None where every referenced image is stored and stable, else what is missing."""
        for series_uid, sop_instance_uids in images.items():
            series_id = store.series_id_of_uid(series_uid)
            if series_id is None:
                return f"the referenced series {series_uid} is not stored"
            series = _get_json(f"/series/{series_id}")
            stored = {
                str(instance["MainDicomTags"].get("SOPInstanceUID"))
                for instance in _get_json(f"/series/{series_id}/instances")
            }
            missing = sop_instance_uids - stored
            if missing:
                return f"{len(missing)} of the referenced images of {series_uid} are not stored"
            if _seconds_since(series["LastUpdate"]) < self.stable_age:
                return f"the series {series_uid} is not stable yet"
        return None

    def _poll(self) -> None:
        for instance_id, images in list(self._waiting.items()):
            try:
                self._advance(instance_id, images)
            except SegMeshError as error:
                fields = {"State": "Failure", "Error": error.message, "Details": error.details}
                self._leave_waiting(instance_id, fields)
                del self._waiting[instance_id]

    def _advance(self, instance_id: str, images: dict[str, set[str]]) -> None:
        if not store.exists("instances", instance_id):
            # Deleted while it waited (its run record went with it): even where its images
            # are ready now, there is nothing to start.
            del self._waiting[instance_id]
            return
        missing = self._ready(images)
        if missing is None:
            # The job's id is promised in the run before its record exists: of two nodes
            # (or a node and its restarted self) only the one whose compare-and-set moved the
            # run from Waiting starts it, so a source never gets two jobs.
            record = self.runner.new("InstanceModels", instance_id, self.stl)
            started = {"State": "Started", "Job": record["ID"], "Node": self.runner.node}
            if self._leave_waiting(instance_id, started):
                self.runner.enqueue(record)
            del self._waiting[instance_id]
            return
        current = self.metadata.read(status_path(instance_id))
        run = json.loads(current.text)["Runs"].get(self.key) if current else None
        if run is None or run["State"] != "Waiting":
            del self._waiting[instance_id]  # deleted, or advanced by another node
        elif _age(run["Since"]) > self.timeout:
            failure = {
                "State": "Failure",
                "Error": "Images never came",
                "Details": f"after {self.timeout} s, {missing}",
            }
            self._leave_waiting(instance_id, failure)
            del self._waiting[instance_id]

    def _leave_waiting(self, instance_id: str, fields: JsonObject) -> bool:
        """Compare-and-set the run from Waiting to ``fields``; False where it was no longer
        waiting (another node moved it first) or is gone."""

        def change(value: JsonObject | None) -> JsonObject | None:
            run = (value or {}).get("Runs", {}).get(self.key)
            if value is None or run is None or run["State"] != "Waiting":
                return None
            run.update(fields, Time=now_text())
            return value

        written = self.metadata.update(status_path(instance_id), change)
        run = (written or {}).get("Runs", {}).get(self.key) or {}
        return all(run.get(key) == value for key, value in fields.items())


def _age(utc_time: str) -> float:
    then = datetime.datetime.strptime(utc_time, "%Y%m%dT%H%M%S").replace(tzinfo=datetime.UTC)
    return (datetime.datetime.now(datetime.UTC) - then).total_seconds()
