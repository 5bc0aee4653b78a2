"""One model built from segment crops: meshed, encoded as an Encapsulated STL Part-10 file.

What a worker process runs for :class:`segmesh.work.BuildModel`: its inputs (crops of the
segments' bounding boxes, the grid, the options) and its answer (two figures and the
printability report) are small; the file, megabytes, goes to a path the caller names (written
once to the page cache and sent to Orthanc from there, instead of pickled back through the
pool's pipe, which copies it four times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom.color import RGB
from ..errors import LimitExceededError, UnprocessableError
from ..geometry import VolumeGeometry
from ..mesh import Mesh, MeshOptions, SegmentCrop, merge
from ..mesh.printability import Printability, checked, crops_thinnest_wall
from .encapsulated_stl import ModelFiles


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """Where and as what one model is stored: encoded by ``files`` as instance
    ``instance_number`` named by ``segment_key`` (its segment number(s), part of its UID),
    ``label`` and ``color``, into the existing empty file at ``path``; refused (413) above
    ``max_triangles``. What the units of work that build a model
    (:class:`segmesh.work.BuildModel`, :class:`segmesh.work.BuildSeriesModel`) hand to
    :func:`write_model`."""

    files: ModelFiles
    segment_key: str
    label: str
    color: RGB
    instance_number: int
    max_triangles: int
    path: str


@dataclass(frozen=True)
class BuiltModel:
    """A model ready to store: its Part-10 file at ``path``, triangle count, volume in ml and
    printability report."""

    path: str
    triangles: int
    volume_ml: float
    printability: Printability


def build_model(
    *,
    crops: Sequence[SegmentCrop],
    geometry: VolumeGeometry,
    options: MeshOptions,
    output: ModelOutput,
) -> BuiltModel:
    """The model of the (non-empty) ``crops``: one segment's, or several merged into one,
    written as ``output`` says; 413 above its ``max_triangles``,
    before it is encoded; repaired where decimation or coarse sampling left it not closed, not
    manifold or inside out, 422 where that does not mend it
    (:func:`segmesh.mesh.printability.checked`). Where that file is gone, so is the task that
    asked (it removes its files as it fails): the error is for no one, and no file is left
    behind."""
    # A merged model's parts are prepared each on its voxels, its mesh steps (base, scale,
    # triangle count) on the whole.
    parts = options if len(crops) == 1 else options.for_parts()
    # Prepared first, apart: the thinnest wall is the prepared model's (a hollow one's shell).
    prepared = [crop.prepared(geometry, parts) for crop in crops]
    meshes = [mesh for crop in prepared if (mesh := crop.meshed(geometry, parts)) is not None]
    if not meshes:
        sampling = ", ".join(
            f"{name} {value}" for name, value in options.sampling.to_json().items()
        )
        raise UnprocessableError(
            "Nothing to mesh", f"{output.label}: no sample inside at {sampling}"
        )
    return write_model(
        meshes[0] if len(crops) == 1 else options.preparation.shape(merge(meshes)),
        output,
        thinnest_wall=crops_thinnest_wall(prepared, geometry),
        what=f"segment {output.segment_key} ({output.label}) at {model_parameters(options)}",
    )


def write_model(
    mesh: Mesh,
    output: ModelOutput,
    *,
    thinnest_wall: float | None,
    what: str,
) -> BuiltModel:
    """The model of a finished ``mesh`` written as ``output`` says (see :func:`build_model`);
    413 above its ``max_triangles``, before it is encoded; checked, and
    repaired or refused (422), as ``what`` (which model, at which parameters), its report
    taking ``thinnest_wall`` (mm, None where not estimated)."""
    if mesh.triangle_count > output.max_triangles:
        raise LimitExceededError(
            "Model too large",
            f"{mesh.triangle_count} triangles, above MaxTriangles {output.max_triangles}",
        )
    mesh, report = checked(mesh, thinnest_wall, what)
    with open(output.path, "r+b") as handle:
        output.files.write(
            handle, mesh, output.segment_key, output.label, output.color, output.instance_number
        )
    return BuiltModel(output.path, mesh.triangle_count, round(mesh.volume / 1000.0, 3), report)


def model_parameters(options: MeshOptions) -> str:
    """``options`` as a model's refusal names them: ``Smoothing taubin, Iterations 20, ...``."""
    return ", ".join(f"{name} {value}" for name, value in options.to_json().items())
