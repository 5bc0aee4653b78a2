"""Careful readers and writers of DICOM attributes shared by the core modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from ..errors import BrokenFileError
from .vr_limits import clip_to_vr

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


def copy_patient_and_study(source: Dataset, target: Dataset) -> None:
    """Copy the patient and study attributes, empty where the source has none, cut to what
    their VR allows (:func:`.vr_limits.clip_to_vr`): every object segmesh writes copies them
    here, so none inherits a source's overlong value."""
    for keyword in PATIENT_AND_STUDY_KEYWORDS:
        setattr(target, keyword, source.get(keyword, ""))
    clip_to_vr(target, PATIENT_AND_STUDY_KEYWORDS)


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


def float_values(value: Any, count: int, keyword: str) -> npt.NDArray[np.float64]:
    """A multi-valued decimal attribute as (count,) floats; :class:`BrokenFileError` otherwise."""
    try:
        array = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise BrokenFileError("Malformed attribute", f"{keyword}: {error}") from error
    if array.shape != (count,) or not np.all(np.isfinite(array)):
        raise BrokenFileError("Malformed attribute", f"{keyword} must hold {count} numbers")
    return array


def code_to_json(item: Dataset | None) -> dict[str, str] | None:
    """A code sequence item as {CodeValue, CodingSchemeDesignator, CodeMeaning}."""
    if item is None:
        return None
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
    return {
        "CodeValue": str(value),
        "CodingSchemeDesignator": str(item.get("CodingSchemeDesignator", "")),
        "CodeMeaning": str(item.get("CodeMeaning", "")),
    }
