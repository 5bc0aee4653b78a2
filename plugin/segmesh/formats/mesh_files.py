"""Mesh files: binary STL written through a numpy structured dtype; OBJ, PLY and GLB via trimesh.

Coordinates are written as they are, in patient LPS millimetres, so that a model lines up with
its CT in any viewer that reads DICOM coordinates.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import trimesh

from ..errors import BadRequestError, BrokenFileError
from ..geometry import VolumeGeometry
from ..mesh.base import Mesh
from ..mesh.options import MeshOptions
from ..mesh.surfaces import SegmentCrop

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

    @property
    def mime_type(self) -> str:
        """The MIME type of a file of this format."""
        return {
            MeshFormat.STL: "model/stl",
            MeshFormat.OBJ: "model/obj",
            MeshFormat.PLY: "application/x-ply",
            MeshFormat.GLB: "model/gltf-binary",
        }[self]

    @classmethod
    def parse(cls, text: str) -> MeshFormat:
        """``stl``, ``obj``, ``ply`` or ``glb``; 400 otherwise."""
        try:
            return cls(text.lower())
        except ValueError as error:
            raise BadRequestError(
                "Bad parameter format", f"{text!r}: stl, obj, ply, glb"
            ) from error


def binary_stl(mesh: Mesh, header: str = "segmesh") -> bytes:
    """The mesh as a binary STL: 80-byte header, triangle count, 50 bytes per triangle.

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
    return bytes(buffer)


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


def export_mesh(mesh: Mesh, mesh_format: MeshFormat) -> bytes:
    """The mesh as a file of ``mesh_format``."""
    if mesh_format is MeshFormat.STL:
        return binary_stl(mesh)
    # process=False: trimesh must neither merge nor reorder what marching cubes produced.
    data = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(
        file_type=mesh_format.value
    )
    return data.encode() if isinstance(data, str) else bytes(data)


def crop_mesh_file(
    crop: SegmentCrop, geometry: VolumeGeometry, options: MeshOptions, mesh_format: MeshFormat
) -> bytes | None:
    """The finished mesh of one segment's ``crop`` on ``geometry`` as a file of ``mesh_format``
    (what a worker makes: only the crop and the file cross), None where it has no surface."""
    mesh = crop.mesh(geometry, options)
    return None if mesh is None else export_mesh(mesh, mesh_format)
