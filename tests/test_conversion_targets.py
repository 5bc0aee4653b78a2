"""The conversion entry point of the core (targets, empty segments, what every written object
carries) and copied attributes cut to their VR in the one place that copies them."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from segmesh.conversions import Target, convert, target_of
from segmesh.demo import DemoStudy
from segmesh.dicom.attributes import copy_patient_and_study
from segmesh.dicom.provenance import SOFTWARE_VERSIONS, is_written_by_segmesh
from segmesh.errors import BadRequestError, UnprocessableError
from tests.conversion_checks import labelmap_of


def test_target_parse_and_same_kind(demo_study: DemoStudy) -> None:
    assert Target.parse("LABELMAP") is Target.LABELMAP
    with pytest.raises(BadRequestError, match="use SEG, LABELMAP, RTSTRUCT"):
        Target.parse("seg")
    assert target_of(demo_study.seg) is Target.SEG
    assert target_of(demo_study.rtstruct) is Target.RTSTRUCT
    labelmap = labelmap_of(demo_study.geometry, {1: demo_study.masks[1]})
    with pytest.raises(BadRequestError, match="already RTSTRUCT"):
        convert(demo_study.rtstruct, labelmap, demo_study.images, Target.RTSTRUCT)


@pytest.mark.parametrize("target", [Target.SEG, Target.LABELMAP, Target.RTSTRUCT])
def test_empty_segments_are_left_out_and_outputs_marked(
    demo_study: DemoStudy, target: Target
) -> None:
    empty = np.zeros(demo_study.geometry.shape, dtype=np.bool_)
    labelmap = labelmap_of(demo_study.geometry, {1: demo_study.masks[1], 2: empty})
    source = Dataset()
    # A source of another kind than the target: an RT-STRUCT, or a SEG for RTSTRUCT.
    rtstruct, seg = "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.66.4"
    source.SOPClassUID = seg if target is Target.RTSTRUCT else rtstruct
    source.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    conversion = convert(source, labelmap, demo_study.images, target)
    assert conversion.empty == (2,)
    (written,) = conversion.objects
    assert written.segments == (1,)
    dataset = pydicom.dcmread(io.BytesIO(written.file))
    assert is_written_by_segmesh(dataset)
    assert dataset.SoftwareVersions == SOFTWARE_VERSIONS
    with pytest.raises(UnprocessableError, match="every asked segment is empty"):
        convert(source, labelmap, demo_study.images, target, segments=[2])


def test_copied_study_attributes_are_cut_to_their_vr() -> None:
    source = Dataset()
    source.StudyID = "12345678901234567"  # 17 characters: an SH holds 16 (IBSI's StudyID)
    source.PatientID = "p"
    target = Dataset()
    copy_patient_and_study(source, target)
    assert (target.StudyID, target.PatientID, target.StudyDate) == ("1234567890123456", "p", "")
