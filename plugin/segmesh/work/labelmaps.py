"""Label maps made in a worker: a stored source decoded on the grid asked for, a posted NIfTI
read."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import timings
from ..dicom.attributes import text_value
from ..dicom.malformed import as_broken_file
from ..formats.export import ExportedFile, Format, export
from ..formats.nifti import nifti_labelmap
from ..geometry import GRID_KEYWORDS, ImageSeries, Plane, VolumeGeometry
from ..labelmap import LabelMap, Segment
from ..options import Grid, LabelMapOptions
from ..settings import Settings
from ..source_description import SourceDescription
from ..sources import labelmap_of_file
from ..worker_io.packed_files import PackedArray, write_handed_back
from ..worker_io.stored_files import read_headers

#: What the worker reads of each image: its grid, and its UIDs (the planes kept by
#: SOPInstanceUID; an RT-STRUCT's references checked against both).
IMAGE_KEYWORDS = (*GRID_KEYWORDS, "SOPInstanceUID", "SeriesInstanceUID")


@dataclass(frozen=True, slots=True)
class SeriesGrid:
    """The grid of an image series (a source's referenced series: the source grid), given as
    its Part-10 files, of which the worker reads the headers only."""

    image_files: Sequence[bytes]


@dataclass(frozen=True, slots=True)
class NativeGrid:
    """The source's own grid: a SEG's planes, or a grid around an RT-STRUCT's contours with
    ``spacing`` (x, y, z) mm (None: the default)."""

    spacing: tuple[float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class FileOut:
    """Where a worker writes a label map as a file: ``file_format`` at ``path``."""

    file_format: Format
    path: str


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A label map's file as a worker wrote it: at ``path`` (see
    :func:`~segmesh.worker_io.packed_files.write_handed_back`), with its MIME type and
    extension. Not pickled back: a few megabytes through the pool's pipe took 5 to 8 ms."""

    path: str
    mime_type: str
    extension: str

    def read(self) -> ExportedFile:
        """The file read into memory (the file may go afterwards)."""
        with open(self.path, "rb") as handle:
            return ExportedFile(handle.read(), self.mime_type, self.extension)


@dataclass(frozen=True)
class DecodedLabelMap:
    """A label map decoded in a worker, as it comes back: its layers on disk, its grid and
    segments, and the plane of each referenced image (SOPInstanceUID: first frame's plane)."""

    layers: PackedArray
    geometry: VolumeGeometry
    segments: tuple[Segment, ...]
    planes: dict[str, Plane]
    #: The worker's stages (reading the images' headers, decoding, writing the layers).
    stages: tuple[tuple[str, float], ...] = ()
    #: When the worker began and ended (``time.perf_counter``: on Linux the system's monotonic
    #: clock, the same in every process), so that the caller tells handing over from back.
    span: tuple[float, float] = (0.0, 0.0)
    #: The label map as the file asked for (:attr:`DecodeLabelMap.file`).
    file: WrittenFile | None = None

    def read(self) -> LabelMap:
        """The label map, its layers kept in memory (:meth:`PackedArray.kept`)."""
        return LabelMap(self.layers.kept(), self.geometry, self.segments)


@dataclass(frozen=True, slots=True)
class DecodeLabelMap:
    """The label map of the SEG or RT-STRUCT whose Part-10 file is at ``source_path``, on
    ``grid``, of ``segments`` (None: all; 400 for unknown ones), FRACTIONAL pixels inside from
    ``threshold`` (a fraction of MaximumFractionalValue); its layers written to
    ``layers_path`` (see :mod:`segmesh.worker_io.packed_files`). ``description``: the
    source's, where the caller has made it (the worker then does not parse its segments
    again). 400 where an image file is unreadable, 413 above the settings' limits, 422 where
    the source cannot be placed on the grid."""

    source_path: str
    grid: SeriesGrid | NativeGrid
    segments: tuple[int, ...] | None
    threshold: float
    settings: Settings
    layers_path: str
    #: What the source holds, where the caller has read it (describing 100 segments anew
    #: takes the worker 0.02 s).
    description: SourceDescription | None = None
    #: The label map also as a file, where the caller answers one: encoded by a thread while
    #: the layers are written (both mostly outside the GIL), so that the caller need not wait
    #: for the layers to come back before encoding it.
    file: FileOut | None = None

    @as_broken_file
    def run(self) -> DecodedLabelMap:
        """Decoded, the images' planes kept and the layers written."""
        began = time.perf_counter()
        with timings.recording() as stages:
            with timings.stage("images"):
                if isinstance(self.grid, SeriesGrid):
                    headers = ImageSeries(read_headers(self.grid.image_files, IMAGE_KEYWORDS))
                    options = LabelMapOptions(self.segments, Grid.SOURCE, self.threshold)
                else:
                    headers = None
                    spacing = self.grid.spacing
                    options = LabelMapOptions(self.segments, Grid.NATIVE, self.threshold, spacing)
            with timings.stage("decode"):
                labelmap = labelmap_of_file(
                    self.source_path, headers, options, self.settings, self.description
                )
            planes = {}
            if headers is not None:  # their planes were found once, as the grid was made
                pairs = zip(headers, headers.planes, strict=True)
                planes = {text_value(ds, "SOPInstanceUID"): image[0] for ds, image in pairs}
            if self.file is None:
                with timings.stage("layers-out"):
                    layers, file = PackedArray.write(labelmap.layers, self.layers_path), None
            else:
                with timings.stage("layers-out+encode"):
                    layers, file = _written_with_file(labelmap, self.layers_path, self.file)
        span = (began, time.perf_counter())
        return DecodedLabelMap(
            layers, labelmap.geometry, labelmap.segments, planes, tuple(stages), span, file
        )


def _written_with_file(
    labelmap: LabelMap, layers_path: str, out: FileOut
) -> tuple[PackedArray, WrittenFile]:
    """The layers written to ``layers_path`` while a thread encodes and writes the file."""

    def written() -> WrittenFile:
        exported = export(labelmap, out.file_format)
        path = write_handed_back(exported.body, out.path)
        return WrittenFile(path, exported.mime_type, exported.extension)

    with ThreadPoolExecutor(1, thread_name_prefix="segmesh-encode") as encoder:
        file = encoder.submit(written)
        return PackedArray.write(labelmap.layers, layers_path), file.result()


@dataclass(frozen=True, slots=True)
class ReadNiftiLabelMap:
    """The label map of a NIfTI file (``data``) on its own grid, its values named by
    ``labels`` (others "Label n"), in the frame of reference ``frame_of_reference_uid``; see
    :func:`segmesh.formats.nifti.nifti_labelmap`."""

    data: bytes
    labels: Mapping[int, str]
    frame_of_reference_uid: str
    settings: Settings

    def run(self) -> LabelMap:
        """The file read."""
        return nifti_labelmap(self.data, self.labels, self.frame_of_reference_uid, self.settings)
