"""Job records, kept in Orthanc's database as metadata of the study the job works in.

One metadata entry per study (:data:`JOBS_METADATA`) holds ``{"Jobs": {id: record}}``; a job's
id is ``{study id}.{random hex}``, so any node finds its record from the id alone, and every
change is a compare-and-set (:func:`..host.update_metadata`). Nothing of a job lives only in a
process.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

from ...errors import NotFoundError
from ..host import Host, JsonObject, read_json_metadata, update_metadata

#: segmesh's user metadata: job records (on studies) and automatic-run records (on sources).
JOBS_METADATA = 4601


class JobState(StrEnum):
    """States of a job, as Orthanc names its own."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESS = "Success"
    FAILURE = "Failure"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        """Whether the job will not change any more."""
        return self in (JobState.SUCCESS, JobState.FAILURE, JobState.CANCELLED)


def now_text() -> str:
    """Orthanc's time format (``20261201T201530``), UTC."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")


def study_of(job_id: str) -> str:
    """The study id inside a job id; 404 where the id has no such form."""
    study, separator, suffix = job_id.rpartition(".")
    if not separator or not study or not suffix:
        raise NotFoundError("Unknown job", job_id)
    return study


def new_job_id(study_id: str) -> str:
    """A fresh id for a job in ``study_id``."""
    return f"{study_id}.{uuid.uuid4().hex[:16]}"


def new_record(
    study_id: str,
    kind: str,
    level: str,
    resource_id: str,
    parameters: JsonObject,
    node: str,
    job_id: str | None = None,
) -> JsonObject:
    """A Pending job of ``kind`` on ``/{level}/{resource_id}`` with the request's body (its id
    given where it was promised before the record existed)."""
    return {
        "ID": job_id or new_job_id(study_id),
        "Kind": kind,
        "State": JobState.PENDING.value,
        "Progress": 0,
        "CreationTime": now_text(),
        "CompletionTime": None,
        "Source": {"Level": level, "ID": resource_id},
        "Parameters": parameters,
        "Node": node,
        "Heartbeat": now_text(),
    }


#: Parameters that carry a posted file as base64: shown as their size, not their bytes.
FILE_PARAMETERS = ("Nifti", "File")


def public(record: JsonObject) -> JsonObject:
    """What ``GET /segmesh/jobs/{id}`` shows: everything but the bookkeeping of nodes, and
    posted files as their size in bytes."""
    shown = {key: value for key, value in record.items() if key not in ("Heartbeat", "Node")}
    parameters = record.get("Parameters")
    if isinstance(parameters, dict) and any(key in parameters for key in FILE_PARAMETERS):
        shown["Parameters"] = {
            key: {"Bytes": len(value) * 3 // 4 - value[-2:].count("=")}
            if key in FILE_PARAMETERS and isinstance(value, str)
            else value
            for key, value in parameters.items()
        }
    shown["Path"] = f"/segmesh/jobs/{record['ID']}"
    return shown


class JobStore:
    """Job records on the studies' metadata."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def _update(
        self, study_id: str, change: Callable[[JsonObject | None], JsonObject | None]
    ) -> None:
        update_metadata(self.host, "studies", study_id, JOBS_METADATA, change)

    def _jobs(self, study_id: str) -> dict[str, Any]:
        return dict(
            (read_json_metadata(self.host, "studies", study_id, JOBS_METADATA) or {}).get(
                "Jobs", {}
            )
        )

    def add(self, record: JsonObject) -> None:
        """Store a new record."""

        def add(value: JsonObject | None) -> JsonObject:
            jobs = (value or {}).get("Jobs", {})
            jobs[record["ID"]] = record
            return {"Jobs": jobs}

        self._update(study_of(record["ID"]), add)

    def get(self, job_id: str) -> JsonObject:
        """The record of ``job_id``; 404 where unknown."""
        record = self._jobs(study_of(job_id)).get(job_id)
        if record is None:
            raise NotFoundError("Unknown job", job_id)
        return dict(record)

    def change(self, job_id: str, change: Callable[[JsonObject], JsonObject | None]) -> JsonObject:
        """Compare-and-set one record: ``change`` returns the new record, or None to leave it;
        the record as it stands afterwards is returned. 404 where unknown."""
        found: dict[str, JsonObject] = {}

        def apply(value: JsonObject | None) -> JsonObject | None:
            jobs = (value or {}).get("Jobs", {})
            if job_id not in jobs:
                raise NotFoundError("Unknown job", job_id)
            changed = change(jobs[job_id])
            found["record"] = changed if changed is not None else jobs[job_id]
            if changed is None:
                return None
            jobs[job_id] = changed
            return {"Jobs": jobs}

        self._update(study_of(job_id), apply)
        return found["record"]

    def of_study(self, study_id: str) -> list[JsonObject]:
        """Every record of one study."""
        return list(self._jobs(study_id).values())

    def all(self, study_ids: list[str]) -> Iterator[JsonObject]:
        """Every record of the given studies, oldest first within each."""
        for study_id in study_ids:
            yield from sorted(self.of_study(study_id), key=lambda r: str(r["CreationTime"]))
