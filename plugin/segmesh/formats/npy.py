"""One array as a NumPy .npy file: what the viewer fetches (its header names dtype and shape,
and a browser parses it in a few lines)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt


def _header_and_data(array: npt.NDArray[Any]) -> tuple[bytes, memoryview]:
    """The .npy header (format 1.0) of ``array`` in C order, little-endian, and its bytes."""
    data = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(data))
    return header.getvalue(), data.reshape(-1).view(np.uint8).data


def to_npy(array: npt.NDArray[Any]) -> bytes:
    """``array`` in C order, little-endian, as .npy bytes (format 1.0).

    Header and data are joined in one copy: volumes of a few hundred megabytes are not copied
    again through a file object."""
    return b"".join(_header_and_data(array))


def write_npy(array: npt.NDArray[Any], path: str) -> None:
    """:func:`to_npy` of ``array`` written to ``path``, without joining them in memory first."""
    header, data = _header_and_data(array)
    with open(path, "wb") as handle:
        handle.write(header)
        handle.write(data)
