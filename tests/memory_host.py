"""segmesh's host (:class:`segmesh.service.host.Host`) in memory: an archive of DICOM files with
Orthanc's index (patients, studies, series, instances and their summaries), metadata and
attachments with revisions as ``"CheckRevisions": true`` keeps them, and a storage folder
laid out as Orthanc's, so that workers read the files in place.

It lets the service (jobs, automatic runs, attachments, storing and its rollback) run as unit
tests, without an Orthanc. ``before_store`` and ``alive`` let a test step in.
"""

from __future__ import annotations

import datetime
import hashlib
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset

from segmesh.errors import BadRequestError, NotFoundError
from segmesh.service.host import LEVEL_NAMES, JsonObject, Revisioned, StoringError
from segmesh.worker_io.loopback import Loopback
from segmesh.worker_io.storage_area import StorageArea

#: Orthanc's levels, top down, with the UID that names each.
LEVELS = (
    ("patients", "PatientID"),
    ("studies", "StudyInstanceUID"),
    ("series", "SeriesInstanceUID"),
    ("instances", "SOPInstanceUID"),
)
#: ``/tools/find``'s levels.
FIND_LEVELS = {"Patient": 0, "Study": 1, "Series": 2, "Instance": 3}
#: The tags of each level Orthanc keeps in its index (as many as segmesh reads).
MAIN_TAGS = (
    ("PatientID", "PatientName"),
    ("StudyInstanceUID", "StudyDescription"),
    ("SeriesInstanceUID", "Modality", "SeriesDescription", "Manufacturer"),
    ("SOPInstanceUID", "InstanceNumber"),
)


def orthanc_id(*uids: str) -> str:
    """An id derived from the UIDs above a resource, shaped as Orthanc's (a SHA-1 in groups)."""
    digest = hashlib.sha1("|".join(uids).encode()).hexdigest()
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


@dataclass
class _Resource:
    level: int
    identifier: str
    parent: str | None
    tags: dict[str, str]
    children: list[str] = field(default_factory=list)
    last_update: str = ""
    #: An instance's file: its uuid in the storage folder, and its size.
    file_uuid: str = ""
    file_size: int = 0


