"""Segment codes across conversions: RTROIInterpretedType <-> SEG property category and type.

A SEG segment needs a SegmentedPropertyCategoryCodeSequence and a
SegmentedPropertyTypeCodeSequence; an RT-STRUCT ROI carries only an RTROIInterpretedType. The
mapping takes a SNOMED CT concept where one fits (pydicom's code dictionaries), else the generic
Tissue / Tissue that dcmqi and 3D Slicer use for segments of unknown meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

#: SCT 49755003; pydicom names it MorphologicallyAbnormalStructure.
MORPHOLOGICALLY_ALTERED = Code("49755003", "SCT", "Morphologically Altered Structure")

#: RTROIInterpretedType -> (category, type).
INTERPRETED_TYPE_CODES: dict[str, tuple[Code, Code]] = {
    "ORGAN": (codes.SCT.AnatomicalStructure, codes.SCT.Organ),
    "EXTERNAL": (codes.SCT.AnatomicalStructure, codes.SCT.EntireBody),
    "CAVITY": (codes.SCT.AnatomicalStructure, codes.SCT.BodyCavity),
    "PTV": (MORPHOLOGICALLY_ALTERED, codes.SCT.PlanningTargetVolume),
    "CTV": (MORPHOLOGICALLY_ALTERED, codes.SCT.ClinicalTargetVolume),
    "GTV": (MORPHOLOGICALLY_ALTERED, codes.SCT.GrossTumorVolume),
    "AVOIDANCE": (codes.SCT.SpatialAndRelationalConcept, codes.DCM.AvoidanceVolume),
}

#: The fallback where nothing better is known.
GENERIC_CODES: tuple[Code, Code] = (codes.SCT.Tissue, codes.SCT.Tissue)

#: SEG property type CodeValue -> RTROIInterpretedType, for SEG -> RT-STRUCT.
_TYPE_TO_INTERPRETED = {
    type_code.value: interpreted
    for interpreted, (_category, type_code) in INTERPRETED_TYPE_CODES.items()
    if interpreted != "ORGAN"
}
#: The category many tools (TotalSegmentator among them) write for anatomy. SNOMED CT names
#: 123037004 Body structure; CID 7150's Anatomical Structure, which segmesh writes, is 91723000.
ANATOMICAL_STRUCTURE_123037004 = Code("123037004", "SCT", "Anatomical Structure")

#: Categories whose segments are organs for an RT-STRUCT, by CodeValue.
_ORGAN_CATEGORIES = frozenset(
    code.value
    for code in (codes.SCT.AnatomicalStructure, ANATOMICAL_STRUCTURE_123037004, codes.SCT.Organ)
)


def _concept(code: Mapping[str, Any] | None) -> CodedConcept | None:
    """A {CodeValue, CodingSchemeDesignator, CodeMeaning} JSON code as a CodedConcept."""
    if not code or not code.get("CodeValue") or not code.get("CodingSchemeDesignator"):
        return None
    return CodedConcept(
        str(code["CodeValue"]),
        str(code["CodingSchemeDesignator"]),
        str(code.get("CodeMeaning") or code["CodeValue"]),
    )


def _as_concept(code: Code) -> CodedConcept:
    return CodedConcept(code.value, code.scheme_designator, code.meaning)


def segment_codes(
    attributes: Mapping[str, Any],
) -> tuple[CodedConcept, CodedConcept, CodedConcept | None]:
    """(category, type, type modifier or None) of a segment from its attributes: the SEG's own
    codes where it had them, else from an RT-STRUCT ROI's InterpretedType, else generic."""
    category = _concept(attributes.get("Category"))
    property_type = _concept(attributes.get("Type"))
    if category is not None and property_type is not None:
        return category, property_type, _concept(attributes.get("TypeModifier"))
    interpreted = str(attributes.get("InterpretedType", "")).strip().upper()
    category_code, type_code = INTERPRETED_TYPE_CODES.get(interpreted, GENERIC_CODES)
    return _as_concept(category_code), _as_concept(type_code), None


def interpreted_type(attributes: Mapping[str, Any]) -> str:
    """The RTROIInterpretedType of a segment: an RT-STRUCT ROI's own, else one from a SEG's
    codes where they say so, else empty (RTROIInterpretedType is type 2)."""
    own = str(attributes.get("InterpretedType", "")).strip()
    if own:
        return own
    type_code = attributes.get("Type") or {}
    by_type = _TYPE_TO_INTERPRETED.get(str(type_code.get("CodeValue", "")))
    if by_type is not None:
        return by_type
    category = attributes.get("Category") or {}
    if str(category.get("CodeValue", "")) in _ORGAN_CATEGORIES:
        return "ORGAN"
    return ""
