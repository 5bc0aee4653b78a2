"""GET /instances/{id}/segmesh/statistics in a real Orthanc: the demo's organs, CSV, a SEG
whose CT is not stored, FRACTIONAL thresholds, errors."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from segmesh.demo import DemoStudy
from segmesh.statistics import CSV_COLUMNS
from tests.conftest import encode
from tests.orthanc_server import OrthancServer
from tests.test_seg_roundtrip import ct_series, make_seg


def statistics(orthanc: OrthancServer, instance_id: str, query: str = "") -> dict:
    response = orthanc.get(f"/instances/{instance_id}/segmesh/statistics{query}")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def demo_hounsfield(demo_study: DemoStudy) -> np.ndarray:
    return np.stack(
        [
            ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            for ds in demo_study.images
        ]
    )


@pytest.mark.parametrize("kind", ["SEG", "RTSTRUCT"])
def test_demo_figures_match_the_demo_masks_and_ct(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy, kind: str
) -> None:
    answer = statistics(orthanc, demo_ids[kind])
    assert answer["Kind"] == kind
    assert answer["Grid"] == "source"
    assert answer["ImageSeries"] == demo_ids["CTSeries"]
    voxel_ml = abs(np.linalg.det(demo_study.geometry.affine[:3, :3])) / 1000.0
    assert voxel_ml == pytest.approx(1.2 * 0.9 * 2.5 / 1000.0)
    hounsfield = demo_hounsfield(demo_study)
    segments = answer["Segments"]
    assert [s["Number"] for s in segments] == sorted(demo_study.masks)
    for segment in segments:
        mask = demo_study.masks[segment["Number"]]
        assert segment["Voxels"] == int(mask.sum())
        assert segment["VolumeMl"] == pytest.approx(mask.sum() * voxel_ml, rel=1e-6)
        values = hounsfield[mask]
        assert segment["Image"]["Mean"] == pytest.approx(values.mean(), rel=1e-6)
        assert segment["Image"]["Median"] == pytest.approx(np.median(values), rel=1e-6)
        assert segment["Image"]["Max"] == values.max()
        # The closed surface encloses about the voxels' volume.
        assert segment["MeshVolumeMl"] == pytest.approx(segment["VolumeMl"], rel=0.1)
    liver = segments[0]
    assert liver["Label"] == "Liver"
    # LPS: x grows to the patient's left; the phantom's liver is on the right, at x = -30 mm.
    assert liver["CentroidLps"][0] < 0
    assert liver["CentroidLps"] == pytest.approx([-30.0, 0.0, 8.0], abs=1.5)
    assert liver["Image"]["Mean"] == pytest.approx(60, abs=2)  # the phantom's liver HU


def test_csv_has_a_row_per_segment(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    instance_id = demo_ids["SEG"]
    response = orthanc.get(f"/instances/{instance_id}/segmesh/statistics?format=csv")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{instance_id}-statistics.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(row["Number"]) for row in rows] == sorted(demo_study.masks)
    answer = statistics(orthanc, instance_id)
    for row, segment in zip(rows, answer["Segments"], strict=True):
        assert row["Label"] == segment["Label"]
        assert int(row["Voxels"]) == segment["Voxels"]
        assert float(row["Image_Mean"]) == segment["Image"]["Mean"]


def test_segment_selection_and_native_grid(
    orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    answer = statistics(orthanc, demo_ids["SEG"], "?segments=2,4&grid=native")
    assert answer["Grid"] == "native"
    assert answer["ImageSeries"] is None
    assert [s["Number"] for s in answer["Segments"]] == [2, 4]
    for segment in answer["Segments"]:
        assert segment["Image"] is None
        assert segment["Voxels"] == int(demo_study.masks[segment["Number"]].sum())


@pytest.fixture(scope="module")
def fractional_without_ct(orthanc_server: OrthancServer) -> tuple[str, dict[int, np.ndarray]]:
    """A FRACTIONAL SEG (values 0.8 of the maximum) whose CT is never stored."""
    seg, expected = make_seg(ct_series(), "FRACTIONAL")
    return orthanc_server.upload(encode(seg)), expected


def test_without_the_ct_native_grid_and_no_image(
    orthanc: OrthancServer, fractional_without_ct: tuple[str, dict[int, np.ndarray]]
) -> None:
    seg_id, expected = fractional_without_ct
    answer = statistics(orthanc, seg_id)
    assert answer["Grid"] == "native"
    assert answer["ImageSeries"] is None
    assert [s["Voxels"] for s in answer["Segments"]] == [int(m.sum()) for m in expected.values()]
    assert all(s["Image"] is None for s in answer["Segments"])
    rows = list(csv.DictReader(io.StringIO(orthanc.get(
        f"/instances/{seg_id}/segmesh/statistics?format=csv").text)))  # fmt: skip
    assert [row["Image_Mean"] for row in rows] == ["", "", ""]


def test_fractional_threshold_as_for_the_label_map(
    orthanc: OrthancServer, fractional_without_ct: tuple[str, dict[int, np.ndarray]]
) -> None:
    seg_id, expected = fractional_without_ct
    at = statistics(orthanc, seg_id, "?threshold=0.8")
    assert [s["Voxels"] for s in at["Segments"]] == [int(m.sum()) for m in expected.values()]
    above = statistics(orthanc, seg_id, "?threshold=0.9")
    assert [s["Voxels"] for s in above["Segments"]] == [0, 0, 0]
    assert above["Segments"][0]["CentroidLps"] is None


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ("?format=xml", 400, "Bad parameter format"),
        ("?threshold=2", 400, "Bad parameter threshold"),
        ("?segments=liver", 400, "Bad parameter segments"),
        ("?segments=99", 400, None),
        ("?grid=sideways", 400, "Bad parameter grid"),
    ],
)
def test_bad_requests_answer_json(
    orthanc: OrthancServer, demo_ids: dict[str, str], query: str, status: int, error: str | None
) -> None:
    response = orthanc.get(f"/instances/{demo_ids['SEG']}/segmesh/statistics{query}")
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    if error:
        assert response.json()["Error"] == error


def test_source_grid_without_the_ct_is_422_and_unknown_is_404(
    orthanc: OrthancServer, fractional_without_ct: tuple[str, dict[int, np.ndarray]]
) -> None:
    seg_id, _ = fractional_without_ct
    response = orthanc.get(f"/instances/{seg_id}/segmesh/statistics?grid=source")
    assert response.status_code == 422
    assert response.json()["Error"] == "Referenced series not stored"
    assert orthanc.get("/instances/nonexistent/segmesh/statistics").status_code == 404
