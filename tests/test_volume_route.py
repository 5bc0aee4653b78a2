"""GET /instances/{id}/segmesh/volume (grid), volume/labels.npy and volume/image.npy in a real
Orthanc: what the viewer's three planes are drawn from."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import numpy.typing as npt
import pytest
from pydicom.dataset import Dataset

from segmesh.demo import DemoStudy
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer


def npy(orthanc: OrthancServer, path: str) -> npt.NDArray[np.generic]:
    response = orthanc.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/octet-stream"
    return np.load(BytesIO(response.content), allow_pickle=False)


def hounsfield(image: Dataset) -> npt.NDArray[np.float64]:
    """The stored pixels of one CT image after its modality rescale."""
    slope, intercept = float(image.RescaleSlope), float(image.RescaleIntercept)
    return image.pixel_array.astype(np.float64) * slope + intercept


@pytest.fixture(scope="module")
def shuffled_ct(orthanc_server: OrthancServer) -> tuple[list[Dataset], str]:
    """A CT with RescaleIntercept -1024 on non-uniform slices (3 mm, then 1.5 mm), uploaded in
    a shuffled order, and a SEG of one box on it."""
    rng = np.random.default_rng(7)
    z = np.array([0.0, 3.0, 6.0, 7.5, 9.0, 10.5, 12.0])
    positions = np.c_[np.full(7, -20.0), np.full(7, -15.0), z - 40.0]
    pixels = rng.integers(0, 2000, size=(7, 12, 16), dtype=np.int16)
    images = builders.ct_images(
        positions, (1.25, 0.75), pixels, slice_thickness=1.5, rescale_intercept=-1024
    )
    for k in rng.permutation(len(images)):
        orthanc_server.upload(encode(images[k]))
    box = np.zeros((7, 12, 16), dtype=bool)
    box[2:5, 3:9, 4:12] = True
    seg_id = orthanc_server.upload(encode(builders.seg(images, box, ["Box"])))
    return images, seg_id


def test_image_volume_is_the_ct_in_hounsfield_units_in_slice_order(
    orthanc: OrthancServer, shuffled_ct: tuple[list[Dataset], str]
) -> None:
    images, seg_id = shuffled_ct
    volume = npy(orthanc, f"/instances/{seg_id}/segmesh/volume/image.npy")
    assert volume.dtype == np.int16
    assert volume.shape == (7, 12, 16)
    expected = np.stack([hounsfield(image) for image in images])
    assert expected.min() < -900  # the intercept is applied, not just the stored values
    np.testing.assert_array_equal(volume, expected)


def test_grid_reports_the_non_uniform_slice_positions(
    orthanc: OrthancServer, shuffled_ct: tuple[list[Dataset], str]
) -> None:
    images, seg_id = shuffled_ct
    response = orthanc.get(f"/instances/{seg_id}/segmesh/volume")
    assert response.status_code == 200, response.text
    grid = response.json()
    assert grid["Shape"] == [7, 12, 16]
    assert grid["UniformSpacing"] is False
    np.testing.assert_allclose(
        grid["SlicePositions"], [[float(v) for v in im.ImagePositionPatient] for im in images]
    )
    in_plane = np.array([[0.75, 0.0], [0.0, 1.25], [0.0, 0.0]])
    np.testing.assert_allclose(np.array(grid["Affine"])[:3, :2], in_plane)
    assert [(s["Number"], s["Label"], s["Layer"], s["Value"]) for s in grid["Segments"]] == [
        (1, "Box", 0, 1)
    ]
    labels = npy(orthanc, f"/instances/{seg_id}/segmesh/volume/labels.npy")
    assert labels.shape == (1, 7, 12, 16)
    assert np.count_nonzero(labels) == 3 * 6 * 8
    assert np.all(labels[0, 2:5, 3:9, 4:12] == 1)


@pytest.mark.parametrize("kind", ["SEG", "RTSTRUCT"])
def test_labels_are_the_labelmap_routes_voxels(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy, kind: str
) -> None:
    labels = npy(orthanc, f"/instances/{demo_ids[kind]}/segmesh/volume/labels.npy")
    response = orthanc.get(f"/instances/{demo_ids[kind]}/segmesh/labelmap?format=npz")
    assert response.status_code == 200, response.text
    with np.load(BytesIO(response.content)) as npz:
        np.testing.assert_array_equal(labels, npz["labels"])
        grid = orthanc.get(f"/instances/{demo_ids[kind]}/segmesh/volume").json()
        np.testing.assert_allclose(grid["Affine"], npz["affine"])
    for number, mask in demo_study.masks.items():
        segment = next(s for s in grid["Segments"] if s["Number"] == number)
        np.testing.assert_array_equal(labels[segment["Layer"]] == segment["Value"], mask)


def test_demo_image_volume_matches_its_images(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    volume = npy(orthanc, f"/instances/{demo_ids['SEG']}/segmesh/volume/image.npy")
    np.testing.assert_array_equal(volume, np.stack([hounsfield(im) for im in demo_study.images]))


def test_bad_requests_answer_json_errors(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    for path in ("volume", "volume/labels.npy", "volume/image.npy"):
        response = orthanc.get(f"/instances/no-such-instance/segmesh/{path}")
        assert response.status_code == 404, path
        assert "Error" in response.json()
    ct_image = orthanc.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"][0]
    response = orthanc.get(f"/instances/{ct_image}/segmesh/volume/image.npy")
    assert response.status_code == 415, response.text
    # A SEG whose referenced series is not stored: labels on the native grid, but no image.
    images = builders.ct_series((3, 8, 8), (1.0, 1.0, 2.0))
    mask = np.zeros((3, 8, 8), dtype=bool)
    mask[1, 2:5, 2:5] = True
    alone = orthanc.upload(encode(builders.seg(images, mask, ["Alone"])))
    response = orthanc.get(f"/instances/{alone}/segmesh/volume/image.npy")
    assert response.status_code == 422, response.text
    assert response.json()["Error"] == "Referenced series not stored"
    labels = npy(orthanc, f"/instances/{alone}/segmesh/volume/labels.npy")
    assert np.count_nonzero(labels) == 9


def planes_of(volume: npt.NDArray[np.generic], voxel: tuple[int, int, int]) -> np.ndarray:
    """(..., R*C + S*C + S*R) of ``volume`` (..., S, R, C): fixed k, fixed j, fixed i planes."""
    i, j, k = voxel
    lead = volume.shape[:-3]
    return np.concatenate(
        [
            volume[..., k, :, :].reshape(*lead, -1),
            volume[..., :, j, :].reshape(*lead, -1),
            volume[..., :, :, i].reshape(*lead, -1),
        ],
        axis=-1,
    )


@pytest.mark.parametrize("voxel", [None, (0, 0, 0), (15, 11, 6), (3, 7, 1)])
def test_planes_are_the_volumes_on_the_three_planes_through_the_voxel(
    orthanc: OrthancServer,
    shuffled_ct: tuple[list[Dataset], str],
    voxel: tuple[int, int, int] | None,
) -> None:
    """The first view's planes hold, value for value, what the whole volumes hold there (the
    centre (8, 6, 3) by default, as the viewer's crosshair starts), shuffled slices and
    the rescale included."""
    _, seg_id = shuffled_ct
    query = "" if voxel is None else "?voxel=" + ",".join(map(str, voxel))
    base = f"/instances/{seg_id}/segmesh/volume"
    image = npy(orthanc, f"{base}/image.npy")
    labels = npy(orthanc, f"{base}/labels.npy")
    at = voxel or (8, 6, 3)
    image_planes = npy(orthanc, f"{base}/planes/image.npy{query}")
    assert image_planes.dtype == np.int16
    assert image_planes.shape == (12 * 16 + 7 * 16 + 7 * 12,)
    np.testing.assert_array_equal(image_planes, planes_of(image, at))
    label_planes = npy(orthanc, f"{base}/planes/labels.npy{query}")
    assert label_planes.dtype == labels.dtype
    np.testing.assert_array_equal(label_planes, planes_of(labels, at))
    # The box (slices 2-4, 6 rows, 8 columns) on the axial plane, independently of labels.npy.
    assert np.count_nonzero(label_planes[0, : 12 * 16]) == (48 if 2 <= at[2] <= 4 else 0)


def test_demo_planes_match_the_images(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    expected = np.stack([hounsfield(im) for im in demo_study.images])
    slices, rows, columns = expected.shape
    voxel = (columns // 3, rows // 2 + 1, slices - 1)
    path = f"/instances/{demo_ids['SEG']}/segmesh/volume/planes/image.npy"
    planes = npy(orthanc, path + "?voxel=" + ",".join(map(str, voxel)))
    np.testing.assert_array_equal(planes, planes_of(expected, voxel))


@pytest.mark.parametrize("what", ["image", "labels"])
def test_planes_refuse_bad_voxels(
    orthanc: OrthancServer, shuffled_ct: tuple[list[Dataset], str], what: str
) -> None:
    _, seg_id = shuffled_ct
    path = f"/instances/{seg_id}/segmesh/volume/planes/{what}.npy"
    for voxel in ("16,0,0", "0,12,0", "0,0,7", "1,2", "a,b,c", "-1,0,0", "1.5,2,3"):
        response = orthanc.get(path, params={"voxel": voxel})
        assert response.status_code == 400, (voxel, response.text)
        assert response.json()["Error"] == "Bad parameter voxel"
    response = orthanc.get(f"/instances/no-such-instance/segmesh/volume/planes/{what}.npy")
    assert response.status_code == 404
