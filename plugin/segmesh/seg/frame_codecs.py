"""Small decoders for SEG frame encodings that pydicom 3.0 and its plugins cannot read:
1-bit RLE Lossless and Deflated Image Frame Compression (PS3.5 A.4.13).

Each returns one frame as a flat array of ``rows * columns`` pixels: bool for 1-bit data.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import BrokenFileError


def _broken(frame: int, why: str) -> BrokenFileError:
    return BrokenFileError("Malformed SEG", f"frame {frame + 1}: {why}")


def packbits_decode(data: bytes) -> bytes:
    """Decode one RLE segment (PS3.5 G.3.2, the PackBits scheme)."""
    out = bytearray()
    position, end = 0, len(data)
    while position < end:
        header = data[position]
        position += 1
        if header < 128:  # a literal run of header + 1 bytes
            out += data[position : position + header + 1]
            position += header + 1
        elif header > 128:  # one byte repeated 257 - header times
            out += data[position : position + 1] * (257 - header)
            position += 1
        # 128 is a no-op, used as padding
    return bytes(out)


def rle_1bit_frame(fragment: bytes, rows: int, columns: int, frame: int) -> npt.NDArray[np.bool_]:
    """A 1-bit RLE Lossless frame as (rows * columns,) bool.

    Writers disagree on what the single RLE segment holds for 1-bit pixels: one byte per pixel
    (pylibjpeg-rle, vtk-dicom), the frame's packed bits, or packed bits with each row padded to
    a byte. The decoded length tells them apart."""
    if len(fragment) < 64:
        raise _broken(frame, "RLE header is shorter than 64 bytes")
    header = struct.unpack("<16I", fragment[:64])
    if header[0] != 1:
        raise _broken(frame, f"1-bit RLE needs 1 segment, the header gives {header[0]}")
    decoded = np.frombuffer(packbits_decode(fragment[header[1] :]), dtype=np.uint8)
    pixels = rows * columns
    row_bytes = (columns + 7) // 8
    if decoded.size >= pixels:
        return np.asarray(decoded[:pixels] != 0)
    if decoded.size == rows * row_bytes and columns % 8:
        bits = np.unpackbits(decoded.reshape(rows, row_bytes), axis=1, bitorder="little")
        return np.asarray(bits[:, :columns].ravel() != 0)
    if decoded.size == (pixels + 7) // 8:
        return np.unpackbits(decoded, bitorder="little")[:pixels].view(np.bool_)
    raise _broken(frame, f"RLE segment decodes to {decoded.size} bytes for {rows}x{columns} pixels")


def inflate_frame(
    fragment: bytes, rows: int, columns: int, bits_allocated: int, frame: int
) -> npt.NDArray[Any]:
    """A Deflated Image Frame Compression frame: raw deflate (RFC 1951) of the native frame,
    which for 1-bit pixels starts on a byte boundary. (rows * columns,) bool, uint8 or uint16."""
    try:
        data = zlib.decompress(fragment, wbits=-15)
    except zlib.error as error:
        raise _broken(frame, f"not deflated data: {error}") from error
    pixels = rows * columns
    if bits_allocated == 1:
        values: npt.NDArray[Any] = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        values = values[:pixels].view(np.bool_)
    else:
        values = np.frombuffer(data, "<u2" if bits_allocated == 16 else np.uint8)[:pixels]
    if values.size != pixels:
        raise _broken(frame, f"inflates to fewer than {pixels} pixels")
    return values
