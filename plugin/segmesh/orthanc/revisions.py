"""Metadata in Orthanc's database, changed by compare-and-set on its revision.

Job records and automatic-run claims must be shared by every Orthanc node of one database and
written exactly once. Orthanc gives that with ``"CheckRevisions": true``: a PUT of metadata that
exists needs ``If-Match`` with its current ETag (409 otherwise), and a PUT without it only
creates. orthanc-python's ``RestApiPut`` cannot send headers, so these calls go to Orthanc's own
HTTP server on the loopback interface (:mod:`segmesh.loopback`).

The same client stores segmesh's outputs (:meth:`RevisionedMetadata.store_instance`): on
orthanc-python before 4.3 ``RestApiPost`` holds the plugin's interpreter while Orthanc parses,
writes and indexes the file, and every other segmesh request waits that long; a socket call
lets them run meanwhile. A model's file, written by a worker, is sent from the page cache
(:meth:`RevisionedMetadata.store_instance_file`): this interpreter copies none of its bytes.
"""

from __future__ import annotations

import copy
import json
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from pydicom import dcmread

from ..errors import NotFoundError, SegMeshError
from ..loopback import Loopback

#: Compare-and-set attempts before giving up (each loses only to another writer's success).
ATTEMPTS = 100

JsonObject = dict[str, Any]

#: Reads a Part-10 file only as far as its SOP Instance UID.
_UID_ONLY: dict[str, Any] = {"stop_before_pixels": True, "specific_tags": ["SOPInstanceUID"]}


class ConflictError(SegMeshError):
    """Other writers kept changing the same record."""

    http_status = 409


class StoringError(SegMeshError):
    """Orthanc did not store a file segmesh made (say, its disk is full)."""

    http_status = 500


@dataclass(frozen=True)
class Revisioned:
    """A metadata value and its ETag (revision and MD5)."""

    text: str
    etag: str


def overwrites_instances(configuration: Mapping[str, Any]) -> bool:
    """Whether Orthanc replaces an instance stored again under the same SOP Instance UID:
    ``OverwriteInstances`` true (up to 1.12), or "Always" or "IfChanged" (1.13 on; segmesh's
    outputs carry their creation time, so "IfChanged" replaces them every time)."""
    value = configuration.get("OverwriteInstances", False)
    return value is True or str(value).lower() in ("always", "ifchanged")


class RevisionedMetadata:
    """Reads and compare-and-sets metadata, and stores instances, through ``loopback``.

    Where Orthanc overwrites instances (:func:`overwrites_instances`), an output whose SOP
    Instance UID Orthanc holds is not sent again: it is "AlreadyStored", as where Orthanc keeps
    what it holds. Otherwise a request made twice would replace the first one's outputs, and a
    second one that failed would delete them as its own."""

    def __init__(
        self, loopback: Loopback, checks_revisions: bool, overwrites_instances: bool = False
    ) -> None:
        self.loopback = loopback
        self.checks_revisions = checks_revisions
        self.overwrites_instances = overwrites_instances

    def read_bytes(self, path: str) -> tuple[bytes, str] | None:
        """The bytes at ``path`` and their ETag, None where absent."""
        try:
            with self.loopback.open("GET", path) as answer:
                return answer.read(), answer.headers.get("ETag", "")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def read(self, path: str) -> Revisioned | None:
        """The value at ``path`` (``/studies/{id}/metadata/{key}``), None where absent."""
        found = self.read_bytes(path)
        return None if found is None else Revisioned(found[0].decode("utf-8"), found[1])

    def write(self, path: str, value: str | bytes, etag: str | None) -> bool:
        """Set ``path`` to ``value`` (text is sent as UTF-8) where its ETag is still ``etag``
        (None: where it is absent); False where another writer came first."""
        headers = {"If-Match": etag} if etag else {}
        body = value.encode("utf-8") if isinstance(value, str) else value
        try:
            with self.loopback.open("PUT", path, body, headers):
                return True
        except urllib.error.HTTPError as error:
            if error.code == 409:
                return False
            if error.code == 404:
                raise NotFoundError("Unknown resource", path) from error
            raise

    def store_instance(self, data: bytes) -> dict[str, Any]:
        """``POST /instances`` of a Part-10 file; Orthanc's answer (``ID``, ``ParentSeries``,
        ``Status``: "Success", or "AlreadyStored" for a SOP Instance UID it holds, which it
        keeps as it was)."""
        if self.overwrites_instances:
            held = self._held(dcmread(BytesIO(data), **_UID_ONLY).SOPInstanceUID)
            if held is not None:
                return held
        try:
            with self.loopback.open("POST", "/instances", data) as answer:
                stored: dict[str, Any] = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise StoringError(
                "Orthanc refused to store a result", f"HTTP {error.code}: {error.read()!r}"
            ) from error
        return stored

    def store_instance_file(self, path: str) -> dict[str, Any]:
        """:meth:`store_instance` of the Part-10 file at ``path``, sent with ``sendfile``."""
        if self.overwrites_instances:
            held = self._held(dcmread(path, **_UID_ONLY).SOPInstanceUID)
            if held is not None:
                return held
        status, body = self.loopback.post_file("/instances", path, "application/dicom")
        if status != 200:
            raise StoringError("Orthanc refused to store a result", f"HTTP {status}: {body!r}")
        stored: dict[str, Any] = json.loads(body)
        return stored

    def _held(self, sop_instance_uid: str) -> dict[str, Any] | None:
        """Orthanc's answer to storing again an instance it holds under that UID, or None."""
        with self.loopback.open("POST", "/tools/lookup", str(sop_instance_uid).encode()) as answer:
            found = [item for item in json.loads(answer.read()) if item["Type"] == "Instance"]
        if not found:
            return None
        with self.loopback.open("GET", f"/instances/{found[0]['ID']}") as answer:
            instance = json.loads(answer.read())
        return {
            "ID": instance["ID"],
            "ParentSeries": instance["ParentSeries"],
            "Path": found[0]["Path"],
            "Status": "AlreadyStored",
        }

    def update(
        self, path: str, change: Callable[[JsonObject | None], JsonObject | None]
    ) -> JsonObject | None:
        """Apply ``change`` to the JSON object at ``path`` until it is written unchanged by
        anyone else in between; ``change`` answers None to write nothing. The value written
        (or, where nothing was written, the value read) is returned."""
        for _ in range(ATTEMPTS):
            current = self.read(path)
            value = json.loads(current.text) if current else None
            changed = change(copy.deepcopy(value))
            if changed is None:
                return value
            if self.write(path, json.dumps(changed), current.etag if current else None):
                return changed
        raise ConflictError("Record kept changing", path)
