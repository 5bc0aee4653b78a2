"""One model built from segment crops: meshed, encoded as an Encapsulated STL Part-10 file.

What a worker process runs for :class:`segmesh.work.BuildModel`: its inputs (crops of the
segments' bounding boxes, the grid, the options) and its answer (two figures) are small; the
file, megabytes, goes to a path the caller names (written once to the page cache and sent to
Orthanc from there, instead of pickled back through the pool's pipe, which copies it four
times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom.color import RGB
from ..errors import LimitExceededError, UnprocessableError
from ..geometry import VolumeGeometry
from ..mesh import Mesh, MeshOptions, SegmentCrop, merge
from .encapsulated_stl import ModelFiles


@dataclass(frozen=True)
class BuiltModel:
    """A model ready to store: its Part-10 file at ``path``, triangle count and volume in ml."""

    path: str
    triangles: int
    volume_ml: float


def build_model(
    *,
    crops: Sequence[SegmentCrop],
    geometry: VolumeGeometry,
    options: MeshOptions,
    files: ModelFiles,
    segment_key: str,
    label: str,
    color: RGB,
    instance_number: int,
    max_triangles: int,
    path: str,
) -> BuiltModel:
    """The model of the (non-empty) ``crops``: one segment's, or several merged into one,
    its file written into the existing (empty) file at ``path``; 413 above ``max_triangles``,
    before it is encoded. Where that file is gone, so is the task that asked (it removes its
    files as it fails): the error is for no one, and no file is left behind."""
    meshes = [mesh for crop in crops if (mesh := crop.mesh(geometry, options)) is not None]
    if not meshes:
        sampling = ", ".join(
            f"{name} {value}" for name, value in options.sampling.to_json().items()
        )
        raise UnprocessableError("Nothing to mesh", f"{label}: no sample inside at {sampling}")
    return write_model(
        meshes[0] if len(meshes) == 1 else merge(meshes),
        files=files,
        segment_key=segment_key,
        label=label,
        color=color,
        instance_number=instance_number,
        max_triangles=max_triangles,
        path=path,
    )


def write_model(
    mesh: Mesh,
    *,
    files: ModelFiles,
    segment_key: str,
    label: str,
    color: RGB,
    instance_number: int,
    max_triangles: int,
    path: str,
) -> BuiltModel:
    """The model of a finished ``mesh`` written into the existing (empty) file at ``path``
    (see :func:`build_model`); 413 above ``max_triangles``, before it is encoded."""
    if mesh.triangle_count > max_triangles:
        raise LimitExceededError(
            "Model too large",
            f"{mesh.triangle_count} triangles, above MaxTriangles {max_triangles}",
        )
    with open(path, "r+b") as handle:
        files.write(handle, mesh, segment_key, label, color, instance_number)
    return BuiltModel(path, mesh.triangle_count, round(mesh.volume / 1000.0, 3))
