"""The one door between segmesh's service and the archive it runs in.

Everything the service (tasks, jobs, automatic runs, the cache, the records) needs of its host
is here: the index (summaries, finding, a series by its UID), the stored files, metadata and
attachments changed by compare-and-set on their revision, storing and deleting instances. The
host speaks to Orthanc in :mod:`segmesh.orthanc.host`; the tests' in-memory host
(``tests/memory_host.py``) keeps the same things in dictionaries. Logging goes through :mod:`logging`, which the host routes.

Resource levels are named as in Orthanc's REST paths: ``patients``, ``studies``, ``series``,
``instances``. A method that reads a resource answers 404
(:class:`~segmesh.errors.NotFoundError`) where it is unknown (those that ask whether it is there,
``exists``, ``series_id_of_uid`` and ``sop_class_uid``, answer False, None or ""), and the
host's own failures are :class:`HostError`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import SegMeshError
from ..worker_io.loopback import Loopback

JsonObject = dict[str, Any]

#: Compare-and-set attempts before giving up (each loses only to another writer's success).
ATTEMPTS = 100

#: What each resource level is called in errors.
LEVEL_NAMES = {
    "patients": "patient",
    "studies": "study",
    "series": "series",
    "instances": "instance",
}


class HostError(SegMeshError):
    """The host failed at something it should have done (an error of Orthanc's own)."""

    http_status = 500


class ConflictError(SegMeshError):
    """Other writers kept changing the same record."""

    http_status = 409


class StoringError(SegMeshError):
    """The host did not store a file segmesh made (say, its disk is full)."""

    http_status = 500


@dataclass(frozen=True)
class Revisioned:
    """A metadata value or an attachment's bytes, and its ETag (revision and MD5)."""

    data: bytes
    etag: str

    @property
    def text(self) -> str:
        """The value as UTF-8 text."""
        return self.data.decode("utf-8")


class Host(Protocol):
    """What segmesh needs from the archive it runs in."""

    #: Where workers read stored files: in place, or over the host's REST API (picklable).
    files: Loopback

    def __hash__(self) -> int:
        """Hosts key caches of what never changes for an id (:func:`.store.image_identity`)."""

    def summary(self, level: str, identifier: str) -> JsonObject:
        """The host's JSON summary of ``/{level}/{identifier}`` (``MainDicomTags``, the
        parent's and children's ids; an instance's ``FileUuid`` and ``FileSize``)."""

    def find(self, query: Mapping[str, Any]) -> list[str]:
        """The ids Orthanc's ``/tools/find`` answers for ``query``; 400 where refused."""

    def study_of(self, level: str, identifier: str) -> str:
        """The id of the study of ``/{level}/{identifier}``."""

    def studies(self) -> list[str]:
        """Every study's id."""

    def series_id_of_uid(self, series_instance_uid: str) -> str | None:
        """The id of the series of that SeriesInstanceUID, None where it is absent."""

    def series_instances(self, series_id: str) -> list[JsonObject]:
        """The summaries of every instance of a series."""

    def sop_class_uid(self, instance_id: str) -> str:
        """An instance's SOP Class UID from the index (no file read); "" where unknown."""

    def exists(self, level: str, identifier: str) -> bool:
        """Whether ``/{level}/{identifier}`` is stored."""

    def instance_file(self, instance_id: str) -> bytes:
        """The Part-10 file of an instance."""

    def read_metadata(self, level: str, identifier: str, key: int) -> Revisioned | None:
        """A metadata value of a resource and its revision, None where absent."""

    def write_metadata(
        self, level: str, identifier: str, key: int, value: bytes, etag: str | None
    ) -> bool:
        """Set a metadata value where its revision is still ``etag`` (None: where it is
        absent); False where another writer came first."""

    def create_metadata(self, level: str, identifier: str, key: int, value: bytes) -> bool:
        """:meth:`write_metadata` where absent, of a resource this process has just stored
        (none is expected: a conflict is rare enough to cost more); False where one exists."""

    def read_attachment(self, instance_id: str, content_type: int) -> Revisioned | None:
        """An attachment of an instance and its revision, None where absent."""

    def write_attachment(
        self, instance_id: str, content_type: int, data: bytes, etag: str | None
    ) -> bool:
        """:meth:`write_metadata` for an attachment."""

    def store_instance(self, data: bytes) -> JsonObject:
        """Store a Part-10 file: ``ID``, ``ParentSeries``, ``Status`` ("Success", or
        "AlreadyStored" for a SOP Instance UID the host holds and keeps as it was)."""

    def store_instance_file(self, path: str) -> JsonObject:
        """:meth:`store_instance` of the Part-10 file at ``path``."""

    def delete_instance(self, instance_id: str) -> None:
        """Delete an instance; one already gone is no error."""

    def alive(self) -> bool:
        """Whether the host answers (it closes its API seconds before segmesh hears that it
        stops)."""


def update_metadata(
    host: Host,
    level: str,
    identifier: str,
    key: int,
    change: Callable[[JsonObject | None], JsonObject | None],
) -> JsonObject | None:
    """Apply ``change`` to the JSON object in a metadata value until it is written with no
    other writer in between; ``change`` answers None to write nothing. The value written (or,
    where nothing was written, the value read) is returned."""
    for _ in range(ATTEMPTS):
        current = host.read_metadata(level, identifier, key)
        value = json.loads(current.data) if current else None
        changed = change(copy.deepcopy(value))
        if changed is None:
            return value
        body = json.dumps(changed).encode("utf-8")
        if host.write_metadata(level, identifier, key, body, current.etag if current else None):
            return changed
    raise ConflictError("Record kept changing", f"/{level}/{identifier}/metadata/{key}")


def read_json_metadata(host: Host, level: str, identifier: str, key: int) -> JsonObject | None:
    """A metadata value holding a JSON object, None where absent."""
    current = host.read_metadata(level, identifier, key)
    return None if current is None else dict(json.loads(current.data))
