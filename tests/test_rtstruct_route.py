"""RT-STRUCT label maps through GET /instances/{id}/segmesh/labelmap in a real Orthanc.

These tests use their own Orthanc: they upload image series that other tests expect absent.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.dicom_files import part10_bytes
from tests.orthanc_server import OrthancServer
from tests.rtstruct_synthetic import Roi, Series, expected_slice, random_polygon, rtstruct
from tests.testdata import testdata as shared

IBSI_CASES = [
    ("ibsi_1_ct_radiomics_phantom/dicom/image", "ibsi_1_ct_radiomics_phantom/dicom/mask",
     "ibsi_1_ct_radiomics_phantom/nifti/mask/mask.nii.gz"),
    *(
        (f"ibsi_validation/dicom/{patient}/{modality}/image",
         f"ibsi_validation/dicom/{patient}/{modality}/mask",
         f"ibsi_validation/nifti/{patient}/{modality}_mask.nii.gz")
        for patient in ("STS_002", "STS_042")
        for modality in ("CT", "MR_T1", "PET")
    ),
]  # fmt: skip


IBSI_IDS = ["phantom"] + [
    f"{patient}-{modality}"
    for patient in ("STS_002", "STS_042")
    for modality in ("CT", "MR_T1", "PET")
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(tmp_path_factory.mktemp("orthanc-rtstruct"))
    orthanc.start()
    yield orthanc
    orthanc.stop()
    assert "Traceback" not in orthanc.log(), "Orthanc logged a Python traceback"


def upload_all(server: OrthancServer, folder: Path) -> list[str]:
    return [server.upload(part10_bytes(path)) for path in sorted(folder.iterdir())]


def labelmap(server: OrthancServer, instance_id: str, query: str = "") -> dict[str, Any]:
    response = server.get(f"/instances/{instance_id}/segmesh/labelmap?format=npz&{query}")
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as archive:
        arrays: dict[str, Any] = {name: archive[name] for name in archive.files}
    arrays["segments"] = json.loads(str(arrays["segments"]))
    return arrays


def mask_of(arrays: dict[str, Any], number: int) -> np.ndarray:
    segment = next(s for s in arrays["segments"] if s["Number"] == number)
    return np.asarray(arrays["labels"][segment["Layer"]] == segment["Value"])


def nifti_on_grid(path: Path, affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The NIfTI mask sampled at our voxel centres (k, j, i): our LPS affine is mapped to RAS
    and into the NIfTI's voxel indices, which must be whole numbers inside its array."""
    image: Any = nib.load(path)
    reference = np.asarray(image.dataobj) > 0
    to_nifti = np.linalg.inv(image.affine) @ np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    k, j, i = np.indices(shape).reshape(3, -1)
    voxels = to_nifti @ np.stack([i, j, k, np.ones_like(i)])
    indices = np.rint(voxels[:3]).astype(int)
    assert np.abs(voxels[:3] - indices).max() < 1e-3, "grids are not aligned"
    assert indices.min() >= 0
    assert all(indices[a].max() < reference.shape[a] for a in range(3))
    assert reference.sum() == reference[indices[0], indices[1], indices[2]].sum()
    return reference[indices[0], indices[1], indices[2]].reshape(shape)


@pytest.mark.parametrize(("images", "mask", "nifti"), IBSI_CASES, ids=IBSI_IDS)
def test_ibsi_masks_voxel_for_voxel(server: OrthancServer, images, mask, nifti) -> None:
    upload_all(server, shared(f"ibsi/{images}"))
    [rtstruct_id] = upload_all(server, shared(f"ibsi/{mask}"))
    arrays = labelmap(server, rtstruct_id)
    [segment] = arrays["segments"]
    ours = mask_of(arrays, segment["Number"])
    expected = nifti_on_grid(shared(f"ibsi/{nifti}"), arrays["affine"], ours.shape)
    assert expected.sum() > 300
    np.testing.assert_array_equal(ours, expected)
    assert segment["SkippedContours"] == []
    assert segment["Warnings"] == []


