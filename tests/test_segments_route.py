"""GET /instances/{id}/segmesh/segments in a real Orthanc."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from skimage.color import lab2rgb

from segmesh import __version__
from segmesh.sources import describe
from tests.conftest import encode
from tests.dicom_files import part10_bytes, source_files
from tests.orthanc_server import OrthancServer

SOURCE_FILES = source_files()


def expected_cielab_rgb(value: list[int]) -> list[int]:
    """Independent oracle: DICOM-scaled CIELab to sRGB through scikit-image."""
    lab = np.array(
        [value[0] * 100.0 / 65535, value[1] * 255.0 / 65535 - 128, value[2] * 255.0 / 65535 - 128]
    )
    rgb = lab2rgb(lab[np.newaxis, np.newaxis, :])[0, 0]
    return [round(float(c) * 255) for c in np.clip(rgb, 0, 1)]


def referenced_series_uids(dataset: pydicom.Dataset) -> list[str]:
    """The SeriesInstanceUIDs a SEG or RT-STRUCT references, read with pydicom."""
    return [str(i.SeriesInstanceUID) for i in dataset.get("ReferencedSeriesSequence", [])] or [
        str(series.SeriesInstanceUID)
        for frame in dataset.get("ReferencedFrameOfReferenceSequence", [])
        for study in frame.get("RTReferencedStudySequence", [])
        for series in study.get("RTReferencedSeriesSequence", [])
    ]


def assert_series_split(orthanc: OrthancServer, uids: list[str], answer: dict) -> None:
    """Stored referenced series are listed by Orthanc id, the others as missing."""
    stored, missing = [], []
    for uid in uids:
        lookup = orthanc.post("/tools/lookup", data=uid).json()
        found = [match["ID"] for match in lookup if match["Type"] == "Series"]
        stored.extend(found)
        if not found:
            missing.append(uid)
    assert answer["ReferencedSeries"] == stored
    assert answer["MissingSeries"] == missing


def expected_segments(
    dataset: pydicom.Dataset,
) -> list[tuple[int, str, list[int] | None]]:
    """(number, label, colour or None where the file recommends none) read with pydicom."""
    if "SegmentSequence" in dataset:
        return [
            (
                int(item.SegmentNumber),
                str(item.SegmentLabel),
                expected_cielab_rgb(list(item.RecommendedDisplayCIELabValue))
                if "RecommendedDisplayCIELabValue" in item
                else None,
            )
            for item in dataset.SegmentSequence
        ]
    colors = {
        int(item.ReferencedROINumber): [int(c) for c in item.ROIDisplayColor]
        for item in dataset.ROIContourSequence
        if "ROIDisplayColor" in item
    }
    return [
        (int(item.ROINumber), str(item.ROIName), colors.get(int(item.ROINumber)))
        for item in dataset.StructureSetROISequence
    ]


@pytest.mark.skipif(not SOURCE_FILES, reason="shared/testdata is absent")
@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: str(p).split("testdata/")[-1])
def test_every_testdata_source_is_listed(orthanc: OrthancServer, path: Path) -> None:
    dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    instance_id = orthanc.upload(part10_bytes(path))
    response = orthanc.get(f"/instances/{instance_id}/segmesh/segments")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Kind"] == ("SEG" if "SegmentSequence" in dataset else "RTSTRUCT")
    assert answer["SOPClassUID"] == dataset.SOPClassUID
    listed = {s["Number"]: s for s in answer["Segments"]}
    listed.update({s["Number"]: s for s in answer["Skipped"]})
    expected = expected_segments(dataset)
    assert sorted(listed) == sorted(number for number, _, _ in expected)
    for number, label, color in expected:
        assert listed[number]["Label"] == label
        if color is not None and "Color" in listed[number]:
            assert np.max(np.abs(np.array(listed[number]["Color"]) - color)) <= 1, (number, color)
    for segment in answer["Segments"]:
        assert len(segment["Color"]) == 3
        assert all(0 <= c <= 255 for c in segment["Color"])
    if answer["Kind"] == "SEG":
        # A LABELMAP's background (segment 0) is listed apart, under Skipped.
        items = {int(item.SegmentNumber): item for item in dataset.SegmentSequence}
        assert [s["Number"] for s in answer["Skipped"]] == [n for n in items if n == 0]
        for segment in answer["Segments"]:
            item = items[segment["Number"]]
            category = item.SegmentedPropertyCategoryCodeSequence[0]
            assert segment["Category"]["CodeValue"] == category.CodeValue
            assert (
                segment["Type"]["CodeMeaning"]
                == item.SegmentedPropertyTypeCodeSequence[0].CodeMeaning
            )
    # Each referenced series is either stored here (listed by the Orthanc id that Orthanc's own
    # lookup finds) or named as missing.
    assert_series_split(orthanc, referenced_series_uids(dataset), answer)


def test_demo_seg_and_rtstruct(orthanc: OrthancServer, demo_ids: dict[str, str]) -> None:
    seg = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/segments").json()
    rtstruct = orthanc.get(f"/instances/{demo_ids['RTSTRUCT']}/segmesh/segments").json()
    assert seg["Kind"] == "SEG"
    assert rtstruct["Kind"] == "RTSTRUCT"
    for answer in (seg, rtstruct):
        assert answer["ReferencedSeries"] == [demo_ids["CTSeries"]]
        assert answer["MissingSeries"] == []
        assert [s["Label"] for s in answer["Segments"]] == [
            "Liver",
            "Spleen",
            "Left kidney",
            "Right kidney",
            "Vertebra",
            "Aorta",
        ]
    # Layers are decided by a conversion (overlaps), so the description names none.
    assert all("Layer" not in s for s in seg["Segments"] + rtstruct["Segments"])
    assert rtstruct["Segments"][0]["Color"] == [221, 130, 101]
    assert rtstruct["Segments"][0]["InterpretedType"] == "ORGAN"
    # The SEG stores the same colour as CIELab: the round trip is within one step.
    assert np.max(np.abs(np.array(seg["Segments"][0]["Color"]) - [221, 130, 101])) <= 1
    assert seg["FrameOfReferenceUID"] == rtstruct["FrameOfReferenceUID"]


def test_unknown_instance_is_404(orthanc: OrthancServer) -> None:
    response = orthanc.get("/instances/no-such-instance/segmesh/segments")
    assert response.status_code == 404
    assert response.json()["Error"] == "Unknown instance"


def test_image_instance_is_415(orthanc: OrthancServer, demo_study, demo_ids) -> None:
    image_id = orthanc.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"][0]
    response = orthanc.get(f"/instances/{image_id}/segmesh/segments")
    assert response.status_code == 415
    body = response.json()
    assert body["Error"] == "Not a DICOM SEG or RT-STRUCT"
    assert "1.2.840.10008.5.1.4.1.1.2" in body["Details"]


def test_seg_without_segment_sequence_is_400(orthanc: OrthancServer, demo_study) -> None:
    # A deep copy: Dataset.copy() is shallow and would break the session-wide demo SEG.
    broken = copy.deepcopy(demo_study.seg)
    del broken.SegmentSequence
    broken.SOPInstanceUID = broken.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.8.1"
    # A series of its own, so that the demo SEG's series keeps only the demo SEG.
    broken.SeriesInstanceUID = "1.2.3.4.5.6.7.8.2"
    response = orthanc.get(f"/instances/{orthanc.upload(encode(broken))}/segmesh/segments")
    assert response.status_code == 400
    assert response.json() == {
        "Error": "Malformed SEG",
        "Details": "SegmentSequence is missing or empty",
    }


def test_an_instance_stored_anew_is_described_anew(orthanc: OrthancServer, demo_study) -> None:
    """The descriptions are kept per file: the same UIDs stored again (another file, the same
    Orthanc id) are read again, also where Orthanc's DELETED change has not yet reached the
    plugin."""
    seg = copy.deepcopy(demo_study.seg)
    seg.SOPInstanceUID = seg.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.8.3"
    seg.SeriesInstanceUID = "1.2.3.4.5.6.7.8.4"
    seg_id = orthanc.upload(encode(seg))
    labels = [
        segment["Label"]
        for segment in orthanc.get(f"/instances/{seg_id}/segmesh/segments").json()["Segments"]
    ]
    assert labels == [str(item.SegmentLabel) for item in seg.SegmentSequence]
    assert orthanc.session.delete(f"{orthanc.url}/instances/{seg_id}", timeout=60).ok
    assert orthanc.get(f"/instances/{seg_id}/segmesh/segments").status_code == 404
    seg.SegmentSequence[0].SegmentLabel = "Relabelled"
    assert orthanc.upload(encode(seg)) == seg_id
    answer = orthanc.get(f"/instances/{seg_id}/segmesh/segments").json()
    assert answer["Segments"][0]["Label"] == "Relabelled"
    assert [segment["Label"] for segment in answer["Segments"][1:]] == labels[1:]


def test_wrong_method_is_405(orthanc: OrthancServer, demo_ids) -> None:
    response = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/segments", data=b"")
    assert response.status_code == 405


def test_bad_input_logs_one_line_not_a_traceback(orthanc: OrthancServer) -> None:
    orthanc.get("/instances/no-such-instance/segmesh/segments")
    assert "Traceback" not in orthanc.log()
    assert "segmesh: GET /instances/no-such-instance/segmesh/segments" in orthanc.log()


def test_plugin_logs_version_and_decoders(orthanc: OrthancServer) -> None:
    log = orthanc.log()
    assert f"segmesh {__version__} loaded" in log
    assert "decoders available: RLE Lossless" in log


def test_the_answer_text_is_the_descriptions_json(demo_study) -> None:
    """The route's text, its segments encoded once, reads as :meth:`to_json` does."""
    for source in (demo_study.seg, demo_study.rtstruct):
        description = describe(source)
        for ids, missing in (([], []), (["a", "b"], ["1.2.3"])):
            text = description.to_json_text(ids, missing)
            assert json.loads(text) == description.to_json(ids, missing)
            assert list(json.loads(text)) == list(description.to_json(ids, missing))
