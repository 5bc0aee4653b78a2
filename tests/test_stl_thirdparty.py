"""Third-party data to stored models: the IBSI CT phantom's RT-STRUCT and its reference NIfTI
mask (the oracle) give models that coincide in the CT's patient coordinates; clinical RT-STRUCTs
keep their oracle voxel volumes; ROIs of points are reported as skipped."""

from __future__ import annotations

import base64

import nibabel as nib
import numpy as np
import pytest

from segmesh.formats import read_binary_stl
from tests.dicom_files import part10_bytes
from tests.testdata import testdata as shared_file

FOLDER = "ibsi/ibsi_1_ct_radiomics_phantom"


@pytest.fixture(scope="module")
def ibsi(orthanc_server, upload_folder):
    folder = shared_file(FOLDER)
    image_ids = upload_folder(folder / "dicom" / "image")
    (rtstruct_id,) = upload_folder(folder / "dicom" / "mask")
    study = orthanc_server.get(f"/instances/{image_ids[0]}/study").json()["ID"]
    return {"Study": study, "RTSTRUCT": rtstruct_id}


@pytest.fixture(scope="module")
def oracle():
    """Voxel volume (mm^3), centroid (LPS mm) and voxel size of the reference mask."""
    image = nib.Nifti1Image.from_filename(shared_file(f"{FOLDER}/nifti/mask/mask.nii.gz"))
    mask = np.asanyarray(image.dataobj) > 0
    ras = image.affine @ np.c_[np.argwhere(mask), np.ones(int(mask.sum()))].T
    centroid = ras[:3].mean(axis=1) * [-1, -1, 1]
    spacing = np.abs(np.diag(image.affine)[:3])
    return mask.sum() * np.prod(spacing), centroid, spacing


def check(orthanc, instance_id, oracle):
    volume, centroid, spacing = oracle
    mesh = read_binary_stl(orthanc.get(f"/instances/{instance_id}/segmesh/model").content)
    assert abs(mesh.volume / volume - 1.0) < 0.03
    assert np.all(np.abs(mesh.centroid - centroid) < 0.5 * spacing)


def test_rtstruct_model_matches_the_reference_mask(orthanc, ibsi, oracle):
    response = orthanc.post(f"/instances/{ibsi['RTSTRUCT']}/segmesh/stl", json={})
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    assert item["Label"] == "GTV-1"
    check(orthanc, item["ID"], oracle)


def test_nifti_model_matches_the_reference_mask(orthanc, ibsi, oracle):
    data = shared_file(f"{FOLDER}/nifti/mask/mask.nii.gz").read_bytes()
    body = {
        "Nifti": base64.b64encode(data).decode(),
        "Labels": {"1": "GTV-1 (IBSI mask)"},
    }
    response = orthanc.post(f"/studies/{ibsi['Study']}/segmesh/nifti-stl", json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    check(orthanc, item["ID"], oracle)
    tags = orthanc.get(f"/instances/{item['ID']}/simplified-tags").json()
    ct_series = orthanc.get(f"/studies/{ibsi['Study']}/series").json()
    ct = next(series for series in ct_series if series["MainDicomTags"]["Modality"] == "CT")
    ct_tags = orthanc.get(f"/instances/{ct['Instances'][0]}/simplified-tags").json()
    assert tags["FrameOfReferenceUID"] == ct_tags["FrameOfReferenceUID"]


@pytest.mark.parametrize(("smoothing", "tolerance"), [("none", 0.005), ("taubin", 0.03)])
def test_clinical_rtstruct_keeps_its_voxel_volumes(orthanc, upload_folder, smoothing, tolerance):
    # Oracle voxel counts of shared/testdata/README.md, on 1 mm^3 voxels (4 slices of 1 mm).
    ids = upload_folder(shared_file("DicomRTTool/AnonDICOM"))
    (rtstruct_id,) = [
        i
        for i in ids
        if orthanc.get(f"/instances/{i}/simplified-tags").json()["Modality"] == "RTSTRUCT"
    ]
    body = {"Smoothing": smoothing, "Segments": [13]}
    response = orthanc.post(f"/instances/{rtstruct_id}/segmesh/stl", json=body)
    assert response.status_code == 200, response.text
    (item,) = response.json()["Instances"]
    assert item["Label"] == "BODY"
    mesh = read_binary_stl(orthanc.get(f"/instances/{item['ID']}/segmesh/model").content)
    assert abs(mesh.volume / 163_773 - 1.0) < tolerance


def test_rois_of_points_are_reported_as_skipped(orthanc):
    rtstruct_id = orthanc.upload(part10_bytes(shared_file("pydicom/rtstruct.dcm")))
    response = orthanc.post(f"/instances/{rtstruct_id}/segmesh/stl", json={"Decimate": 0.9})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [item["Segment"] for item in answer["Instances"]] == [1]
    assert [(item["Segment"], item["Label"]) for item in answer["Skipped"]] == [
        (2, "Isocenter 1"),
        (3, "Isocenter 2"),
    ]
    assert all("POINT" in item["Reason"] for item in answer["Skipped"])
