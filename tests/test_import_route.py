"""POST /series/{id}/segmesh/import in a real Orthanc: a label map posted as a bare body, as
multipart with fields or a dcmqi template, or as a job; stored as SEG, LABELMAP SEG and
RT-STRUCT in the series' study, read back voxel for voxel through REST; a repeat stores nothing
new; bad files and grids are 4xx JSON and store nothing; the IBSI masks beside their series.

These tests use their own Orthanc: they upload image series that other tests expect absent.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
import requests

from segmesh.geometry import geometry_from_images
from tests import label_files
from tests.builders import ct_series, ellipsoid_labels, study_dataset
from tests.conftest import encode
from tests.conversion_checks import dice, validation_errors
from tests.dicom_files import part10_bytes
from tests.orthanc_server import OrthancServer
from tests.test_automatic import auto_server, wait_for_run
from tests.test_jobs import wait
from tests.test_rtstruct_route import IBSI_CASES, IBSI_IDS, nifti_on_grid
from tests.testdata import testdata as shared

SEG_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
RTSTRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
SHAPE = (10, 24, 20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(tmp_path_factory.mktemp("orthanc-import"))
    orthanc.start()
    yield orthanc
    orthanc.stop()
    assert "Traceback" not in orthanc.log(), "Orthanc logged a Python traceback"


@pytest.fixture(scope="module")
def ct(server: OrthancServer) -> dict[str, Any]:
    """A generated CT stored in Orthanc, with a three-label map on its grid."""
    images = ct_series(SHAPE, (0.9, 0.8, 2.0), origin=(-40.0, 12.0, -30.0), study=study_dataset())
    ids = [server.upload(encode(image)) for image in images]
    series_id = server.get(f"/instances/{ids[0]}").json()["ParentSeries"]
    labels = ellipsoid_labels(
        SHAPE,
        [[5, 6, 3], [13, 15, 6], [10, 10, 5]],
        [[3.0, 4.0, 2.0], [5.0, 6.0, 3.0], [2.0, 2.0, 1.5]],
    )
    affine = geometry_from_images(images)[0].affine
    return {"images": images, "series": series_id, "labels": labels, "affine": affine}


def study_instances(server: OrthancServer, series_id: str) -> list[str]:
    study = server.get(f"/series/{series_id}").json()["ParentStudy"]
    return sorted(server.get(f"/studies/{study}/instances").json(), key=lambda i: i["ID"])


def labels_of(server: OrthancServer, instance: dict[str, Any]) -> npt.NDArray[np.int64]:
    """A stored object's labels [k, j, i] as the file's values, through the label-map route."""
    response = server.get(f"/instances/{instance['ID']}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as archive:
        layers, segments = archive["labels"], json.loads(str(archive["segments"]))
    values = np.zeros(layers.shape[1:], dtype=np.int64)
    renumbered = instance["SOPClassUID"] == SEG_CLASS
    for index, segment in enumerate(segments):
        value = instance["Segments"][index] if renumbered else segment["Number"]
        values[layers[segment["Layer"]] == segment["Value"]] = value
    return values


def related(files: dict[str, Any]) -> dict[str, Any]:
    """``requests`` arguments of a multipart/related body of ``files`` (as ``files=`` takes
    them): what ``curl -H 'Content-Type: multipart/related' -F ...`` sends."""
    prepared = requests.Request("POST", "http://x/", files=files).prepare()
    content_type = str(prepared.headers["Content-Type"])
    return {
        "data": prepared.body,
        "headers": {
            "Content-Type": content_type.replace("multipart/form-data", "multipart/related")
        },
    }


def stored(server: OrthancServer, instance_id: str) -> pydicom.Dataset:
    data = server.get(f"/instances/{instance_id}/file").content
    return pydicom.dcmread(io.BytesIO(data))


def test_the_smallest_call_stores_a_binary_seg_on_the_series(
    server: OrthancServer, ct: dict[str, Any]
) -> None:
    data = label_files.nifti(ct["labels"], ct["affine"])
    before = len(study_instances(server, ct["series"]))
    response = server.post(f"/series/{ct['series']}/segmesh/import", data=data)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Grid"] == {"Match": "Same", "Axes": ["+i", "+j", "+k"], "Offset": [0, 0, 0]}
    assert answer["File"] == "NIfTI-1"
    assert answer["Skipped"] == []
    (instance,) = answer["Instances"]
    assert instance["SOPClassUID"] == SEG_CLASS
    assert instance["Series"] == answer["Series"]
    assert instance["Segments"] == [1, 2, 3]
    assert np.array_equal(labels_of(server, instance), ct["labels"])
    dataset = stored(server, instance["ID"])
    image = ct["images"][0]
    assert dataset.StudyInstanceUID == image.StudyInstanceUID
    assert dataset.PatientID == image.PatientID
    assert dataset.FrameOfReferenceUID == image.FrameOfReferenceUID
    assert dataset.ReferencedSeriesSequence[0].SeriesInstanceUID == image.SeriesInstanceUID
    assert [item.SegmentLabel for item in dataset.SegmentSequence] == [
        "Segment 1",
        "Segment 2",
        "Segment 3",
    ]
    assert validation_errors(dataset) == []
    # Idempotent: the same file again stores nothing new.
    again = server.post(f"/series/{ct['series']}/segmesh/import", data=data).json()
    assert [i["ID"] for i in again["Instances"]] == [instance["ID"]]
    assert again["Instances"][0]["Status"] == "AlreadyStored"
    assert len(study_instances(server, ct["series"])) == before + 1


def test_multipart_with_fields_writes_every_target_in_one_call(
    server: OrthancServer, ct: dict[str, Any]
) -> None:
    """A flipped and permuted .seg.nrrd with names, to SEG, RLE LABELMAP and RT-STRUCT."""
    moved, affine = label_files.permuted(
        *label_files.flipped(ct["labels"], ct["affine"], 0), (1, 0, 2)
    )
    segments = [
        {"Name": name, "Layer": 0, "LabelValue": value, "Color": (0.5, 0.25, 1.0)}
        for value, name in ((1, "Liver"), (2, "Spleen"), (3, "Kidney"))
    ]
    data = label_files.seg_nrrd(moved[np.newaxis], affine, segments)
    fields = {
        "To": ["SEG", "LABELMAP", "RTSTRUCT"],
        "Compression": "RLE",
        "Algorithm": {"Name": "nnU-Net", "Version": "2.5"},
        "Segments": [{"Value": 3, "Label": "Left kidney"}, {"Value": 1}, {"Value": 2}],
    }
    parts = {
        "file": ("labels.seg.nrrd", data, "application/octet-stream"),
        "fields": (None, json.dumps(fields), "application/json"),
    }
    before = study_instances(server, ct["series"])
    # Orthanc hands a form's parts over one by one (and answers the form itself, whatever the
    # plugin says): each part is refused, so nothing is stored from the file without its fields.
    server.post(f"/series/{ct['series']}/segmesh/import", files=parts)
    assert study_instances(server, ct["series"]) == before
    assert server.log().count("multipart/form-data is split by Orthanc") == 2
    response = server.post(f"/series/{ct['series']}/segmesh/import", **related(parts))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Grid"]["Match"] == "Reoriented"
    assert answer["Grid"]["Axes"] == ["+j", "-i", "+k"]
    assert answer["File"] == ".seg.nrrd"
    seg, labelmap_seg, rtstruct = answer["Instances"]
    assert [i["SOPClassUID"] for i in answer["Instances"]] == [
        SEG_CLASS,
        LABELMAP_CLASS,
        RTSTRUCT_CLASS,
    ]
    assert len({i["Series"] for i in answer["Instances"]}) == 3
    for instance in (seg, labelmap_seg):
        assert np.array_equal(labels_of(server, instance), ct["labels"])
    got = labels_of(server, rtstruct)
    for value in (1, 2, 3):
        assert dice(got == value, ct["labels"] == value) >= 0.99
    assert stored(server, labelmap_seg["ID"]).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5"
    dataset = stored(server, seg["ID"])
    names = {int(i.SegmentNumber): i.SegmentLabel for i in dataset.SegmentSequence}
    assert names == {1: "Liver", 2: "Spleen", 3: "Left kidney"}
    assert {i.SegmentAlgorithmName for i in dataset.SegmentSequence} == {"nnU-Net"}
    structure_set = stored(server, rtstruct["ID"])
    assert {r.ROIGenerationAlgorithm for r in structure_set.StructureSetROISequence} == {
        "AUTOMATIC"
    }
    for instance in answer["Instances"]:
        assert validation_errors(stored(server, instance["ID"])) == []


def fields_header(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields of a request whose body is the file alone."""
    return {"headers": {"X-SegMesh-Fields": json.dumps(fields)}}


