"""Mesh files: binary STL written through a numpy structured dtype, OBJ (with its MTL) in bulk,
PLY and GLB via trimesh, 3MF by :mod:`.threemf`.

Coordinates are written as they are, in patient LPS millimetres, so that a model lines up with
its CT in any viewer that reads DICOM coordinates. OBJ, PLY and 3MF carry the segment's colour
(:class:`Appearance`); STL and GLB do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import trimesh

from ..dicom.color import RGB
from ..errors import BadRequestError, BrokenFileError
from ..geometry import VolumeGeometry
from ..mesh.base import Mesh
from ..mesh.options import MeshOptions
from ..mesh.surfaces import SegmentCrop
from .threemf import CHUNK, threemf_file

#: One triangle of a binary STL: normal, three vertices, attribute byte count.
STL_TRIANGLE = np.dtype(
    [("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attributes", "<u2")]
)
STL_HEADER_BYTES = 80
STL_CHUNK = 1 << 18  # triangles written at a time


class MeshFormat(StrEnum):
    """File formats of one mesh, with their MIME types."""

    STL = "stl"
    OBJ = "obj"
    PLY = "ply"
    GLB = "glb"
    THREEMF = "3mf"
    MTL = "mtl"

    @property
    def mime_type(self) -> str:
        """The MIME type of a file of this format."""
        return {
            MeshFormat.STL: "model/stl",
            MeshFormat.OBJ: "model/obj",
            MeshFormat.PLY: "application/x-ply",
            MeshFormat.GLB: "model/gltf-binary",
            MeshFormat.THREEMF: "model/3mf",
            MeshFormat.MTL: "model/mtl",
        }[self]

    @classmethod
    def parse(cls, text: str) -> MeshFormat:
        """``stl``, ``obj``, ``ply``, ``glb``, ``3mf`` or ``mtl`` (an OBJ's material); 400
        otherwise."""
        try:
            return cls(text.lower())
        except ValueError as error:
            raise BadRequestError(
                "Bad parameter format", f"{text!r}: stl, obj, mtl, ply, glb, 3mf"
            ) from error


@dataclass(frozen=True, slots=True)
class Appearance:
    """How a file names and colours its mesh: the segment's ``label``, its ``color`` (RGB
    0-255), and the ``stem`` of the files a browser saves them as (an OBJ's ``mtllib`` names
    ``{stem}.mtl``, whose material is named ``stem`` too)."""

    label: str
    color: RGB
    stem: str

    @property
    def unit_color(self) -> tuple[float, float, float]:
        """The colour as three fractions of 1 (OBJ, MTL)."""
        red, green, blue = (value / 255.0 for value in self.color)
        return red, green, blue


def binary_stl(mesh: Mesh, header: str = "segmesh") -> bytes:
    """The mesh as a binary STL: 80-byte header, triangle count, 50 bytes per triangle
    (:func:`binary_stl_buffer`'s bytes)."""
    return bytes(binary_stl_buffer(mesh, header))


def binary_stl_buffer(mesh: Mesh, header: str = "segmesh") -> bytearray:
    """The bytes of :func:`binary_stl` in the buffer they are written into: a writer of a
    large model's file takes them without the copy into ``bytes``.

    Written in place into one buffer, chunk of triangles by chunk: the (M, 3, 3) float64
    corners and normals of a large model at once would take several times the file's size.
    Coordinate by coordinate: gathers of contiguous (N,) columns by contiguous indices are
    several times faster than of (N, 3) rows."""
    count = mesh.triangle_count
    buffer = bytearray(STL_HEADER_BYTES + 4 + count * STL_TRIANGLE.itemsize)
    head = header.encode("ascii", "replace")[:STL_HEADER_BYTES].ljust(STL_HEADER_BYTES, b" ")
    buffer[:STL_HEADER_BYTES] = head
    buffer[STL_HEADER_BYTES : STL_HEADER_BYTES + 4] = np.uint32(count).astype("<u4").tobytes()
    triangles = np.frombuffer(buffer, STL_TRIANGLE, count, STL_HEADER_BYTES + 4)
    columns = [np.ascontiguousarray(mesh.vertices[:, axis]) for axis in range(3)]
    for start in range(0, count, STL_CHUNK):
        faces = mesh.faces[start : start + STL_CHUNK]
        written = triangles[start : start + STL_CHUNK]
        corners = [np.ascontiguousarray(faces[:, n]) for n in range(3)]
        # points[axis][n]: coordinate ``axis`` of each triangle's corner n.
        points = [[column[corner] for corner in corners] for column in columns]
        for axis, (a, b, c) in enumerate(points):
            for n, value in enumerate((a, b, c)):
                written["vertices"][:, n, axis] = value
        (xa, xb, xc), (ya, yb, yc), (za, zb, zc) = points
        ux, uy, uz, vx, vy, vz = xb - xa, yb - ya, zb - za, xc - xa, yc - ya, zc - za
        normal = (uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx)
        length = np.sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2])
        # Degenerate triangles keep a zero normal.
        inverse = np.divide(1.0, length, out=np.zeros_like(length), where=length > 0)
        for axis in range(3):
            written["normal"][:, axis] = normal[axis] * inverse
    return buffer


