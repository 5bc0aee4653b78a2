"""NRRD label maps read in: a plain NRRD of labels, or 3D Slicer's ``.seg.nrrd`` with its
``Segment{n}_*`` fields (names, colours, layers, terminology codes), as :class:`LabelVolume`.

A ``.seg.nrrd`` with several layers (a "list" axis first) numbers its segments within each
layer; segmesh's label maps number them across layers, so they are renumbered 1 to N in the
file's order there. A single layer keeps its label values as segment numbers.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import nrrd
import numpy as np
import numpy.typing as npt

from ..dicom.color import default_color
from ..errors import BadRequestError, UnprocessableError
from ..labelmap import Segment, label_dtype
from ..settings import Settings
from .label_volume import (
    LabelVolume,
    check_affine,
    check_size,
    check_voxels,
    label_values,
    spatial_shape,
)

#: NRRD spaces to LPS: the signs of x, y and z.
SPACE_SIGNS = {
    "left-posterior-superior": (1.0, 1.0, 1.0),
    "right-anterior-superior": (-1.0, -1.0, 1.0),
    "left-anterior-superior": (1.0, -1.0, 1.0),
}
SPACE_ALIASES = {"LPS": "left-posterior-superior", "RAS": "right-anterior-superior"}
SPACE_ALIASES["LAS"] = "left-anterior-superior"
_SEGMENT_FIELD = re.compile(r"^Segment(\d+)_(\w+)$")


def _header_and_data(data: bytes) -> tuple[dict[str, Any], npt.NDArray[Any]]:
    stream = io.BytesIO(data)
    try:
        header = nrrd.read_header(stream)
        if "data file" in header or "datafile" in header:
            raise BadRequestError("Detached NRRD", "post the data inside the .nrrd file")
        values = nrrd.read_data(header, stream, None, index_order="F")
    except nrrd.NRRDError as error:
        raise BadRequestError("Not a NRRD file", str(error)) from error
    except (OSError, EOFError, ValueError) as error:
        raise BadRequestError("Broken NRRD file", f"{type(error).__name__}: {error}") from error
    return header, values


def _space_signs(header: Mapping[str, Any]) -> npt.NDArray[np.float64]:
    space = str(header.get("space", ""))
    space = SPACE_ALIASES.get(space, space)
    if space not in SPACE_SIGNS:
        raise UnprocessableError(
            "No NRRD world space",
            f"space {header.get('space')!r}: use left-posterior-superior or "
            "right-anterior-superior",
        )
    return np.asarray(SPACE_SIGNS[space], dtype=np.float64)


def _affine(header: Mapping[str, Any], domain: list[int]) -> npt.NDArray[np.float64]:
    """[i, j, k, 1] to LPS mm, from the space directions of the ``domain`` axes."""
    signs = _space_signs(header)
    directions = header.get("space directions")
    origin = header.get("space origin")
    if directions is None or origin is None:
        raise UnprocessableError("No NRRD world space", "space directions or origin missing")
    affine = np.eye(4)
    for column, axis in enumerate(domain):
        affine[:3, column] = signs * np.asarray(directions[axis], dtype=np.float64)
    affine[:3, 3] = signs * np.asarray(origin, dtype=np.float64)
    return check_affine(affine, "NRRD", "space directions")


def _domain_axes(header: Mapping[str, Any], ndim: int) -> tuple[list[int], int | None]:
    """The three spatial axes and the layer axis (None where there is none)."""
    directions = header.get("space directions")
    if directions is None:
        raise UnprocessableError("No NRRD world space", "space directions missing")
    spatial = [
        axis
        for axis in range(ndim)
        if directions[axis] is not None and np.all(np.isfinite(directions[axis]))
    ]
    others = [axis for axis in range(ndim) if axis not in spatial]
    if len(spatial) != 3 or len(others) > 1:
        raise UnprocessableError("Not a 3-D label map", f"NRRD kinds {header.get('kinds')}")
    return spatial, (others[0] if others else None)


def _code(text: str) -> dict[str, str] | None:
    """``SCT^10200004^Liver`` as a JSON code; None where empty."""
    parts = text.split("^")
    if len(parts) < 3 or not parts[0] or not parts[1]:
        return None
    return {"CodingSchemeDesignator": parts[0], "CodeValue": parts[1], "CodeMeaning": parts[2]}


def _terminology(tags: str) -> dict[str, Any]:
    """Category, type and modifier codes of Slicer's ``TerminologyEntry`` tag."""
    for tag in tags.split("|"):
        name, _, value = tag.partition(":")
        if name != "TerminologyEntry":
            continue
        fields = value.split("~")
        codes = {
            key: _code(fields[index])
            for key, index in (("Category", 1), ("Type", 2), ("TypeModifier", 3))
            if index < len(fields)
        }
        return {key: code for key, code in codes.items() if code is not None}
    return {}


