"""Metadata in Orthanc's database, changed by compare-and-set on its revision.

Job records and automatic-run claims must be shared by every Orthanc node of one database and
written exactly once. Orthanc gives that with ``"CheckRevisions": true``: a PUT of metadata that
exists needs ``If-Match`` with its current ETag (409 otherwise), and a PUT without it only
creates. orthanc-python's ``RestApiPut`` cannot send headers, so these calls go to Orthanc's own
HTTP server on the loopback interface (:mod:`segmesh.worker_io.loopback`).

The same client stores segmesh's outputs (:meth:`RevisionedMetadata.store_instance`): on
orthanc-python before 4.3 ``RestApiPost`` holds the plugin's interpreter while Orthanc parses,
writes and indexes the file, and every other segmesh request waits that long; a socket call
lets them run meanwhile. A model's file, written by a worker, is sent from the page cache
(:meth:`RevisionedMetadata.store_instance_file`): this interpreter copies none of its bytes.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Mapping
from io import BytesIO
from typing import Any

from pydicom import dcmread

from ..errors import NotFoundError
from ..service.host import Revisioned, StoringError
from ..worker_io.loopback import Loopback

#: Reads a Part-10 file only as far as its SOP Instance UID.
_UID_ONLY: dict[str, Any] = {"stop_before_pixels": True, "specific_tags": ["SOPInstanceUID"]}


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

    def read(self, path: str) -> Revisioned | None:
        """The bytes at ``path`` and their ETag, None where absent."""
        try:
            with self.loopback.open("GET", path) as answer:
                return Revisioned(answer.read(), answer.headers.get("ETag", ""))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def write(self, path: str, value: bytes, etag: str | None) -> bool:
        """Set ``path`` to ``value`` where its ETag is still ``etag`` (None: where it is
        absent); False where another writer came first."""
        headers = {"If-Match": etag} if etag else {}
        try:
            with self.loopback.open("PUT", path, value, headers):
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
