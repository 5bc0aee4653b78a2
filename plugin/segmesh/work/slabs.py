"""Work on an image series thresholded and meshed in slabs (:mod:`segmesh.mesh.threshold_slabs`):
what its models cite, and its model built and written in the one worker that reads it, so that
its mask never crosses processes and is never held whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from ..dicom.malformed import as_broken_file
from ..dicom.part10 import read_image
from ..errors import LimitExceededError, UnprocessableError
from ..mesh import Mesh, MeshOptions, ThresholdOptions
from ..mesh.threshold import threshold_grid
from ..mesh.threshold_slabs import threshold_slab_mesh
from ..models import BuiltModel, ModelOutput, ModelSource, model_parameters, write_model
from ..settings import Settings
from ..worker_io.stored_files import read_headers


@dataclass(frozen=True)
class DescribedSeries:
    """What the models of an image series cite (``source``) and its SeriesDescription."""

    source: ModelSource
    series_description: str

    @classmethod
    def of(cls, headers: Sequence[Dataset], frame_of_reference_uid: str) -> DescribedSeries:
        """The description of the series of ``headers`` on a grid of that frame."""
        source = ModelSource(
            study=headers[0],
            frame_of_reference_uid=frame_of_reference_uid,
            key=str(headers[0].SeriesInstanceUID),
            instances=tuple(
                (str(ds.SeriesInstanceUID), str(ds.SOPClassUID), str(ds.SOPInstanceUID))
                for ds in headers
            ),
        )
        return cls(source, str(headers[0].get("SeriesDescription", "") or ""))


@dataclass(frozen=True, slots=True)
class DescribeSeries:
    """The description of the greyscale series of ``files`` from their headers alone (413
    above MaxVoxels, 422 for colour images or images that make no grid), before its model is
    built by :class:`BuildSeriesModel`."""

    files: Sequence[bytes]
    settings: Settings

    @as_broken_file
    def run(self) -> DescribedSeries:
        """The headers read, the grid checked."""
        headers = read_headers(self.files)
        geometry = threshold_grid(headers, self.settings)
        return DescribedSeries.of(headers, geometry.frame_of_reference_uid)


def series_slab_mesh(
    files: Sequence[bytes],
    threshold: ThresholdOptions,
    options: MeshOptions,
    settings: Settings,
    max_triangles: int,
) -> Mesh | None:
    """The finished mesh of the series of ``files`` thresholded and meshed in slabs (options
    :func:`~segmesh.mesh.threshold_slabs.slabs_allowed`): headers first, then each file parsed
    with its pixels as its slice is thresholded. None where no voxel is within the bounds;
    413 above ``max_triangles``."""
    headers = read_headers(files)
    _, mesh = threshold_slab_mesh(
        headers, threshold, options, settings, lambda n: read_image(files[n])
    )
    if mesh is not None and mesh.triangle_count > max_triangles:
        raise LimitExceededError(
            "Model too large",
            f"{mesh.triangle_count} triangles, above MaxTriangles {max_triangles}",
        )
    return mesh


@dataclass(frozen=True, slots=True)
class BuildSeriesModel:
    """The stored model of the series of ``images`` thresholded within ``threshold``'s bounds
    and meshed in slabs with ``options`` (which :func:`~segmesh.mesh.threshold_slabs.
    slabs_allowed`), written as ``output`` says, as :class:`~segmesh.work.BuildModel` does for
    crops: only the file names and two figures cross. 422 where no voxel is within the
    bounds, 413 above its ``max_triangles``."""

    images: Sequence[bytes]
    threshold: ThresholdOptions
    options: MeshOptions
    settings: Settings
    output: ModelOutput

    def run(self) -> BuiltModel:
        """The model built and its file written."""
        mesh = series_slab_mesh(
            self.images, self.threshold, self.options, self.settings, self.output.max_triangles
        )
        if mesh is None:
            raise UnprocessableError("Nothing to mesh", f"no voxel within {self.threshold.label}")
        return write_model(
            mesh,
            self.output,
            # No mask is ever whole here: no wall estimate.
            thinnest_wall=None,
            what=f"{self.output.label} at {model_parameters(self.options)}",
        )
