"""Work on an image series given as its Part-10 files (fetched by the worker itself, see
:class:`segmesh.worker_io.stored_files.StoredFiles`): its volume, three planes, histogram, and the
series thresholded into a model's crop or a preview mesh."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import ndimage

from ..dicom.malformed import as_broken_file
from ..dicom.part10 import read_image
from ..errors import LimitExceededError
from ..formats.npy import to_npy, write_npy
from ..geometry import VolumeGeometry, geometry_from_images
from ..images.cross_sections import Voxel
from ..images.image_volume import image_cross_sections, image_volume
from ..mesh import Mesh, MeshOptions, SegmentCrop, ThresholdOptions, threshold_labelmap
from ..mesh.printability import Printability, crops_thinnest_wall, printability
from ..mesh.threshold_slabs import slabs_allowed
from ..models import ModelSource
from ..settings import Settings
from ..statistics.histogram import ValueHistogram, value_histogram
from ..worker_io.stored_files import read_headers
from .slabs import DescribedSeries, series_slab_mesh


@dataclass(frozen=True, slots=True)
class ImageVolume:
    """The (slices, rows, columns) values of the series of ``image_files`` on its own grid (the
    source grid of a label map on it), after the modality rescale (int16 HU for CT, see
    :func:`segmesh.images.image_volume.image_volume`), written to ``path`` as a .npy file: the
    caller reads it back as the answer, with no pickled copy. 400 where a file is unreadable,
    422 where the images make no grid."""

    image_files: Sequence[bytes]
    path: str

    @as_broken_file
    def run(self) -> None:
        """The volume made and written."""
        images = [read_image(file) for file in self.image_files]
        geometry, _ = geometry_from_images(images)
        write_npy(image_volume(images, geometry), self.path)


@dataclass(frozen=True, slots=True)
class CrossSections:
    """The three planes through ``voxel`` (the centre where None) of the series of
    ``image_files``, on its own grid, cut image by image (see
    :func:`segmesh.images.image_volume.image_cross_sections`)."""

    image_files: Sequence[bytes]
    voxel: Voxel | None

    @as_broken_file
    def run(self) -> bytes:
        """The planes as .npy bytes (a few hundred kilobytes: small enough to pickle back)."""
        images = [read_image(file) for file in self.image_files]
        geometry, _ = geometry_from_images(images)
        return to_npy(image_cross_sections(images, geometry, self.voxel))


@dataclass(frozen=True, slots=True)
class Histogram:
    """The histogram in ``bins`` bins of the values of the series of ``files`` after the
    modality rescale (see :func:`segmesh.statistics.histogram.value_histogram`)."""

    files: Sequence[bytes]
    bins: int
    settings: Settings

    def run(self) -> ValueHistogram:
        """Headers first, then each file's pixels as they are counted."""
        files = self.files
        headers = read_headers(files)
        return value_histogram(headers, self.bins, self.settings, lambda n: read_image(files[n]))


@dataclass(frozen=True, eq=False)
class ThresholdedSeries:
    """A thresholded series, as a worker sends it back: its ``geometry``, the ``crop`` of its
    segment (None where no voxel is within the bounds), the ``source`` its models cite and its
    SeriesDescription."""

    geometry: VolumeGeometry
    crop: SegmentCrop | None
    source: ModelSource
    series_description: str


@dataclass(frozen=True, slots=True)
class ThresholdSeries:
    """The series of ``files`` thresholded within ``threshold``'s bounds (HU for CT).

    Headers first, then each file parsed with its pixels only while its slices are decoded:
    with ``files`` fetched as they are read
    (:class:`~segmesh.worker_io.stored_files.StoredFiles`) the worker holds the boolean mask and
    a few images at a time, at the cost of fetching each file twice."""

    files: Sequence[bytes]
    threshold: ThresholdOptions
    settings: Settings

    def run(self) -> ThresholdedSeries:
        """The mask's crop (a view of its box, not a copy) and what its models cite."""
        files = self.files
        headers = read_headers(files)
        labelmap = threshold_labelmap(
            headers, self.threshold, self.settings, lambda n: read_image(files[n])
        )
        layer = labelmap.layers[0]
        boxes = ndimage.find_objects(layer)
        box = boxes[0] if boxes else None
        crop = None
        if box is not None:
            start = (int(box[0].start), int(box[1].start), int(box[2].start))
            crop = SegmentCrop(labelmap.segments[0], layer[box].view(bool), start)
        described = DescribedSeries.of(headers, labelmap.geometry.frame_of_reference_uid)
        return ThresholdedSeries(
            labelmap.geometry, crop, described.source, described.series_description
        )


@dataclass(frozen=True, eq=False)
class ReportedMesh:
    """A preview mesh and its printability report."""

    mesh: Mesh
    printability: Printability


@dataclass(frozen=True, slots=True)
class ThresholdMesh:
    """The finished mesh (``options``) of the series of ``files`` thresholded within
    ``threshold``'s bounds: a preview, nothing stored. 413 above MaxTriangles. Meshed in
    slabs where the options allow it (:func:`~segmesh.mesh.threshold_slabs.slabs_allowed`),
    else from the whole mask."""

    files: Sequence[bytes]
    threshold: ThresholdOptions
    options: MeshOptions
    settings: Settings

    def run(self) -> ReportedMesh | None:
        """The mesh and its report (no thinnest wall in slabs, whose mask is never whole);
        None where no voxel is within the bounds."""
        if slabs_allowed(self.options):
            mesh = series_slab_mesh(
                self.files,
                self.threshold,
                self.options,
                self.settings,
                self.settings.max_triangles,
            )
            return None if mesh is None else ReportedMesh(mesh, printability(mesh, None))
        series = ThresholdSeries(
            files=self.files, threshold=self.threshold, settings=self.settings
        ).run()
        if series.crop is None:
            return None
        prepared = series.crop.prepared(series.geometry, self.options)
        mesh = prepared.meshed(series.geometry, self.options)
        if mesh is None:
            return None
        if mesh.triangle_count > self.settings.max_triangles:
            raise LimitExceededError(
                "Model too large",
                f"{mesh.triangle_count} triangles, above MaxTriangles "
                f"{self.settings.max_triangles}",
            )
        wall = crops_thinnest_wall((prepared,), series.geometry)
        return ReportedMesh(mesh, printability(mesh, wall))
