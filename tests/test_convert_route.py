"""POST /instances/{id}/segmesh/convert in a real Orthanc: round trips through REST (RT-STRUCT
-> SEG exact, SEG -> RT-STRUCT by Dice, SEG -> LABELMAP exact), stored objects valid
(dciodvfy), repeats storing nothing new, and JSON errors for bad requests."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset

from segmesh.demo import DemoStudy
from segmesh.dicom.provenance import is_written_by_segmesh
from segmesh.seg.writer import write_seg
from tests.conftest import encode
from tests.conversion_checks import dice, labelmap_of, validation_errors
from tests.orthanc_server import OrthancServer

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


def labels_of(orthanc: OrthancServer, instance_id: str) -> tuple[npt.NDArray[Any], list[Any]]:
    """(layers, slices, rows, columns) labels and the segments of an instance's npz."""
    response = orthanc.get(f"/instances/{instance_id}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as archive:
        return archive["labels"], json.loads(str(archive["segments"]))


def masks_of(orthanc: OrthancServer, instance_id: str) -> dict[str, npt.NDArray[np.bool_]]:
    """Each segment's (slices, rows, columns) mask by label."""
    labels, segments = labels_of(orthanc, instance_id)
    return {s["Label"]: labels[s["Layer"]] == s["Value"] for s in segments}


def convert(orthanc: OrthancServer, instance_id: str, **body: Any) -> dict[str, Any]:
    response = orthanc.post(f"/instances/{instance_id}/segmesh/convert", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def check_stored(orthanc: OrthancServer, answer: dict[str, Any], source_id: str) -> None:
    """Stored beside the source: same study and frame of reference, a new series, segmesh's
    mark, and no dciodvfy error (for LABELMAP, none but Supplement 243's known differences)."""
    source = orthanc.get(f"/instances/{source_id}/simplified-tags").json()
    series = orthanc.get(f"/series/{answer['Series']}").json()
    assert series["ID"] != orthanc.get(f"/instances/{source_id}").json()["ParentSeries"]
    # Orthanc keeps Manufacturer among a series' main tags: automatic runs can skip by it.
    assert is_written_by_segmesh(series["MainDicomTags"])
    assert sorted(series["Instances"]) == sorted(i["ID"] for i in answer["Instances"])
    for instance in answer["Instances"]:
        data = orthanc.get(f"/instances/{instance['ID']}/file").content
        dataset = pydicom.dcmread(io.BytesIO(data))
        assert dataset.SOPClassUID == instance["SOPClassUID"]
        assert dataset.StudyInstanceUID == source["StudyInstanceUID"]
        assert dataset.FrameOfReferenceUID == source["FrameOfReferenceUID"] or (
            dataset.FrameOfReferenceUID
            == source["ReferencedFrameOfReferenceSequence"][0]["FrameOfReferenceUID"]
        )
        assert dataset.SoftwareVersions.startswith("segmesh ")
        assert validation_errors(dataset) == []


def test_demo_rtstruct_to_seg_is_exact(orthanc: OrthancServer, demo_ids: dict[str, str]) -> None:
    answer = convert(orthanc, demo_ids["RTSTRUCT"], To="SEG")
    (instance,) = answer["Instances"]
    assert instance["SOPClassUID"] == SEG_CLASS
    assert instance["Segments"] == [1, 2, 3, 4, 5, 6]
    assert answer["Skipped"] == []
    check_stored(orthanc, answer, demo_ids["RTSTRUCT"])
    source_labels, source_segments = labels_of(orthanc, demo_ids["RTSTRUCT"])
    labels, segments = labels_of(orthanc, instance["ID"])
    np.testing.assert_array_equal(labels, source_labels)
    assert [(s["Label"], s["Color"]) for s in segments] == [
        (s["Label"], s["Color"]) for s in source_segments
    ]


def test_demo_seg_to_rtstruct_keeps_the_organs(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    answer = convert(orthanc, demo_ids["SEG"], To="RTSTRUCT")
    (instance,) = answer["Instances"]
    assert instance["SOPClassUID"] == RTSTRUCT_CLASS
    check_stored(orthanc, answer, demo_ids["SEG"])
    source, converted = masks_of(orthanc, demo_ids["SEG"]), masks_of(orthanc, instance["ID"])
    assert converted.keys() == source.keys()
    voxel_ml = float(np.prod(demo_study.geometry.spacing)) / 1000.0
    for label, mask in source.items():
        assert dice(converted[label], mask) >= 0.99, label
        volume, expected = converted[label].sum() * voxel_ml, mask.sum() * voxel_ml
        assert abs(volume - expected) <= 0.01 * expected, (label, volume, expected)


def test_demo_seg_to_labelmap_and_repeat(orthanc: OrthancServer, demo_ids: dict[str, str]) -> None:
    answer = convert(orthanc, demo_ids["SEG"], To="LABELMAP", Tags={"SeriesDescription": "LM"})
    (instance,) = answer["Instances"]
    assert (instance["SOPClassUID"], instance["Status"]) == (LABELMAP_CLASS, "Success")
    check_stored(orthanc, answer, demo_ids["SEG"])
    tags = orthanc.get(f"/instances/{instance['ID']}/simplified-tags").json()
    assert tags["SeriesDescription"] == "LM"
    np.testing.assert_array_equal(
        labels_of(orthanc, instance["ID"])[0], labels_of(orthanc, demo_ids["SEG"])[0]
    )

    study = orthanc.get(f"/instances/{demo_ids['SEG']}/study").json()["ID"]
    before = orthanc.get(f"/studies/{study}/instances").json()
    again = convert(orthanc, demo_ids["SEG"], To="LABELMAP", Tags={"SeriesDescription": "LM"})
    assert again["Series"] == answer["Series"]
    assert [(i["ID"], i["Status"]) for i in again["Instances"]] == [
        (instance["ID"], "AlreadyStored")
    ]
    assert len(orthanc.get(f"/studies/{study}/instances").json()) == len(before)


@pytest.fixture(scope="module")
def overlapping_seg(orthanc_server: OrthancServer, demo_study: DemoStudy) -> str:
    """A BINARY SEG on the demo CT whose "Box" overlaps the liver (segment 1)."""
    box = np.zeros(demo_study.geometry.shape, dtype=np.bool_)
    box[10:30, 20:80, 20:90] = True
    masks = {1: demo_study.masks[1], 2: box, 3: demo_study.masks[3] & ~box}
    labelmap = labelmap_of(demo_study.geometry, masks)
    source = Dataset()
    source.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    source.SeriesDescription = "Overlapping"
    (seg,) = write_seg(source, labelmap, demo_study.images, "BINARY")
    return orthanc_server.upload(encode(seg))


def test_overlaps_into_one_labelmap_need_split(
    orthanc: OrthancServer, overlapping_seg: str
) -> None:
    response = orthanc.post(
        f"/instances/{overlapping_seg}/segmesh/convert", json={"To": "LABELMAP"}
    )
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["Error"] == "Overlapping segments"
    assert "segment 2 (Segment 2) and segment 1 (Segment 1)" in error["Details"]

    answer = convert(orthanc, overlapping_seg, To="LABELMAP", Split=True)
    assert len(answer["Instances"]) == 2
    assert sorted(n for i in answer["Instances"] for n in i["Segments"]) == [1, 2, 3]
    check_stored(orthanc, answer, overlapping_seg)
    source = masks_of(orthanc, overlapping_seg)
    for instance in answer["Instances"]:
        for label, mask in masks_of(orthanc, instance["ID"]).items():
            np.testing.assert_array_equal(mask, source[label])


@pytest.mark.parametrize(
    ("source", "body", "status", "error"),
    [
        ("SEG", {"To": "NIFTI"}, 400, "Bad parameter To"),
        ("SEG", {}, 400, "Missing parameter To"),
        ("SEG", {"To": "RTSTRUCT", "Segments": [99]}, 400, "Unknown segment numbers"),
        ("SEG", {"To": "RTSTRUCT", "Segments": []}, 400, "Bad parameter Segments"),
        ("SEG", {"To": "LABELMAP", "Split": "yes"}, 400, "Bad parameter Split"),
        ("SEG", {"To": "LABELMAP", "Tags": {"SOPInstanceUID": "1.2"}}, 400, "Protected tag"),
        ("SEG", {"To": "LABELMAP", "Tags": {"Manufacturer": "x"}}, 400, "Protected tag"),
        ("SEG", {"To": "LABELMAP", "Segmnets": [1]}, 400, "Unknown parameters"),
        ("SEG", {"To": "SEG"}, 400, "Same kind"),
        ("RTSTRUCT", {"To": "RTSTRUCT"}, 400, "Same kind"),
        ("CT", {"To": "SEG"}, 415, "Not a DICOM SEG or RT-STRUCT"),
        ("nothing", {"To": "SEG"}, 404, "Unknown instance"),
    ],
)
def test_bad_requests_answer_json_errors(
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    source: str,
    body: dict[str, Any],
    status: int,
    error: str,
) -> None:
    instance = {
        "CT": orthanc.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"][0],
        "nothing": "no-such-instance",
    }.get(source) or demo_ids[source]
    response = orthanc.post(f"/instances/{instance}/segmesh/convert", json=body)
    assert response.status_code == status, response.text
    assert response.json()["Error"] == error
    response = orthanc.get(f"/instances/{instance}/segmesh/convert")
    assert response.status_code == 405
