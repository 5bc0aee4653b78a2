"""POST /segmesh/datasets in a real Orthanc: generated studies whose SEGs name their organs
differently exported as one nnU-Net zip and one HDF5 file, every label file equal to the case's
label map voxel for voxel, labels harmonised by name and SNOMED code, failing cases listed, the
file downloaded whole and by ranges, cancelled, expired; the IBSI patients with their masks.

These tests use their own Orthanc: they upload studies that other tests expect absent.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import nibabel as nib
import numpy as np
import numpy.typing as npt
import pytest
from pydicom.sr.codedict import codes

from segmesh.demo.phantom import DemoStudy
from segmesh.geometry import geometry_from_images
from tests.builders import ct_series, ellipsoid_labels, seg, study_dataset
from tests.conftest import encode
from tests.dicom_files import part10_bytes
from tests.orthanc_server import OrthancServer
from tests.test_jobs import SLOW, upload_demo, wait
from tests.test_rtstruct_route import IBSI_CASES, IBSI_IDS, nifti_on_grid
from tests.testdata import testdata as shared

SHAPE = (8, 20, 24)
SPACING = (0.9, 0.8, 2.0)  # row, column, slice mm
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
LABELS = {"liver": ["Liver", "SCT:10200004"], "spleen": "spleen"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("datasets")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(
        tmp_path_factory.mktemp("orthanc-datasets"),
        {"SegMesh": {"DatasetFolder": str(folder), "DatasetHours": 1, "Workers": 2}},
    )
    orthanc.start()
    yield orthanc
    orthanc.stop()
    assert "Traceback" not in orthanc.log(), "Orthanc logged a Python traceback"


def upload_case(
    server: OrthancServer,
    names: list[str],
    types: list[Any],
    seed: int,
    with_images: bool = True,
) -> dict[str, Any]:
    """A CT study with a SEG of ``names`` (one ellipsoid each) on its grid."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 2000, SHAPE, dtype=np.int16)
    images = ct_series(
        SHAPE,
        SPACING,
        origin=(-30.0, 10.0, float(seed)),
        pixels=pixels,
        rescale_intercept=-1024,
        study=study_dataset(),
    )
    # (column, row, slice) voxels: apart, so that each segment keeps every voxel.
    centres = [[6 + 11 * n, 6 + 7 * n, 4] for n in range(len(names))]
    labels = ellipsoid_labels(SHAPE, centres, [[4.0, 3.0, 2.0]] * len(names))
    source = seg(images, labels, names, property_types=types)
    if with_images:
        for image in images:
            server.upload(encode(image))
    seg_id = server.upload(encode(source))
    study = server.get(f"/instances/{seg_id}/study").json()["ID"]
    affine = geometry_from_images(images)[0].affine
    return {
        "study": study,
        "seg": seg_id,
        "labels": labels,
        "hu": pixels.astype(np.int32) - 1024,
        "affine": affine,
        "uid": str(source.SOPInstanceUID),
        "patient": str(images[0].PatientID),
    }


@pytest.fixture(scope="module")
def cases(server: OrthancServer) -> dict[str, dict[str, Any]]:
    """Three cases naming liver and spleen three ways; one whose CT is missing; one with two
    livers."""
    liver, spleen, kidney = codes.SCT.Liver, codes.SCT.Spleen, codes.SCT.Kidney
    return {
        "a": upload_case(server, ["Liver", "Spleen"], [liver, spleen], 1),
        "b": upload_case(server, ["spleen ", "LIVER"], [spleen, liver], 2),
        "c": upload_case(server, ["Organ 1", "Kidney"], [liver, kidney], 3),
        "no-ct": upload_case(server, ["Liver"], [liver], 4, with_images=False),
        "two-livers": upload_case(server, ["Liver", "liver"], [liver, liver], 5),
    }


def expected_labels(case: dict[str, Any], values: dict[int, int]) -> npt.NDArray[np.int64]:
    """The case's label map with segment n given training value ``values[n]`` (0: left out)."""
    table = np.zeros(int(case["labels"].max()) + 1, dtype=np.int64)
    for number, value in values.items():
        table[number] = value
    return table[case["labels"]]


