"""Models made in a worker from segment crops: one meshed and encoded as an Encapsulated STL
Part-10 file to store, one segment's mesh as a file to answer, or several as the parts of one
3MF package (each part's mesh written by a worker, then the package by one); and a stored
model's printability, read from its STL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom import dcmread

from ..dicom.color import RGB
from ..dicom.malformed import as_broken_file
from ..formats.mesh_files import Appearance, MeshFormat, export_mesh, read_binary_stl
from ..formats.threemf import ThreeMFObject, read_blocks, write_mesh_element, write_threemf
from ..geometry import VolumeGeometry
from ..mesh import MeshOptions, SegmentCrop
from ..mesh.printability import Printability, crops_thinnest_wall, printability, welded
from ..models import BuiltModel, ModelOutput, build_model, stl_document


@dataclass(frozen=True, slots=True)
class BuildModel:
    """One stored model: the (non-empty) ``crops`` on ``geometry`` meshed with ``options``
    (one segment's, or several merged into one), written as ``output`` says; 413 above its
    ``max_triangles``, before it is encoded (see :func:`segmesh.models.build_model`). Only the
    crops and two figures cross: the file, megabytes, is sent to Orthanc from the page
    cache."""

    crops: Sequence[SegmentCrop]
    geometry: VolumeGeometry
    options: MeshOptions
    output: ModelOutput

    def run(self) -> BuiltModel:
        """The model built and its file written."""
        return build_model(
            crops=self.crops, geometry=self.geometry, options=self.options, output=self.output
        )


@dataclass(frozen=True)
class ReportedFile:
    """A mesh file to answer and the mesh's printability report (None for a file of no mesh:
    an OBJ's MTL)."""

    data: bytes
    printability: Printability | None


@dataclass(frozen=True, slots=True)
class MeshFile:
    """The finished mesh (``options``) of one segment's ``crop`` on ``geometry`` as a file of
    ``mesh_format``, named and coloured by ``appearance`` where the format can (OBJ, PLY,
    3MF), with its printability report: only the crop, the file and the report cross."""

    crop: SegmentCrop
    geometry: VolumeGeometry
    options: MeshOptions
    mesh_format: MeshFormat
    appearance: Appearance | None = None

    def run(self) -> ReportedFile | None:
        """The file and its report; None where the crop has no surface."""
        prepared = self.crop.prepared(self.geometry, self.options)
        mesh = prepared.meshed(self.geometry, self.options)
        if mesh is None:
            return None
        report = printability(mesh, crops_thinnest_wall((prepared,), self.geometry))
        return ReportedFile(export_mesh(mesh, self.mesh_format, self.appearance), report)


@dataclass(frozen=True, slots=True)
class MeshPart:
    """The finished mesh (``options``) of one segment's ``crop`` on ``geometry`` as the
    ``<mesh>`` element of a 3MF object, written to a new file at ``path``: the formatting, most
    of a package's time, runs beside the other parts', and only the crop crosses."""

    crop: SegmentCrop
    geometry: VolumeGeometry
    options: MeshOptions
    path: str

    def run(self) -> int | None:
        """The mesh's triangle count; None (and nothing written) where it has no surface."""
        mesh = self.crop.mesh(self.geometry, self.options)
        if mesh is None:
            return None
        write_mesh_element(mesh, self.path)
        return mesh.triangle_count


@dataclass(frozen=True, slots=True)
class PackThreeMF:
    """The 3MF package of ``parts``, each ``(name, color, path of its <mesh> element)`` (see
    :class:`MeshPart`), written to a new file at ``path``, the parts streamed into it."""

    parts: Sequence[tuple[str, RGB, str]]
    path: str

    def run(self) -> None:
        """The package written."""
        write_threemf(
            [ThreeMFObject(name, color, read_blocks(part)) for name, color, part in self.parts],
            self.path,
        )


@dataclass(frozen=True, slots=True)
class StoredModelPrintability:
    """The printability report of the STL in the Encapsulated STL Part-10 file at ``path``
    (its coincident corners welded into shared vertices; no voxels, so no wall estimate); 400
    where the file or its STL is malformed."""

    path: str

    @as_broken_file
    def run(self) -> Printability:
        """The report."""
        mesh = read_binary_stl(stl_document(dcmread(self.path)))
        return printability(welded(mesh), None)
