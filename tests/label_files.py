"""Label-map files as other tools write them, for the import tests and benchmark: NIfTI (RAS,
nibabel), NRRD (pynrrd, LPS or RAS), Slicer's ``.seg.nrrd`` with layers, NumPy ``.npz`` and
``.npy``; and the grid changes a file may carry (flips, permutations, crops).

Label arrays are (slices, rows, columns) = [k, j, i]; affines 4x4 map [i, j, k, 1] to LPS mm.
"""

from __future__ import annotations

import gzip
import io
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import nibabel as nib
import nrrd
import numpy as np
import numpy.typing as npt

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
Grid = tuple[npt.NDArray[Any], npt.NDArray[np.float64]]


def nifti(labels: npt.NDArray[Any], affine: npt.NDArray[np.float64], version: int = 1) -> bytes:
    """A gzip NIfTI of ``labels`` [k, j, i] on the LPS ``affine`` (written RAS, sform and
    qform set, as dcm2niix and TotalSegmentator write)."""
    ras = LPS_TO_RAS @ affine
    image_class = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    image = image_class(np.ascontiguousarray(labels.T), ras)
    image.set_sform(ras, code=1)
    image.set_qform(ras, code=1)
    return gzip.compress(image.to_bytes(), compresslevel=1)


def plain_nrrd(
    labels: npt.NDArray[Any], affine: npt.NDArray[np.float64], ras: bool = False
) -> bytes:
    """A NRRD of ``labels`` in LPS space, or RAS space with ``ras``."""
    signs = np.array([-1.0, -1.0, 1.0]) if ras else np.ones(3)
    header: OrderedDict[str, Any] = OrderedDict(
        space="right-anterior-superior" if ras else "left-posterior-superior",
        kinds=["domain"] * 3,
        encoding="gzip",
    )
    header["space directions"] = (affine[:3, :3] * signs[:, None]).T
    header["space origin"] = affine[:3, 3] * signs
    buffer = io.BytesIO()
    nrrd.write(buffer, np.ascontiguousarray(labels.T), header)
    return buffer.getvalue()


def seg_nrrd(
    layers: npt.NDArray[Any],
    affine: npt.NDArray[np.float64],
    segments: Sequence[dict[str, Any]],
) -> bytes:
    """A 3D Slicer ``.seg.nrrd`` of ``layers`` (layers, k, j, i), each layer numbering its own
    segments; ``segments``: {"Name", "Layer", "LabelValue", "Color" (0-1), "Tags"}."""
    header: OrderedDict[str, Any] = OrderedDict(space="left-posterior-superior", encoding="gzip")
    if layers.shape[0] == 1:
        data = layers[0].T
        header["kinds"] = ["domain"] * 3
        header["space directions"] = affine[:3, :3].T
    else:
        data = np.transpose(layers, (0, 3, 2, 1))
        header["kinds"] = ["list", "domain", "domain", "domain"]
        header["space directions"] = np.vstack([np.full(3, np.nan), affine[:3, :3].T])
    header["space origin"] = affine[:3, 3]
    header["Segmentation_MasterRepresentation"] = "Binary labelmap"
    for index, segment in enumerate(segments):
        prefix = f"Segment{index}_"
        header[prefix + "ID"] = f"Segment_{index + 1}"
        header[prefix + "Name"] = segment["Name"]
        header[prefix + "Color"] = " ".join(f"{c:.6f}" for c in segment["Color"])
        header[prefix + "LabelValue"] = str(segment["LabelValue"])
        header[prefix + "Layer"] = str(segment["Layer"])
        header[prefix + "Tags"] = segment.get("Tags", "")
    buffer = io.BytesIO()
    nrrd.write(buffer, np.ascontiguousarray(data), header)
    return buffer.getvalue()


def npz(labels: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> bytes:
    """An ``.npz`` as segmesh writes it: ``labels`` [k, j, i] and ``affine``."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, labels=labels, affine=affine)
    return buffer.getvalue()


def npy(labels: npt.NDArray[Any]) -> bytes:
    """A ``.npy`` of ``labels`` [k, j, i] (its affine goes in the request)."""
    buffer = io.BytesIO()
    np.save(buffer, labels)
    return buffer.getvalue()


def flipped(labels: npt.NDArray[Any], affine: npt.NDArray[np.float64], axis: int) -> Grid:
    """The same voxels with file axis ``axis`` (0: i, 1: j, 2: k) reversed."""
    size = labels.shape[2 - axis]
    moved = affine.copy()
    moved[:3, axis] = -affine[:3, axis]
    moved[:3, 3] = affine[:3, 3] + affine[:3, axis] * (size - 1)
    return np.flip(labels, 2 - axis).copy(), moved


def permuted(
    labels: npt.NDArray[Any], affine: npt.NDArray[np.float64], order: Sequence[int]
) -> Grid:
    """The same voxels with the file's axes i, j, k taken in ``order`` (a permutation)."""
    moved = affine.copy()
    moved[:, :3] = affine[:, list(order)]
    # labels are [k, j, i]: reverse to [i, j, k], permute, reverse back.
    return np.ascontiguousarray(labels.T.transpose(order).T), moved


def cropped(
    labels: npt.NDArray[Any], affine: npt.NDArray[np.float64], start: Sequence[int]
) -> Grid:
    """The box from voxel ``start`` (i, j, k) to the end, as a cropped file holds it."""
    i, j, k = start
    moved = affine.copy()
    moved[:3, 3] = affine[:3, :3] @ np.asarray(start, dtype=float) + affine[:3, 3]
    return labels[k:, j:, i:].copy(), moved
