"""The "3D model by threshold" dialog of Orthanc Explorer in Debian's Chromium, on a real
Orthanc with the demo CT: histogram, bounds, preview, stored model."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

from tests import test_viewer_browser as viewer_tests
from tests.orthanc_server import OrthancServer
from tests.test_viewer_browser import SCENE_BACKGROUND, explorer, opened_series, screenshot

pytestmark = pytest.mark.browser

# The viewer tests' Chromium and page (with its page-error check).
browser = viewer_tests.browser
page = viewer_tests.page

WHITE = (255, 255, 255)


def histogram_pixels(page: Page) -> np.ndarray:
    """(rows, columns, 3) RGB of the histogram canvas."""
    width, height, data = page.evaluate(
        """() => {
            const c = document.getElementById('segmesh-histogram');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            return [c.width, c.height, Array.from(d)];
        }"""
    )
    return np.array(data, dtype=np.uint8).reshape(height, width, 4)[:, :, :3]


def share_unlike(pixels: np.ndarray, background: tuple[int, int, int]) -> float:
    return float(np.any(np.abs(pixels.astype(int) - background) > 8, axis=2).mean())


def test_threshold_dialog_histogram_preview_and_stored_model(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    series = demo_ids["CTSeries"]
    expected = orthanc.get(f"/series/{series}/segmesh/histogram", params={"bins": "256"}).json()
    explorer(page, orthanc, f"series?uuid={series}")
    page.wait_for_selector("#segmesh-threshold-model")
    page.click("#segmesh-threshold-model")
    page.wait_for_selector("#segmesh-histogram[data-voxels]", timeout=60_000)
    canvas = page.locator("#segmesh-histogram")
    assert float(canvas.get_attribute("data-min") or "nan") == expected["Min"]
    assert float(canvas.get_attribute("data-max") or "nan") == expected["Max"]
    assert int(canvas.get_attribute("data-voxels") or "0") == sum(expected["Counts"])
    unit = expected["Unit"]
    assert page.inner_text("#segmesh-histogram-range") == (
        f"{expected['Min']:g} to {expected['Max']:g} {unit}, {expected['Voxels']} voxels"
    )
    pixels = histogram_pixels(page)
    assert share_unlike(pixels, WHITE) > 0.02
    # The tallest bar (log scale) reaches the top: its column is drawn almost to row 4.
    tallest = int(np.argmax(expected["Counts"]))
    column = int((tallest + 0.5) / len(expected["Counts"]) * pixels.shape[1])
    assert share_unlike(pixels[4:, column : column + 1], WHITE) > 0.9

    # Pressing at three quarters of the histogram moves the (only) bound there.
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
    picked = float(page.input_value("#segmesh-lower"))
    quarter = expected["Min"] + 0.75 * (expected["Max"] - expected["Min"])
    assert abs(picked - quarter) <= (expected["Max"] - expected["Min"]) / box["width"] + 1

    page.fill("#segmesh-lower", "300")
    page.fill("#segmesh-upper", "3000")
    page.select_option("#segmesh-smoothing", "none")
    page.click("#segmesh-preview")
    page.wait_for_selector("#segmesh-preview-canvas[data-triangles]", timeout=60_000)
    preview = page.locator("#segmesh-preview-canvas")
    triangles = int(preview.get_attribute("data-triangles") or "0")
    answer = orthanc.get(
        f"/series/{series}/segmesh/stl",
        params={
            "threshold": "300",
            "upper": "3000",
            "keep-largest": "1",
            "step": "1",
            "smoothing": "none",
            "decimate": "0",
        },
    )
    assert int(answer.headers["X-Segmesh-Triangles"]) == triangles
    shown = Image.open(BytesIO(preview.screenshot())).convert("RGB")
    assert share_unlike(np.asarray(shown), SCENE_BACKGROUND) > 0.01
    # A target file size becomes the fraction of triangles removed.
    full_bytes = 84 + 50 * triangles
    page.fill("#segmesh-target-mb", f"{full_bytes / 2 / 1e6:.6f}")
    assert float(page.input_value("#segmesh-decimate")) == pytest.approx(0.5, abs=0.002)
    screenshot(page, "explorer-threshold-dialog")

    page.click("#segmesh-store")
    # The dialog opens on the CT's own series page: wait for it to leave it.
    page.wait_for_function(f"location.hash !== '#series?uuid={series}'", timeout=120_000)
    stored = orthanc.get(f"/series/{opened_series(page)}").json()
    assert stored["MainDicomTags"]["Modality"] == "M3D"
    (instance,) = stored["Instances"]
    tags = orthanc.get(f"/instances/{instance}/tags?simplify").json()
    assert tags["DocumentTitle"] == "Threshold >= 300 and <= 3000, 1 largest"
    assert tags["SOPClassUID"] == "1.2.840.10008.5.1.4.1.1.104.3"
