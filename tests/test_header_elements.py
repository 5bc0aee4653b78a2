"""A few elements of a Part-10 header found in its bytes (``segmesh.dicom.header_elements``):
the same elements as pydicom's ``dcmread(specific_tags=...)`` where the file is a plain case,
and None (pydicom reads it) where it is not."""

from __future__ import annotations

from io import BytesIO

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from segmesh.dicom.header_elements import header_elements
from segmesh.dicom.part10 import part10
from segmesh.geometry import image_planes
from segmesh.work.labelmaps import IMAGE_KEYWORDS
from tests.builders import ct_series

TAGS = [int(Tag(keyword)) for keyword in IMAGE_KEYWORDS]


def image() -> Dataset:
    return ct_series((2, 8, 8), (0.7, 0.7, 2.0), origin=(-3.5, 1.25, 40.0))[1]


def with_sequences(ds: Dataset, undefined: bool) -> Dataset:
    """``ds`` with a sequence before the wanted elements (an item holding a nested sequence
    and a wanted tag inside, which must not be taken) and one after them."""
    inner, item, later = Dataset(), Dataset(), Dataset()
    inner.CodeValue = "T-D0050"
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    item.ImagePositionPatient = [9.0, 9.0, 9.0]  # inside a sequence: not the image's
    item.ConceptNameCodeSequence = Sequence([inner])
    later.CodeMeaning = "after"
    ds.ReferencedImageSequence = Sequence([item, Dataset()])  # (0008,1140)
    ds.RequestAttributesSequence = Sequence([later])  # (0040,0275)
    if undefined:
        for keyword in ("ReferencedImageSequence", "RequestAttributesSequence"):
            ds[keyword].is_undefined_length = True
            for each in ds[keyword].value:
                each.is_undefined_length_sequence_item = True
        item["ConceptNameCodeSequence"].is_undefined_length = True
        inner.is_undefined_length_sequence_item = True
    return ds


def encoded(ds: Dataset, syntax: str) -> bytes:
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    return part10(ds)


def assert_as_pydicom(data: bytes) -> Dataset:
    found = header_elements(BytesIO(data), TAGS)
    assert found is not None
    expected = dcmread(BytesIO(data), stop_before_pixels=True, specific_tags=TAGS)
    assert found == expected
    assert sorted(found.keys()) == sorted(expected.keys())
    [plane], [wanted] = image_planes(found), image_planes(expected)
    assert plane.position.tolist() == wanted.position.tolist()
    assert plane.pixel_spacing.tolist() == wanted.pixel_spacing.tolist()
    return found


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
@pytest.mark.parametrize("sequences", [None, "defined", "undefined"])
def test_the_elements_are_pydicoms(syntax: str, sequences: str | None) -> None:
    ds = image()
    if sequences:
        ds = with_sequences(ds, sequences == "undefined")
    found = assert_as_pydicom(encoded(ds, syntax))
    assert found.ImagePositionPatient == [-3.5, 1.25, 42.0]
    assert found.Rows == 8
    assert "ReferencedImageSequence" not in found
    assert "PatientName" not in found


def test_a_long_header_is_read_past_the_first_chunk() -> None:
    ds = image()
    ds.AdditionalPatientHistory = "x" * 10_000  # (0010,21B0): before the position
    ds.PatientComments = "y" * 10_000  # (0010,4000): before the position
    ds.ImageComments = "z" * 10_000  # (0020,4000): after it, before the pixels
    assert_as_pydicom(encoded(ds, ExplicitVRLittleEndian))


@pytest.mark.parametrize(
    "syntax", [ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian], ids=["big", "deflated"]
)
def test_other_encodings_are_left_to_pydicom(syntax: str) -> None:
    assert header_elements(BytesIO(encoded(image(), syntax)), TAGS) is None


def test_an_encapsulated_image_is_read() -> None:
    """Its dataset is explicit VR little endian; reading stops at the pixel data."""
    ds = image()
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.PixelData = encapsulate([b"\0" * 16])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    data = part10(ds)
    found = header_elements(BytesIO(data), TAGS)
    assert found is not None
    assert found.SOPInstanceUID == ds.SOPInstanceUID


def test_broken_and_unusual_files_are_left_to_pydicom() -> None:
    data = encoded(image(), ExplicitVRLittleEndian)
    position = data.index(b"\x20\x00\x32\x00")  # (0020,0032) ImagePositionPatient
    cases = {
        "no preamble": data[128:],
        "cut in an element": data[: position + 10],
        "cut in the meta": data[:140],
        "a wanted element in a sequence": part10(enhanced_like()),
        "an unknown VR": data[: position + 4] + b"QQ" + data[position + 6 :],
    }
    for name, case in cases.items():
        assert header_elements(BytesIO(case), TAGS) is None, name


def enhanced_like() -> Dataset:
    ds = image()
    shared, measures = Dataset(), Dataset()
    measures.PixelSpacing = ds.PixelSpacing
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def test_a_file_ending_before_any_pixel_data_is_read() -> None:
    ds = image()
    del ds.PixelData
    assert_as_pydicom(encoded(ds, ExplicitVRLittleEndian))
