"""NIfTI-1 files: label maps and image volumes out, label maps in.

The NIfTI world is RAS: segmesh's LPS affines become RAS by negating x and y (and back).
NIfTI arrays are indexed [i, j, k]; label maps are [k, j, i]."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from typing import Any

import nibabel as nib
import numpy as np
import numpy.typing as npt

from ..dicom.color import default_color
from ..errors import BadRequestError, BrokenFileError, LimitExceededError, UnprocessableError
from ..geometry import VolumeGeometry
from ..labelmap import LabelMap, Segment, check_voxel_limit, label_dtype
from ..settings import Settings

#: LPS to RAS: negate x and y.
#: LPS to RAS and back: negate x and y.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def ras_affine(labelmap: LabelMap) -> npt.NDArray[np.float64]:
    """The NIfTI affine: [i, j, k, 1] to RAS mm."""
    return np.asarray(LPS_TO_RAS @ labelmap.geometry.affine, dtype=np.float64)


def _nifti_bytes(data: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> bytes:
    """``data`` (i, j, k[, layer]) with the RAS ``affine`` as a gzip NIfTI-1 file."""
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    raw = image.to_bytes()
    return gzip.compress(raw, compresslevel=1)


def to_nifti(labelmap: LabelMap) -> bytes:
    """A gzip NIfTI-1 file: (i, j, k) for one layer, (i, j, k, layer) for several."""
    layers = labelmap.layers
    data = layers[0].T if layers.shape[0] == 1 else np.transpose(layers, (3, 2, 1, 0))
    return _nifti_bytes(data, ras_affine(labelmap))


def image_to_nifti(labelmap: LabelMap, image: npt.NDArray[Any]) -> bytes:
    """The image volume (slices, rows, columns) as a gzip NIfTI-1 file on the label map's grid."""
    return _nifti_bytes(image.T, ras_affine(labelmap))


GZIP_MAGIC = b"\x1f\x8b"
MAX_LABEL = 65535


def _image(data: bytes) -> nib.Nifti1Image:
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise BrokenFileError("Not a NIfTI file", f"broken gzip stream: {error}") from error
    for image_class in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            return image_class.from_bytes(data)
        except Exception:  # nibabel raises many types for foreign bytes: try the next format
            continue
    raise BrokenFileError("Not a NIfTI file", "neither NIfTI-1 nor NIfTI-2")


def world_affine(image: nib.Nifti1Image) -> np.ndarray:
    """The 4x4 RAS affine: sform where sform_code > 0, else qform where qform_code > 0;
    422 where neither is set, or where the chosen one is singular (say, a zero voxel size)."""
    header = image.header
    sform, sform_code = header.get_sform(coded=True)
    qform, qform_code = header.get_qform(coded=True)
    if sform is not None and int(sform_code) > 0:
        affine = np.asarray(sform, dtype=np.float64)
    elif qform is not None and int(qform_code) > 0:
        affine = np.asarray(qform, dtype=np.float64)
    else:
        raise UnprocessableError(
            "No NIfTI orientation", "sform_code and qform_code are both 0: no world coordinates"
        )
    # Relative to the voxel edges, so that micrometre voxels of a micro-CT still pass.
    edges = float(np.prod(np.linalg.norm(affine[:3, :3], axis=0)))
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) <= 1e-6 * edges:
        raise UnprocessableError("Degenerate NIfTI affine", f"{affine[:3].tolist()}")
    return affine


def nifti_labelmap(
    data: bytes,
    labels: Mapping[int, str],
    frame_of_reference_uid: str,
    settings: Settings,
) -> LabelMap:
    """The label map of a NIfTI file; ``labels`` names values (others are "Label n").

    Raises 400 for a file that is not NIfTI or not integer labels, 413 above MaxVoxels, 422
    where it has no world coordinates.
    """
    if len(data) > settings.max_nifti_megabytes * 1024 * 1024:
        raise LimitExceededError(
            "NIfTI file too large",
            f"{len(data)} bytes, above MaxNiftiMegabytes {settings.max_nifti_megabytes}",
        )
    image = _image(data)
    shape = tuple(int(n) for n in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise UnprocessableError("Not a 3-D label map", f"NIfTI shape {image.shape}")
    check_voxel_limit(shape, settings.max_voxels)
    lps = LPS_TO_RAS @ world_affine(image)
    values = np.asanyarray(image.dataobj).reshape(shape)
    if not np.issubdtype(values.dtype, np.integer) and (
        not np.all(np.isfinite(values)) or np.any(values != np.round(values))
    ):
        raise BadRequestError("Not a label map", "the NIfTI holds non-integer values")
    if values.min() < 0 or values.max() > MAX_LABEL:
        raise BadRequestError("Not a label map", f"values must be in 0..{MAX_LABEL}")
    present = [int(v) for v in np.unique(values) if v != 0]
    dtype = label_dtype(present)
    # [i, j, k] -> [k, j, i]
    volume = np.ascontiguousarray(np.asarray(values).astype(dtype).transpose(2, 1, 0))
    unknown = sorted(set(labels) - set(present))
    if unknown:
        raise BadRequestError("Unknown label", f"values {unknown} do not occur in the NIfTI")
    numbers = sorted(labels) if labels else present
    segments = tuple(
        Segment(number, labels.get(number, f"Label {number}"), default_color(number))
        for number in numbers
    )
    k = np.arange(volume.shape[0], dtype=np.float64)[:, None]
    geometry = VolumeGeometry(
        shape=(volume.shape[0], volume.shape[1], volume.shape[2]),
        affine=lps,
        frame_of_reference_uid=frame_of_reference_uid,
        slice_positions=lps[:3, 3] + k * lps[:3, 2],
    )
    return LabelMap(volume[np.newaxis], geometry, segments)
