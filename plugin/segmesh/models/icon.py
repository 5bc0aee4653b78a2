"""The 64 x 64 icon of a stored model: the mesh seen from the front, shaded."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from scipy import ndimage

from ..mesh.base import Mesh

ICON_SIZE = 64


#: Triangles whose sample points are made at a time: the points of a 5-million-triangle model
#: at once would take about 2 GB.
CHUNK = 1 << 18

#: Sample points per triangle (barycentric weights), so that small triangles still cover the
#: icon's pixels.
WEIGHTS = np.array([[2, 2, 2], [4, 1, 1], [1, 4, 1], [1, 1, 4]], dtype=np.float64) / 6.0


def _points(mesh: Mesh, start: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(4 C, 3) sample points of triangles ``start`` to ``start + CHUNK`` (weight by weight)
    and (4 C,) their shades, lit from the viewer."""
    faces = mesh.faces[start : start + CHUNK]
    a, b, c = (mesh.vertices[faces[:, n]] for n in range(3))
    points = np.concatenate([w[0] * a + w[1] * b + w[2] * c for w in WEIGHTS])
    normals = np.cross(b - a, c - a)
    lengths = np.linalg.norm(normals, axis=1)
    facing = np.divide(-normals[:, 1], lengths, out=np.zeros_like(lengths), where=lengths > 0)
    shade = 0.3 + 0.7 * np.clip(facing, 0.0, 1.0)
    return points, np.tile(shade, len(WEIGHTS))


def icon_pixels(mesh: Mesh, size: int = ICON_SIZE) -> npt.NDArray[np.uint8]:
    """(size, size) uint8 grey preview: the model seen from the front (anterior), patient's right
    on the image's left, head up, lit from the viewer.

    Two passes over chunks of triangles (the points' extent, then the nearest point of each
    pixel), so that memory does not grow with the model."""
    starts = range(0, len(mesh.faces), CHUNK)
    low, high = np.full(3, np.inf), np.full(3, -np.inf)
    for start in starts:
        points = _points(mesh, start)[0]
        low, high = np.minimum(low, points.min(axis=0)), np.maximum(high, points.max(axis=0))
    extent = max(float(high[0] - low[0]), float(high[2] - low[2]), 1e-6)
    scale = (size - 3) / extent
    nearest = np.full(size * size, np.inf)
    flat = np.zeros(size * size)
    for start in starts:
        points, shades = _points(mesh, start)
        columns = np.clip(((points[:, 0] - low[0]) * scale + 1).astype(int), 0, size - 1)
        rows = np.clip(((high[2] - points[:, 2]) * scale + 1).astype(int), 0, size - 1)
        pixel = rows * size + columns
        # Nearest point (smallest y: anterior) wins each pixel; on a tie, the first one.
        order = np.lexsort((points[:, 1], pixel))
        first = np.unique(pixel[order], return_index=True)[1]
        chosen, depth = pixel[order][first], points[order, 1][first]
        closer = depth < nearest[chosen]
        nearest[chosen[closer]] = depth[closer]
        flat[chosen[closer]] = shades[order][first][closer]
    image = flat.reshape(size, size)
    covered = image > 0
    # Pixels no point reached inside the silhouette take a neighbour's shade.
    inside = ndimage.binary_fill_holes(ndimage.binary_closing(covered, iterations=2))
    image = np.where(covered, image, np.where(inside, ndimage.grey_dilation(image, size=3), 0.0))
    return np.asarray(np.round(image * 255.0), dtype=np.uint8)


def icon_item(mesh: Mesh) -> Dataset:
    """The Icon Image Sequence item of ``mesh``."""
    # The Icon Image Sequence macro allows monochrome or palette icons, not RGB.
    pixels = icon_pixels(mesh)
    item = Dataset()
    item.SamplesPerPixel = 1
    item.PhotometricInterpretation = "MONOCHROME2"
    item.Rows, item.Columns = pixels.shape
    item.BitsAllocated = 8
    item.BitsStored = 8
    item.HighBit = 7
    item.PixelRepresentation = 0
    item.PixelData = pixels.tobytes()
    return item
