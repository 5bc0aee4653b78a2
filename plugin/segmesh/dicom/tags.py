"""Attributes a request's ``Tags`` may set on an object segmesh writes, and those it may not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.valuerep import validate_value

from ..errors import BadRequestError
from .attributes import PATIENT_AND_STUDY_KEYWORDS

#: Who the patient is and which study this is: a model belongs to its source's patient and
#: study, so no request may move it to another (copied from the source, never set).
IDENTITY_KEYWORDS = frozenset(
    {
        *PATIENT_AND_STUDY_KEYWORDS,
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "OtherPatientNames",
        "PatientBirthTime",
        "PatientBirthName",
        "PatientMotherBirthName",
        "OtherStudyNumbers",
        "StudyDate",
        "StudyTime",
    }
)

#: Attributes a request's ``Tags`` may not override: identity and structure of the instance,
#: and Manufacturer, which marks segmesh's outputs (:mod:`.provenance`).
PROTECTED_KEYWORDS = IDENTITY_KEYWORDS | frozenset(
    {
        "Manufacturer",
        "StudyInstanceUID",
        "SOPClassUID",
        "SOPInstanceUID",
        "SeriesInstanceUID",
        "FrameOfReferenceUID",
        "Modality",
        "MIMETypeOfEncapsulatedDocument",
        "EncapsulatedDocument",
        "EncapsulatedDocumentLength",
        "ModelGroupUID",
        "SpecificCharacterSet",
    }
)


#: Value representations a request's ``Tags`` may set: text, dates, times and decimal strings.
SETTABLE_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UR", "UT"}
)


def apply_tags(dataset: Dataset, tags: Mapping[str, Any]) -> None:
    """Override text and number attributes by keyword; 400 for unknown or protected keywords,
    other value representations, and values their VR does not allow."""
    for keyword, value in tags.items():
        if tag_for_keyword(keyword) is None:
            raise BadRequestError("Unknown tag", f"{keyword!r} is not a DICOM keyword")
        vr = dictionary_VR(keyword)
        if keyword in PROTECTED_KEYWORDS or vr not in SETTABLE_VRS:
            raise BadRequestError("Protected tag", f"{keyword} ({vr}) cannot be overridden")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise BadRequestError("Bad tag value", f"{keyword}: give a string or a number")
        text = str(value)
        try:
            # Strict: pydicom would otherwise only warn and write an invalid value.
            validate_value(vr, text, config.RAISE)
        except ValueError as error:
            raise BadRequestError("Bad tag value", f"{keyword}: {error}") from error
        setattr(dataset, keyword, text)
