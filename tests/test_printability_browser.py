"""Printability reports in the browser (Debian's Chromium, a real Orthanc): the viewer's 3D
panel shows the selected model's report from ``GET /instances/{id}/segmesh/printability``, and
the threshold dialog the preview's from its ``X-Segmesh-Printability`` header."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page

from tests import test_viewer_browser as viewer_tests
from tests.orthanc_server import OrthancServer
from tests.test_viewer_browser import explorer, open_viewer, screenshot

pytestmark = pytest.mark.browser

# The viewer tests' Chromium and page (with its page-error check), and their stored models.
browser = viewer_tests.browser
page = viewer_tests.page
stored_models = viewer_tests.stored_models

YES_NO = {True: "yes", False: "no"}


def shown(page: Page, selector: str) -> dict[str, str]:
    """The values a report's <dl> shows, by JSON key."""
    values = page.eval_on_selector_all(
        f"{selector} dd[data-key]", "ds => ds.map(d => [d.dataset.key, d.textContent])"
    )
    return dict(values)


def check_shown(values: dict[str, str], report: dict[str, Any]) -> None:
    """What is shown is the report: yes/no, the numbers with their units."""
    for key in ("Closed", "Manifold", "OutwardNormals"):
        assert values[key] == YES_NO[report[key]], key
    assert int(values["Bodies"]) == report["Bodies"]
    volume, unit = values["VolumeMl"].split(" ")
    assert (float(volume), unit) == (report["VolumeMl"], "ml")
    size = values["BoundsMm"].removesuffix(" mm").split(" × ")
    assert [float(v) for v in size] == report["BoundsMm"]["Size"]
    wall = report["ThinnestWallMm"]
    if wall is None:
        assert values["ThinnestWallMm"] == "not estimated"
    else:
        assert float(values["ThinnestWallMm"].removesuffix(" mm")) == wall


def test_the_3d_panel_shows_the_selected_models_report(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], stored_models: dict[str, Any]
) -> None:
    liver, vertebra = (
        next(i["ID"] for i in stored_models["Instances"] if i["Label"] == label)
        for label in ("Liver", "Vertebra")
    )
    open_viewer(page, orthanc, f"model={liver}")
    page.wait_for_selector("#model-printability dd[data-key=VolumeMl]", timeout=30_000)
    report = orthanc.get(f"/instances/{liver}/segmesh/printability").json()
    assert report["Source"] == "model"
    assert page.inner_text("#model-printability .printability-title") == "Printability of Liver"
    check_shown(shown(page, "#model-printability"), report)

    # The study's page: another model's name clicked shows its report instead.
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    page.locator(f"#models li[data-model='{vertebra}'] .model-name").click()
    page.wait_for_selector(f"#model-printability[data-model='{vertebra}']", timeout=30_000)
    report = orthanc.get(f"/instances/{vertebra}/segmesh/printability").json()
    check_shown(shown(page, "#model-printability"), report)
    assert page.locator(f"#models li[data-model='{vertebra}']").get_attribute("class") == (
        "selected"
    )
    # Selecting leaves the model shown.
    assert page.locator(f"#models li[data-model='{vertebra}'] input").is_checked()
    screenshot(page, "viewer-printability")


def test_the_threshold_dialog_shows_the_previews_report(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    series = demo_ids["CTSeries"]
    explorer(page, orthanc, f"series?uuid={series}")
    page.wait_for_selector("#segmesh-threshold-model")
    page.click("#segmesh-threshold-model")
    page.wait_for_selector("#segmesh-histogram[data-voxels]", timeout=60_000)
    page.fill("#segmesh-lower", "300")
    page.fill("#segmesh-upper", "3000")
    page.select_option("#segmesh-smoothing", "none")
    page.click("#segmesh-preview")
    page.wait_for_selector("#segmesh-preview-printability dd[data-key=VolumeMl]", timeout=60_000)
    answer = orthanc.get(
        f"/series/{series}/segmesh/stl",
        params={
            "threshold": "300",
            "upper": "3000",
            "keep-largest": "1",
            "step": page.input_value("#segmesh-step"),
            "smoothing": "none",
            "decimate": "0",
        },
    )
    report = json.loads(answer.headers["X-Segmesh-Printability"])
    check_shown(shown(page, "#segmesh-preview-printability"), report)
    screenshot(page, "explorer-threshold-printability")
