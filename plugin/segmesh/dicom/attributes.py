"""Careful readers and writers of DICOM attributes shared by the core modules."""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom import config
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from ..errors import BrokenFileError
from .malformed import as_broken_file

logger = logging.getLogger(__name__)

#: Patient and study attributes a derived object copies from its source (type 2: may be empty).
PATIENT_AND_STUDY_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
)


#: Longest value (characters) of the text VRs of PATIENT_AND_STUDY_KEYWORDS (PS3.5 6.2).
_MAX_LENGTHS = {"SH": 16, "LO": 64, "PN": 64, "CS": 16, "DA": 8, "TM": 14}


def _valid_value(keyword: str, value: Any) -> Any:
    """``value`` as the target may hold it: a copied text too long for its VR is truncated, one
    its VR does not allow is emptied (type 2), each with a warning, so that the written object
    stays valid where the source is not. StudyInstanceUID and PatientID are kept as they are:
    Orthanc files an instance under them, and a model must land in its source's study."""
    vr = dictionary_VR(keyword)
    if keyword == "PatientID" or vr not in _MAX_LENGTHS or value is None or value == "":
        return value
    text = str(value)
    fixed = text[: _MAX_LENGTHS[vr]] if vr != "PN" else _person_name(text)
    try:
        validate_value(vr, fixed, config.RAISE)
    except ValueError:
        fixed = ""
    if fixed != text:
        logger.warning(
            "segmesh: %s %r of the source is not a valid %s; written as %r",
            keyword,
            text,
            vr,
            fixed,
        )
    return fixed


def _person_name(text: str) -> str:
    """A person name with each component group cut to 64 characters."""
    return "=".join(group[: _MAX_LENGTHS["PN"]] for group in text.split("="))


@as_broken_file
def copy_patient_and_study(source: Dataset, target: Dataset) -> None:
    """Copy the patient and study attributes, empty where the source has none, made valid for
    their VR (:func:`_valid_value`): every object segmesh writes copies them here, so none
    inherits a source's invalid value."""
    for keyword in PATIENT_AND_STUDY_KEYWORDS:
        setattr(target, keyword, _valid_value(keyword, source.get(keyword, "")))


def first_item(dataset: Dataset, keyword: str) -> Dataset | None:
    """The first item of a sequence attribute, or None where it is absent or empty."""
    sequence = dataset.get(keyword)
    if not sequence:
        return None
    item: Dataset = sequence[0]
    return item


def functional_group_item(
    per_frame: Dataset | None, shared: Dataset | None, sequence: str, keyword: str
) -> Dataset | None:
    """The item of functional group ``sequence`` that holds ``keyword``: the frame's own
    (``per_frame``, an item of PerFrameFunctionalGroupsSequence) first, then the ``shared`` one."""
    for groups in (per_frame, shared):
        item = first_item(groups, sequence) if groups is not None else None
        if item is not None and keyword in item:
            return item
    return None


#: Largest magnitude of a decimal value read (mm for positions and spacings): far beyond any
#: scanner's space, and far enough within float64's range that no product of two overflows.
MAX_MAGNITUDE = 1e9
#: How far from unit length the two direction cosines of ImageOrientationPatient may be, and
#: the least length of their cross product (0.5: at least 30 degrees apart): loose, it tells
#: directions from nonsense (zeros, or parallel vectors, which give no slice normal) only.
DIRECTION_TOLERANCE = 0.1
LEAST_CROSS_PRODUCT = 0.5


def within_magnitude(values: npt.NDArray[np.float64]) -> bool:
    """Whether every one of ``values`` is a number of magnitude at most :data:`MAX_MAGNITUDE`
    (NaN is not: it fails the comparison)."""
    return bool(np.all(np.abs(values) <= MAX_MAGNITUDE))


def decimal_values(dataset: Dataset, keyword: str) -> Any:
    """The value of the decimal string (DS) attribute ``keyword`` of ``dataset`` (None where
    absent): parsed here from the bytes read where pydicom has not converted them yet, since
    its conversion and validation of each DS dominate reading the geometry of 300 CT headers.
    pydicom converts anything else (a value float() refuses, one already converted)."""
    raw = dataset.get_item(keyword)
    if isinstance(raw, RawDataElement) and raw.value:
        try:
            return [float(text) for text in raw.value.split(b"\\")]
        except ValueError:
            pass
    return dataset.get(keyword)


