"""The 64 x 64 icon of a stored model: the mesh seen from the front, shaded."""

from __future__ import annotations

from functools import cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from ..labelmap import BoolArray
from ..mesh.base import IntArray, Mesh

ICON_SIZE = 64

#: Largest distance (icon pixels) between the points of a surface whose gap the depth map
#: still closes (its 3 x 3 minimum filter reaches the two pixels between): triangles spanning
#: more are sampled inside as well ...
POINT_SPACING = 3.0

#: ... at this spacing (pixels), so that each pixel of theirs has its own depth and their slope
#: shades evenly.
SAMPLE_SPACING = 1.0

#: Depth levels of the depth buffer (quantised over the model's depth range: 0.5 micrometre
#: over 50 cm).
DEPTH_LEVELS = 1 << 20

FloatArray = npt.NDArray[np.float64]
Image = TypeVar("Image", npt.NDArray[np.float64], npt.NDArray[np.bool_])


@cache
def _barycentric_grid(divisions: int) -> FloatArray:
    """(P, 3) barycentric weights of a triangle's points at ``divisions`` per edge, corners
    (the vertices, already drawn) left out."""
    i, j = np.meshgrid(np.arange(divisions + 1), np.arange(divisions + 1), indexing="ij")
    inside = i + j <= divisions
    weights = np.stack([i[inside], j[inside], divisions - i[inside] - j[inside]], axis=1)
    corner = (weights == divisions).any(axis=1)
    return np.asarray(weights[~corner] / divisions, dtype=np.float64)


def _spans(faces: IntArray, u: FloatArray, v: FloatArray) -> FloatArray:
    """(F,) how many pixels each of ``faces`` spans along columns or rows, whichever is more."""
    corners = [np.ascontiguousarray(faces[:, n]) for n in range(3)]
    spans = []
    for coordinate in (u, v):
        a, b, c = (coordinate[corner] for corner in corners)
        spans.append(np.maximum(np.maximum(a, b), c) - np.minimum(np.minimum(a, b), c))
    return np.asarray(np.maximum(spans[0], spans[1]), dtype=np.float64)


def _points(
    mesh: Mesh, u: FloatArray, v: FloatArray, depth: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(P,) icon columns, rows and depths of the vertices, and of points inside the triangles
    whose projection spans more than POINT_SPACING pixels (sampled at SAMPLE_SPACING).

    Marching cubes' triangles are all of about the same size: where every 16th triangle is
    small enough, the others are taken to be (testing each costs as much as the rest of the
    icon)."""
    if not len(mesh.faces) or (_spans(mesh.faces[::16], u, v) <= POINT_SPACING).all():
        return u, v, depth
    spans = _spans(mesh.faces, u, v)
    large = np.flatnonzero(spans > POINT_SPACING)
    divisions = np.ceil(spans[large] / SAMPLE_SPACING).astype(np.intp)
    columns, rows, depths = [u], [v], [depth]
    for count in np.unique(divisions):
        chosen = mesh.faces[large[divisions == count]]
        weights = _barycentric_grid(int(count)).T
        columns.append((u[chosen] @ weights).ravel())
        rows.append((v[chosen] @ weights).ravel())
        depths.append((depth[chosen] @ weights).ravel())
    return np.concatenate(columns), np.concatenate(rows), np.concatenate(depths)


def _depth_buffer(pixels: npt.NDArray[np.intp], depths: FloatArray, size: int) -> FloatArray:
    """(size, size) the smallest of ``depths`` in each of the flat ``pixels``, inf where none,
    quantised to :data:`DEPTH_LEVELS` over the depths' range (rounded down).

    Each pixel's smallest depth first (``np.minimum.at``: the points are ten times the
    pixels), quantised after: the quantisation is monotone, so the smallest depth's level is
    the smallest of the levels (a sort of (pixel, level) keys took four times as long)."""
    low = float(depths.min())
    step = max(float(depths.max()) - low, 1e-6) / (DEPTH_LEVELS - 1)
    buffer = np.full(size * size, np.inf)
    np.minimum.at(buffer, pixels, depths)
    found = np.isfinite(buffer)
    buffer[found] = low + ((buffer[found] - low) / step).astype(np.int64) * step
    return buffer.reshape(size, size)


def _square_minimum(image: Image, border: float | bool) -> Image:
    """(rows, columns) the smallest of each pixel's 3 x 3 square of ``image`` (rows, columns),
    ``border`` beyond its edges: ``ndimage.minimum_filter`` (or, of a boolean image,
    ``ndimage.binary_erosion`` by the square) in a quarter of the time on an icon's size."""
    rows, columns = image.shape
    padded = np.full((rows + 2, columns + 2), border, dtype=image.dtype)
    padded[1:-1, 1:-1] = image
    across = np.minimum(np.minimum(padded[:-2], padded[1:-1]), padded[2:])
    return np.minimum(np.minimum(across[:, :-2], across[:, 1:-1]), across[:, 2:])


