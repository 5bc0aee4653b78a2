"""An import's fields (a JSON object, the ``X-SegMesh-Fields`` header, a multipart's JSON
part), or a dcmqi metadata template given as is, parsed into
:class:`segmesh.imports.ImportOptions` (whose module lists the fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from ..conversions import Target
from ..dicom.tags import apply_tags
from ..errors import BadRequestError
from ..formats.label_volume import MAX_LABEL, LabelFileFormat
from ..imports.import_options import TEMPLATE_TAGS, Algorithm, ImportOptions, SegmentFields
from .values import parse_flag, parse_tags

#: The fields of an import.
FIELDS = (
    "To",
    "Format",
    "Affine",
    "Segments",
    "Algorithm",
    "Resample",
    "Split",
    "Compression",
    "SeriesDescription",
    "Tags",
    "Template",
    "Asynchronous",
)
ALGORITHM_TYPES = ("AUTOMATIC", "SEMIAUTOMATIC", "MANUAL")


def import_options(fields: Mapping[str, Any]) -> ImportOptions:
    """Parse the fields; 400 for unknown ones and bad values (checked before any work)."""
    if "segmentAttributes" in fields:
        fields = {"Template": fields}
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadRequestError("Unknown parameters", f"{unknown}: use {', '.join(FIELDS)}")
    template = _template(fields.get("Template"))
    tags = parse_tags(fields.get("Tags", {}))
    description = fields.get("SeriesDescription", template.pop("SeriesDescription", ""))
    segments = template.pop("Segments", ()) or _segments(fields.get("Segments"))
    apply_tags(Dataset(), {**template, **tags})
    options = ImportOptions(
        targets=_targets(fields.get("To", "SEG")),
        file_format=None if not fields.get("Format") else LabelFileFormat.parse(fields["Format"]),
        affine=_affine(fields.get("Affine")),
        segments=segments,
        algorithm=_algorithm(fields.get("Algorithm", {})),
        resample=_resample(fields.get("Resample", False)),
        split=parse_flag(fields.get("Split", False), "Split"),
        rle=_compression(fields.get("Compression", "")),
        series_description=_text(description, "SeriesDescription"),
        tags=tags,
        template_tags=template,
    )
    if options.rle and Target.LABELMAP not in options.targets:
        raise BadRequestError(
            "Bad parameter Compression", "RLE compresses LABELMAP SEGs (as OHIF writes them)"
        )
    return options


def _targets(value: Any) -> tuple[Target, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise BadRequestError("Bad parameter To", "name at least one of SEG, LABELMAP, RTSTRUCT")
    return tuple(dict.fromkeys(Target.parse(str(v).upper()) for v in values))


def _resample(value: Any) -> bool:
    """``"nearest"`` (or true) resamples onto the series' grid; false or "" does not."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("nearest", "true"):
        return True
    if str(value).lower() in ("", "false", "no"):
        return False
    raise BadRequestError("Bad parameter Resample", f'{value!r}: "nearest" or false')


def _compression(value: Any) -> bool:
    if value in ("", None):
        return False
    if str(value).upper() == "RLE":
        return True
    raise BadRequestError("Bad parameter Compression", f'{value!r}: "RLE" or none')


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadRequestError(f"Bad parameter {name}", "a string")
    return value


def _affine(value: Any) -> tuple[tuple[float, ...], ...] | None:
    if value is None:
        return None
    try:
        rows = tuple(tuple(float(x) for x in row) for row in value)
    except (TypeError, ValueError) as error:
        raise BadRequestError("Bad parameter Affine", "a 4x4 list of numbers") from error
    if len(rows) != 4 or any(len(row) != 4 for row in rows):
        raise BadRequestError("Bad parameter Affine", "a 4x4 list of numbers")
    return rows


def _algorithm(value: Any) -> Algorithm:
    if not isinstance(value, dict):
        raise BadRequestError("Bad parameter Algorithm", 'an object {"Name", "Version", "Type"}')
    unknown = sorted(set(value) - {"Name", "Version", "Type"})
    if unknown:
        raise BadRequestError("Bad parameter Algorithm", f"unknown fields {unknown}")
    kind = str(value.get("Type", "AUTOMATIC")).upper()
    if kind not in ALGORITHM_TYPES:
        raise BadRequestError("Bad parameter Algorithm", f"Type {kind!r}: {ALGORITHM_TYPES}")
    return Algorithm(kind, str(value.get("Name") or "unknown"), str(value.get("Version") or ""))