def test_fields_in_a_header_and_a_dcmqi_template_part(
    server: OrthancServer, ct: dict[str, Any]
) -> None:
    data = label_files.npz(ct["labels"], ct["affine"])
    response = server.post(
        f"/series/{ct['series']}/segmesh/import",
        data=data,
        **fields_header(
            {
                "To": "RTSTRUCT",
                "Segments": {"1": "Liver", "2": "Spleen"},
                "Algorithm": {"Type": "SEMIAUTOMATIC"},
            }
        ),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Skipped"] == [
        {"Segment": 3, "Label": "Segment 3", "Reason": "not among the Segments asked for"}
    ]
    structure_set = stored(server, answer["Instances"][0]["ID"])
    assert [r.ROIName for r in structure_set.StructureSetROISequence] == ["Liver", "Spleen"]
    template = {
        "SeriesDescription": "From a dcmqi template",
        "segmentAttributes": [
            [
                {
                    "labelID": 2,
                    "SegmentDescription": "Spleen",
                    "SegmentAlgorithmType": "MANUAL",
                    "SegmentedPropertyCategoryCodeSequence": {
                        "CodeValue": "123037004",
                        "CodingSchemeDesignator": "SCT",
                        "CodeMeaning": "Anatomical Structure",
                    },
                    "SegmentedPropertyTypeCodeSequence": {
                        "CodeValue": "78961009",
                        "CodingSchemeDesignator": "SCT",
                        "CodeMeaning": "Spleen",
                    },
                    "recommendedDisplayRGBValue": [157, 108, 162],
                }
            ]
        ],
    }
    response = server.post(
        f"/series/{ct['series']}/segmesh/import",
        **related({"file": ("labels.npz", data), "metadata": ("meta.json", json.dumps(template))}),
    )
    assert response.status_code == 200, response.text
    dataset = stored(server, response.json()["Instances"][0]["ID"])
    assert dataset.SeriesDescription == "From a dcmqi template"
    (item,) = dataset.SegmentSequence
    assert item.SegmentedPropertyTypeCodeSequence[0].CodeValue == "78961009"
    assert validation_errors(dataset) == []