def _slopes(depth: FloatArray, inside: BoolArray) -> tuple[FloatArray, FloatArray]:
    """(size, size) depth change per pixel along columns and rows, from the neighbours inside
    the silhouette (central where both are, one-sided at its edge, 0 where neither).

    Where a neighbour is outside, the pixel's own depth stands for it: the difference is then
    one-sided (halved only where both are in: exact, as dividing by the span was), and 0
    where neither is."""
    rows, columns = depth.shape
    padded = np.zeros((rows + 2, columns + 2))
    known = np.zeros((rows + 2, columns + 2), dtype=bool)
    centre = padded[1:-1, 1:-1]
    np.copyto(centre, depth, where=inside)
    known[1:-1, 1:-1] = inside
    slopes = []
    for ahead, behind in (
        (np.s_[1:-1, 2:], np.s_[1:-1, :-2]),
        (np.s_[2:, 1:-1], np.s_[:-2, 1:-1]),
    ):
        has_ahead, has_behind = known[ahead], known[behind]
        difference = np.where(has_ahead, padded[ahead], centre)
        difference -= np.where(has_behind, padded[behind], centre)
        difference *= np.where(has_ahead & has_behind, 0.5, 1.0)
        slopes.append(difference)
    return slopes[0], slopes[1]


def icon_pixels(mesh: Mesh, size: int = ICON_SIZE) -> npt.NDArray[np.uint8]:
    """(size, size) uint8 grey preview: the model seen from the front (anterior), patient's right
    on the image's left, head up, lit from the viewer.

    The vertices (and points inside triangles larger than three pixels) go into a depth buffer
    (the smallest y, the most anterior, wins each pixel); the surface's slope, and so its
    shade, comes from that depth map's gradient: no normals, linear in the number of vertices.
    """
    x, y, z = mesh.vertices[:, 0], mesh.vertices[:, 1], mesh.vertices[:, 2]
    left, top = float(x.min()), float(z.max())
    extent = max(float(x.max()) - left, top - float(z.min()), 1e-6)
    scale = (size - 3) / extent  # pixels per mm; a pixel of margin all round
    # Columns and rows from 1 to size - 2: no point falls on the border.
    u, v, depths = _points(mesh, (x - left) * scale + 1.0, (top - z) * scale + 1.0, y)
    depth = _depth_buffer(v.astype(np.intp) * size + u.astype(np.intp), depths, size)
    # The nearest surface within a pixel: fills gaps between points, hides back faces seen
    # through them, and (where finite) is the points' silhouette grown by a pixel ...
    front = _square_minimum(depth, np.inf)
    # ... which, shrunk by a pixel, is the silhouette with its gaps closed.
    finite: BoolArray = np.isfinite(front)
    inside = _square_minimum(finite, False)
    across, down = _slopes(front, inside)
    # A surface y = d(x, z) faces the viewer by 1 / |(dd/dx, -1, dd/dz)|; slopes in mm per mm.
    facing = 1.0 / np.sqrt(1.0 + (across * scale) ** 2 + (down * scale) ** 2)
    image = np.where(inside, 0.3 + 0.7 * facing, 0.0)
    return np.asarray(np.round(image * 255.0), dtype=np.uint8)


def icon_item(pixels: npt.NDArray[np.uint8]) -> Dataset:
    """The Icon Image Sequence item of an icon's ``pixels`` (:func:`icon_pixels`)."""
    # The Icon Image Sequence macro allows monochrome or palette icons, not RGB.
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
