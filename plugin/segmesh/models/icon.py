"""The 64 x 64 icon of a stored model: the mesh seen from the front, shaded."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from scipy import ndimage

from ..mesh.base import Mesh, triangle_normals

ICON_SIZE = 64


#: Triangles whose sample points are made at a time: the points of a 5-million-triangle model
#: at once would take about 2 GB.
CHUNK = 1 << 18

#: Where a mesh's median edge is longer than this many icon pixels, each triangle is sampled at
#: three points besides its centroid, so that large triangles still cover their pixels.
LARGE_TRIANGLE_PIXELS = 0.5


def _samples(
    mesh: Mesh, start: int, dense: bool
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(P, 3) sample points of triangles ``start`` to ``start + CHUNK`` (their centroids, and
    three more each where ``dense``) and (P,) their shades, lit from the viewer."""
    faces = mesh.faces[start : start + CHUNK]
    a, b, c = (mesh.vertices[faces[:, n]] for n in range(3))
    shade = 0.3 + 0.7 * np.clip(-triangle_normals(a, b, c)[:, 1], 0.0, 1.0)
    samples = [(a + b + c) / 3.0]
    if dense:
        samples += [(4.0 * a + b + c) / 6.0, (a + 4.0 * b + c) / 6.0, (a + b + 4.0 * c) / 6.0]
    return np.concatenate(samples), np.tile(shade, len(samples))


def icon_pixels(mesh: Mesh, size: int = ICON_SIZE) -> npt.NDArray[np.uint8]:
    """(size, size) uint8 grey preview: the model seen from the front (anterior), patient's right
    on the image's left, head up, lit from the viewer.

    Points on the triangles go through a depth buffer (the smallest y, the most anterior, wins
    each pixel): linear in the number of triangles, no sort, chunk by chunk so that memory does
    not grow with the model.
    """
    low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    extent = max(float(high[0] - low[0]), float(high[2] - low[2]), 1e-6)
    scale = (size - 3) / extent
    # Of every 16th triangle: an estimate is all the choice needs.
    edges = mesh.vertices[mesh.faces[::16, 1]] - mesh.vertices[mesh.faces[::16, 0]]
    dense = float(np.median(np.linalg.norm(edges, axis=1))) * scale > LARGE_TRIANGLE_PIXELS
    depth = np.full(size * size, np.inf)
    flat = np.zeros(size * size)
    for start in range(0, len(mesh.faces), CHUNK):
        points, shades = _samples(mesh, start, dense)
        columns = np.clip(((points[:, 0] - low[0]) * scale + 1).astype(np.intp), 0, size - 1)
        rows = np.clip(((high[2] - points[:, 2]) * scale + 1).astype(np.intp), 0, size - 1)
        pixel = rows * size + columns
        np.minimum.at(depth, pixel, points[:, 1])
        front = points[:, 1] <= depth[pixel]
        flat[pixel[front]] = shades[front]
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