def test_an_asynchronous_import_is_a_job_with_the_same_answer(
    server: OrthancServer, ct: dict[str, Any]
) -> None:
    data = label_files.nifti(ct["labels"], ct["affine"], version=2)
    response = server.post(
        f"/series/{ct['series']}/segmesh/import",
        data=data,
        **fields_header({"Asynchronous": True, "To": "LABELMAP"}),
    )
    assert response.status_code == 202, response.text
    record = wait(server, response.json()["Path"])
    assert record["State"] == "Success", record
    assert record["Kind"] == "LabelMapImport"
    assert record["Source"] == {"Level": "series", "ID": ct["series"]}
    # The posted file is kept with the job, and shown by its size only.
    assert record["Parameters"]["File"] == {"Bytes": len(data)}
    (instance,) = record["Result"]["Instances"]
    assert np.array_equal(labels_of(server, instance), ct["labels"])
    same = server.post(
        f"/series/{ct['series']}/segmesh/import", data=data, **fields_header({"To": "LABELMAP"})
    ).json()
    assert same["Instances"][0]["ID"] == instance["ID"]
    assert same["Instances"][0]["Status"] == "AlreadyStored"


def test_bad_requests_are_json_errors_and_store_nothing(
    server: OrthancServer, ct: dict[str, Any]
) -> None:
    shifted = ct["affine"].copy()
    shifted[:3, 3] += shifted[:3, 1] * 0.5
    path = f"/series/{ct['series']}/segmesh/import"
    before = study_instances(server, ct["series"])
    cases = [
        (path, {"data": label_files.nifti(ct["labels"], shifted)}, 422, "between the series' voxels"),
        (path, {"data": label_files.nifti(ct["labels"].astype(np.float32) / 2, ct["affine"])}, 400, "non-integer"),
        (path, {"data": label_files.nifti(np.stack([ct["labels"]] * 2, -1), ct["affine"])}, 422, "3-D"),
        (path, {"data": b"not a label map at all"}, 400, "Unknown file format"),
        (path, {"data": b""}, 400, "Missing label map"),
        (path, {"data": label_files.npy(ct["labels"])}, 400, "affine"),
        (path, {"data": b"x", **fields_header({"To": "MESH"})}, 400, "To"),
        (path, {"data": b"x", **fields_header({"Colour": "red"})}, 400, "Unknown parameters"),
        (path, {"data": b"x", "headers": {"X-SegMesh-Fields": "{not json"}}, 400, "X-SegMesh-Fields"),
        (path, {"data": b"--x\r\n", "headers": {"Content-Type": "multipart/related; boundary=x"}}, 400, "multipart"),
        ("/series/unknown/segmesh/import", {"data": label_files.nifti(ct["labels"], ct["affine"])}, 404, ""),
    ]  # fmt: skip
    for url, arguments, status, details in cases:
        response = server.post(url, **arguments)
        assert response.status_code == status, (url, response.text)
        error = response.json()
        assert set(error) == {"Error", "Details"}
        assert details in error["Error"] + error["Details"], error
    assert study_instances(server, ct["series"]) == before
    resampled = server.post(
        path, data=cases[0][1]["data"], **fields_header({"Resample": "nearest"})
    )
    assert resampled.status_code == 200, resampled.text
    assert resampled.json()["Grid"]["Match"] == "Resampled"
    dataset = stored(server, resampled.json()["Instances"][0]["ID"])
    assert "resampled" in dataset.ContentDescription


