"""One model built from segment crops: meshed, encoded as an Encapsulated STL Part-10 file.

This is the unit of work a worker process runs: its inputs (crops of the segments' bounding
boxes, the grid, the options) and its output (the file and two figures) are small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom.color import RGB
from ..errors import LimitExceededError, UnprocessableError
from ..geometry import VolumeGeometry
from ..mesh import MeshOptions, SegmentCrop, merge
from .encapsulated_stl import ModelFiles


@dataclass(frozen=True)
class BuiltModel:
    """A model ready to store: its Part-10 ``file``, triangle count and volume in ml."""

    file: bytes
    triangles: int
    volume_ml: float


def build_model(
    crops: Sequence[SegmentCrop],
    geometry: VolumeGeometry,
    options: MeshOptions,
    files: ModelFiles,
    segment_key: str,
    label: str,
    color: RGB,
    instance_number: int,
    max_triangles: int,
) -> BuiltModel:
    """The model of the (non-empty) ``crops``: one segment's, or several merged into one;
    413 above ``max_triangles``, before it is encoded."""
    meshes = [mesh for crop in crops if (mesh := crop.mesh(geometry, options)) is not None]
    if not meshes:
        sampling = ", ".join(
            f"{name} {value}" for name, value in options.sampling.to_json().items()
        )
        raise UnprocessableError("Nothing to mesh", f"{label}: no sample inside at {sampling}")
    mesh = meshes[0] if len(meshes) == 1 else merge(meshes)
    if mesh.triangle_count > max_triangles:
        raise LimitExceededError(
            "Model too large",
            f"{mesh.triangle_count} triangles, above MaxTriangles {max_triangles}",
        )
    file = files.file(mesh, segment_key, label, color, instance_number)
    return BuiltModel(file, mesh.triangle_count, round(mesh.volume / 1000.0, 3))
