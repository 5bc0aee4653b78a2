"""RT-STRUCT ROIs in an undeclared or foreign frame of reference through the label map route
in a real Orthanc, and the warnings of every label-map format: the X-SegMesh-Warnings header
and the NRRD field.

These tests use their own Orthanc: they upload image series that other tests expect absent.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import nrrd
import numpy as np
import pytest

from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.rtstruct_synthetic import Roi, Series, random_polygon, rtstruct
from tests.test_rtstruct_route import labelmap, mask_of


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    orthanc = OrthancServer(tmp_path_factory.mktemp("orthanc-frames"))
    orthanc.start()
    yield orthanc
    orthanc.stop()
    assert "Traceback" not in orthanc.log(), "Orthanc logged a Python traceback"


def test_an_undeclared_roi_frame_converts_as_the_consistent_file_with_warnings(
    server: OrthancServer, tmp_path: Path
) -> None:
    """The ROI names a frame the structure set does not declare; the declared one is the
    images': the same voxels as the consistent file, and the warning in every format."""
    series = Series(np.c_[np.zeros(3), np.zeros(3), [0.0, 2.0, 4.0]])
    for image in series.images():
        server.upload(encode(image))
    roi = Roi(1, "Inconsistent")
    for k, seed in enumerate((5, 6, 7)):
        roi.add(series.to_lps(k, random_polygon(np.random.default_rng(seed), (25.0, 20.0), 9.0)))
    declared = series.frame_of_reference_uid
    consistent_id = server.upload(encode(rtstruct([roi], declared, series.series_instance_uid)))
    inconsistent = rtstruct(
        [roi], declared, series.series_instance_uid, roi_frame_of_reference_uid="1.2.3.888"
    )
    inconsistent_id = server.upload(encode(inconsistent))
    expected, ours = labelmap(server, consistent_id), labelmap(server, inconsistent_id)
    assert mask_of(expected, 1).sum() > 100
    np.testing.assert_array_equal(mask_of(ours, 1), mask_of(expected, 1))
    np.testing.assert_allclose(ours["affine"], expected["affine"])
    assert expected["segments"][0]["Warnings"] == []
    [warning] = ours["segments"][0]["Warnings"]
    assert "ROI 1 is in FrameOfReferenceUID 1.2.3.888, which the RT-STRUCT does not" in warning
    assert f"converted in the declared {declared}, the images' frame" in warning
    segments = server.get(f"/instances/{inconsistent_id}/segmesh/segments").json()
    assert segments["FrameOfReferenceUID"] == declared

    nifti = server.get(f"/instances/{inconsistent_id}/segmesh/labelmap?format=nifti")
    assert nifti.status_code == 200, nifti.text
    assert json.loads(nifti.headers["X-SegMesh-Warnings"]) == [warning]
    nifti_image: Any = nib.Nifti1Image.from_bytes(gzip.decompress(nifti.content))
    np.testing.assert_array_equal(np.asarray(nifti_image.dataobj).T > 0, mask_of(expected, 1))
    nrrd_answer = server.get(f"/instances/{inconsistent_id}/segmesh/labelmap?format=nrrd")
    assert json.loads(nrrd_answer.headers["X-SegMesh-Warnings"]) == [warning]
    path = tmp_path / "inconsistent.seg.nrrd"
    path.write_bytes(nrrd_answer.content)
    data, header = nrrd.read(str(path))
    assert json.loads(header["segmesh_warnings"]) == [warning]
    np.testing.assert_array_equal(data.T > 0, mask_of(expected, 1))
    clean = server.get(f"/instances/{consistent_id}/segmesh/labelmap?format=nrrd")
    assert clean.headers["X-SegMesh-Warnings"] == "[]"
    header_lines = clean.content.split(b"\n\n", 1)[0].split(b"\n")
    assert b"segmesh_warnings:=[]" in header_lines


def test_a_foreign_roi_frame_neither_declared_nor_the_images_is_still_422(
    server: OrthancServer,
) -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]])
    for image in series.images():
        server.upload(encode(image))
    roi = Roi(1, "Foreign").add(
        series.to_lps(0, random_polygon(np.random.default_rng(3), (20.0, 20.0), 8.0))
    )
    dataset = rtstruct(
        [roi],
        "1.2.826.0.1.3680043.8.498.77",
        series.series_instance_uid,
        roi_frame_of_reference_uid="1.2.826.0.1.3680043.8.498.78",
    )
    response = server.get(f"/instances/{server.upload(encode(dataset))}/segmesh/labelmap")
    assert response.status_code == 422
    assert response.json()["Error"] == "Frame of reference mismatch"
    assert (
        "1.2.826.0.1.3680043.8.498.78 of the RT-STRUCT differs from" in (response.json()["Details"])
    )


def test_many_warnings_are_cut_in_the_header_and_kept_in_the_npz(server: OrthancServer) -> None:
    series = Series(np.c_[np.zeros(2), np.zeros(2), [0.0, 2.0]])
    for image in series.images():
        server.upload(encode(image))
    rois = [
        Roi(number, f"ROI {number}").add(
            series.to_lps(number % 2, np.array([[1.5, 1.5], [4.5, 1.5], [4.5, 4.5]]) + number % 40)
        )
        for number in range(1, 121)
    ]
    dataset = rtstruct(rois, series.frame_of_reference_uid, series.series_instance_uid)
    for number, item in enumerate(dataset.StructureSetROISequence, start=1):
        item.ReferencedFrameOfReferenceUID = f"1.2.3.{number}"
    instance_id = server.upload(encode(dataset))
    arrays = labelmap(server, instance_id)
    warnings = [s["Warnings"][0] for s in arrays["segments"]]
    assert len(set(warnings)) == 120
    response = server.get(f"/instances/{instance_id}/segmesh/labelmap?format=nifti")
    value = response.headers["X-SegMesh-Warnings"]
    assert len(value) <= 4096
    *kept, last = json.loads(value)
    assert 0 < len(kept) < 120
    assert kept == warnings[: len(kept)]
    assert last == f"{120 - len(kept)} more warnings left out"