def test_ibsi_phantom_as_nifti_equals_the_reference_file(server: OrthancServer) -> None:
    upload_all(server, shared("ibsi/ibsi_1_ct_radiomics_phantom/dicom/image"))
    [rtstruct_id] = upload_all(server, shared("ibsi/ibsi_1_ct_radiomics_phantom/dicom/mask"))
    response = server.get(f"/instances/{rtstruct_id}/segmesh/labelmap?format=nifti")
    assert response.status_code == 200, response.text
    ours: Any = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    reference: Any = nib.load(shared("ibsi/ibsi_1_ct_radiomics_phantom/nifti/mask/mask.nii.gz"))
    # Both are RAS on the same grid: the same affine (to float32 precision) and voxels.
    np.testing.assert_allclose(ours.affine, reference.affine, atol=1e-3)
    np.testing.assert_array_equal(np.asarray(ours.dataobj) > 0, np.asarray(reference.dataobj) > 0)


def test_dicomrttool_counts(server: OrthancServer) -> None:
    ids = upload_all(server, shared("DicomRTTool/AnonDICOM"))
    rtstruct_id = next(
        i
        for i in ids
        if server.get(f"/instances/{i}/simplified-tags").json()["Modality"] == "RTSTRUCT"
    )
    arrays = labelmap(server, rtstruct_id)
    numbers = {s["Label"]: s["Number"] for s in arrays["segments"]}
    body = mask_of(arrays, numbers["BODY"])
    assert body.sum(axis=(1, 2)).tolist() == [41564, 41440, 40701, 40068]
    assert mask_of(arrays, numbers["SpinalCord"]).sum() == 654
    # BODY contains the cord: two layers.
    assert arrays["labels"].shape == (2, 4, 512, 512)


def test_rt_utils_mock_with_a_foreign_frame_of_reference(server: OrthancServer) -> None:
    folder = shared("rt-utils/mock_data")
    for name in ("ct_1.dcm", "ct_2.dcm"):
        server.upload(part10_bytes(folder / name))
    rtstruct_id = server.upload(part10_bytes(folder / "rt.dcm"))
    arrays = labelmap(server, rtstruct_id)
    assert mask_of(arrays, 1).sum() == 1443
    [warning] = arrays["segments"][0]["Warnings"]
    assert "of the RT-STRUCT differs from 1.2.840.113619.2.405.3.84541899.902" in warning


def test_pydicom_rtstruct_without_its_series(server: OrthancServer) -> None:
    path = shared("pydicom/rtstruct.dcm")
    rtstruct_id = server.upload(part10_bytes(path))
    skipped = server.get(f"/instances/{rtstruct_id}/segmesh/segments").json()["Skipped"]
    assert [(s["Number"], s["Reason"]) for s in skipped] == [
        (2, "no CLOSED_PLANAR contours (only POINT)"),
        (3, "no CLOSED_PLANAR contours (only POINT)"),
    ]
    response = server.get(f"/instances/{rtstruct_id}/segmesh/labelmap?format=npz&grid=source")
    assert response.status_code == 422
    assert "1.2.826.0.1.3680043.8.498.2010020400001.2.1.1" in response.json()["Details"]
    arrays = labelmap(server, rtstruct_id, "grid=native&spacing=0.7,0.7,10")
    assert np.allclose(arrays["affine"][:3, :3], np.diag([0.7, 0.7, 10.0]))
    # A 400 x 300 mm rectangle on 0.7 mm: 571 x 429 centres strictly inside, on 3 planes.
    assert mask_of(arrays, 1).sum(axis=(1, 2)).tolist() == [0, *[571 * 429] * 3, 0]
    default = labelmap(server, rtstruct_id)  # the series is absent: the native grid
    assert np.allclose(default["affine"][:3, :3], np.diag([1.0, 1.0, 10.0]))
    response = server.get(f"/instances/{rtstruct_id}/segmesh/labelmap?segments=2")
    assert response.status_code == 422
    assert response.json()["Details"] == "ROI 2: no CLOSED_PLANAR contours (only POINT)"
    response = server.get(f"/instances/{rtstruct_id}/segmesh/labelmap?segments=5")
    assert response.status_code == 400
    assert response.json()["Error"] == "Unknown segment numbers"


