"""Reading DICOM instances and series out of the host's archive (:mod:`.host`)."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..errors import BrokenFileError, NotFoundError
from ..worker_io.storage_area import StoredFile
from ..worker_io.stored_files import StoredFiles, fetched_instance_file
from .host import Host

#: Images whose series and SOPInstanceUID are kept (:func:`image_identity`): a few MB, the
#: images of a hundred CT series.
IMAGE_IDENTITIES = 65536


@functools.lru_cache(maxsize=IMAGE_IDENTITIES)
def image_identity(host: Host, image_id: str) -> tuple[str, str]:
    """The ParentSeries and SOPInstanceUID of an image, asked of the index once: an Orthanc id
    is a hash of the UIDs it names, so neither ever changes for it (whether the image is still
    stored is not answered here). 404 "Unknown image" where the host has never had it."""
    try:
        summary = host.summary("instances", image_id)
    except NotFoundError as error:
        raise NotFoundError("Unknown image", image_id) from error
    uid = str(summary.get("MainDicomTags", {}).get("SOPInstanceUID", ""))
    return str(summary.get("ParentSeries", "")), uid


def instance_stored_file(host: Host, instance_id: str) -> StoredFile:
    """The Part-10 file of an instance as the index names it; 404 where unknown."""
    return StoredFile.of(host.summary("instances", instance_id))


def study_series_ids(host: Host, study_id: str) -> list[str]:
    """The ids of a study's series; 404 where the study is unknown."""
    return [str(identifier) for identifier in host.summary("studies", study_id)["Series"]]


def series_instance_ids(host: Host, series_id: str) -> list[str]:
    """The ids of the instances of a series; 404 where the series is unknown."""
    return [str(identifier) for identifier in host.summary("series", series_id)["Instances"]]


def stored_series_files(host: Host, series_id: str) -> StoredFiles:
    """The Part-10 files of every instance of a series, read where they are used (a worker:
    no file passes through the plugin's interpreter, see :class:`StoredFiles`); 404 where the
    series is unknown."""
    summaries = host.series_instances(series_id)
    return StoredFiles(host.files, tuple(StoredFile.of(summary) for summary in summaries))


@contextmanager
def instance_path(host: Host, stored: StoredFile) -> Iterator[str]:
    """The path of the Part-10 file ``stored`` (:func:`instance_stored_file`), for reading: in
    place in the host's storage area where it lies there plainly
    (:mod:`segmesh.worker_io.storage_area`), else copied over the loopback into a temporary file
    removed on leaving. Either way a large SEG passes neither through the plugin's interpreter
    (see :mod:`segmesh.worker_io.loopback`) nor through its memory. 404 where unknown."""
    files = host.files
    in_place = files.storage.path(stored)
    if in_place is not None:
        yield in_place
        return
    with tempfile.NamedTemporaryFile(prefix="segmesh-", suffix=".dcm") as handle:
        fetched_instance_file(files, stored.instance_id, lambda path: files.copy(path, handle))
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


def read_header(host: Host, stored: StoredFile) -> Dataset:
    """The header (no pixel data) of the instance whose file is ``stored``, read where it lies
    or copied (see :func:`instance_path`); 404 where unknown, 400 where unreadable."""
    with instance_path(host, stored) as path:
        return parse(path, stored.instance_id, stop_before_pixels=True)


def read_instance(host: Host, instance_id: str, stop_before_pixels: bool = False) -> Dataset:
    """The DICOM dataset of an instance; 404 where unknown, 400 where unreadable."""
    return parse(host.instance_file(instance_id), instance_id, stop_before_pixels)


def read_series(host: Host, series_id: str, stop_before_pixels: bool = False) -> list[Dataset]:
    """Every instance of a series; headers only with ``stop_before_pixels``."""
    return [
        read_instance(host, identifier, stop_before_pixels)
        for identifier in series_instance_ids(host, series_id)
    ]