def read_binary_stl(data: bytes) -> Mesh:
    """A binary STL back into a mesh (vertices not merged: three per triangle)."""
    if len(data) < STL_HEADER_BYTES + 4:
        raise BrokenFileError("Not a binary STL", f"{len(data)} bytes")
    count = int(np.frombuffer(data, "<u4", 1, STL_HEADER_BYTES)[0])
    if len(data) < STL_HEADER_BYTES + 4 + count * STL_TRIANGLE.itemsize:
        raise BrokenFileError("Truncated binary STL", f"{count} triangles announced")
    triangles = np.frombuffer(data, STL_TRIANGLE, count, STL_HEADER_BYTES + 4)
    vertices = triangles["vertices"].reshape(-1, 3).astype(np.float64)
    return Mesh(vertices, np.arange(len(vertices), dtype=np.int64).reshape(-1, 3))


def _comment(text: str) -> str:
    """``text`` on one line, fit for a ``#`` comment."""
    return " ".join(text.split())


def material_file(appearance: Appearance) -> bytes:
    """The MTL an OBJ of ``appearance`` names: one material, its diffuse colour ``Kd``."""
    red, green, blue = appearance.unit_color
    return (
        f"# segmesh: {_comment(appearance.label)}\nnewmtl {appearance.stem}\n"
        f"Kd {red:.4f} {green:.4f} {blue:.4f}\nKa 0 0 0\nKs 0 0 0\nd 1\nillum 1\n"
    ).encode()


def obj_file(mesh: Mesh, appearance: Appearance | None) -> bytes:
    """The mesh as a Wavefront OBJ (LPS mm), formatted in bulk; with an ``appearance``, its
    material (``mtllib`` and ``usemtl``) and its colour on every vertex, ``v x y z r g b``,
    which MeshLab, Blender and trimesh read."""
    vertex, head = "v %.6f %.6f %.6f\n", "# segmesh: patient LPS millimetres\n"
    if appearance is not None:
        color = " ".join(f"{value:.4f}" for value in appearance.unit_color)
        vertex = f"v %.6f %.6f %.6f {color}\n"
        head += (
            f"mtllib {appearance.stem}.mtl\n# {_comment(appearance.label)}\n"
            f"o {appearance.stem}\nusemtl {appearance.stem}\n"
        )
    parts = [head.encode()]
    for start in range(0, len(mesh.vertices), CHUNK):
        chunk = mesh.vertices[start : start + CHUNK]
        parts.append(((vertex * len(chunk)) % tuple(chunk.ravel().tolist())).encode())
    for start in range(0, len(mesh.faces), CHUNK):
        faces = mesh.faces[start : start + CHUNK] + 1  # OBJ counts vertices from 1
        parts.append((("f %d %d %d\n" * len(faces)) % tuple(faces.ravel().tolist())).encode())
    return b"".join(parts)


def export_mesh(mesh: Mesh, mesh_format: MeshFormat, appearance: Appearance | None = None) -> bytes:
    """The mesh as a file of ``mesh_format``, named and coloured by ``appearance`` where the
    format can carry it (OBJ, MTL, PLY, 3MF; an MTL or a 3MF needs one)."""
    if mesh_format is MeshFormat.STL:
        return binary_stl(mesh)
    if mesh_format is MeshFormat.OBJ:
        return obj_file(mesh, appearance)
    if mesh_format in (MeshFormat.MTL, MeshFormat.THREEMF):
        if appearance is None:
            raise ValueError(f"a {mesh_format.value} file needs an appearance")
        if mesh_format is MeshFormat.MTL:
            return material_file(appearance)
        return threemf_file([(appearance.label, appearance.color, mesh)])
    # process=False: trimesh must neither merge nor reorder what marching cubes produced.
    exported = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    if mesh_format is MeshFormat.PLY and appearance is not None:
        exported.visual = trimesh.visual.ColorVisuals(
            exported,
            vertex_colors=np.tile(
                np.array([*appearance.color, 255], np.uint8), (len(mesh.vertices), 1)
            ),
        )
    data = exported.export(file_type=mesh_format.value)
    return data.encode() if isinstance(data, str) else bytes(data)


def crop_mesh_file(
    crop: SegmentCrop,
    geometry: VolumeGeometry,
    options: MeshOptions,
    mesh_format: MeshFormat,
    appearance: Appearance | None = None,
) -> bytes | None:
    """The finished mesh of one segment's ``crop`` on ``geometry`` as a file of ``mesh_format``
    named and coloured by ``appearance`` (what a worker makes: only the crop and the file
    cross), None where it has no surface."""
    mesh = crop.mesh(geometry, options)
    return None if mesh is None else export_mesh(mesh, mesh_format, appearance)
