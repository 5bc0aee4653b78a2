"""3MF packages (3MF Core Specification 1.x): several named, coloured meshes in one file, in mm.

An OPC zip of ``[Content_Types].xml``, ``_rels/.rels`` and ``3D/3dmodel.model``: one
``<basematerials>`` with a ``<base displaycolor="#RRGGBB">`` per object, one ``<object
type="model">`` per mesh (named, ``pid``/``pindex`` on its colour), one ``<build><item>`` per
object. Coordinates stay patient LPS millimetres (``unit="millimeter"``), so that the parts keep
their places relative to each other and to the scan; a slicer moves the whole onto its plate.

A mesh's ``<mesh>`` element is formatted in bulk (one ``%`` of a chunk's numbers, no Python
loop per vertex) and may be written apart (a worker per part) and streamed into the package.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

import numpy as np

from ..dicom.color import RGB
from ..mesh.base import Mesh

MODEL_PATH = "3D/3dmodel.model"
MODEL_NAMESPACE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
MODEL_RELATIONSHIP = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" '
    'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
    "</Types>\n"
)
RELATIONSHIPS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Target="/{MODEL_PATH}" Id="rel0" Type="{MODEL_RELATIONSHIP}"/>'
    "</Relationships>\n"
)
# 0.1 um: finer than any printer, and than a float32 STL beyond a few cm from the origin.
VERTEX = '<vertex x="%.4f" y="%.4f" z="%.4f"/>'
TRIANGLE = '<triangle v1="%d" v2="%d" v3="%d"/>'
CHUNK = 1 << 16  # vertices or triangles formatted at a time
FILE_BLOCK = 1 << 20  # bytes of a part's file copied at a time
# Deflate level 1: a quarter of level 6's time on these files, for a package 20% larger.
COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class ThreeMFObject:
    """One part of a package: its ``name`` (a segment's label), ``color`` (RGB 0-255), and
    ``mesh_xml``, its ``<mesh>`` element as chunks of UTF-8 (see :func:`mesh_element`)."""

    name: str
    color: RGB
    mesh_xml: Iterable[bytes]


def mesh_element(mesh: Mesh) -> Iterator[bytes]:
    """The ``<mesh>`` element of ``mesh`` (vertices LPS mm, faces counter-clockwise seen from
    outside, as 3MF wants them), chunk by chunk."""
    yield b"<mesh><vertices>"
    for start in range(0, len(mesh.vertices), CHUNK):
        chunk = mesh.vertices[start : start + CHUNK]
        yield ((VERTEX * len(chunk)) % tuple(chunk.ravel().tolist())).encode()
    yield b"</vertices><triangles>"
    for start in range(0, len(mesh.faces), CHUNK):
        faces = mesh.faces[start : start + CHUNK]
        yield ((TRIANGLE * len(faces)) % tuple(faces.ravel().tolist())).encode()
    yield b"</triangles></mesh>"


def write_mesh_element(mesh: Mesh, path: str) -> None:
    """The ``<mesh>`` element of ``mesh`` written to the file at ``path``."""
    with open(path, "wb") as file:
        for chunk in mesh_element(mesh):
            file.write(chunk)


def read_blocks(path: str) -> Iterator[bytes]:
    """The file at ``path`` block by block (a part written by :func:`write_mesh_element`)."""
    with open(path, "rb") as file:
        while block := file.read(FILE_BLOCK):
            yield block


def _hex(color: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*(int(np.clip(value, 0, 255)) for value in color))


def _model_document(objects: Sequence[ThreeMFObject]) -> Iterator[bytes]:
    """``3D/3dmodel.model``: materials with id 1, objects with ids 2, 3, ..."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<model unit="millimeter" xml:lang="en-US" xmlns="{MODEL_NAMESPACE}">'
        '<metadata name="Application">segmesh</metadata><resources><basematerials id="1">'
    ).encode()
    for part in objects:
        yield f"<base name={quoteattr(part.name)} displaycolor={quoteattr(_hex(part.color))}/>".encode()
    yield b"</basematerials>"
    for index, part in enumerate(objects):
        yield (
            f'<object id="{index + 2}" type="model" name={quoteattr(part.name)} '
            f'pid="1" pindex="{index}">'
        ).encode()
        yield from part.mesh_xml
        yield b"</object>"
    yield b"</resources><build>"
    for index in range(len(objects)):
        yield f'<item objectid="{index + 2}"/>'.encode()
    yield b"</build></model>\n"


def write_threemf(objects: Sequence[ThreeMFObject], target: str | io.BytesIO) -> None:
    """The package of ``objects`` (at least one) written to ``target``, a path or a buffer,
    the model document streamed into the zip as it is made."""
    if not objects:
        raise ValueError("a 3MF package needs at least one object")
    with zipfile.ZipFile(
        target, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    ) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", RELATIONSHIPS)
        # force_zip64: the model document of a large source may pass 4 GiB.
        with package.open(MODEL_PATH, "w", force_zip64=True) as model:
            for chunk in _model_document(objects):
                model.write(chunk)


def threemf_file(parts: Sequence[tuple[str, RGB, Mesh]]) -> bytes:
    """The package of ``(name, color, mesh)`` parts as bytes."""
    buffer = io.BytesIO()
    write_threemf(
        [ThreeMFObject(name, color, mesh_element(mesh)) for name, color, mesh in parts], buffer
    )
    return buffer.getvalue()
