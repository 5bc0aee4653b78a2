"""The statistics route in a real Orthanc keeps the figures of the label map alone between
requests, and finds the image figures anew from the images as stored at each request."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tests.builders import ct_series, seg
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

SHAPE = (6, 20, 24)
INTERCEPT = -1024
LABEL_MAP_KEYS = (
    "Number", "Label", "Layer", "Voxels", "VolumeMl", "MeshVolumeMl", "SurfaceAreaMm2",
    "CentroidLps", "BoundsLps", "ExtentMm",
)  # fmt: skip


def statistics(orthanc: OrthancServer, instance_id: str, query: str = "") -> list[dict]:
    response = orthanc.get(f"/instances/{instance_id}/segmesh/statistics{query}")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["Grid"] == "source"
    return list(answer["Segments"])


def check_image(segment: dict, hounsfield: np.ndarray) -> None:
    values = hounsfield.astype(np.float64)
    image = segment["Image"]
    assert image["Mean"] == pytest.approx(values.mean(), rel=1e-6)
    assert image["Std"] == pytest.approx(values.std(), rel=1e-6)
    assert image["Median"] == pytest.approx(np.median(values), rel=1e-6)
    assert image["P95"] == pytest.approx(np.percentile(values, 95), rel=1e-6)
    assert (image["Min"], image["Max"]) == (values.min(), values.max())


def test_image_figures_follow_the_images_stored_now(orthanc: OrthancServer) -> None:
    rng = np.random.default_rng(14)
    stored = rng.integers(900, 1300, SHAPE).astype(np.int16)
    images = ct_series(SHAPE, (0.7, 0.7, 2.0), pixels=stored, rescale_intercept=INTERCEPT)
    labels = np.zeros(SHAPE, np.uint8)
    labels[1:5, 3:12, 4:15] = 1  # across slice 3
    labels[4:6, 10:18, 12:22] = 2  # not on slice 3
    image_ids = [orthanc.upload(encode(ds)) for ds in images]
    seg_id = orthanc.upload(encode(seg(images, labels, ["Across", "Below"])))

    first = statistics(orthanc, seg_id)
    assert statistics(orthanc, seg_id) == first  # the kept figures are the ones made
    for segment in first:
        mask = labels == segment["Number"]
        assert segment["Voxels"] == int(mask.sum())
        check_image(segment, stored[mask] + INTERCEPT)
    (only_below,) = statistics(orthanc, seg_id, "?segments=2")
    assert only_below == first[1]

    # Slice 3 stored anew, brighter: the same instance id (and the same series' instances),
    # so the SEG's label map and its figures stay; its image figures must not.
    brighter = stored.copy()
    brighter[3] += 500
    restored = copy.deepcopy(images[3])
    restored.PixelData = brighter[3].tobytes()
    assert orthanc.session.delete(f"{orthanc.url}/instances/{image_ids[3]}").ok
    assert orthanc.upload(encode(restored)) == image_ids[3]

    second = statistics(orthanc, seg_id)
    labelmap = orthanc.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz")
    assert labelmap.headers["X-SegMesh-LabelMap-Origin"] == "cache"  # kept, as its figures
    for before, after in zip(first, second, strict=True):
        assert {key: after[key] for key in LABEL_MAP_KEYS} == {
            key: before[key] for key in LABEL_MAP_KEYS
        }
        check_image(after, brighter[labels == after["Number"]] + INTERCEPT)
    across, below = second
    on_slice_3 = (labels[3] == 1).sum() / (labels == 1).sum()
    assert across["Image"]["Mean"] == pytest.approx(
        first[0]["Image"]["Mean"] + 500 * on_slice_3, rel=1e-6
    )
    assert below["Image"] == first[1]["Image"]
