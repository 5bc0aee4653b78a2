"""Attribute values read from the bytes pydicom read but has not converted yet
(:func:`text_value`, :func:`unsigned_short`): the same values as pydicom's, and pydicom's own
conversion wherever the bytes are not plain (character sets and their escapes, several
values, values already converted)."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from segmesh.dicom.attributes import code_to_json, text_value, unsigned_short
from tests.test_geometry import image


def read_back(ds: Dataset, implicit: bool = False) -> tuple[Dataset, Dataset]:
    """``ds`` written and read back twice: one to read raw, one for pydicom to convert."""
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    buffer = BytesIO()
    ds.save_as(buffer, implicit_vr=implicit, little_endian=True)
    raw, converted = (dcmread(BytesIO(buffer.getvalue()), force=True) for _ in range(2))
    return raw, converted


@pytest.mark.parametrize("implicit", [False, True])
def test_uids_and_sizes_read_from_the_file_as_pydicom_reads_them(implicit: bool) -> None:
    """UIDs and sizes read from raw bytes (padded UIDs, implicit VR); pydicom what
    they cannot (several values, values already converted, absent ones)."""
    ds = image([0, 0, 0])
    ds.FrameOfReferenceUID = "1.2.3.40"  # even length: no padding
    ds.SOPInstanceUID = "1.2.3.4"  # odd: padded with a null
    raw, converted = read_back(ds, implicit)
    for keyword in ("FrameOfReferenceUID", "SOPInstanceUID"):
        assert isinstance(raw.get_item(keyword), RawDataElement)
        assert text_value(raw, keyword) == str(converted.get(keyword, ""))
    for keyword in ("Rows", "Columns"):
        assert isinstance(raw.get_item(keyword), RawDataElement)
        assert unsigned_short(raw, keyword) == int(converted[keyword].value)
    assert (text_value(raw, "SeriesDescription"), unsigned_short(raw, "BitsStored", 7)) == ("", 7)
    several = raw.get_item("FrameOfReferenceUID")
    assert isinstance(several, RawDataElement)
    raw[several.tag] = several._replace(value=b"1.2\\3.4\0", length=8)
    assert text_value(raw, "FrameOfReferenceUID") == str(["1.2", "3.4"])
    assert text_value(converted, "SOPInstanceUID") == "1.2.3.4"  # converted by now


@pytest.mark.parametrize(
    ("character_set", "label"),
    [
        ("", "Liver  "),
        ("ISO_IR 192", "Lèber"),
        ("ISO_IR 100", "Lèber"),
        ("\\ISO 2022 IR 87", "肝臓"),  # escapes and 7-bit bytes: ASCII, yet not text
        ("ISO 2022 IR 13\\ISO 2022 IR 87", "ﾚﾊﾞｰ"),
    ],
)
def test_texts_and_codes_read_as_pydicom_reads_them(character_set: str, label: str) -> None:
    ds = Dataset()
    if character_set:
        ds.SpecificCharacterSet = character_set.split("\\")
    ds.SegmentLabel = label
    ds.SegmentAlgorithmType = "MANUAL"
    ds.SegmentDescription = "a\\b"  # two values
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "10200004", "SCT", label
    ds.SegmentedPropertyTypeCodeSequence = Sequence([code])
    raw, converted = read_back(ds)
    for keyword in ("SegmentLabel", "SegmentAlgorithmType", "SegmentDescription"):
        assert text_value(raw, keyword) == str(converted.get(keyword, ""))
    assert text_value(raw, "SegmentLabel") == label.rstrip()
    assert code_to_json(raw.SegmentedPropertyTypeCodeSequence[0]) == {
        "CodeValue": "10200004",
        "CodingSchemeDesignator": "SCT",
        "CodeMeaning": label.rstrip(),
    }
