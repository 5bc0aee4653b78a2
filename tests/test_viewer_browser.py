"""The viewer and the Orthanc Explorer buttons in Debian's Chromium, on a real Orthanc.

Screenshots are kept in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, sync_playwright

from segmesh.demo import DemoStudy
from segmesh.demo.phantom import ORGANS, ORIGIN, SLICE_THICKNESS
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
COLORS = {organ.number: organ.color for organ in ORGANS}
SCENE_BACKGROUND = (0x20, 0x24, 0x28)
STL_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.104.3"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_viewer(page: Page, orthanc: OrthancServer, query: str) -> None:
    page.goto(f"{orthanc.url}/segmesh/app/viewer.html?{query}")
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#status")


def drawn_after(page: Page, action: Any, plane: str = "axial") -> None:
    """Run ``action`` and wait until the ``plane``'s canvas has been drawn again."""
    drawn = f"(document.querySelector('#plane-{plane} .plane-image').dataset.drawn || '0')"
    before = page.evaluate(drawn)
    action()
    page.wait_for_function(f"{drawn} !== '{before}'", timeout=30_000)
    # Several draws may be queued (a slider's input events): wait for the last one.
    page.wait_for_timeout(200)


def set_input(page: Page, selector: str, value: str) -> None:
    page.eval_on_selector(
        selector,
        "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )


#: For each plane: its fixed grid axis and the grid axes of the returned array's rows and
#: columns (grid axes: 0 i columns, 1 j rows, 2 k slices).
PLANE_AXES = {"axial": (2, 1, 0), "coronal": (1, 2, 0), "sagittal": (0, 2, 1)}


def canvas_pixels(
    page: Page, plane: str = "axial", axes: tuple[int, int, int] | None = None
) -> npt.NDArray[np.uint8]:
    """RGBA of the ``plane``'s canvas at the centre of each voxel of the plane, as drawn:
    (rows, columns, 4) for axial, (slices, columns, 4) coronal, (slices, rows, 4) sagittal on
    an axial acquisition; ``axes`` (fixed, rows, columns) grid axes for other grids."""
    fixed, down, across = axes or PLANE_AXES[plane]
    shape, data = page.evaluate(
        """([name, fixed, down, across]) => {
            const planes = window.segmeshViewer;
            const view = planes.views[name];
            const c = view.canvas;
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const size = planes.volume.size;
            const out = [];
            for (let a = 0; a < size[down]; a += 1) {
                for (let b = 0; b < size[across]; b += 1) {
                    const ijk = [...planes.cursor.ijk];
                    ijk[down] = a;
                    ijk[across] = b;
                    const [x, y] = view.toCanvas(ijk).map(Math.floor);
                    const p = (y * c.width + x) * 4;
                    out.push(d[p], d[p + 1], d[p + 2], d[p + 3]);
                }
            }
            return [[size[down], size[across]], out];
        }""",
        [plane, fixed, down, across],
    )
    return np.array(data, dtype=np.uint8).reshape(*shape, 4)


def cursor(page: Page) -> list[int]:
    """The crosshair voxel [i, j, k]."""
    return list(page.evaluate("window.segmeshViewer.cursor.ijk"))


def current_slice(page: Page) -> int:
    return cursor(page)[2]


def go_to_slice(page: Page, k: int) -> None:
    drawn_after(page, lambda: set_input(page, "#plane-axial .plane-slider", str(k)))
    assert current_slice(page) == k
    assert page.get_attribute("#plane-axial .plane-image", "data-index") == str(k)


def move_cursor(page: Page, ijk: tuple[int, int, int]) -> None:
    """Put the crosshair on voxel ``ijk`` and wait for the planes it changes to be drawn."""
    page.evaluate("(ijk) => window.segmeshViewer.cursor.set(ijk)", list(ijk))
    page.wait_for_function(f"document.body.dataset.cursor === '{','.join(map(str, ijk))}'")


def assert_overlay_matches(
    pixels: npt.NDArray[np.uint8], masks: dict[int, npt.NDArray[np.bool_]], k: int
) -> None:
    """At opacity 1: organ pixels in their colour, every other pixel grey."""
    organs = np.zeros(pixels.shape[:2], dtype=bool)
    for number, mask in masks.items():
        organs |= mask[k]
        assert np.all(pixels[mask[k]][:, :3] == COLORS[number]), number
    rgb = pixels[..., :3].astype(int)
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    assert np.all(grey[~organs])
    assert organs.any()


def test_viewer_draws_the_overlay_at_the_organs(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    segments = page.locator("#segments li")
    assert segments.count() == 6
    assert "Liver" in segments.nth(0).inner_text()
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    go_to_slice(page, 23)  # through the liver's centre
    pixels = canvas_pixels(page)
    assert pixels.shape == (120, 160, 4)
    assert_overlay_matches(pixels, demo_study.masks, 23)
    # Liver centre (-30, 0, 8) mm: column 46, row 60; it is on the image's left (patient's right).
    assert tuple(pixels[60, 46, :3]) == COLORS[1]
    screenshot(page, "viewer-seg")


def test_rtstruct_overlay_in_the_viewer(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['RTSTRUCT']}")
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    go_to_slice(page, 23)
    # The demo RT-STRUCT reproduces the demo masks exactly, so its overlay matches them too.
    assert_overlay_matches(canvas_pixels(page), demo_study.masks, 23)
    screenshot(page, "viewer-rtstruct")


def test_wheel_keyboard_and_slider_scroll(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    go_to_slice(page, 10)
    page.locator("#plane-axial").focus()
    drawn_after(page, lambda: page.keyboard.press("ArrowUp"))
    assert current_slice(page) == 11
    drawn_after(page, lambda: page.keyboard.press("PageUp"))
    assert current_slice(page) == 21
    box = page.locator("#plane-axial .plane-canvases").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    drawn_after(page, lambda: page.mouse.wheel(0, 120))
    assert current_slice(page) == 22
    drawn_after(page, lambda: page.mouse.wheel(0, -120))
    drawn_after(page, lambda: page.keyboard.press("ArrowDown"))
    assert current_slice(page) == 20
    assert_overlay_matches(canvas_pixels(page), demo_study.masks, 20)
    drawn_after(page, lambda: page.keyboard.press("Home"))
    assert current_slice(page) == 0
    assert_overlay_matches(canvas_pixels(page), demo_study.masks, 0)


def test_segment_toggles_and_outline(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    go_to_slice(page, 23)
    liver = demo_study.masks[1][23]
    drawn_after(page, lambda: page.locator("#segments li[data-segment='1'] input").uncheck())
    pixels = canvas_pixels(page)
    rgb = pixels[..., :3].astype(int)
    assert np.all(rgb[liver][:, 0] == rgb[liver][:, 1])  # grey: the liver is hidden
    assert np.all(pixels[demo_study.masks[5][23]][:, :3] == COLORS[5])  # the vertebra is not
    drawn_after(page, lambda: page.locator("#segments li[data-segment='1'] input").check())
    drawn_after(page, lambda: page.locator("#outline").check())
    pixels = canvas_pixels(page)
    coloured = np.all(pixels[..., :3] == COLORS[1], axis=-1)
    assert coloured[liver].any()
    assert not coloured[60, 46]  # the liver's centre is not on its outline
    assert coloured.sum() < 0.3 * liver.sum()
    screenshot(page, "viewer-outline")


def test_window_presets(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    for number in COLORS:  # no overlay: the image alone
        locator = page.locator(f"#segments li[data-segment='{number}'] input")
        drawn_after(page, locator.uncheck)
    k = current_slice(page)
    hounsfield = demo_study.images[k].pixel_array.astype(float)
    for value, (width, level) in [("400,40", (400, 40)), ("1800,400", (1800, 400))]:
        drawn_after(page, lambda v=value: page.select_option("#window-preset", v))
        grey = canvas_pixels(page)[..., 0].astype(float)
        expected = np.clip(np.round((hounsfield - (level - width / 2)) / width * 255), 0, 255)
        assert np.max(np.abs(grey - expected)) <= 1, value


def study_models(orthanc: OrthancServer, study_id: str) -> list[str]:
    models = []
    for series in orthanc.get(f"/studies/{study_id}/series").json():
        if series["MainDicomTags"].get("Modality") == "M3D":
            models += series["Instances"]
    return [
        m
        for m in models
        if orthanc.get(f"/instances/{m}/metadata/SopClassUid").text == STL_SOP_CLASS
    ]


def scene_image(page: Page) -> npt.NDArray[np.uint8]:
    """(height, width, 3) RGB of the 3D canvas, less a one-pixel border: the screenshot's box is
    rounded outwards to whole pixels and may take in a line of what is around the canvas."""
    image = np.asarray(Image.open(BytesIO(page.locator("#scene").screenshot())).convert("RGB"))
    return image[1:-1, 1:-1]


def scene_coverage(page: Page) -> float:
    """Fraction of the 3D canvas that is not background."""
    image = scene_image(page)
    return float(np.mean(np.any(np.abs(image.astype(int) - SCENE_BACKGROUND) > 8, axis=-1)))


@pytest.fixture(scope="module")
def stored_models(orthanc_server: OrthancServer, demo_ids: dict[str, str]) -> dict[str, Any]:
    response = orthanc_server.post(
        f"/instances/{demo_ids['SEG']}/segmesh/stl", json={"Segments": [1, 5]}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_3d_panel_loads_the_studys_models(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], stored_models: dict[str, Any]
) -> None:
    expected = study_models(orthanc, demo_ids["Study"])
    assert {i["ID"] for i in stored_models["Instances"]} <= set(expected)
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    panel = page.locator("#model-view")
    assert panel.get_attribute("data-loaded") == str(len(expected))
    labels = page.locator("#models li").all_inner_texts()
    assert "Liver" in labels
    assert "Vertebra" in labels
    # Coloured as stored: RecommendedDisplayCIELabValue back to the segment's RGB.
    swatch = page.locator("#models li", has_text="Liver").first.locator(".swatch")
    rgb = [
        int(v)
        for v in re.findall(r"\d+", swatch.evaluate("e => getComputedStyle(e).backgroundColor"))
    ]
    assert max(abs(a - b) for a, b in zip(rgb, COLORS[1], strict=True)) <= 1, rgb
    page.wait_for_timeout(300)
    shown = scene_coverage(page)
    assert shown > 0.01
    for model in expected:
        page.locator(f"#models li[data-model='{model}'] input").uncheck()
    page.evaluate("() => { const p = window.segmeshModels; p.marker.visible = false; p.render(); }")
    page.wait_for_timeout(300)
    assert scene_coverage(page) < 0.001
    screenshot(page, "viewer-3d-hidden")


def test_a_single_model_page(
    page: Page, orthanc: OrthancServer, stored_models: dict[str, Any]
) -> None:
    liver = next(i["ID"] for i in stored_models["Instances"] if i["Label"] == "Liver")
    open_viewer(page, orthanc, f"model={liver}")
    assert page.locator("#model-view").get_attribute("data-loaded") == "1"
    assert page.locator("#models li").all_inner_texts() == ["Liver"]
    assert not page.locator("#plane-axial").is_visible()
    page.wait_for_timeout(300)
    assert scene_coverage(page) > 0.01
    screenshot(page, "viewer-model")


def opened_series(page: Page) -> str:
    """The Orthanc id of the series Explorer opens once the work it started is done."""
    page.wait_for_function("location.hash.startsWith('#series?uuid=')", timeout=120_000)
    return str(page.evaluate("location.hash").split("uuid=")[1])


def explorer(page: Page, orthanc: OrthancServer, fragment: str) -> None:
    page.goto(f"{orthanc.url}/app/explorer.html#{fragment}")
    page.wait_for_load_state("networkidle")


def segmesh_buttons(page: Page, access_list: str) -> list[str]:
    page.wait_for_timeout(500)
    return page.locator(f"{access_list} li.segmesh-button a").all_inner_texts()


SOURCE_BUTTONS = [
    "Open in viewer",
    "Download label map (NIfTI)",
    "Download label map (NRRD)",
    "Download statistics (CSV)",
    "Download 3D models (3MF)",
    "Generate 3D models",
]
#: The conversions offered: to the kinds the source is not.
CONVERSION_BUTTONS = {
    "SEG": ["Convert to RT-STRUCT", "Convert to LABELMAP SEG"],
    "RTSTRUCT": ["Convert to SEG", "Convert to LABELMAP SEG"],
}


def test_explorer_buttons_on_the_right_pages(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], stored_models: dict[str, Any]
) -> None:
    for kind in ("SEG", "RTSTRUCT"):
        explorer(page, orthanc, f"instance?uuid={demo_ids[kind]}")
        page.wait_for_selector("#segmesh-open-viewer")
        expected = SOURCE_BUTTONS + CONVERSION_BUTTONS[kind]
        assert segmesh_buttons(page, "#instance-access") == expected
        series = orthanc.get(f"/instances/{demo_ids[kind]}").json()["ParentSeries"]
        explorer(page, orthanc, f"series?uuid={series}")
        page.wait_for_selector("#series-access #segmesh-open-viewer")
        assert segmesh_buttons(page, "#series-access") == expected
    screenshot(page, "explorer-source-series")

    ct_image = orthanc.get(f"/series/{demo_ids['CTSeries']}").json()["Instances"][0]
    explorer(page, orthanc, f"instance?uuid={ct_image}")
    page.wait_for_selector("#instance-download-dicom")
    assert segmesh_buttons(page, "#instance-access") == []

    explorer(page, orthanc, f"series?uuid={demo_ids['CTSeries']}")
    page.wait_for_selector(f"#segmesh-show-{demo_ids['RTSTRUCT']}")
    page.wait_for_selector(f"#segmesh-show-{demo_ids['SEG']}")
    # Other tests may store more sources on the demo CT: these two must be among them.
    assert {
        "Show segmentation: Phantom organs",
        "Show segmentation: Phantom organs (SEG)",
    } <= set(segmesh_buttons(page, "#series-access"))
    screenshot(page, "explorer-ct-series")

    model = stored_models["Instances"][0]["ID"]
    explorer(page, orthanc, f"instance?uuid={model}")
    page.wait_for_selector("#segmesh-view-model")
    assert segmesh_buttons(page, "#instance-access") == ["View 3D model"]
    href = page.locator("#segmesh-view-model").get_attribute("href")
    assert href == f"../segmesh/app/viewer.html?model={model}"


def test_explorer_buttons_work(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    seg = demo_ids["SEG"]
    explorer(page, orthanc, f"instance?uuid={seg}")
    page.wait_for_selector("#segmesh-open-viewer")
    with page.context.expect_page() as popup_info:
        page.click("#segmesh-open-viewer")
    viewer = popup_info.value
    viewer.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert viewer.evaluate("document.body.dataset.ready") == "1"
    assert viewer.locator("#segments li").count() == 6
    viewer.close()

    for button, magic in [
        ("#segmesh-download-nifti", b"n+1\0"),
        ("#segmesh-download-nrrd", b"NRRD"),
        ("#segmesh-download-3mf", b"[Content_Types].xml"),  # a 3MF package
    ]:
        href = page.locator(button).get_attribute("href")
        assert href is not None
        response = page.request.get(f"{orthanc.url}/app/{href}")
        assert response.status == 200, response.text()
        body = response.body()
        assert magic in body[:400] or magic in _gunzip(body)[:400]

    href = page.locator("#segmesh-download-statistics").get_attribute("href")
    assert href == f"../instances/{seg}/segmesh/statistics?format=csv"
    response = page.request.get(f"{orthanc.url}/app/{href}")
    assert response.status == 200, response.text()
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text().splitlines()
    assert lines[0].startswith("Number,Label,")
    assert [line.split(",")[1] for line in lines[1:]] == [organ.name for organ in ORGANS]

    page.click("#segmesh-generate-models")
    page.wait_for_selector("#segmesh-dialog input[type=checkbox]")
    boxes = page.locator("#segmesh-dialog input[type=checkbox]")
    assert boxes.count() == 6
    for n in range(6):
        if n != 1:  # keep the spleen only
            boxes.nth(n).uncheck()
    page.select_option("#segmesh-smoothing", "none")
    screenshot(page, "explorer-generate-dialog")
    page.click("#segmesh-generate")
    series_id = opened_series(page)
    series = orthanc.get(f"/series/{series_id}").json()
    assert series["MainDicomTags"]["Modality"] == "M3D"
    assert len(series["Instances"]) == 1
    tags = orthanc.get(f"/instances/{series['Instances'][0]}/tags?simplify").json()
    assert tags["ContentDescription"] == "Spleen"
    page.wait_for_selector("#list-instances li a")
    screenshot(page, "explorer-generated-series")


def test_explorer_conversion_opens_the_new_series(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    explorer(page, orthanc, f"instance?uuid={demo_ids['RTSTRUCT']}")
    page.wait_for_selector("#segmesh-convert-seg")
    page.click("#segmesh-convert-seg")
    series_id = opened_series(page)
    series = orthanc.get(f"/series/{series_id}").json()
    assert series["MainDicomTags"]["Modality"] == "SEG"
    assert series["MainDicomTags"]["Manufacturer"] == "segmesh"
    page.wait_for_selector("#list-instances li a")
    screenshot(page, "explorer-converted-series")


def _gunzip(body: bytes) -> bytes:
    import gzip

    try:
        return gzip.decompress(body)
    except OSError:
        return b""


def statistics_rows(page: Page) -> list[dict[str, str]]:
    """The statistics table's rows as {column key: text}, in the order shown."""
    return page.evaluate(
        """() => [...document.querySelectorAll('#statistics tbody tr')].map((row) =>
            Object.fromEntries([...row.cells].map((c) => [c.dataset.column, c.textContent])))"""
    )


def test_statistics_table_shows_the_organs_and_sorts(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    rows = statistics_rows(page)
    assert [row["segment"].strip() for row in rows] == [
        f"{organ.number} {organ.name}" for organ in ORGANS
    ]
    voxel_ml = abs(np.linalg.det(demo_study.geometry.affine[:3, :3])) / 1000.0
    for row, organ in zip(rows, ORGANS, strict=True):
        expected = demo_study.masks[organ.number].sum() * voxel_ml
        assert row["volume"] == f"{expected:,.2f}", organ.name
    swatch = page.locator("#statistics tbody tr").first.locator(".swatch")
    assert swatch.evaluate("s => getComputedStyle(s).backgroundColor") == (
        f"rgb({', '.join(map(str, COLORS[1]))})"
    )
    assert page.inner_text("#statistics th[data-column=mean]") == "Mean (HU)"
    liver_mean = float(rows[0]["mean"])
    assert abs(liver_mean - 60) < 2

    def volumes() -> list[float]:
        return [float(row["volume"].replace(",", "")) for row in statistics_rows(page)]

    page.click("#statistics th[data-column=volume] button")
    assert volumes() == sorted(volumes())
    assert page.get_attribute("#statistics th[data-column=volume]", "aria-sort") == "ascending"
    page.click("#statistics th[data-column=volume] button")
    assert volumes() == sorted(volumes(), reverse=True)
    assert page.get_attribute("#statistics th[data-column=volume]", "aria-sort") == "descending"
    page.click("#statistics th[data-column=segment] button")
    names = [row["segment"].split(" ", 2)[-1] for row in statistics_rows(page)]
    assert names == sorted(names)
    screenshot(page, "viewer-statistics")


def test_the_viewer_alone_lists_the_sources_and_opens_one(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    # What Orthanc Explorer 2's list of plugins links to (the plugin's root URI).
    root = orthanc.get("/plugins/python").json()["RootUri"]
    page.goto(f"{orthanc.url}/{root.lstrip('./')}")
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#status")
    assert page.inner_text("#status") == "Choose a segmentation"
    links = page.eval_on_selector_all(
        "#sources a", "(links) => links.map((a) => [a.dataset.instance, a.textContent])"
    )
    listed = {instance: text for instance, text in links}
    assert listed[demo_ids["SEG"]].startswith("SEG: ")
    assert listed[demo_ids["RTSTRUCT"]].startswith("RTSTRUCT: ")
    assert page.is_hidden("#views")
    screenshot(page, "viewer-sources")
    page.click(f"#sources a[data-instance='{demo_ids['SEG']}']")
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#status")
    assert page.is_visible("#plane-axial")


def test_viewer_reports_an_unknown_source(page: Page, orthanc: OrthancServer) -> None:
    page.goto(f"{orthanc.url}/segmesh/app/viewer.html?instance=no-such-instance")
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "error"
    assert "404" in page.inner_text("#status")


def test_explorer_generate_dialog_shows_the_progress_of_its_job(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    explorer(page, orthanc, f"instance?uuid={demo_ids['RTSTRUCT']}")
    page.click("#segmesh-generate-models")
    page.wait_for_selector("#segmesh-dialog input[type=checkbox]")
    # The demo's models take well under a second: the dialog's first looks at the job are
    # answered "Running, 40 %" here, the later ones by Orthanc, so the test does not depend on
    # catching the real job half way.
    looks: list[str] = []

    def running(route: Route) -> None:
        looks.append(route.request.url)
        if len(looks) > 3:
            route.continue_()
            return
        job = orthanc.get(urlparse(route.request.url).path).json()
        route.fulfill(json={**job, "State": "Running", "Progress": 40})

    page.route("**/segmesh/jobs/*", running)
    page.select_option("#segmesh-smoothing", "none")
    page.click("#segmesh-generate")
    page.wait_for_function(
        "document.querySelector('#segmesh-progress')?.value === 40", timeout=60_000
    )
    assert page.inner_text("#segmesh-status") == "Running… 40%"
    screenshot(page, "explorer-generate-progress")
    series_id = opened_series(page)
    assert len(looks) > 3
    series = orthanc.get(f"/series/{series_id}").json()
    assert series["MainDicomTags"]["Modality"] == "M3D"
    jobs = orthanc.get("/segmesh/jobs").json()
    assert any(
        job["Source"]["ID"] == demo_ids["RTSTRUCT"]
        and job["State"] == "Success"
        and job["Result"]["Series"] == series_id
        for job in jobs
    )


def test_3d_panel_picks_up_models_stored_while_it_is_open(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], stored_models: dict[str, Any]
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    before = int(page.locator("#model-view").get_attribute("data-loaded") or 0)
    body = {"Segments": [2], "Iterations": 3, "Asynchronous": True}
    path = orthanc.post(f"/instances/{demo_ids['SEG']}/segmesh/stl", json=body).json()["Path"]
    page.wait_for_function(
        f"Number(document.querySelector('#model-view').dataset.loaded) === {before + 1}",
        timeout=60_000,
    )
    assert orthanc.get(path).json()["State"] == "Success"
    assert "Spleen" in page.locator("#models li").all_inner_texts()


def test_a_labelmap_seg_with_a_background_segment_shows_in_the_viewer(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
) -> None:
    # highdicom's LABELMAP SEGs (segmesh's conversions among them) describe segment 0,
    # "Background": it must not be offered as a segment, or the overlay refuses the request.
    converted = orthanc.post(
        f"/instances/{demo_ids['SEG']}/segmesh/convert", json={"To": "LABELMAP"}
    ).json()
    labelmap_id = converted["Instances"][0]["ID"]
    described = orthanc.get(f"/instances/{labelmap_id}/segmesh/segments").json()
    assert 0 not in [segment["Number"] for segment in described["Segments"]]
    assert {"Number": 0, "Label": "Background", "Reason": "background"} in described["Skipped"]
    open_viewer(page, orthanc, f"instance={labelmap_id}")
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    go_to_slice(page, 23)
    assert_overlay_matches(canvas_pixels(page), demo_study.masks, 23)
    screenshot(page, "viewer-labelmap-background")


#: The liver's centre (-30, 0, 8) mm on the demo grid: column 46, row 60, slice 23.
LIVER_CENTRE = (46, 60, 23)


def organ_voxels(masks: dict[int, npt.NDArray[np.bool_]], plane: str, index: int) -> dict:
    """Each organ's mask on one plane, in :func:`canvas_pixels`' order."""
    cut = {"axial": lambda m: m[index], "coronal": lambda m: m[:, index, :]}
    cut["sagittal"] = lambda m: m[:, :, index]
    return {number: cut[plane](mask) for number, mask in masks.items()}


@pytest.mark.parametrize("plane", ["coronal", "sagittal"])
def test_coronal_and_sagittal_planes_match_the_label_map(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy, plane: str
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    # Sagittal planes come from the column-ordered copy the viewer makes after the first view.
    page.wait_for_function("window.segmeshViewer.volume.byColumn !== null")
    drawn_after(page, lambda: set_input(page, "#opacity", "1"), plane)
    move_cursor(page, LIVER_CENTRE)
    fixed = PLANE_AXES[plane][0]
    pixels = canvas_pixels(page, plane)
    organs = organ_voxels(demo_study.masks, plane, LIVER_CENTRE[fixed])
    assert pixels.shape[:2] == organs[1].shape  # (40 slices, 160 columns or 120 rows)
    drawn = np.zeros(pixels.shape[:2], dtype=bool)
    for number, mask in organs.items():
        drawn |= mask
        assert np.all(pixels[mask][:, :3] == COLORS[number]), number
    rgb = pixels[..., :3].astype(int)
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    assert np.all(grey[~drawn])
    assert organs[1].sum() > 100  # the plane goes through the liver
    screenshot(page, f"viewer-{plane}")


def test_planes_keep_the_physical_aspect_and_orientation(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    # Demo voxels: 0.9 mm columns, 1.2 mm rows, 2.5 mm slices: never drawn as squares.
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    spots = page.evaluate(
        """() => {
            const views = window.segmeshViewer.views;
            const at = (name, ijk) => views[name].toCanvas(ijk);
            return {
                axial: [at('axial', [0, 0, 0]), at('axial', [159, 119, 0])],
                coronal: [at('coronal', [0, 0, 0]), at('coronal', [159, 0, 39])],
                sagittal: [at('sagittal', [0, 0, 0]), at('sagittal', [0, 119, 39])],
            };
        }"""
    )
    for plane, (across_mm, down_mm) in {
        "axial": (159 * 0.9, 119 * 1.2),
        "coronal": (159 * 0.9, -39 * 2.5),
        "sagittal": (119 * 1.2, -39 * 2.5),
    }.items():
        (x0, y0), (x1, y1) = spots[plane]
        # Right: the patient's left (+x) and posterior (+y); up: superior (+z).
        assert x1 > x0, plane
        assert (y1 > y0) == (down_mm > 0), plane
        assert (x1 - x0) / (y1 - y0) == pytest.approx(across_mm / down_mm, rel=0.02), plane


def test_readout_names_the_segment_value_and_position(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    move_cursor(page, LIVER_CENTRE)
    i, j, k = LIVER_CENTRE
    x, y = page.evaluate(f"window.segmeshViewer.views.axial.toCanvas([{i}, {j}, {k}])")
    ratio = page.evaluate("window.devicePixelRatio")
    box = page.locator("#plane-axial .plane-canvases").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x / ratio, box["y"] + y / ratio)
    image = demo_study.images[k]
    slope, intercept = image.get("RescaleSlope", 1), image.get("RescaleIntercept", 0)
    hounsfield = round(float(image.pixel_array[j, i]) * float(slope) + float(intercept))
    position = np.add(ORIGIN, (i * 0.9, j * 1.2, k * SLICE_THICKNESS))
    lps = ", ".join(f"{v:.1f}" for v in position)
    expected = f"Liver | {hounsfield} HU | LPS {lps} mm | voxel {i}, {j}, {k}"
    page.wait_for_function(f"document.getElementById('readout').textContent === {expected!r}")
    assert position.tolist() == pytest.approx([-30.15, 0.6, 8.75])  # near the liver's centre


def test_clicking_a_plane_moves_the_others(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    ratio = page.evaluate("window.devicePixelRatio")
    target = (30, cursor(page)[1], 10)  # a voxel of the coronal plane shown
    x, y = page.evaluate(f"window.segmeshViewer.views.coronal.toCanvas({list(target)})")
    box = page.locator("#plane-coronal .plane-canvases").bounding_box()
    assert box is not None
    drawn_after(page, lambda: page.mouse.click(box["x"] + x / ratio, box["y"] + y / ratio))
    assert cursor(page) == list(target)
    assert page.get_attribute("#plane-axial .plane-image", "data-index") == "10"
    assert page.get_attribute("#plane-sagittal .plane-image", "data-index") == "30"
    assert page.input_value("#plane-axial .plane-slider") == "10"
    assert page.inner_text("#plane-axial .plane-index") == "11 / 40"


def test_zoom_keeps_the_voxel_under_the_pointer_and_pan_moves(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    box = page.locator("#plane-axial .plane-canvases").bounding_box()
    assert box is not None
    ratio = page.evaluate("window.devicePixelRatio")
    at = (round(box["x"] + box["width"] * 0.4), round(box["y"] + box["height"] * 0.45))
    pointer = np.array([at[0] - box["x"], at[1] - box["y"]]) * ratio  # canvas pixels
    page.mouse.move(*at)
    voxel = [int(v) for v in (page.get_attribute("#readout", "data-voxel") or "").split(",")]
    where = f"window.segmeshViewer.views.axial.toCanvas({voxel})"
    before = np.array(page.evaluate(where))
    page.keyboard.down("Control")
    drawn_after(page, lambda: page.mouse.wheel(0, -120))
    page.keyboard.up("Control")
    assert page.evaluate("window.segmeshViewer.views.axial.zoom") == pytest.approx(1.25)
    zoomed = np.array(page.evaluate(where))
    # Zoomed about the pointer: the voxel's distance from it grows by the zoom.
    np.testing.assert_allclose(zoomed - pointer, 1.25 * (before - pointer), atol=1.0 * ratio)
    page.keyboard.down("Shift")
    page.mouse.down()
    drawn_after(page, lambda: page.mouse.move(at[0] + 40, at[1]))
    page.mouse.up()
    page.keyboard.up("Shift")
    panned = np.array(page.evaluate(where))
    np.testing.assert_allclose(panned - zoomed, [40 * ratio, 0], atol=1.0 * ratio)
    assert cursor(page)[2] == int(
        page.get_attribute("#plane-axial .plane-image", "data-index") or -1
    )


def test_non_uniform_slices_are_drawn_at_their_positions(
    page: Page, orthanc: OrthancServer
) -> None:
    # Slices 3 mm apart, then 1.5 mm: the coronal plane must show each at its own height.
    z = np.array([0.0, 3.0, 6.0, 7.5, 9.0, 10.5, 12.0])
    positions = np.c_[np.full(7, -20.0), np.full(7, -15.0), z]
    pixels = np.full((7, 12, 16), 40, dtype=np.int16)
    images = builders.ct_images(positions, (1.25, 0.75), pixels, slice_thickness=1.5)
    for image in images:
        orthanc.upload(encode(image))
    box = np.zeros((7, 12, 16), dtype=bool)
    box[1:3, 3:9, 4:12] = True  # slices at 3 and 6 mm
    seg_id = orthanc.upload(encode(builders.seg(images, box, ["Box"])))
    open_viewer(page, orthanc, f"instance={seg_id}")
    drawn_after(page, lambda: set_input(page, "#opacity", "1"), "coronal")
    move_cursor(page, (8, 5, 1))
    heights = page.evaluate(
        "() => [0, 1, 2, 3, 4, 5, 6].map((k) => "
        "window.segmeshViewer.views.coronal.toCanvas([8, 5, k])[1])"
    )
    steps = -np.diff(heights)
    np.testing.assert_allclose(steps / steps[0], np.diff(z) / 3.0, rtol=0.02)
    colour = page.evaluate("window.segmeshViewer.volume.segments[0].Color")
    drawn = canvas_pixels(page, "coronal")
    inside = np.all(drawn[..., :3] == colour, axis=-1)
    np.testing.assert_array_equal(inside, box[:, 5, :])


def show_models_only(page: Page, labels: set[str]) -> None:
    """Show the models of ``labels`` alone, without the crosshair marker."""
    for item in page.locator("#models li").all():
        box = item.locator("input")
        if item.inner_text() in labels:
            box.check()
        else:
            box.uncheck()
    page.evaluate("() => { const p = window.segmeshModels; p.marker.visible = false; p.render(); }")
    page.wait_for_timeout(300)


def drawn_pixels(page: Page) -> npt.NDArray[np.bool_]:
    """(height, width) of the 3D canvas: True where something other than background is."""
    image = scene_image(page)
    return np.any(np.abs(image.astype(int) - SCENE_BACKGROUND) > 8, axis=-1)


def centroid(mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
    rows, columns = np.nonzero(mask)
    assert rows.size > 50
    return float(columns.mean()), float(rows.mean())


def test_3d_view_is_frontal_with_the_liver_on_the_screens_left(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], stored_models: dict[str, Any]
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    show_models_only(page, {"Liver"})
    liver = centroid(drawn_pixels(page))
    screenshot(page, "viewer-3d-liver")
    show_models_only(page, {"Vertebra"})
    vertebra = centroid(drawn_pixels(page))
    # The liver (x -30 mm, the patient's right) left of the vertebra (x 0); higher (z 8 mm).
    assert liver[0] < vertebra[0] - 20, (liver, vertebra)
    assert liver[1] < vertebra[1], (liver, vertebra)
    # Anterior towards the viewer: the camera is in front (-y) of every model.
    camera_y, front_y = page.evaluate(
        "() => [window.segmeshModels.camera.position.y, window.segmeshModels.box.min.y]"
    )
    assert camera_y < front_y


def test_double_clicking_a_model_moves_the_planes_there(
    page: Page,
    orthanc: OrthancServer,
    demo_ids: dict[str, str],
    demo_study: DemoStudy,
    stored_models: dict[str, Any],
) -> None:
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    show_models_only(page, {"Liver"})
    x, y = centroid(drawn_pixels(page))
    box = page.locator("#scene").bounding_box()
    assert box is not None
    drawn_after(page, lambda: page.mouse.dblclick(box["x"] + 1 + x, box["y"] + 1 + y))
    i, j, k = cursor(page)
    # On the liver's front surface: a liver voxel within one voxel, anterior of its centre.
    assert demo_study.masks[1][k - 1 : k + 2, j - 1 : j + 2, i - 1 : i + 2].any(), (i, j, k)
    assert j < LIVER_CENTRE[1]
    assert page.get_attribute("#plane-axial .plane-image", "data-index") == str(k)
    marker, lps = page.evaluate(
        """() => [window.segmeshModels.marker.position.toArray(),
            window.segmeshViewer.volume.lps(window.segmeshViewer.cursor.ijk)]"""
    )
    np.testing.assert_allclose(marker, lps)
    assert page.evaluate("window.segmeshModels.marker.visible")


def test_a_short_volume_fills_the_3d_panel(page: Page, orthanc: OrthancServer) -> None:
    # 20 slices of 2 mm on 512 x 512: a flat slab, which must not show as a thin strip.
    images = builders.ct_series((20, 512, 512), (0.7, 0.7, 2.0), (-180.0, -180.0, 0.0))
    for image in images:
        orthanc.upload(encode(image))
    slab = np.zeros((20, 512, 512), dtype=bool)
    slab[:, 40:470, 40:470] = True
    seg_id = orthanc.upload(encode(builders.seg(images, slab, ["Slab"])))
    stored = orthanc.post(f"/instances/{seg_id}/segmesh/stl", json={"Smoothing": "none"})
    assert stored.status_code == 200, stored.text
    open_viewer(page, orthanc, f"instance={seg_id}")
    assert page.get_attribute("#model-view", "data-loaded") == "1"
    show_models_only(page, {"Slab"})
    rows, columns = np.nonzero(drawn := drawn_pixels(page))
    across = (columns.max() - columns.min() + 1) / drawn.shape[1]
    up = (rows.max() - rows.min() + 1) / drawn.shape[0]
    screenshot(page, "viewer-3d-short-volume")
    assert max(across, up) > 0.8, (across, up)
    assert max(across, up) < 1.0  # framed, not cut off


def test_a_sagittal_acquisition_is_shown_in_radiological_orientation(
    page: Page, orthanc: OrthancServer
) -> None:
    # Rows along +y (anterior to posterior), columns along -z, slices along -x (to the
    # patient's right): the axial plane is then the plane of fixed row j, drawn with the
    # slices across (k = 0, the patient's left, on the right) and the columns down (posterior).
    images = builders.ct_series(
        (10, 12, 16), (1.0, 0.8, 2.0), (40.0, -20.0, 30.0), (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    )
    for image in images:
        orthanc.upload(encode(image))
    box = np.zeros((10, 12, 16), dtype=bool)
    box[2:5, 3:8, 4:10] = True
    seg_id = orthanc.upload(encode(builders.seg(images, box, ["Box"])))
    open_viewer(page, orthanc, f"instance={seg_id}")
    fixed = page.evaluate(
        "() => Object.fromEntries(Object.entries(window.segmeshViewer.layouts)"
        ".map(([name, layout]) => [name, layout.fixed]))"
    )
    assert fixed == {"axial": 1, "coronal": 0, "sagittal": 2}
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    move_cursor(page, (6, 5, 3))
    at = "(ijk) => window.segmeshViewer.views.axial.toCanvas(ijk)"
    left, right = page.evaluate(at, [6, 5, 9]), page.evaluate(at, [6, 5, 0])
    assert right[0] > left[0]  # slice 0 is the most to the patient's left: the screen's right
    front, back = page.evaluate(at, [0, 5, 3]), page.evaluate(at, [15, 5, 3])
    assert back[1] > front[1]  # posterior down
    # Columns 0.8 mm across 2 mm slices: the plane is drawn at its physical aspect.
    assert (right[0] - left[0]) / (back[1] - front[1]) == pytest.approx(9 * 2.0 / (15 * 0.8))
    colour = page.evaluate("window.segmeshViewer.volume.segments[0].Color")
    pixels = canvas_pixels(page, "axial", (1, 2, 0))  # (slices, columns)
    np.testing.assert_array_equal(np.all(pixels[..., :3] == colour, axis=-1), box[:, 5, :])


def test_first_view_is_drawn_from_the_planes_while_the_volumes_load(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], demo_study: DemoStudy
) -> None:
    """The whole volumes are held back: the three planes through the centre are drawn from the
    planes routes alone, voxel for voxel as the label map says; the crosshair stays until the
    volumes are in, and scrolling then shows the other planes."""
    held: list[Route] = []
    volumes = re.compile(r".*/segmesh/volume/(labels|image)\.npy$")
    page.route(volumes, lambda route: held.append(route))
    # Both volumes are asked for after the first view: the test waits for those requests, not
    # for a while (Playwright hands a route to its handler after reporting the request).
    asking_labels = page.expect_request(re.compile(r".*/volume/labels\.npy$"), timeout=60_000)
    asking_image = page.expect_request(re.compile(r".*/volume/image\.npy$"), timeout=60_000)
    with asking_labels, asking_image:
        page.goto(f"{orthanc.url}/segmesh/app/viewer.html?instance={demo_ids['SEG']}")
    page.wait_for_function("window.segmeshFirstView", timeout=60_000)
    assert page.evaluate("window.segmeshViewer.volume.partial") is True
    assert "Loading the volumes" in page.inner_text("#status")
    centre = cursor(page)
    assert centre == [80, 60, 20]  # 160 columns, 120 rows, 40 slices
    for plane in ("axial", "coronal", "sagittal"):
        drawn_after(page, lambda: set_input(page, "#opacity", "1"), plane)
        fixed = PLANE_AXES[plane][0]
        pixels = canvas_pixels(page, plane)
        drawn = np.zeros(pixels.shape[:2], dtype=bool)
        for number, mask in organ_voxels(demo_study.masks, plane, centre[fixed]).items():
            drawn |= mask
            assert np.all(pixels[mask][:, :3] == COLORS[number]), (plane, number)
        rgb = pixels[..., :3].astype(int)
        grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
        assert np.all(grey[~drawn]), plane
        assert drawn.any(), plane
        set_input(page, "#opacity", "0.5")
    # The image on the planes is the CT in HU (the readout's value at the centre voxel).
    i, j, k = centre
    image = demo_study.images[k]
    expected = float(image.pixel_array[j, i]) * float(image.RescaleSlope) + float(
        image.RescaleIntercept
    )
    assert page.evaluate(f"window.segmeshViewer.volume.value([{i}, {j}, {k}])") == expected
    # Drawn from the planes as they came: no array of the whole grid is made meanwhile. A
    # voxel of the coronal plane off the axial one reads its segment and value from there.
    assert page.evaluate("window.segmeshViewer.volume.labels") is None
    number, mask = next((n, m) for n, m in demo_study.masks.items() if m[k + 8, j].any())
    column = int(np.flatnonzero(mask[k + 8, j])[0])
    at = f"[{column}, {j}, {k + 8}]"
    assert page.evaluate(f"window.segmeshViewer.volume.segmentsAt({at}).map(s => s.Number)") == [
        number
    ]
    image = demo_study.images[k + 8]
    assert page.evaluate(f"window.segmeshViewer.volume.value({at})") == float(
        image.pixel_array[j, column]
    ) * float(image.RescaleSlope) + float(image.RescaleIntercept)
    off_the_planes = "[3, 4, 5]"
    assert page.evaluate(f"window.segmeshViewer.volume.segmentsAt({off_the_planes})") == []
    assert page.evaluate(f"window.segmeshViewer.volume.value({off_the_planes})") is None
    page.evaluate("window.segmeshViewer.cursor.set([3, 4, 5])")
    assert cursor(page) == centre  # other planes are not known yet
    assert len(held) == 2, [route.request.url for route in held]
    for route in held:
        route.continue_()
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("window.segmeshViewer.volume.partial") is False
    assert page.inner_text("#status") == ""
    drawn_after(page, lambda: set_input(page, "#opacity", "1"))
    go_to_slice(page, 23)
    assert_overlay_matches(canvas_pixels(page), demo_study.masks, 23)


def test_first_view_waits_neither_on_the_description_nor_on_the_models(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str], stored_models: dict[str, Any]
) -> None:
    """The segments route held back: the three planes are drawn all the same; the title, the
    image's tags and the statistics come with it, and the 3D models only after the first view
    (their files and meshes would slow it)."""
    held: list[Route] = []
    page.route(re.compile(r".*/segmesh/segments$"), lambda route: held.append(route))
    page.goto(f"{orthanc.url}/segmesh/app/viewer.html?instance={demo_ids['SEG']}")
    page.wait_for_function("window.segmeshFirstView", timeout=60_000)
    for plane in ("axial", "coronal", "sagittal"):
        assert page.get_attribute(f"#plane-{plane} .plane-image", "data-drawn") == "1", plane
    assert page.inner_text("#title") == "segmesh viewer"
    assert len(held) == 1
    held[0].continue_()
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#status")
    assert page.inner_text("#title").startswith("SEG: ")
    models = study_models(orthanc, demo_ids["Study"])
    assert page.get_attribute("#model-view", "data-loaded") == str(len(models))
    first = page.evaluate("window.segmeshFirstView")
    asked = page.evaluate(
        """performance.getEntriesByType('resource')
            .filter((entry) => /\\/segmesh\\/model$/.test(entry.name))
            .map((entry) => entry.startTime)"""
    )
    assert len(asked) == len(models)
    assert min(asked) > first


def test_the_viewers_modules_are_all_preloaded(
    page: Page, orthanc: OrthancServer, demo_ids: dict[str, str]
) -> None:
    """viewer.html names every module of the viewer (modulepreload): all are asked for at once,
    none only once the module importing it has arrived, level after level."""
    open_viewer(page, orthanc, f"instance={demo_ids['SEG']}")
    modules = page.evaluate(
        """performance.getEntriesByType('resource')
            .filter((entry) => /\\/segmesh\\/app\\/[a-z_]+\\.js$/.test(entry.name))
            .map((entry) => [entry.name.split('/').pop(), entry.startTime, entry.responseEnd])"""
    )
    names = {name for name, _, _ in modules}
    assert {"viewer.js", "volume.js", "planes.js", "plane_pixels.js", "dicom.js"} <= names
    last_asked = max(modules, key=lambda module: module[1])
    first_in = min(modules, key=lambda module: module[2])
    assert last_asked[1] < first_in[2], (last_asked, first_in)
