"""Reading DICOM instances and series out of Orthanc, and storing new ones."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import orthanc
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..errors import BadRequestError, BrokenFileError, NotFoundError
from ..loopback import Loopback
from ..storage_area import StoredFile
from ..stored_files import StoredFiles, fetched_instance_file
from .http import ORTHANC_UNKNOWN_RESOURCE

#: Orthanc's error codes for a file missing from the storage area: an instance deleted between
#: its lookup in the index and the reading of its file.
ORTHANC_INEXISTENT_FILE = 13
ORTHANC_REGULAR_FILE_EXPECTED = 2006
#: What each resource level is called in errors.
LEVEL_NAMES = {
    "patients": "patient",
    "studies": "study",
    "series": "series",
    "instances": "instance",
}
#: Images whose series and SOPInstanceUID are kept (:func:`image_identity`): a few MB, the
#: images of a hundred CT series.
IMAGE_IDENTITIES = 65536


def _resource(level: str, identifier: str, what: str) -> Any:
    """Orthanc's JSON summary of ``/{level}/{identifier}``; 404 "Unknown {what}" where absent."""
    try:
        return json.loads(orthanc.RestApiGet(f"/{level}/{identifier}"))
    except orthanc.OrthancException as error:
        raise _not_found_or_same(error, what, identifier) from error


def _not_found_or_same(error: Exception, what: str, identifier: str) -> Exception:
    gone = (ORTHANC_UNKNOWN_RESOURCE, ORTHANC_INEXISTENT_FILE, ORTHANC_REGULAR_FILE_EXPECTED)
    if error.args and error.args[0] in gone:
        return NotFoundError(f"Unknown {what}", identifier)
    return error


def summary(level: str, identifier: str) -> dict[str, Any]:
    """Orthanc's summary of ``/{level}/{identifier}``; 404 where unknown."""
    return dict(_resource(level, identifier, LEVEL_NAMES.get(level, level)))


def find(query: dict[str, Any]) -> list[str]:
    """The Orthanc ids ``/tools/find`` answers for ``query`` (not expanded); 400 where Orthanc
    refuses the query."""
    try:
        answer = orthanc.RestApiPost("/tools/find", json.dumps({**query, "Expand": False}))
    except orthanc.OrthancException as error:
        raise BadRequestError("Bad parameter Query", f"Orthanc's /tools/find: {error}") from error
    return [str(identifier) for identifier in json.loads(answer)]


def instance_summary(instance_id: str, what: str = "instance") -> dict[str, Any]:
    """Orthanc's summary of an instance (ParentSeries, MainDicomTags); 404 where unknown."""
    return dict(_resource("instances", instance_id, what))


@functools.lru_cache(maxsize=IMAGE_IDENTITIES)
def image_identity(image_id: str) -> tuple[str, str]:
    """The ParentSeries and SOPInstanceUID of an image, asked of Orthanc's index once: an
    Orthanc id is a hash of the UIDs it names, so neither ever changes for it (whether the image
    is still stored is not answered here). 404 "Unknown image" where Orthanc has never had it."""
    summary = instance_summary(image_id, "image")
    uid = str(summary.get("MainDicomTags", {}).get("SOPInstanceUID", ""))
    return str(summary.get("ParentSeries", "")), uid


def instance_stored_file(instance_id: str) -> StoredFile:
    """The Part-10 file of an instance as Orthanc's index names it; 404 where unknown."""
    return StoredFile.of(instance_summary(instance_id))


def study_series_ids(study_id: str) -> list[str]:
    """The Orthanc ids of a study's series; 404 where the study is unknown."""
    return [str(identifier) for identifier in _resource("studies", study_id, "study")["Series"]]


def instance_file(instance_id: str) -> bytes:
    """The Part-10 file of an Orthanc instance; 404 where unknown."""
    try:
        data = orthanc.GetDicomForInstance(instance_id)
    except orthanc.OrthancException as error:
        raise _not_found_or_same(error, "instance", instance_id) from error
    if data is None:
        raise NotFoundError("Unknown instance", instance_id)
    return bytes(data)