def test_demo_rtstruct_reproduces_the_demo_masks(
    server: OrthancServer, demo_study: DemoStudy
) -> None:
    for image in demo_study.images:
        server.upload(encode(image))
    arrays = labelmap(server, server.upload(encode(demo_study.rtstruct)))
    np.testing.assert_allclose(arrays["affine"], demo_study.geometry.affine)
    for number, expected in demo_study.masks.items():
        np.testing.assert_array_equal(mask_of(arrays, number), expected)


def test_oblique_series(server: OrthancServer) -> None:
    """An oblique CT with non-uniform slice spacing, contoured here on every slice."""
    orientation = (0.8, 0.6, 0.0, -0.36, 0.48, -0.8)
    normal = np.cross(orientation[:3], orientation[3:])
    series = Series(
        np.array([12.5, -40.2, 3.3]) + np.array([[0.0], [3.5], [9.0]]) * normal, orientation
    )
    rng = np.random.default_rng(11)
    rows, columns = series.shape
    roi = Roi(4, "Oblique")
    expected = np.zeros((3, rows, columns), dtype=bool)
    for k in range(3):
        polygons = [
            random_polygon(rng, (columns * 0.3, rows * 0.5), 12.0, 10),
            random_polygon(rng, (columns * 0.7, rows * 0.5), 12.0, 10),
        ]
        expected[k] = expected_slice(polygons, series.shape)
        for polygon in polygons:
            roi.add(series.to_lps(k, polygon))
    for image in series.images()[::-1]:
        server.upload(encode(image))
    dataset = rtstruct([roi], series.frame_of_reference_uid, series.series_instance_uid)
    arrays = labelmap(server, server.upload(encode(dataset)))
    assert expected.sum() > 100
    np.testing.assert_array_equal(mask_of(arrays, 4), expected)


def test_foreign_frame_of_reference_without_image_references_is_422(
    server: OrthancServer,
) -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]])
    for image in series.images():
        server.upload(encode(image))
    polygon = random_polygon(np.random.default_rng(2), (20.0, 20.0), 8.0)
    roi = Roi(1, "Elsewhere").add(series.to_lps(0, polygon))
    dataset = rtstruct([roi], "1.2.826.0.1.3680043.8.498.77", series.series_instance_uid)
    response = server.get(f"/instances/{server.upload(encode(dataset))}/segmesh/labelmap")
    assert response.status_code == 422
    body = response.json()
    assert body["Error"] == "Frame of reference mismatch"
    assert "1.2.826.0.1.3680043.8.498.77" in body["Details"]
    assert series.frame_of_reference_uid in body["Details"]


def test_a_partly_stored_series_is_refused_not_truncated(
    tmp_path: Path, demo_study: DemoStudy
) -> None:
    server = OrthancServer(tmp_path, {"SegMesh": {"Workers": 0}})
    server.start()
    try:
        server.upload(encode(demo_study.images[20]))
        rtstruct_id = server.upload(encode(demo_study.rtstruct))
        response = server.get(f"/instances/{rtstruct_id}/segmesh/labelmap?format=npz")
        assert response.status_code == 422, response.text
        assert response.json()["Error"] == "Referenced images missing"
        assert (
            f"{len(demo_study.images) - 1} of the {len(demo_study.images)}"
            in (response.json()["Details"])
        )
        # The way to get the contours anyway: the grid they lie on.
        native = server.get(f"/instances/{rtstruct_id}/segmesh/labelmap?format=npz&grid=native")
        assert native.status_code == 200, native.text
        with np.load(io.BytesIO(native.content)) as npz:
            assert npz["labels"].any()
    finally:
        server.stop()
    assert "Traceback" not in server.log()
