"""Reading DICOM instances and series out of Orthanc."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import orthanc
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..errors import BrokenFileError, NotFoundError
from .http import ORTHANC_UNKNOWN_RESOURCE


def _get_json(uri: str) -> Any:
    return json.loads(orthanc.RestApiGet(uri))


def read_instance(instance_id: str, stop_before_pixels: bool = False) -> Dataset:
    """The DICOM dataset of an Orthanc instance; 404 where unknown, 400 where unreadable."""
    try:
        data = orthanc.GetDicomForInstance(instance_id)
    except orthanc.OrthancException as error:
        if error.args and error.args[0] == ORTHANC_UNKNOWN_RESOURCE:
            raise NotFoundError("Unknown instance", instance_id) from error
        raise
    if data is None:
        raise NotFoundError("Unknown instance", instance_id)
    try:
        return dcmread(BytesIO(data), stop_before_pixels=stop_before_pixels, force=True)
    except (InvalidDicomError, ValueError, EOFError, OSError) as error:
        raise BrokenFileError(
            "Unreadable DICOM file", f"instance {instance_id}: {error}"
        ) from error


def series_id_of_uid(series_instance_uid: str) -> str | None:
    """The Orthanc id of the series with that SeriesInstanceUID, or None where it is absent."""
    try:
        identifier = orthanc.LookupSeries(series_instance_uid)
    except orthanc.OrthancException:
        return None
    return str(identifier) or None


def series_instance_ids(series_id: str) -> list[str]:
    """The Orthanc ids of the instances of a series; 404 where the series is unknown."""
    try:
        series = _get_json(f"/series/{series_id}")
    except orthanc.OrthancException as error:
        raise NotFoundError("Unknown series", series_id) from error
    return [str(identifier) for identifier in series["Instances"]]


def read_series(series_id: str, stop_before_pixels: bool = False) -> list[Dataset]:
    """Every instance of a series; headers only with ``stop_before_pixels``."""
    return [
        read_instance(identifier, stop_before_pixels)
        for identifier in series_instance_ids(series_id)
    ]


def parent_series_id(instance_id: str) -> str:
    """The Orthanc id of an instance's series."""
    return str(_get_json(f"/instances/{instance_id}")["ParentSeries"])
