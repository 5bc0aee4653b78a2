"""NumPy .npz files: ``labels`` (layers, slices, rows, columns), ``affine`` 4x4 mapping
[column, row, slice, 1] to LPS mm, ``segments`` (JSON text) and optionally ``image``."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from ..labelmap import LabelMap, segments_json


def to_npz(labelmap: LabelMap, image: npt.NDArray[Any] | None = None) -> bytes:
    """Arrays ``labels``, ``affine``, ``segments`` (JSON text) and optionally ``image``.

    Uncompressed: writing is then as fast as copying, and label maps are read with mmap."""
    arrays: dict[str, npt.NDArray[Any]] = {
        "labels": labelmap.layers,
        "affine": labelmap.geometry.affine,
        "segments": np.array(segments_json(labelmap)),
    }
    if image is not None:
        arrays["image"] = image
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()
