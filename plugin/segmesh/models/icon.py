"""The 64 x 64 icon of a stored model: the mesh seen from the front, shaded."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from scipy import ndimage

from ..mesh.base import Mesh

ICON_SIZE = 64


def icon_pixels(mesh: Mesh, size: int = ICON_SIZE) -> npt.NDArray[np.uint8]:
    """(size, size) uint8 grey preview: the model seen from the front (anterior), patient's right
    on the image's left, head up, lit from the viewer."""
    a, b, c = (mesh.vertices[mesh.faces[:, n]] for n in range(3))
    # Several points per triangle, so that small triangles still cover the icon's pixels.
    weights = np.array([[1, 1, 1], [4, 1, 1], [1, 4, 1], [1, 1, 4]], dtype=np.float64) / 6.0
    weights[0] = 1.0 / 3.0
    points = np.concatenate([w[0] * a + w[1] * b + w[2] * c for w in weights])
    shade = 0.3 + 0.7 * np.clip(-mesh.face_normals[:, 1], 0.0, 1.0)
    shades = np.tile(shade, len(weights))
    low, high = points.min(axis=0), points.max(axis=0)
    extent = max(float(high[0] - low[0]), float(high[2] - low[2]), 1e-6)
    scale = (size - 3) / extent
    columns = np.clip(((points[:, 0] - low[0]) * scale + 1).astype(int), 0, size - 1)
    rows = np.clip(((high[2] - points[:, 2]) * scale + 1).astype(int), 0, size - 1)
    pixel = rows * size + columns
    # Nearest point (smallest y: anterior) wins each pixel.
    order = np.lexsort((points[:, 1], pixel))
    first = np.unique(pixel[order], return_index=True)[1]
    flat = np.zeros(size * size)
    flat[pixel[order][first]] = shades[order][first]
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
