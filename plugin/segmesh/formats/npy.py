"""One array as a NumPy .npy file: what the viewer fetches (its header names dtype and shape,
and a browser parses it in a few lines)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt


def to_npy(array: npt.NDArray[Any]) -> bytes:
    """``array`` in C order, little-endian, as .npy bytes (format 1.0 or 2.0 as needed)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False)))
    return buffer.getvalue()
