"""A source instance's label map as loaded once (decoded, or read from its attachment) and
held in the cache, with what it was made from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydicom.dataset import Dataset

from ..formats.export import ExportedFile
from ..geometry import Plane
from ..labelmap import LabelMap
from ..source_description import SourceDescription


class Origin(StrEnum):
    """Where a label map came from (the ``X-SegMesh-LabelMap-Origin`` header of answers)."""

    CACHE = "cache"
    ATTACHMENT = "attachment"
    DECODED = "decoded"


@dataclass(frozen=True)
class LoadedSource:
    """A source instance with its label map.

    ``dataset`` is the source's header (no pixel data). ``series_id`` is the Orthanc id of the
    referenced series whose grid was used (None on the native grid) and ``planes`` maps the
    SOPInstanceUID of each of its images to its first frame's plane. ``key`` is what the label
    map was made of (:func:`labelmap_key`), ``file_uuid`` Orthanc's id of the source's file
    when it was read. ``images`` is the referenced series (Orthanc order) where the caller
    asked for it, else None; ``file`` the label map as the file the caller asked for, where it
    was written as the label map was decoded. Neither is cached.
    """

    dataset: Dataset
    description: SourceDescription
    labelmap: LabelMap
    series_id: str | None
    planes: Mapping[str, Plane]
    key: Mapping[str, Any]
    origin: Origin
    file_uuid: str
    images: list[Dataset] | None = None
    file: ExportedFile | None = None

    @property
    def nbytes(self) -> int:
        """Memory held, approximately: the label map (the images are never cached)."""
        return int(self.labelmap.layers.nbytes)