class InMemoryHost:
    """An archive in memory whose files lie in ``storage`` (a folder)."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.files = Loopback("http://127.0.0.1:9", "", StorageArea(str(storage)))
        self._resources: dict[str, _Resource] = {}
        #: (level, id, key) -> (value, revision); attachments have key ``-content type``.
        self._values: dict[tuple[str, str, int], tuple[bytes, int]] = {}
        self._lock = threading.RLock()
        #: Called with each file before it is stored (a test deletes a source there, or
        #: raises :class:`StoringError` as a full disk would).
        self.before_store: Callable[[Dataset], None] = lambda dataset: None
        self.stored_count = 0
        self.deleted: list[str] = []
        self.is_alive = True

    def __hash__(self) -> int:
        return id(self)

    # What a test puts in.

    def add(self, dataset: Dataset | bytes) -> str:
        """Store a dataset (or Part-10 bytes); its instance id."""
        if isinstance(dataset, Dataset):
            handle = BytesIO()
            dataset.save_as(handle, enforce_file_format=True)
            dataset = handle.getvalue()
        return str(self.store_instance(dataset)["ID"])

    def age(self, series_id: str, seconds: float) -> None:
        """Make a series look unchanged for ``seconds`` (Orthanc's ``LastUpdate``)."""
        then = datetime.datetime.now() - datetime.timedelta(seconds=seconds)
        self._resources[series_id].last_update = then.strftime("%Y%m%dT%H%M%S")

    def ids(self, level: str) -> list[str]:
        """Every id of a level."""
        number = [name for name, _ in LEVELS].index(level)
        return [r.identifier for r in self._resources.values() if r.level == number]

    # The Host protocol.

    def _get(self, level: str, identifier: str) -> _Resource:
        resource = self._resources.get(identifier)
        if resource is None or LEVELS[resource.level][0] != level:
            raise NotFoundError(f"Unknown {LEVEL_NAMES.get(level, level)}", identifier)
        return resource

    def summary(self, level: str, identifier: str) -> JsonObject:
        with self._lock:
            resource = self._get(level, identifier)
            answer: JsonObject = {"ID": identifier, "MainDicomTags": dict(resource.tags)}
            parent_key = ("ParentPatient", "ParentStudy", "ParentSeries")
            if resource.parent is not None:
                answer[parent_key[resource.level - 1]] = resource.parent
            children_key = ("Studies", "Series", "Instances")
            if resource.level < 3:
                answer[children_key[resource.level]] = list(resource.children)
            if resource.level == 2:
                answer["LastUpdate"] = resource.last_update
            if resource.level == 3:
                answer.update(FileUuid=resource.file_uuid, FileSize=resource.file_size)
            return answer

    def find(self, query: Mapping[str, Any]) -> list[str]:
        level = FIND_LEVELS.get(str(query.get("Level", "")))
        if level is None:
            raise BadRequestError("Bad parameter Query", "no such Level")
        wanted = dict(query.get("Query", {}))
        with self._lock:
            return [
                resource.identifier
                for resource in self._resources.values()
                if resource.level == level
                and all(self._tag(resource, tag) == value for tag, value in wanted.items())
            ]

    def _tag(self, resource: _Resource | None, tag: str) -> str | None:
        while resource is not None:
            if tag in resource.tags:
                return resource.tags[tag]
            if resource.level == 3:  # an instance answers for its series' tags too
                resource = self._resources.get(resource.parent or "")
                continue
            return None
        return None

    def study_of(self, level: str, identifier: str) -> str:
        with self._lock:
            resource = self._get(level, identifier)
            while resource.level > 1:
                resource = self._resources[resource.parent or ""]
            if resource.level < 1:
                raise NotFoundError("Unknown study", identifier)
            return resource.identifier

    def studies(self) -> list[str]:
        return self.ids("studies")

    def series_id_of_uid(self, series_instance_uid: str) -> str | None:
        with self._lock:
            for resource in self._resources.values():
                if (
                    resource.level == 2
                    and resource.tags["SeriesInstanceUID"] == series_instance_uid
                ):
                    return resource.identifier
        return None

    def series_instances(self, series_id: str) -> list[JsonObject]:
        with self._lock:
            children = list(self._get("series", series_id).children)
            return [self.summary("instances", child) for child in children]

    def sop_class_uid(self, instance_id: str) -> str:
        try:
            return dcmread(self._path(instance_id), stop_before_pixels=True).SOPClassUID
        except NotFoundError:
            return ""

    def exists(self, level: str, identifier: str) -> bool:
        with self._lock:
            resource = self._resources.get(identifier)
            return resource is not None and LEVELS[resource.level][0] == level

    def _path(self, instance_id: str) -> Path:
        with self._lock:
            file_uuid = self._get("instances", instance_id).file_uuid
        return self.storage / file_uuid[:2] / file_uuid[2:4] / file_uuid

    def instance_file(self, instance_id: str) -> bytes:
        return self._path(instance_id).read_bytes()

    def read_metadata(self, level: str, identifier: str, key: int) -> Revisioned | None:
        with self._lock:
            self._get(level, identifier)
            found = self._values.get((level, identifier, key))
            return None if found is None else Revisioned(found[0], f'"{found[1]}"')

    def write_metadata(
        self, level: str, identifier: str, key: int, value: bytes, etag: str | None
    ) -> bool:
        with self._lock:
            self._get(level, identifier)
            found = self._values.get((level, identifier, key))
            if (found is None) != (etag is None):
                return False
            if found is not None and f'"{found[1]}"' != etag:
                return False
            self._values[(level, identifier, key)] = (bytes(value), found[1] + 1 if found else 1)
            return True

    def create_metadata(self, level: str, identifier: str, key: int, value: bytes) -> bool:
        return self.write_metadata(level, identifier, key, value, None)

    def read_attachment(self, instance_id: str, content_type: int) -> Revisioned | None:
        return self.read_metadata("instances", instance_id, -content_type)

    def write_attachment(
        self, instance_id: str, content_type: int, data: bytes, etag: str | None
    ) -> bool:
        return self.write_metadata("instances", instance_id, -content_type, data, etag)

    def store_instance(self, data: bytes) -> JsonObject:
        dataset = dcmread(BytesIO(data), force=True)
        self.before_store(dataset)
        with self._lock:
            uids = [str(dataset.get(tag, "")) for _, tag in LEVELS]
            ids = [orthanc_id(*uids[: number + 1]) for number in range(4)]
            if ids[3] in self._resources:
                resource = self._resources[ids[3]]
                return {"ID": ids[3], "ParentSeries": resource.parent, "Status": "AlreadyStored"}
            now = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
            for number, identifier in enumerate(ids):
                if identifier in self._resources:
                    self._resources[identifier].last_update = now
                    continue
                parent = ids[number - 1] if number else None
                tags = {tag: str(dataset.get(tag, "")) for tag in MAIN_TAGS[number]}
                self._resources[identifier] = _Resource(number, identifier, parent, tags)
                self._resources[identifier].last_update = now
                if parent is not None:
                    self._resources[parent].children.append(identifier)
            file_uuid = str(uuid.uuid4())
            path = self.storage / file_uuid[:2] / file_uuid[2:4] / file_uuid
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            instance = self._resources[ids[3]]
            instance.file_uuid, instance.file_size = file_uuid, len(data)
            self.stored_count += 1
            return {"ID": ids[3], "ParentSeries": ids[2], "Status": "Success"}

    def store_instance_file(self, path: str) -> JsonObject:
        return self.store_instance(Path(path).read_bytes())

    def delete_instance(self, instance_id: str) -> None:
        self.delete("instances", instance_id)

    def delete(self, level: str, identifier: str) -> None:
        """Delete a resource, its children and its metadata; its parents where left empty."""
        with self._lock:
            if not self.exists(level, identifier):
                return
            resource = self._resources.pop(identifier)
            self.deleted.append(identifier)
            for child in list(resource.children):
                self.delete(LEVELS[resource.level + 1][0], child)
            for key in [key for key in self._values if key[1] == identifier]:
                del self._values[key]
            if resource.file_uuid:
                path = self.storage / resource.file_uuid[:2] / resource.file_uuid[2:4]
                (path / resource.file_uuid).unlink()
            parent = self._resources.get(resource.parent or "")
            if parent is not None:
                parent.children.remove(identifier)
                if not parent.children:
                    self.delete(LEVELS[parent.level][0], parent.identifier)

    def alive(self) -> bool:
        return self.is_alive


def full_disk(dataset: Dataset) -> None:
    """``before_store`` of a host whose disk is full."""
    raise StoringError("Orthanc refused to store a result", "HTTP 507: disk full")