def _color(text: str, number: int) -> tuple[int, int, int]:
    try:
        red, green, blue = (round(float(c) * 255) for c in text.split()[:3])
    except ValueError:
        return default_color(number)
    return (min(max(red, 0), 255), min(max(green, 0), 255), min(max(blue, 0), 255))


def _described(header: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ``Segment{n}_*`` fields, one dict per n, in n's order."""
    fields: dict[int, dict[str, str]] = {}
    for key, value in header.items():
        match = _SEGMENT_FIELD.match(str(key))
        if match:
            fields.setdefault(int(match.group(1)), {})[match.group(2)] = str(value)
    return [fields[n] for n in sorted(fields)]


def _layer_values(
    layers: npt.NDArray[Any], described: list[dict[str, str]]
) -> tuple[npt.NDArray[Any], tuple[Segment, ...]]:
    """Segment numbers across layers, and the segments the fields describe."""
    try:
        places = [(int(f.get("Layer", 0)), int(f["LabelValue"])) for f in described]
    except (KeyError, ValueError) as error:
        raise BadRequestError("Bad .seg.nrrd", f"Segment LabelValue or Layer: {error}") from error
    renumber = layers.shape[0] > 1
    numbers = list(range(1, len(places) + 1)) if renumber else [v for _, v in places]
    if renumber:
        tables = np.zeros((layers.shape[0], int(layers.max()) + 1), dtype=np.uint16)
        for number, (layer, value) in zip(numbers, places, strict=True):
            if not 0 <= layer < layers.shape[0] or not 0 < value < tables.shape[1]:
                raise BadRequestError("Bad .seg.nrrd", f"no layer {layer} or value {value}")
            tables[layer, value] = number
        undescribed = [
            int(v)
            for index in range(layers.shape[0])
            for v in np.unique(layers[index])
            if v and not tables[index, v]
        ]
        if undescribed:
            raise UnprocessableError(
                "Bad .seg.nrrd", f"values {sorted(set(undescribed))} have no Segment fields"
            )
        dtype = label_dtype(numbers)
        layers = np.stack([tables[index][layers[index]] for index in range(layers.shape[0])])
        layers = layers.astype(dtype, copy=False)
    segments = tuple(
        Segment(
            number,
            f.get("Name") or f"Segment {number}",
            _color(f.get("Color", ""), number),
            layer if renumber else 0,
            _terminology(f.get("Tags", "")),
        )
        for number, (layer, _value), f in zip(numbers, places, described, strict=True)
    )
    return layers, segments


def read_nrrd_labels(data: bytes, settings: Settings) -> LabelVolume:
    """The label map of a NRRD or ``.seg.nrrd`` file on its own grid; errors as
    :func:`segmesh.formats.nifti.read_nifti_labels`."""
    check_size(data, settings.max_nifti_megabytes, "NRRD")
    header, values = _header_and_data(data)
    spatial, layer_axis = _domain_axes(header, values.ndim)
    shape = spatial_shape([values.shape[axis] for axis in spatial], "NRRD")
    layer_count = 1 if layer_axis is None else values.shape[layer_axis]
    check_voxels((layer_count, *shape), settings.max_voxels)
    affine = _affine(header, spatial)
    order = spatial if layer_axis is None else [layer_axis, *spatial]
    layers = label_values(np.transpose(values, order).reshape(layer_count, *shape))
    described = _described(header)
    if not described:
        return LabelVolume(layers, affine, (), "NRRD")
    layers, segments = _layer_values(layers, described)
    return LabelVolume(layers, affine, segments, ".seg.nrrd")