@pytest.mark.parametrize(("images", "mask", "nifti"), IBSI_CASES, ids=IBSI_IDS)
def test_ibsi_masks_import_onto_their_series(
    server: OrthancServer, images: str, mask: str, nifti: str
) -> None:
    """The IBSI reference masks (NIfTI, RAS, uint8) beside their DICOM series: stored as SEG,
    read back equal to the mask on the series' grid."""
    image_folder, mask_path = shared(f"ibsi/{images}"), shared(f"ibsi/{nifti}")
    ids = [server.upload(part10_bytes(path)) for path in sorted(image_folder.iterdir())]
    series_id = server.get(f"/instances/{ids[0]}").json()["ParentSeries"]
    response = server.post(
        f"/series/{series_id}/segmesh/import",
        data=mask_path.read_bytes(),
        **fields_header({"Segments": {"1": "GTV"}}),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Grid"]["Match"] in ("Same", "Reoriented", "Part")
    (instance,) = answer["Instances"]
    got = labels_of(server, instance)
    npz = server.get(f"/instances/{instance['ID']}/segmesh/labelmap?format=npz").content
    with np.load(io.BytesIO(npz)) as archive:
        affine = archive["affine"]
    expected = nifti_on_grid(mask_path, affine, got.shape)
    assert expected.sum() > 300
    assert np.array_equal(got == 1, expected)


def test_models_follow_an_import_where_autogenerate_is_on(
    tmp_path_factory: pytest.TempPathFactory, ct: dict[str, Any]
) -> None:
    """The pipeline of an AI node: it posts its NIfTI for a series, segmesh stores the SEG,
    and the automatic run makes its models (an import is a source, unlike segmesh's outputs)."""
    server = auto_server(tmp_path_factory.mktemp("orthanc-import-auto"))
    server.start()
    try:
        ids = [server.upload(encode(image)) for image in ct["images"]]
        series_id = server.get(f"/instances/{ids[0]}").json()["ParentSeries"]
        data = label_files.nifti(ct["labels"], ct["affine"])
        response = server.post(f"/series/{series_id}/segmesh/import", data=data)
        assert response.status_code == 200, response.text
        seg_id = response.json()["Instances"][0]["ID"]
        status = wait_for_run(server, seg_id, ("Success", "Failure"))
        assert status["Automatic"][0]["State"] == "Success", status
        models = status["Jobs"][0]["Result"]["Instances"]
        assert [(m["Segment"], m["Label"]) for m in models] == [
            (1, "Segment 1"),
            (2, "Segment 2"),
            (3, "Segment 3"),
        ]
        model = server.get(f"/instances/{models[0]['ID']}/simplified-tags").json()
        assert model["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.104.3"
    finally:
        server.stop()
    assert "Traceback" not in server.log()
