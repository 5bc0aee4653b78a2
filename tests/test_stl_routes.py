"""The model routes on a real Orthanc: demo SEG and RT-STRUCT to stored Encapsulated STL."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
import trimesh
from pydicom import dcmread

from segmesh.demo import DemoStudy
from segmesh.dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from segmesh.formats import read_binary_stl
from tests.dciodvfy import dciodvfy_errors
from tests.orthanc_server import OrthancServer
from tests.test_stl import demo_nifti


def organ_volume_and_centroid(demo_study: DemoStudy, number: int):
    geometry = demo_study.geometry
    mask = demo_study.masks[number]
    centres = geometry.index_to_lps(np.argwhere(mask)[:, ::-1])
    return mask.sum() * np.prod(geometry.spacing), centres.mean(axis=0)


def check_model(orthanc: OrthancServer, demo_study: DemoStudy, instance_id: str, number: int):
    """The stored STL holds the organ: voxel volume within 3%, centroid within half a voxel."""
    response = orthanc.get(f"/instances/{instance_id}/segmesh/model")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("model/stl")
    mesh = read_binary_stl(response.content)
    assert trimesh.load_mesh(io.BytesIO(response.content), file_type="stl").is_watertight
    volume, centroid = organ_volume_and_centroid(demo_study, number)
    assert abs(mesh.volume / volume - 1.0) < 0.03
    assert np.all(np.abs(mesh.centroid - centroid) < 0.5 * np.asarray(demo_study.geometry.spacing))
    return mesh


@pytest.fixture(scope="module")
def seg_models(orthanc_server: OrthancServer, demo_ids: dict[str, str]):
    response = orthanc_server.post(f"/instances/{demo_ids['SEG']}/segmesh/stl", json={})
    assert response.status_code == 200, response.text
    return response.json()


def test_seg_to_stored_models(orthanc, demo_ids, demo_study, seg_models):
    assert [item["Segment"] for item in seg_models["Instances"]] == [1, 2, 3, 4, 5, 6]
    assert seg_models["Skipped"] == []
    series = orthanc.get(f"/series/{seg_models['Series']}").json()
    assert series["ParentStudy"] == demo_ids["Study"]
    assert sorted(series["Instances"]) == sorted(i["ID"] for i in seg_models["Instances"])
    group_uids = set()
    for item in seg_models["Instances"]:
        data = orthanc.get(f"/instances/{item['ID']}/file").content
        assert dciodvfy_errors(data) == []
        ds = dcmread(io.BytesIO(data))
        assert ds.SOPClassUID == ENCAPSULATED_STL_STORAGE
        assert ds.Modality == "M3D"
        assert ds.MIMETypeOfEncapsulatedDocument == "model/stl"
        assert ds.FrameOfReferenceUID == demo_study.seg.FrameOfReferenceUID
        assert ds.StudyInstanceUID == demo_study.seg.StudyInstanceUID
        assert ds.ContentDescription == item["Label"]
        assert (
            ds.SourceInstanceSequence[0].ReferencedSOPInstanceUID == demo_study.seg.SOPInstanceUID
        )
        assert ds.ModelMirroring == "NO"
        assert len(ds.IconImageSequence) == 1
        group_uids.add(ds.ModelGroupUID)
        mesh = check_model(orthanc, demo_study, item["ID"], item["Segment"])
        assert item["Triangles"] == mesh.triangle_count
        assert item["VolumeMl"] == pytest.approx(mesh.volume / 1000, abs=1e-3)
    assert len(group_uids) == 1
    liver = read_binary_stl(
        orthanc.get(f"/instances/{seg_models['Instances'][0]['ID']}/segmesh/model").content
    )
    assert liver.centroid[0] < -20  # patient's right in LPS: not mirrored


def test_repeat_adds_no_duplicates(orthanc, demo_ids, seg_models):
    again = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/stl", json={})
    assert again.status_code == 200
    assert [i["ID"] for i in again.json()["Instances"]] == [
        i["ID"] for i in seg_models["Instances"]
    ]
    assert {i["Status"] for i in again.json()["Instances"]} == {"AlreadyStored"}
    assert len(orthanc.get(f"/series/{seg_models['Series']}").json()["Instances"]) == 6


def test_rtstruct_to_stored_models(orthanc, demo_ids, demo_study, seg_models):
    response = orthanc.post(
        f"/instances/{demo_ids['RTSTRUCT']}/segmesh/stl", json={"Segments": [1, 4]}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Series"] != seg_models["Series"]
    assert [item["Segment"] for item in answer["Instances"]] == [1, 4]
    for item in answer["Instances"]:
        data = orthanc.get(f"/instances/{item['ID']}/file").content
        assert dciodvfy_errors(data) == []
        ds = dcmread(io.BytesIO(data), stop_before_pixels=True)
        assert (
            ds.SourceInstanceSequence[0].ReferencedSOPInstanceUID
            == demo_study.rtstruct.SOPInstanceUID
        )
        check_model(orthanc, demo_study, item["ID"], item["Segment"])


def test_merged_model(orthanc, demo_ids, demo_study):
    response = orthanc.post(
        f"/instances/{demo_ids['SEG']}/segmesh/stl",
        json={"Segments": [3, 4], "Merge": True, "Tags": {"SeriesDescription": "Kidneys"}},
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    assert item["Segment"] == [3, 4]
    tags = orthanc.get(f"/instances/{item['ID']}/simplified-tags").json()
    assert tags["SeriesDescription"] == "Kidneys"
    mesh = read_binary_stl(orthanc.get(f"/instances/{item['ID']}/segmesh/model").content)
    volumes = [organ_volume_and_centroid(demo_study, n)[0] for n in (3, 4)]
    assert mesh.volume == pytest.approx(sum(volumes), rel=0.03)


@pytest.mark.parametrize("mesh_format", ["stl", "obj", "ply", "glb"])
def test_get_one_mesh_as_a_file(orthanc, demo_ids, demo_study, mesh_format):
    response = orthanc.get(
        f"/instances/{demo_ids['SEG']}/segmesh/stl",
        params={"segment": "2", "format": mesh_format, "smoothing": "none"},
    )
    assert response.status_code == 200, response.text
    mesh = trimesh.load_mesh(io.BytesIO(response.content), file_type=mesh_format)
    volume, centroid = organ_volume_and_centroid(demo_study, 2)
    assert mesh.volume == pytest.approx(volume, rel=0.03)
    np.testing.assert_allclose(mesh.center_mass, centroid, atol=0.5)


def test_threshold_route_on_the_demo_ct(orthanc, demo_ids, demo_study):
    body = {"Threshold": 400, "KeepLargest": 1, "Smoothing": "taubin"}
    response = orthanc.post(f"/series/{demo_ids['CTSeries']}/segmesh/stl", json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    data = orthanc.get(f"/instances/{item['ID']}/file").content
    assert dciodvfy_errors(data) == []
    check_model(orthanc, demo_study, item["ID"], 5)  # the vertebra is the only bone
    again = orthanc.post(f"/series/{demo_ids['CTSeries']}/segmesh/stl", json=body).json()
    assert again["Instances"][0]["ID"] == item["ID"]


def test_nifti_route(orthanc, demo_ids, demo_study):
    body = {
        "Nifti": base64.b64encode(demo_nifti(demo_study)).decode(),
        "Labels": {"1": "Liver", "2": "Spleen"},
    }
    response = orthanc.post(f"/studies/{demo_ids['Study']}/segmesh/nifti-stl", json=body)
    assert response.status_code == 200, response.text
    items = response.json()["Instances"]
    assert [(i["Segment"], i["Label"]) for i in items] == [(1, "Liver"), (2, "Spleen")]
    for item in items:
        data = orthanc.get(f"/instances/{item['ID']}/file").content
        assert dciodvfy_errors(data) == []
        ds = dcmread(io.BytesIO(data), stop_before_pixels=True)
        # The study holds one frame of reference: the models join it.
        assert ds.FrameOfReferenceUID == demo_study.seg.FrameOfReferenceUID
        check_model(orthanc, demo_study, item["ID"], item["Segment"])


@pytest.mark.parametrize("uid", ["1.2.abc", "01.2", 12, ["1.2"]])
def test_nifti_route_refuses_a_bad_frame_of_reference_uid(orthanc, demo_ids, demo_study, uid):
    body = {
        "Nifti": base64.b64encode(demo_nifti(demo_study)).decode(),
        "Labels": {"1": "Liver"},
        "FrameOfReferenceUID": uid,
    }
    response = orthanc.post(f"/studies/{demo_ids['Study']}/segmesh/nifti-stl", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["Error"] == "Bad parameter FrameOfReferenceUID"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/instances/{SEG}/segmesh/stl", b"not json", 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Segments": [99]}, 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Smoothing": "cubic"}, 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Decimate": 2}, 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Merge": "yes"}, 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Segments": []}, 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Tags": {"SOPInstanceUID": "1.2"}}, 400),
        ("post", "/instances/{SEG}/segmesh/stl", {"Tags": {"Bogus": "1"}}, 400),
        ("post", "/instances/unknown/segmesh/stl", {}, 404),
        ("get", "/instances/{SEG}/segmesh/stl?format=vrml&segment=1", None, 400),
        ("get", "/instances/{SEG}/segmesh/stl", None, 400),
        ("get", "/instances/{SEG}/segmesh/stl?segment=x", None, 400),
        ("get", "/instances/{SEG}/segmesh/model", None, 415),
        ("get", "/instances/unknown/segmesh/model", None, 404),
        ("post", "/series/{CTSeries}/segmesh/stl", {}, 400),
        ("post", "/series/{CTSeries}/segmesh/stl", {"Threshold": 5000}, 422),
        ("post", "/series/unknown/segmesh/stl", {"Threshold": 1}, 404),
        ("post", "/studies/{Study}/segmesh/nifti-stl", {}, 400),
        ("post", "/studies/{Study}/segmesh/nifti-stl", {"Nifti": "!!"}, 400),
        ("post", "/studies/{Study}/segmesh/nifti-stl", {"Nifti": "aGVsbG8="}, 400),
        ("post", "/studies/nope/segmesh/nifti-stl", {"Nifti": "aGVsbG8="}, 404),
        ("put", "/studies/{Study}/segmesh/nifti-stl", None, 405),
    ],
)
def test_bad_requests(orthanc, demo_ids, method, path, body, status):
    path = path.format(**demo_ids)
    kwargs: dict[str, Any] = {}
    if isinstance(body, bytes):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = {
            key: value.format(**demo_ids) if isinstance(value, str) else value
            for key, value in body.items()
        }
    response = orthanc.session.request(method.upper(), f"{orthanc.url}{path}", timeout=60, **kwargs)
    assert response.status_code == status, response.text
    if status != 405:
        assert set(response.json()) == {"Error", "Details"}
