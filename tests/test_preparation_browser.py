"""The threshold dialog's preparation for printing in Debian's Chromium, on a real Orthanc
with a CT of a water ball: the preview asks what the store asks, and the stored model
records it."""

from __future__ import annotations

import io
import json

import pytest
from playwright.sync_api import Page
from pydicom import dcmread

from tests import test_viewer_browser as viewer_tests
from tests.orthanc_server import OrthancServer
from tests.test_preparation_routes import source
from tests.test_viewer_browser import explorer, opened_series

pytestmark = pytest.mark.browser

# The viewer tests' Chromium and page (with its page-error check), the routes' CT and SEG.
browser = viewer_tests.browser
page = viewer_tests.page
__all__ = ["source"]


def test_threshold_dialog_prepares_for_printing(
    page: Page, orthanc: OrthancServer, source: dict
) -> None:
    series = source["Series"]
    explorer(page, orthanc, f"series?uuid={series}")
    page.wait_for_selector("#segmesh-threshold-model")
    page.click("#segmesh-threshold-model")
    page.wait_for_selector("#segmesh-histogram[data-voxels]", timeout=60_000)
    page.fill("#segmesh-lower", "-500")
    page.fill("#segmesh-upper", "")
    page.fill("#segmesh-keep-count", "2")
    page.check("#segmesh-fill-cavities")
    page.fill("#segmesh-hollow-wall", "3")
    page.fill("#segmesh-drain", "5")
    page.select_option("#segmesh-base-axis", "I")
    page.fill("#segmesh-base-offset", "1")
    page.fill("#segmesh-size-mm", "80")
    page.fill("#segmesh-target-triangles", "3000")
    page.click("#segmesh-preview")
    page.wait_for_selector("#segmesh-preview-canvas[data-triangles]", timeout=60_000)
    shown = int(page.locator("#segmesh-preview-canvas").get_attribute("data-triangles") or "0")
    answer = orthanc.get(
        f"/series/{series}/segmesh/stl",
        params={
            "threshold": "-500",
            "keep-largest": "2",
            "fill-cavities": "true",
            "hollow-wall-mm": "3",
            "drain-mm": "5",
            "base-axis": "I",
            "base-offset-mm": "1",
            "size-mm": "80",
            "target-triangles": "3000",
            "step": "1",
            "smoothing": "taubin",
        },
    )
    assert answer.status_code == 200, answer.text
    assert int(answer.headers["X-Segmesh-Triangles"]) == shown

    page.click("#segmesh-store")
    page.wait_for_function(f"location.hash !== '#series?uuid={series}'", timeout=120_000)
    (instance,) = orthanc.get(f"/series/{opened_series(page)}").json()["Instances"]
    dataset = dcmread(io.BytesIO(orthanc.get(f"/instances/{instance}/file").content))
    parameters = json.loads(dataset.DerivationAlgorithmSequence[0].AlgorithmParameters)
    assert parameters["KeepLargest"] == 2
    assert parameters["FillCavities"] is True
    assert parameters["Hollow"] == {"WallMm": 3.0, "DrainMm": 5.0}
    assert parameters["Base"] == {"Axis": "I", "OffsetMm": 1.0}
    assert parameters["Scale"] == {"SizeMm": 80.0}
    assert parameters["TargetTriangles"] == 3000
    assert dataset.ContentDescription.startswith("Scaled to 80 mm: ")
    assert dataset.FrameOfReferenceUID != source["FrameOfReferenceUID"]
