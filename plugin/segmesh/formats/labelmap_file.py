"""segmesh's own label-map file: a decoded label map, the key it was made for, and the planes
of the images it lies on, so that a stored copy can replace decoding its source.

Layout: :data:`MAGIC`, the header's length (uint32, little endian), the header (JSON, UTF-8),
then the layers (layers, slices, rows, columns) in C order as runs: the value of each run,
then its length, zlib-compressed at its fastest level. Label maps are long runs of one value:
the 100-segment 512 x 512 x 300 map (79 MB) is 0.65 MB so, and decodes in a few hundredths
of a second (zlib alone: 1.6 MB, ten times slower to inflate).
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from ..geometry import Plane, VolumeGeometry
from ..labelmap import LabelMap, Segment

MAGIC = b"segmesh-labelmap"
#: Changes whenever the layout does; part of what a reader checks.
LAYOUT = 1
_LENGTH = struct.Struct("<I")
_DTYPES = {"uint8": np.uint8, "uint16": np.uint16}


class UnusableLabelMapFileError(ValueError):
    """The file is not a label map of the key asked for (another key, or broken bytes)."""


def _normalized(key: Mapping[str, Any]) -> Any:
    """The key as JSON gives it back (tuples become lists), for comparison."""
    return json.loads(json.dumps(key, sort_keys=True))


def _plane_json(plane: Plane) -> dict[str, Any]:
    return {
        "Position": plane.position.tolist(),
        "Orientation": plane.orientation.tolist(),
        "PixelSpacing": plane.pixel_spacing.tolist(),
        "Rows": plane.rows,
        "Columns": plane.columns,
    }


def _plane(value: Mapping[str, Any]) -> Plane:
    return Plane(
        np.asarray(value["Position"], dtype=np.float64),
        np.asarray(value["Orientation"], dtype=np.float64),
        np.asarray(value["PixelSpacing"], dtype=np.float64),
        int(value["Rows"]),
        int(value["Columns"]),
    )


def _segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "Number": segment.number,
        "Label": segment.label,
        "Color": list(segment.color),
        "Layer": segment.layer,
        "Attributes": dict(segment.attributes),
    }


def _segment(value: Mapping[str, Any]) -> Segment:
    red, green, blue = (int(c) for c in value["Color"])
    return Segment(
        int(value["Number"]),
        str(value["Label"]),
        (red, green, blue),
        int(value["Layer"]),
        dict(value["Attributes"]),
    )


def _runs(flat: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(values, lengths) of the runs of equal values of ``flat`` (voxels,)."""
    starts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate(([0], starts)) if flat.size else starts
    lengths = np.diff(np.append(starts, flat.size))
    return flat[starts], lengths


def _length_dtype(voxels: int) -> np.dtype[Any]:
    return np.dtype(np.uint32 if voxels < 2**32 else np.uint64)


def write_labelmap_file(
    labelmap: LabelMap, key: Mapping[str, Any], planes: Mapping[str, Plane]
) -> bytes:
    """The file of ``labelmap`` made for ``key`` (JSON-ready); ``planes`` maps the
    SOPInstanceUID of each image of the grid's series to its plane (empty on a native grid)."""
    geometry = labelmap.geometry
    values, lengths = _runs(np.ascontiguousarray(labelmap.layers).ravel())
    lengths = lengths.astype(_length_dtype(labelmap.layers.size))
    body = zlib.compress(values.tobytes() + lengths.tobytes(), 1)
    header = {
        "Layout": LAYOUT,
        "Key": _normalized(key),
        "Shape": list(labelmap.layers.shape),
        "DType": labelmap.layers.dtype.name,
        "Affine": geometry.affine.tolist(),
        "FrameOfReferenceUID": geometry.frame_of_reference_uid,
        "SlicePositions": geometry.slice_positions.tolist(),
        "Segments": [_segment_json(segment) for segment in labelmap.segments],
        "Planes": {uid: _plane_json(plane) for uid, plane in planes.items()},
        "Runs": len(values),
        "Bytes": len(body),
    }
    text = json.dumps(header).encode("utf-8")
    return MAGIC + _LENGTH.pack(len(text)) + text + body


def read_header(data: bytes) -> dict[str, Any]:
    """The header of a label-map file; :class:`UnusableLabelMapFileError` where it is not one."""
    start = len(MAGIC) + _LENGTH.size
    if len(data) < start or not data.startswith(MAGIC):
        raise UnusableLabelMapFileError("not a segmesh label-map file")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    try:
        header = json.loads(data[start : start + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise UnusableLabelMapFileError(f"unreadable header: {error}") from error
    if not isinstance(header, dict) or header.get("Layout") != LAYOUT:
        raise UnusableLabelMapFileError("another layout of the label-map file")
    header["Offset"] = start + length
    return header


def read_labelmap_file(data: bytes, key: Mapping[str, Any]) -> tuple[LabelMap, dict[str, Plane]]:
    """The label map and image planes of a file made for ``key``.

    Raises :class:`UnusableLabelMapFileError` where it was made for another key or is broken
    (truncated, wrong sizes, a header that does not describe it).
    """
    header = read_header(data)
    if header.get("Key") != _normalized(key):
        raise UnusableLabelMapFileError(f"made for another key: {header.get('Key')}")
    try:
        body = data[header["Offset"] :]
        if len(body) != header["Bytes"]:
            raise UnusableLabelMapFileError(f"{len(body)} bytes of layers, not {header['Bytes']}")
        shape = tuple(int(n) for n in header["Shape"])
        voxels = int(np.prod(shape))
        dtype = np.dtype(_DTYPES[header["DType"]])
        runs = int(header["Runs"])
        packed = zlib.decompress(body)
        length_dtype = _length_dtype(voxels)
        if len(shape) != 4 or len(packed) != runs * (dtype.itemsize + length_dtype.itemsize):
            raise UnusableLabelMapFileError(f"{len(packed)} bytes are not {runs} runs")
        values = np.frombuffer(packed, dtype=dtype, count=runs)
        lengths = np.frombuffer(packed, dtype=length_dtype, offset=runs * dtype.itemsize)
        if int(lengths.sum(dtype=np.uint64)) != voxels:
            raise UnusableLabelMapFileError(f"the runs do not fill {shape}")
        layers = np.repeat(values, lengths)
        geometry = VolumeGeometry(
            (shape[1], shape[2], shape[3]),
            np.asarray(header["Affine"], dtype=np.float64).reshape(4, 4),
            str(header["FrameOfReferenceUID"]),
            np.asarray(header["SlicePositions"], dtype=np.float64).reshape(-1, 3),
        )
        segments = tuple(_segment(value) for value in header["Segments"])
        planes = {str(uid): _plane(value) for uid, value in header["Planes"].items()}
    except UnusableLabelMapFileError:
        raise
    except (KeyError, TypeError, ValueError, zlib.error) as error:
        raise UnusableLabelMapFileError(f"broken label-map file: {error!r}") from error
    return LabelMap(layers.reshape(shape), geometry, segments), planes
