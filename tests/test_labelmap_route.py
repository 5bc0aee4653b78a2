"""GET /instances/{id}/segmesh/labelmap in a real Orthanc: voxels, affines, formats, errors."""

from __future__ import annotations

import copy
import gzip
import io
import json
import zipfile
from pathlib import Path

import h5py
import nibabel as nib
import nrrd
import numpy as np
import pytest
from pydicom.uid import generate_uid

from segmesh.demo import DemoStudy
from tests.conftest import encode
from tests.dicom_files import part10_bytes
from tests.orthanc_server import OrthancServer
from tests.test_seg_roundtrip import (
    ct_series,
    deflate_frames,
    make_seg,
    unknown_syntax_bytes,
)
from tests.testdata import testdata as shared_file


def npz(response) -> dict[str, np.ndarray]:
    assert response.status_code == 200, response.text
    with np.load(io.BytesIO(response.content)) as archive:
        return {name: archive[name] for name in archive.files}


def test_demo_seg_npz_on_the_source_grid(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/labelmap?format=npz")
    assert response.headers["Content-Disposition"].endswith(f'{demo_ids["SEG"]}.npz"')
    arrays = npz(response)
    labels = arrays["labels"]
    assert labels.shape == (1, *demo_study.geometry.shape)
    assert labels.dtype == np.uint8
    np.testing.assert_allclose(arrays["affine"], demo_study.geometry.affine)
    segments = json.loads(str(arrays["segments"]))
    assert [s["Number"] for s in segments] == sorted(demo_study.masks)
    for segment in segments:
        expected = demo_study.masks[segment["Number"]]
        assert segment["Value"] == segment["Number"]
        np.testing.assert_array_equal(labels[segment["Layer"]] == segment["Value"], expected)


def test_demo_seg_native_grid_and_segment_selection(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    arrays = npz(
        orthanc.get(
            f"/instances/{demo_ids['SEG']}/segmesh/labelmap?format=npz&grid=native&segments=2,4"
        )
    )
    # The demo SEG has a frame on every CT slice, so its native grid is the CT's.
    np.testing.assert_allclose(arrays["affine"], demo_study.geometry.affine, atol=1e-6)
    labels = arrays["labels"][0]
    assert sorted(np.unique(labels).tolist()) == [0, 2, 4]
    np.testing.assert_array_equal(labels == 2, demo_study.masks[2])
    np.testing.assert_array_equal(labels == 4, demo_study.masks[4])


def seg_copy(demo_study: DemoStudy, referenced_series_uid: str | None = None) -> bytes:
    """The demo SEG under a new SOP Instance UID (nothing of it cached), referencing another
    series where asked."""
    seg = copy.deepcopy(demo_study.seg)
    seg.SOPInstanceUID = generate_uid()
    if referenced_series_uid:
        seg.ReferencedSeriesSequence[0].SeriesInstanceUID = referenced_series_uid
    return encode(seg)


def origin_and_labels(orthanc: OrthancServer, seg_id: str, query: str) -> tuple[str, np.ndarray]:
    response = orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz{query}")
    return response.headers["X-SegMesh-LabelMap-Origin"], npz(response)["labels"]


@pytest.mark.parametrize(("first", "second"), [("", "&grid=source"), ("&grid=source", "")])
def test_default_and_source_grid_share_one_decoded_labelmap(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy, first: str, second: str
) -> None:
    # The viewer's overlays ask for the default grid, a download for grid=source: where the
    # series is stored both are the same label map, decoded once.
    seg_id = orthanc.upload(seg_copy(demo_study))
    origin, labels = origin_and_labels(orthanc, seg_id, first)
    assert origin == "decoded"
    origin, again = origin_and_labels(orthanc, seg_id, second)
    assert origin == "cache"
    np.testing.assert_array_equal(again, labels)
    assert labels.shape == (1, *demo_study.geometry.shape)
    origin, native = origin_and_labels(orthanc, seg_id, "&grid=native")
    assert origin == "decoded"
    np.testing.assert_array_equal(native, labels)  # its own planes are the CT's
    orthanc.session.delete(f"{orthanc.url}/instances/{seg_id}").raise_for_status()


def server_timing(response) -> dict[str, float]:
    """The ``Server-Timing`` header's stages, in ms."""
    stages = {}
    for part in response.headers["Server-Timing"].split(", "):
        name, _, duration = part.partition(";dur=")
        stages[name] = float(duration)
    return stages


def test_the_first_request_says_where_its_time_went(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    seg_id = orthanc.upload(seg_copy(demo_study))
    path = f"/instances/{seg_id}/segmesh/labelmap?format=npz"
    first = orthanc.get(path)
    assert first.headers["X-SegMesh-LabelMap-Origin"] == "decoded"
    stages = server_timing(first)
    assert list(stages) == [
        "index",
        "file",
        "attachment",
        "handover",
        "images",
        "decode",
        "layers-out+encode",
        "handback",
        "layers-back",
        "total",
    ]
    parts = sum(seconds for name, seconds in stages.items() if name != "total")
    assert all(seconds >= 0 for seconds in stages.values())
    # The stages lie within the request, apart from the rounding of each to 0.1 ms.
    assert parts <= stages["total"] + 0.1 * len(stages)
    # A repeat is the cache's: index calls only, and the file already written.
    again = server_timing(orthanc.get(path))
    assert list(again) == ["index", "total"]
    orthanc.session.delete(f"{orthanc.url}/instances/{seg_id}").raise_for_status()


def test_native_default_grid_never_serves_source_grid(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    seg_id = orthanc.upload(seg_copy(demo_study, referenced_series_uid=generate_uid()))
    origin, labels = origin_and_labels(orthanc, seg_id, "")
    assert origin == "decoded"
    assert labels.shape == (1, *demo_study.geometry.shape)
    response = orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz&grid=source")
    assert response.status_code == 422, response.text
    assert response.json()["Error"] == "Referenced series not stored"
    orthanc.session.delete(f"{orthanc.url}/instances/{seg_id}").raise_for_status()


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("segments=1,99", 400, "Unknown segment numbers"),
        ("segments=a", 400, "Bad parameter segments"),
        ("format=png", 400, "Bad parameter format"),
        ("include=mesh", 400, "Bad parameter include"),
        ("threshold=2", 400, "Bad parameter threshold"),
        ("grid=native&include=image&format=npz", 422, "No image volume"),
    ],
)
def test_bad_requests_answer_json(
    orthanc: OrthancServer, demo_ids: dict[str, str], query: str, status: int, error: str
) -> None:
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/labelmap?{query}")
    assert response.status_code == status, response.text
    assert response.json()["Error"] == error


def test_unknown_instance_is_404(orthanc: OrthancServer) -> None:
    response = orthanc.get("/instances/nonexistent/segmesh/labelmap")
    assert response.status_code == 404
    assert response.json()["Error"] == "Unknown instance"


def test_nifti_reads_back_in_ras(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/labelmap?format=nifti")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Disposition"].endswith('.nii.gz"')
    image = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    lps = demo_study.geometry.affine
    np.testing.assert_allclose(image.affine, np.diag([-1, -1, 1, 1]) @ lps, atol=1e-5)
    data = np.asarray(image.dataobj)
    assert data.shape == tuple(reversed(demo_study.geometry.shape))
    np.testing.assert_array_equal(data.T == 1, demo_study.masks[1])
    # The liver is on the patient's right: negative LPS x, so positive RAS x.
    centre = np.argwhere(data == 1).mean(axis=0)
    assert (image.affine @ [*centre, 1])[0] > 0


def test_nrrd_reads_back_with_slicer_fields(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/labelmap?format=nrrd")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Disposition"].endswith('.seg.nrrd"')
    header_size = response.content.index(b"\n\n") + 2
    header = nrrd.read_header(io.StringIO(response.content[:header_size].decode()))
    data = nrrd.reader.read_data(header, io.BytesIO(response.content[header_size:]))
    assert header["space"] == "left-posterior-superior"
    np.testing.assert_allclose(header["space directions"], demo_study.geometry.affine[:3, :3].T)
    np.testing.assert_allclose(header["space origin"], demo_study.geometry.affine[:3, 3])
    assert header["Segment0_Name"] == "Liver"
    assert header["Segment0_LabelValue"] == "1"
    assert header["Segment0_Layer"] == "0"
    np.testing.assert_array_equal(data.T == 1, demo_study.masks[1])
    k, j, i = np.nonzero(demo_study.masks[1])
    extent = [i.min(), i.max(), j.min(), j.max(), k.min(), k.max()]
    assert header["Segment0_Extent"] == " ".join(str(v) for v in extent)


def test_hdf5_with_image_in_hounsfield_units(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    response = orthanc.get(
        f"/instances/{demo_ids['SEG']}/segmesh/labelmap?format=hdf5&include=image"
    )
    assert response.status_code == 200, response.text
    with h5py.File(io.BytesIO(response.content), "r") as h5:
        labels = h5["labels"][...]
        image = h5["image"][...]
        assert h5["labels"].chunks == (1, 1, *demo_study.geometry.shape[1:])
        np.testing.assert_allclose(h5.attrs["affine"], demo_study.geometry.affine)
    expected_hu = np.stack(
        [
            ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            for ds in demo_study.images
        ]
    )
    np.testing.assert_array_equal(image, expected_hu)
    np.testing.assert_array_equal(labels[0] == 5, demo_study.masks[5])


def test_npz_and_nifti_with_image(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    arrays = npz(
        orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/labelmap?format=npz&include=image")
    )
    liver_hu = arrays["image"][demo_study.masks[1]]
    assert arrays["image"].shape == demo_study.geometry.shape
    assert abs(float(np.median(liver_hu)) - 60) < 30  # the phantom's liver is about 60 HU
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/labelmap?include=image")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["image.nii.gz", "labels.nii.gz"]
        image = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read("image.nii.gz")))
    np.testing.assert_array_equal(np.asarray(image.dataobj).T, arrays["image"])


@pytest.fixture(scope="module")
def liver_ids(orthanc_server: OrthancServer) -> dict[str, str]:
    folder = shared_file("dcmqi/segmentations")
    for path in sorted((folder / "ct-3slice").glob("*.dcm")):
        orthanc_server.upload(path)
    return {"SEG": orthanc_server.upload(part10_bytes(folder / "liver.dcm"))}


def test_dcmqi_liver_oracle_through_orthanc(
    orthanc: OrthancServer, liver_ids: dict[str, str]
) -> None:
    for grid in ("source", "native"):
        arrays = npz(
            orthanc.get(f"/instances/{liver_ids['SEG']}/segmesh/labelmap?format=npz&grid={grid}")
        )
        labels = arrays["labels"][0]
        assert labels.shape == (3, 512, 512)
        assert int((labels == 1).sum()) == 107_098
        # Per-frame counts of the oracle, in slice order along the normal.
        counts = sorted(int((labels[k] == 1).sum()) for k in range(3))
        assert counts == sorted([36_233, 35_645, 35_220])


@pytest.mark.parametrize(
    ("relative", "status", "error"),
    [
        ("highdicom/seg_image_cr_binary.dcm", 422, "No frame of reference"),
        ("highdicom/seg_image_sm_control_labelmap.dcm", 422, "No patient geometry"),
    ],
)
def test_unplaceable_segs_are_422(
    orthanc: OrthancServer, relative: str, status: int, error: str
) -> None:
    instance_id = orthanc.upload(part10_bytes(shared_file(relative)))
    response = orthanc.get(f"/instances/{instance_id}/segmesh/labelmap?format=npz&grid=native")
    assert response.status_code == status, response.text
    assert response.json()["Error"] == error


def test_over_max_voxels_is_413(tmp_path: Path, demo_study: DemoStudy) -> None:
    slices, rows, columns = demo_study.geometry.shape
    server = OrthancServer(tmp_path, {"SegMesh": {"MaxVoxels": slices * rows * columns - 1}})
    server.start()
    try:
        seg_id = server.upload(encode(demo_study.seg))
        response = server.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz&grid=native")
        assert response.status_code == 413, response.text
        assert response.json()["Error"] == "Label map too large"
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def seg_bytes(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("segmentation_type", "transfer_syntax"),
    [
        ("BINARY", "1.2.840.10008.1.2.4.90"),
        ("FRACTIONAL", "1.2.840.10008.1.2.5"),
        ("LABELMAP", "1.2.840.10008.1.2.4.80"),
        ("LABELMAP", "1.2.840.10008.1.2"),
    ],
)
def test_compressed_segs_through_orthanc(
    orthanc: OrthancServer, segmentation_type: str, transfer_syntax: str
) -> None:
    images = ct_series()
    for image in images:
        orthanc.upload(seg_bytes(image))
    seg, expected = make_seg(images, segmentation_type, transfer_syntax)
    seg_id = orthanc.upload(seg_bytes(seg))
    arrays = npz(orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz"))
    segments = json.loads(str(arrays["segments"]))
    assert [s["Number"] for s in segments] == sorted(expected)
    for segment in segments:
        np.testing.assert_array_equal(
            arrays["labels"][segment["Layer"]] == segment["Value"], expected[segment["Number"]]
        )


def test_deflated_image_frame_compression_through_orthanc(orthanc: OrthancServer) -> None:
    # Orthanc 1.10 stores a file of this transfer syntax (logging that it cannot decode it);
    # segmesh decodes the frames itself.
    images = ct_series()
    for image in images:
        orthanc.upload(seg_bytes(image))
    seg, expected = make_seg(images)
    seg_id = orthanc.upload(unknown_syntax_bytes(deflate_frames(seg)))
    labels = npz(orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz"))["labels"]
    assert labels.shape[0] == 2  # segments 1 and 2 overlap
    for number, mask in expected.items():
        assert int((labels == number).sum()) == int(mask.sum())


def test_truncated_pixel_data_is_400(orthanc: OrthancServer) -> None:
    images = ct_series()
    seg, _ = make_seg(images)
    seg.PixelData = seg.PixelData[: len(seg.PixelData) // 2]
    seg_id = orthanc.upload(seg_bytes(seg))
    response = orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz&grid=native")
    assert response.status_code == 400, response.text
    assert response.json()["Error"] == "Malformed SEG"
    assert "PixelData holds" in response.json()["Details"]


def test_a_frame_beyond_any_scanner_is_400_on_every_grid(orthanc: OrthancServer) -> None:
    # Found by the fuzz test: a frame at 1e308 mm was placed at some index of the native grid
    # (200 and wrong voxels) instead of being refused.
    images = ct_series()
    for image in images:
        orthanc.upload(seg_bytes(image))
    seg, _ = make_seg(images)
    seg.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0].ImagePositionPatient = [
        "1e308",
        "0",
        "0",
    ]
    seg_id = orthanc.upload(seg_bytes(seg))
    for grid in ("native", "source"):
        response = orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz&grid={grid}")
        assert response.status_code == 400, response.text
        assert response.json()["Error"] == "Malformed attribute"
        assert "ImagePositionPatient" in response.json()["Details"]
    assert "Traceback" not in orthanc.log()