def _code(value: Any, name: str) -> dict[str, str]:
    keys = ("CodeValue", "CodingSchemeDesignator", "CodeMeaning")
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in keys):
        raise BadRequestError(f"Bad segment {name}", f"{value!r}: {{{', '.join(keys)}}}")
    return {k: str(value[k]) for k in keys}


def _color(value: Any) -> tuple[int, int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(c, int) and 0 <= c <= 255 for c in value)
    ):
        raise BadRequestError("Bad segment Color", f"{value!r}: [red, green, blue], 0 to 255")
    return value[0], value[1], value[2]


def _value(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise BadRequestError("Bad segment Value", f"{value!r} is not a number") from error
    if not 1 <= number <= MAX_LABEL:
        raise BadRequestError("Bad segment Value", f"{number}: 1 to {MAX_LABEL}")
    return number


def _segment(item: Mapping[str, Any]) -> SegmentFields:
    known = {"Value", "Label", "Color", "Category", "Type", "TypeModifier", "Description"}
    unknown = sorted(set(item) - known - {"Algorithm"})
    if unknown:
        raise BadRequestError("Bad parameter Segments", f"unknown fields {unknown}")
    codes = {k: _code(item[k], k) for k in ("Category", "Type", "TypeModifier") if k in item}
    if ("Category" in codes) != ("Type" in codes):
        raise BadRequestError("Bad parameter Segments", "give Category and Type together")
    label = item.get("Label")
    return SegmentFields(
        value=_value(item.get("Value")),
        label=None if label is None else _text(label, "Label")[:64],
        color=None if item.get("Color") is None else _color(item["Color"]),
        codes=codes,
        description=None if item.get("Description") is None else str(item["Description"]),
        algorithm=None if item.get("Algorithm") is None else _algorithm(item["Algorithm"]),
    )


def _segments(value: Any) -> tuple[SegmentFields, ...]:
    if value is None:
        return ()
    if isinstance(value, dict):
        value = [
            {"Value": key, **(item if isinstance(item, dict) else {"Label": item})}
            for key, item in value.items()
        ]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadRequestError("Bad parameter Segments", "a list of objects, or {value: label}")
    segments = tuple(_segment(item) for item in value)
    values = [segment.value for segment in segments]
    if len(set(values)) != len(values):
        raise BadRequestError("Bad parameter Segments", "a value is described twice")
    return segments


def _template(value: Any) -> dict[str, Any]:
    """A dcmqi metadata template (``itkimage2segimage --inputMetadata``) as fields: its
    ``segmentAttributes`` (one list per input file: one file here) as Segments, its series
    attributes as SeriesDescription and :data:`TEMPLATE_TAGS`."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get("segmentAttributes"), list):
        raise BadRequestError("Bad parameter Template", "a dcmqi template: segmentAttributes")
    groups = value["segmentAttributes"]
    items = [item for group in groups for item in (group if isinstance(group, list) else [group])]
    segments = []
    for item in items:
        if not isinstance(item, dict):
            raise BadRequestError("Bad parameter Template", "segmentAttributes holds objects")
        fields: dict[str, Any] = {"Value": item.get("labelID")}
        label = item.get("SegmentLabel") or item.get("SegmentDescription")
        if label:
            fields["Label"] = str(label)
        if item.get("recommendedDisplayRGBValue") is not None:
            fields["Color"] = item["recommendedDisplayRGBValue"]
        for name, key in (
            ("Category", "SegmentedPropertyCategoryCodeSequence"),
            ("Type", "SegmentedPropertyTypeCodeSequence"),
            ("TypeModifier", "SegmentedPropertyTypeModifierCodeSequence"),
        ):
            if item.get(key):
                fields[name] = item[key]
        if item.get("SegmentAlgorithmType"):
            fields["Algorithm"] = {
                "Type": item["SegmentAlgorithmType"],
                "Name": item.get("SegmentAlgorithmName") or "unknown",
            }
        segments.append(_segment(fields))
    kept: dict[str, Any] = {"Segments": tuple(segments)}
    if value.get("SeriesDescription"):
        kept["SeriesDescription"] = str(value["SeriesDescription"])
    for keyword in TEMPLATE_TAGS:
        if value.get(keyword) not in (None, ""):
            kept[keyword] = value[keyword]
    if any(keyword.startswith("ClinicalTrial") for keyword in kept):
        # Type 2 in the Clinical Trial Series module that the other two open.
        kept.setdefault("ClinicalTrialCoordinatingCenterName", "")
    return kept
