"""NumPy .npz files: ``labels`` (layers, slices, rows, columns), ``affine`` 4x4 mapping
[column, row, slice, 1] to LPS mm, ``segments`` (JSON text) and optionally ``image``; written
out, and read back in (with ``.npy`` files of labels alone) as :class:`LabelVolume`."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..dicom.color import default_color
from ..errors import BadRequestError, UnprocessableError
from ..labelmap import LabelMap, Segment, segments_json
from ..settings import Settings
from .label_volume import (
    LabelVolume,
    check_affine,
    check_size,
    check_voxels,
    label_values,
    spatial_shape,
)
from .npz_archive import NpzMember, npz_archive


def to_npz(labelmap: LabelMap, image: npt.NDArray[Any] | None = None) -> bytes:
    """Arrays ``labels``, ``affine``, ``segments`` (JSON text) and optionally ``image``, as
    ``numpy.load`` reads them.

    The label map is deflated (mostly background, it shrinks to a few percent), the image is
    stored as it is: its noise hardly compresses, and deflating it would cost seconds."""
    members = [
        NpzMember("labels", labelmap.layers, deflate=True),
        NpzMember("affine", labelmap.geometry.affine, deflate=True),
        NpzMember("segments", np.array(segments_json(labelmap)), deflate=True),
    ]
    if image is not None:
        members.append(NpzMember("image", image, deflate=False))
    return npz_archive(members)


def _segment(item: Mapping[str, Any]) -> Segment:
    """A segment of a ``segments`` table as :func:`to_npz` writes it."""
    number = int(item["Number"])
    color = item.get("Color") or default_color(number)
    red, green, blue = (int(c) for c in color)
    attributes = {k: item[k] for k in ("Category", "Type", "TypeModifier") if item.get(k)}
    return Segment(
        number,
        str(item.get("Label") or ""),
        (red, green, blue),
        int(item.get("Layer", 0)),
        attributes,
    )


def _segments(table: npt.NDArray[Any] | None) -> tuple[Segment, ...]:
    if table is None:
        return ()
    try:
        return tuple(_segment(item) for item in json.loads(str(table)))
    except (ValueError, TypeError, KeyError) as error:
        raise BadRequestError("Bad npz segments", f"{type(error).__name__}: {error}") from error


def _labels_volume(
    labels: npt.NDArray[Any],
    affine: npt.ArrayLike | None,
    segments: tuple[Segment, ...],
    file_format: str,
    settings: Settings,
) -> LabelVolume:
    """(slices, rows, columns) or (layers, slices, rows, columns) labels as a label volume."""
    if affine is None:
        raise BadRequestError(
            "Missing affine",
            f"a {file_format} label map needs an affine (4x4, [i, j, k, 1] to LPS mm): "
            "give the Affine parameter",
        )
    if labels.ndim == 3:
        labels = labels[np.newaxis]
    if labels.ndim != 4:
        raise UnprocessableError("Not a 3-D label map", f"{file_format} shape {labels.shape}")
    spatial_shape(labels.shape[1:], file_format)
    check_voxels(labels.shape, settings.max_voxels)
    layers = label_values(np.transpose(labels, (0, 3, 2, 1)))
    return LabelVolume(layers, check_affine(affine, file_format, "affine"), segments, file_format)


def read_npz_labels(data: bytes, affine: npt.ArrayLike | None, settings: Settings) -> LabelVolume:
    """A label map as :func:`to_npz` writes it: ``labels`` [k, j, i] or [layer, k, j, i],
    ``affine`` (or the ``affine`` given), ``segments`` optional; errors as
    :func:`segmesh.formats.nifti.read_nifti_labels`."""
    check_size(data, settings.max_nifti_megabytes, "npz")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if "labels" not in archive:
                raise BadRequestError("Bad npz", f"no 'labels' array among {archive.files}")
            labels = archive["labels"]
            own = archive.get("affine")
            table = archive.get("segments")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise BadRequestError("Not an npz file", f"{type(error).__name__}: {error}") from error
    return _labels_volume(
        labels, own if affine is None else affine, _segments(table), "NPZ", settings
    )


def read_npy_labels(data: bytes, affine: npt.ArrayLike | None, settings: Settings) -> LabelVolume:
    """One array [k, j, i] or [layer, k, j, i] of labels, with the ``affine`` given."""
    check_size(data, settings.max_nifti_megabytes, "npy")
    try:
        labels = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise BadRequestError("Not an npy file", f"{type(error).__name__}: {error}") from error
    return _labels_volume(labels, affine, (), "NPY", settings)