def run(server: OrthancServer, body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    response = server.post("/segmesh/datasets", json=body)
    assert response.status_code == 202, response.text
    path = response.json()["Path"]
    record = wait(server, path)
    assert record["State"] == "Success", record
    download = server.get(f"{path}/output")
    assert download.status_code == 200, download.text
    assert int(download.headers["Content-Length"]) == record["Result"]["Output"]["Bytes"]
    return record, download.content


def nifti(archive: zipfile.ZipFile, name: str) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """(k, j, i) data and the LPS affine of a NIfTI member."""
    image: Any = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read(name)))
    return np.asarray(image.dataobj).T, LPS_TO_RAS @ image.affine


def test_nnunet_zip_harmonises_labels_and_lists_failing_cases(
    server: OrthancServer, cases: dict[str, dict[str, Any]]
) -> None:
    studies = [case["study"] for case in cases.values()]
    record, data = run(server, {"Resources": studies, "Format": "nnunet", "Labels": LABELS})
    result = record["Result"]
    assert result["Labels"] == {"background": 0, "liver": 1, "spleen": 2}
    by_uid = {case["Source"]["SOPInstanceUID"]: case for case in result["Cases"]}
    assert set(by_uid) == {cases[key]["uid"] for key in ("a", "b", "c")}
    skipped = {s["Resource"]: s for s in result["Skipped"]}
    assert skipped[cases["no-ct"]["seg"]]["Error"] == "Referenced series not stored"
    assert skipped[cases["two-livers"]["seg"]]["Error"] == "Two segments map to one label"
    assert by_uid[cases["c"]["uid"]]["Unmatched"] == ["Kidney"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = "Dataset001_segmesh"
        dataset = json.loads(archive.read(f"{root}/dataset.json"))
        assert dataset == {
            "channel_names": {"0": "CT"},
            "labels": {"background": 0, "liver": 1, "spleen": 2},
            "numTraining": 3,
            "file_ending": ".nii.gz",
        }
        report = json.loads(archive.read(f"{root}/report.json"))
        assert len(report["Cases"]) == 3
        assert len(report["Skipped"]) == 2
        for key, values in (("a", {1: 1, 2: 2}), ("b", {1: 2, 2: 1}), ("c", {1: 1})):
            case = cases[key]
            name = by_uid[case["uid"]]["Case"]
            assert name.startswith("case_")
            assert case["patient"] not in name
            labels, affine = nifti(archive, f"{root}/labelsTr/{name}.nii.gz")
            image, image_affine = nifti(archive, f"{root}/imagesTr/{name}_0000.nii.gz")
            assert np.array_equal(labels, expected_labels(case, values))
            assert np.array_equal(image, case["hu"])
            assert np.allclose(affine, case["affine"])
            assert np.allclose(image_affine, affine)
        assert case["patient"].encode() not in data


def test_hdf5_with_labels_from_the_segments_reads_slice_by_slice(
    server: OrthancServer, cases: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    sources = [cases[key]["seg"] for key in ("a", "b", "c")]
    record, data = run(server, {"Resources": sources, "Format": "hdf5", "CaseNames": "Number"})
    labels = record["Result"]["Labels"]
    # Every label of the sources, case-insensitive, in alphabetical order.
    assert labels == {"background": 0, "Kidney": 1, "Liver": 2, "Organ 1": 3, "Spleen": 4}
    path = tmp_path / "dataset.h5"
    path.write_bytes(data)
    with h5py.File(path, "r") as h5:
        assert list(h5["case_names"].asstr()) == ["case_0001", "case_0002", "case_0003"]
        assert h5["index"].shape == (3 * SHAPE[0], 2)
        assert json.loads(h5.attrs["labels"]) == labels
        for number, (key, values) in enumerate(
            (("a", {1: 2, 2: 4}), ("b", {1: 4, 2: 2}), ("c", {1: 3, 2: 1}))
        ):
            group = h5[f"cases/case_{number + 1:04d}"]
            assert group["labels"].chunks == (1, SHAPE[1], SHAPE[2])
            assert group.attrs["SOPInstanceUID"] == cases[key]["uid"]
            assert np.allclose(group.attrs["affine"], cases[key]["affine"])
            expected = expected_labels(cases[key], values)
            k = int(h5["index"][number * SHAPE[0] + 5][1])
            assert np.array_equal(group["labels"][k], expected[k])
            assert np.array_equal(group["labels"][:], expected)
            assert np.array_equal(group["image"][:], cases[key]["hu"])


def test_resampled_to_one_spacing_keeps_a_spheres_volume(server: OrthancServer) -> None:
    """A sphere of radius 12 mm on a 0.8 x 0.9 x 2 mm grid, exported at 1.5 x 1.2 x 1 mm:
    labels by nearest neighbour keep its volume; the image is interpolated linearly."""
    shape = (20, 36, 40)
    images = ct_series(shape, SPACING, pixels=np.zeros(shape, np.int16), study=study_dataset())
    centre, radius = [16.0, 16.2, 19.0], 12.0  # (x, y, z) mm from the first voxel
    sphere = ellipsoid_labels(shape, [centre], [[radius] * 3], spacing=(0.8, 0.9, 2.0))
    for image in images:
        server.upload(encode(image))
    seg_id = server.upload(encode(seg(images, sphere, ["Tumour"])))
    record, data = run(server, {"Resources": [seg_id], "Spacing": [1.5, 1.2, 1.0]})
    (exported,) = record["Result"]["Cases"]
    assert exported["Spacing"] == [1.5, 1.2, 1.0]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        labels, affine = nifti(archive, f"Dataset001_segmesh/labelsTr/{exported['Case']}.nii.gz")
    assert np.allclose(np.linalg.norm(affine[:3, :3], axis=0), [1.5, 1.2, 1.0])
    assert np.allclose(affine[:3, 3], geometry_from_images(images)[0].affine[:3, 3])
    truth = 4 / 3 * np.pi * radius**3
    original = np.count_nonzero(sphere) * 0.8 * 0.9 * 2.0
    resampled = np.count_nonzero(labels == 1) * 1.5 * 1.2 * 1.0
    assert abs(original - truth) / truth < 0.03
    assert abs(resampled - truth) / truth < 0.03, (truth, original, resampled)
    assert exported["Segments"] == [
        {"Number": 1, "Label": "Tumour", "TrainingLabel": "Tumour", "Value": 1}
    ]


def test_the_file_downloads_by_ranges_and_expires(
    server: OrthancServer, cases: dict[str, dict[str, Any]], folder: Path
) -> None:
    response = server.post("/segmesh/datasets", json={"Resources": [cases["a"]["study"]]})
    path = response.json()["Path"]
    assert wait(server, path)["State"] == "Success"
    whole = server.get(f"{path}/output").content
    partial = server.get(f"{path}/output", headers={"Range": "bytes=10-99"})
    if "SendHttpStatus(status, body)" in server.log():
        assert partial.status_code == 206, partial.text
        assert partial.headers["Content-Range"] == f"bytes 10-99/{len(whole)}"
        assert partial.content == whole[10:100]
        tail = server.get(f"{path}/output", headers={"Range": "bytes=-5"})
        assert tail.status_code == 206
        assert tail.content == whole[-5:]
        outside = server.get(f"{path}/output", headers={"Range": f"bytes={len(whole)}-"})
        assert outside.status_code == 416, outside.text
    else:  # orthanc-python 4.0/4.1 cannot send a binary body with 206: the whole file
        assert partial.status_code == 200
        assert partial.content == whole
        assert partial.headers["Accept-Ranges"] == "none"
    (kept,) = [p for p in folder.iterdir() if p.stat().st_size == len(whole)]
    hours_ago = time.time() - 2 * 3600
    os.utime(kept, (hours_ago, hours_ago))
    gone = server.get(f"{path}/output")
    assert gone.status_code == 410, gone.text
    assert gone.json()["Error"] == "Dataset removed"
    assert not kept.exists()


def test_a_query_names_the_cases(server: OrthancServer, cases: dict[str, dict[str, Any]]) -> None:
    tags = server.get(f"/studies/{cases['b']['study']}").json()["MainDicomTags"]
    query = {"Level": "Study", "Query": {"StudyInstanceUID": tags["StudyInstanceUID"]}}
    record, _ = run(server, {"Query": query})
    (exported,) = record["Result"]["Cases"]
    assert exported["Source"]["SOPInstanceUID"] == cases["b"]["uid"]


def test_a_cancelled_job_leaves_no_file(
    server: OrthancServer,
    cases: dict[str, dict[str, Any]],
    folder: Path,
    demo_study: DemoStudy,
) -> None:
    """Cancelled as soon as it is queued, while a slow model job holds the workers (seconds):
    whether it was still pending or had begun, it ends Cancelled and removes every file. (That
    the cases in flight are waited for and no more are started is shown, without a race, by
    tests/test_dataset_cancel.py.)"""
    before = set(folder.iterdir())
    slow = server.post(f"/instances/{upload_demo(server, demo_study)}/segmesh/stl", json=SLOW)
    slow_path = slow.json()["Path"]
    wait(server, slow_path, ("Running",))
    studies = [cases[key]["study"] for key in ("a", "b", "c")]
    path = server.post("/segmesh/datasets", json={"Resources": studies}).json()["Path"]
    cancelled = server.session.delete(f"{server.url}{path}", timeout=30).json()
    assert cancelled["State"] == "Cancelled"
    assert wait(server, path)["State"] == "Cancelled"
    assert wait(server, slow_path)["State"] == "Success"
    deadline = time.monotonic() + 30
    while set(folder.iterdir()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(folder.iterdir()) - before == set()
    refused = server.get(f"{path}/output")
    assert refused.status_code == 422
    assert refused.json()["Error"] == "No output"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"Resources": []}, 400, "Bad parameter Resources"),
        ({"Resources": ["x"], "Format": "zip"}, 400, "Bad parameter Format"),
        ({"Resources": ["x"], "Spacing": [1, 0, 1]}, 400, "Bad parameter Spacing"),
        ({"Resources": ["x"], "Labels": {"background": "x"}}, 400, "Bad parameter Labels"),
        ({"Resources": ["x"], "Query": {}}, 400, "Bad parameters"),
        ({"Resources": ["x"], "Colour": 1}, 400, "Unknown parameters"),
        ({"Query": {"Level": "Galaxy", "Query": {}}}, 400, "Bad parameter Query"),
        ({"Resources": ["0000-no-such-id"]}, 404, "Unknown resource"),
        ({"Query": {"Level": "Study", "Query": {"PatientID": "nobody"}}}, 422, "No source"),
    ],
)
def test_bad_requests_start_no_job(
    server: OrthancServer, body: dict[str, Any], status: int, error: str
) -> None:
    before = server.get("/segmesh/jobs").json()
    response = server.post("/segmesh/datasets", json=body)
    assert response.status_code == status, response.text
    assert response.json()["Error"] == error
    assert server.get("/segmesh/jobs").json() == before


