"""Models made in a worker from segment crops: one meshed and encoded as an Encapsulated STL
Part-10 file to store, or one segment's mesh as a file to answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom.color import RGB
from ..formats.mesh_files import MeshFormat, crop_mesh_file
from ..geometry import VolumeGeometry
from ..mesh import MeshOptions, SegmentCrop
from ..models import BuiltModel, ModelFiles, build_model


@dataclass(frozen=True, slots=True)
class BuildModel:
    """One stored model: the (non-empty) ``crops`` on ``geometry`` meshed with ``options``
    (one segment's, or several merged into one), encoded by ``files`` as instance
    ``instance_number`` named by ``segment_key``, ``label`` and ``color``, into the existing
    empty file at ``path``; 413 above ``max_triangles``, before it is encoded (see
    :func:`segmesh.models.build_model`). Only the crops and two figures cross: the file,
    megabytes, is sent to Orthanc from the page cache."""

    crops: Sequence[SegmentCrop]
    geometry: VolumeGeometry
    options: MeshOptions
    files: ModelFiles
    segment_key: str
    label: str
    color: RGB
    instance_number: int
    max_triangles: int
    path: str

    def run(self) -> BuiltModel:
        """The model built and its file written."""
        return build_model(
            crops=self.crops,
            geometry=self.geometry,
            options=self.options,
            files=self.files,
            segment_key=self.segment_key,
            label=self.label,
            color=self.color,
            instance_number=self.instance_number,
            max_triangles=self.max_triangles,
            path=self.path,
        )


@dataclass(frozen=True, slots=True)
class MeshFile:
    """The finished mesh (``options``) of one segment's ``crop`` on ``geometry`` as a file of
    ``mesh_format``: only the crop and the file cross."""

    crop: SegmentCrop
    geometry: VolumeGeometry
    options: MeshOptions
    mesh_format: MeshFormat

    def run(self) -> bytes | None:
        """The file; None where the crop has no surface."""
        return crop_mesh_file(self.crop, self.geometry, self.options, self.mesh_format)
