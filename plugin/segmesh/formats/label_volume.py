"""Label maps as files hold them, read back in: NIfTI, NRRD (3D Slicer's ``.seg.nrrd`` too),
NumPy ``.npz`` and ``.npy``, each on its own world grid (an affine to LPS mm).

What a file holds is checked here, never guessed: integer labels in 0..65535, three spatial
dimensions, world coordinates, the size limits. Placing it on a series' grid is
:mod:`segmesh.imports.grid_placement`'s work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import BadRequestError, LimitExceededError, UnprocessableError
from ..labelmap import Segment, label_dtype

FloatArray = npt.NDArray[np.float64]
#: The largest label a label map holds (uint16).
MAX_LABEL = 65535


class LabelFileFormat(StrEnum):
    """The formats a label map is posted in (``Format`` of an import; sniffed where absent)."""

    NIFTI = "nifti"
    NRRD = "nrrd"
    NPZ = "npz"
    NPY = "npy"

    @classmethod
    def parse(cls, value: Any) -> LabelFileFormat:
        """``Format`` of a request; 400 for anything else."""
        try:
            return cls(str(value).lower())
        except ValueError as error:
            choices = ", ".join(member.value for member in cls)
            raise BadRequestError("Bad parameter Format", f"{value!r}: use {choices}") from error

    @classmethod
    def sniff(cls, data: bytes) -> LabelFileFormat:
        """The format of ``data`` from its first bytes; 400 where none fits. A gzip stream is
        NIfTI (``.nii.gz``): NRRD and NumPy compress inside their own containers."""
        if data.startswith(b"NRRD000"):
            return cls.NRRD
        if data.startswith(b"PK"):
            return cls.NPZ
        if data.startswith(b"\x93NUMPY"):
            return cls.NPY
        if (
            data.startswith(b"\x1f\x8b")
            or data[344:348] in (b"n+1\x00", b"ni1\x00")
            or (data[4:8] in (b"n+2\x00", b"ni2\x00"))
        ):
            return cls.NIFTI
        raise BadRequestError(
            "Unknown file format",
            "not NIfTI (.nii, .nii.gz), NRRD (.nrrd, .seg.nrrd), NumPy .npz or .npy",
        )


@dataclass(frozen=True, eq=False)
class LabelVolume:
    """A label map on the grid of its file.

    ``layers`` (layers, i, j, k) uint8 or uint16: the file's own axes, each voxel a segment
    number (0: none) in at most one layer; ``affine`` 4x4 maps [i, j, k, 1] to LPS mm;
    ``segments`` are those the file describes itself (a ``.seg.nrrd``: names, colours, codes),
    empty where it describes none; ``file_format`` names what was read (for the answer).
    """

    layers: npt.NDArray[np.unsignedinteger[Any]]
    affine: FloatArray
    segments: tuple[Segment, ...]
    file_format: str

    @property
    def numbers(self) -> list[int]:
        """The segment numbers that occur, ascending."""
        return sorted(int(v) for v in np.unique(self.layers) if v)


def check_size(data: bytes, max_megabytes: int, kind: str = "Label-map") -> None:
    """413 where a posted ``kind`` file exceeds ``max_megabytes`` (MaxNiftiMegabytes)."""
    if len(data) > max_megabytes * 1024 * 1024:
        raise LimitExceededError(
            f"{kind} file too large",
            f"{len(data)} bytes, above MaxNiftiMegabytes {max_megabytes}",
        )


def spatial_shape(shape: Sequence[int], what: str) -> tuple[int, int, int]:
    """The three spatial dimensions of an array of ``shape`` (a trailing 1 dropped, as NIfTI
    writers leave a time axis of one); 422 for anything else (a 4-D series, a 2-D image)."""
    dims = tuple(int(n) for n in shape)
    while len(dims) > 3 and dims[-1] == 1:
        dims = dims[:-1]
    if len(dims) != 3 or min(dims) < 1:
        raise UnprocessableError("Not a 3-D label map", f"{what} shape {tuple(shape)}")
    return dims[0], dims[1], dims[2]


def check_voxels(shape: Sequence[int], max_voxels: int) -> None:
    """413 where the file's grid exceeds MaxVoxels (Python integers: no overflow)."""
    if math.prod(int(n) for n in shape) > max_voxels:
        raise LimitExceededError(
            "Label map too large", f"{tuple(shape)} voxels, above MaxVoxels {max_voxels}"
        )


def label_values(values: npt.NDArray[Any]) -> npt.NDArray[np.unsignedinteger[Any]]:
    """``values`` as segment numbers, uint8 or uint16 by the largest; 400 for values that are
    not labels (fractions, NaN, negative, above 65535)."""
    if values.dtype == np.bool_:
        return values.astype(np.uint8)
    if not np.issubdtype(values.dtype, np.integer):
        if not np.issubdtype(values.dtype, np.floating):
            raise BadRequestError("Not a label map", f"values of type {values.dtype}")
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise BadRequestError("Not a label map", "the file holds non-integer values")
    if values.size == 0:
        raise UnprocessableError("Empty label map", "the file holds no voxels")
    low, high = values.min(), values.max()
    if low < 0 or high > MAX_LABEL:
        raise BadRequestError(
            "Not a label map", f"values {low} to {high}: labels must be in 0..{MAX_LABEL}"
        )
    return values.astype(label_dtype([int(high)]), copy=False)


def check_affine(affine: npt.ArrayLike, kind: str, what: str) -> FloatArray:
    """A 4x4 affine of a ``kind`` file (``what`` names it) that maps voxels to the world:
    finite and not singular; 422 otherwise."""
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise UnprocessableError(f"Bad {kind} affine", f"{what}: a 4x4 matrix, not {matrix.shape}")
    # Relative to the voxel edges, so that micrometre voxels of a micro-CT still pass.
    edges = float(np.prod(np.linalg.norm(matrix[:3, :3], axis=0)))
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix[:3, :3])) <= 1e-6 * edges:
        raise UnprocessableError(f"Degenerate {kind} affine", f"{what}: {matrix[:3].tolist()}")
    return matrix