def test_a_study_without_sources_is_a_422(server: OrthancServer) -> None:
    images = ct_series((2, 4, 4), SPACING, study=study_dataset())
    ids = [server.upload(encode(image)) for image in images]
    study = server.get(f"/instances/{ids[0]}/study").json()["ID"]
    response = server.post("/segmesh/datasets", json={"Resources": [study]})
    assert response.status_code == 422, response.text
    assert response.json()["Details"] == f"{study}: no SEG or RT-STRUCT"


@pytest.mark.parametrize(("images", "mask", "nifti_path"), IBSI_CASES, ids=IBSI_IDS)
def test_ibsi_patients_export_their_masks_both_ways(
    server: OrthancServer, images: str, mask: str, nifti_path: str, tmp_path: Path
) -> None:
    """The IBSI images with their RT-STRUCT masks, as nnU-Net and as HDF5: each label volume
    equals the IBSI reference mask (NIfTI) on the series' grid, each image the series' values
    after the rescale (the same in both files)."""
    for path in sorted(shared(f"ibsi/{images}").iterdir()):
        server.upload(part10_bytes(path))
    [rtstruct_path] = sorted(shared(f"ibsi/{mask}").iterdir())
    rtstruct_id = server.upload(part10_bytes(rtstruct_path))
    record, data = run(server, {"Resources": [rtstruct_id], "Format": "nnunet"})
    (case,) = record["Result"]["Cases"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = "Dataset001_segmesh"
        labels, affine = nifti(archive, f"{root}/labelsTr/{case['Case']}.nii.gz")
        image, _ = nifti(archive, f"{root}/imagesTr/{case['Case']}_0000.nii.gz")
    expected = nifti_on_grid(shared(f"ibsi/{nifti_path}"), affine, labels.shape)
    assert expected.sum() > 300
    assert np.array_equal(labels > 0, expected)
    assert image.shape == labels.shape
    assert image.std() > 0
    _, h5_data = run(server, {"Resources": [rtstruct_id], "Format": "hdf5"})
    (tmp_path / "case.h5").write_bytes(h5_data)
    with h5py.File(tmp_path / "case.h5", "r") as h5:
        group = h5["cases"][case["Case"]]
        assert np.array_equal(group["labels"][:], labels)
        assert np.array_equal(group["image"][:], image)
        assert np.allclose(group.attrs["affine"], affine)