@contextmanager
def instance_path(stored: StoredFile, loopback: Loopback) -> Iterator[str]:
    """The path of the Part-10 file ``stored`` (:func:`instance_stored_file`), for reading: in
    place in Orthanc's storage area where it lies there plainly (:mod:`segmesh.storage_area`),
    else copied over ``loopback`` into a temporary file removed on leaving. Either way a large
    SEG passes neither through the plugin's interpreter (see :mod:`segmesh.loopback`) nor
    through its memory. 404 where unknown."""
    in_place = loopback.storage.path(stored)
    if in_place is not None:
        yield in_place
        return
    with tempfile.NamedTemporaryFile(prefix="segmesh-", suffix=".dcm") as handle:
        fetched_instance_file(
            loopback, stored.instance_id, lambda path: loopback.copy(path, handle)
        )
        handle.flush()
        yield handle.name


def parse(data: bytes | str, instance_id: str, stop_before_pixels: bool = False) -> Dataset:
    """``data`` (the file of ``instance_id``, or its path) as a dataset; 400 where
    unreadable."""
    source = BytesIO(data) if isinstance(data, bytes) else data
    try:
        return dcmread(source, stop_before_pixels=stop_before_pixels, force=True)
    except FileNotFoundError as error:  # its file left the storage area: deleted meanwhile
        raise NotFoundError("Unknown instance", instance_id) from error
    except (InvalidDicomError, ValueError, EOFError, OSError) as error:
        raise BrokenFileError(
            "Unreadable DICOM file", f"instance {instance_id}: {error}"
        ) from error


def read_header(stored: StoredFile, loopback: Loopback) -> Dataset:
    """The header (no pixel data) of the instance whose file is ``stored``, read where it lies
    or copied over ``loopback`` (see :func:`instance_path`); 404 where unknown, 400 where
    unreadable."""
    with instance_path(stored, loopback) as path:
        return parse(path, stored.instance_id, stop_before_pixels=True)


def read_instance(instance_id: str, stop_before_pixels: bool = False) -> Dataset:
    """The DICOM dataset of an Orthanc instance; 404 where unknown, 400 where unreadable."""
    return parse(instance_file(instance_id), instance_id, stop_before_pixels)


def series_id_of_uid(series_instance_uid: str) -> str | None:
    """The Orthanc id of the series with that SeriesInstanceUID, or None where it is absent."""
    try:
        identifier = orthanc.LookupSeries(series_instance_uid)
    except orthanc.OrthancException:
        return None
    return str(identifier) or None


def series_instance_ids(series_id: str) -> list[str]:
    """The Orthanc ids of the instances of a series; 404 where the series is unknown."""
    return [str(identifier) for identifier in _resource("series", series_id, "series")["Instances"]]


def read_series(series_id: str, stop_before_pixels: bool = False) -> list[Dataset]:
    """Every instance of a series; headers only with ``stop_before_pixels``."""
    return [
        read_instance(identifier, stop_before_pixels)
        for identifier in series_instance_ids(series_id)
    ]


def sop_class_uid(instance_id: str) -> str:
    """The SOP Class UID of an instance from Orthanc's metadata (no file read), or "" where
    Orthanc has none to give (unknown instance, metadata absent): for early checks only, the
    file decides."""
    try:
        answer = orthanc.RestApiGet(f"/instances/{instance_id}/metadata/SopClassUid")
    except orthanc.OrthancException:
        return ""
    return bytes(answer).decode(errors="replace").strip()


def exists(level: str, identifier: str) -> bool:
    """Whether ``/{level}/{identifier}`` is stored (asked of its short metadata list)."""
    try:
        orthanc.RestApiGet(f"/{level}/{identifier}/metadata")
    except orthanc.OrthancException as error:
        if error.args and error.args[0] == ORTHANC_UNKNOWN_RESOURCE:
            return False
        raise
    return True


def delete_instance(instance_id: str) -> None:
    """Delete an instance; one already gone is no error."""
    try:
        orthanc.RestApiDelete(f"/instances/{instance_id}")
    except orthanc.OrthancException as error:
        if not error.args or error.args[0] != ORTHANC_UNKNOWN_RESOURCE:
            raise


def stored_series_files(series_id: str, loopback: Loopback) -> StoredFiles:
    """The Part-10 files of every instance of a series, read where they are used (a worker: no
    file passes through the plugin's interpreter, see :class:`StoredFiles`); 404 where the
    series is unknown."""
    try:
        summaries = json.loads(orthanc.RestApiGet(f"/series/{series_id}/instances"))
    except orthanc.OrthancException as error:
        raise _not_found_or_same(error, "series", series_id) from error
    return StoredFiles(loopback, tuple(StoredFile.of(summary) for summary in summaries))