def text_value(dataset: Dataset, keyword: str) -> str:
    """The text attribute ``keyword`` (CS, SH, LO or UI) as ``str(dataset.get(keyword, ""))``
    gives it: taken from the bytes read where pydicom has not converted them yet (its
    conversion takes about 20 us a value: 300 CT headers' frame of reference and instance
    UIDs, 0.012 s). Only plain ASCII of one value: pydicom decodes the rest (character sets,
    their escapes, several values)."""
    raw = dataset.get_item(keyword)
    if isinstance(raw, RawDataElement) and isinstance(raw.value, bytes):
        value = raw.value
        if value.isascii() and b"\\" not in value and b"\x1b" not in value:
            return value.decode("ascii").rstrip(" \0")
    return str(dataset.get(keyword, ""))


def unsigned_short(dataset: Dataset, keyword: str, default: int = 0) -> int:
    """The US attribute ``keyword`` (Rows, Columns) as ``int(dataset.get(keyword, default))``
    gives it, from the bytes read where pydicom has not converted them yet (see
    :func:`text_value`)."""
    raw = dataset.get_item(keyword)
    if (
        isinstance(raw, RawDataElement)
        and raw.length == 2
        and raw.is_little_endian
        and raw.VR in ("US", None)
    ):
        return int.from_bytes(raw.value, "little")
    return int(dataset.get(keyword, default))


def float_values(value: Any, count: int, keyword: str) -> npt.NDArray[np.float64]:
    """A multi-valued decimal attribute as (count,) finite floats of magnitude at most
    :data:`MAX_MAGNITUDE`; :class:`BrokenFileError` otherwise."""
    try:
        array = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BrokenFileError("Malformed attribute", f"{keyword}: {error}") from error
    if array.shape != (count,) or not within_magnitude(array):
        raise BrokenFileError(
            "Malformed attribute",
            f"{keyword} must hold {count} numbers of magnitude at most {MAX_MAGNITUDE:g}",
        )
    return array


def direction_cosines(value: Any) -> npt.NDArray[np.float64]:
    """ImageOrientationPatient as (6,) floats: the row and then the column direction, each of
    about unit length, spanning a plane (:data:`DIRECTION_TOLERANCE`,
    :data:`LEAST_CROSS_PRODUCT`); :class:`BrokenFileError` otherwise (say, all zeros)."""
    array = float_values(value, 6, "ImageOrientationPatient")
    _check_directions(tuple(array.tolist()))
    return array


@functools.lru_cache(maxsize=64)
def _check_directions(values: tuple[float, ...]) -> None:
    """:func:`direction_cosines`' check of six floats; cached, since every slice of a series
    carries the same ones and numpy's small-array calls would cost 300 slices 0.01 s."""
    array = np.array(values)
    row, column = array[:3], array[3:]
    lengths = np.array([np.linalg.norm(row), np.linalg.norm(column)])
    spanning = np.linalg.norm(np.cross(row, column)) >= LEAST_CROSS_PRODUCT
    if np.any(np.abs(lengths - 1.0) > DIRECTION_TOLERANCE) or not spanning:
        raise BrokenFileError(
            "Malformed attribute",
            f"ImageOrientationPatient {array.tolist()} is not two unit vectors spanning a plane",
        )


def pixel_spacing(value: Any) -> npt.NDArray[np.float64]:
    """PixelSpacing as (2,) positive floats (row, column spacing in mm);
    :class:`BrokenFileError` otherwise."""
    array = float_values(value, 2, "PixelSpacing")
    if not np.all(array > 0):
        raise BrokenFileError(
            "Malformed attribute", f"PixelSpacing {array.tolist()} must hold 2 positive numbers"
        )
    return array


def float_value(value: Any, keyword: str) -> float:
    """A single decimal attribute's value as a finite float; :class:`BrokenFileError` where it is
    not a number (a DS of "abc" reaches here as text)."""
    return float(float_values([value], 1, keyword)[0])


def code_to_json(item: Dataset | None) -> dict[str, str] | None:
    """A code sequence item as {CodeValue, CodingSchemeDesignator, CodeMeaning}."""
    if item is None:
        return None
    value = (
        text_value(item, "CodeValue")
        or str(item.get("LongCodeValue") or "")
        or str(item.get("URNCodeValue") or "")
    )
    return {
        "CodeValue": value,
        "CodingSchemeDesignator": text_value(item, "CodingSchemeDesignator"),
        "CodeMeaning": text_value(item, "CodeMeaning"),
    }
