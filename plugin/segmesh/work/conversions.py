"""Objects written in a worker: a stored source's label map converted to another kind, a posted
label-map file imported on a series' grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from ..conversions import Conversion, Target, convert
from ..imports import ImportOptions, ImportResult, import_labelmap
from ..labelmap import LabelMap
from ..settings import Settings


@dataclass(frozen=True, slots=True)
class ConvertLabelMap:
    """The ``segments`` (None: all) of ``labelmap``, of the SEG or RT-STRUCT ``source`` (its
    header), on the grid of ``images`` (headers without pixel data), written as ``target``
    with ``tags`` set; ``split`` puts overlapping segments of a LABELMAP into several
    instances. 400 where the source already is ``target`` (see
    :func:`segmesh.conversions.convert`)."""

    source: Dataset
    labelmap: LabelMap
    images: Sequence[Dataset]
    target: Target
    segments: tuple[int, ...] | None
    split: bool
    tags: Mapping[str, Any]
    max_voxels: int

    def run(self) -> Conversion:
        """The written objects as Part-10 files, and the asked segments left out as empty."""
        return convert(
            self.source,
            self.labelmap,
            self.images,
            self.target,
            self.segments,
            self.split,
            self.tags,
            self.max_voxels,
        )


@dataclass(frozen=True, slots=True)
class ImportLabelMap:
    """One import: the posted ``file`` written as the targets of ``options`` on the grid of the
    series of ``image_files`` (read there, headers only), within the settings' limits, into
    ``output_folder`` (the Part-10 files come back as paths: a BINARY SEG of 100 segments on
    512 x 512 x 300 is 150 MB, which a pipe would copy twice). See
    :func:`segmesh.imports.import_labelmap` for the errors."""

    file: bytes
    options: ImportOptions
    image_files: Sequence[bytes]
    settings: Settings
    output_folder: str

    def run(self) -> ImportResult:
        """The objects written per target, and how the file lay on the series."""
        return import_labelmap(
            file=self.file,
            options=self.options,
            image_files=self.image_files,
            settings=self.settings,
            output_folder=self.output_folder,
        )
