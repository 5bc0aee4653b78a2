"""The viewer with hundreds of segments and models, in Debian's Chromium, on a real Orthanc.

The 1000-segment case of issue 24 at a smaller scale: a 300-segment BINARY SEG on a
6 x 64 x 64 CT, its 300 models stored; then a second 300-segment source of the same study with
its models (600 models, as after meshing twice).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from playwright.sync_api import Page, Route

from tests import builders
from tests import test_viewer_browser as viewer
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

pytestmark = pytest.mark.browser

browser = viewer.browser
page = viewer.page

SHAPE = (6, 64, 64)  # slices, rows, columns
SEGMENTS = 300
AXIAL = 3  # the first view's axial slice (the centre): every segment has voxels there


def cube_labels() -> npt.NDArray[np.uint16]:
    """(slices, rows, columns): segment n a 2 x 2 x 2 cube, none touching another; the first
    256 on slices 2 and 3, the others on slices 3 and 4, between them."""
    labels = np.zeros(SHAPE, dtype=np.uint16)
    for number in range(1, SEGMENTS + 1):
        cell = (number - 1) % 256
        shift = 0 if number <= 256 else 2
        j, i = 4 * (cell // 16) + shift, 4 * (cell % 16) + shift
        k = 2 if number <= 256 else 3
        labels[k : k + 2, j : j + 2, i : i + 2] = number
    return labels


@pytest.fixture(scope="module")
def study(orthanc_server: OrthancServer) -> dict[str, Any]:
    """The CT, the first SEG ("Structure n") with its 300 models stored, and what is needed to
    add the second SEG ("Other n") with its models."""
    labels = cube_labels()
    images = builders.ct_series(
        SHAPE,
        (1.0, 1.0, 2.0),
        pixels=(labels > 0).astype(np.int16) * 100,
        study=builders.study_dataset("Thousand^Viewer", "THOUSAND-VIEWER"),
    )
    for image in images:
        orthanc_server.upload(encode(image))
    first = store_source(orthanc_server, images, labels, "Structure", 2)
    study_id = orthanc_server.get(f"/instances/{first['SEG']}/study").json()["ID"]
    return {"images": images, "labels": labels, "Study": study_id, "first": first}


def store_source(
    orthanc: OrthancServer,
    images: list[Any],
    labels: npt.NDArray[np.uint16],
    name: str,
    number: int,
) -> dict[str, Any]:
    """A SEG of ``labels`` ("{name} n") stored with the models of all its segments."""
    names = [f"{name} {n}" for n in range(1, SEGMENTS + 1)]
    seg_id = orthanc.upload(encode(builders.seg(images, labels, names, series_number=number)))
    response = orthanc.post(f"/instances/{seg_id}/segmesh/stl", json={})
    assert response.status_code == 200, response.text
    models = [instance["ID"] for instance in response.json()["Instances"]]
    assert len(models) == SEGMENTS
    return {"SEG": seg_id, "Models": models}


def model_order(orthanc: OrthancServer, study_id: str) -> list[str]:
    """The study's models in the order the viewer asks for them (its series' instances)."""
    series = orthanc.get(f"/studies/{study_id}/series").json()
    return [i for s in series if s["MainDicomTags"]["Modality"] == "M3D" for i in s["Instances"]]


def segment_list(page: Page) -> list[int]:
    """The segment numbers listed and not filtered out."""
    return [
        int(n)
        for n in page.eval_on_selector_all(
            "#segments li:not([hidden])", "items => items.map(i => i.dataset.segment)"
        )
    ]


def drawn_count(page: Page, plane: str) -> int:
    """How many times the ``plane``'s canvas has been drawn."""
    return int(page.get_attribute(f"#plane-{plane} .plane-image", "data-drawn") or 0)


def filter_segments(page: Page, text: str) -> list[int]:
    viewer.set_input(page, "#segment-filter", text)
    return segment_list(page)


#: At each animation frame, the 3D panel's count of models in the scene (installed before
#: the page's scripts run).
COUNT_FRAMES = """
window.loadedAtFrames = [];
const tick = () => {
  const panel = document.querySelector('#model-view');
  if (panel) window.loadedAtFrames.push(Number(panel.dataset.loaded || 0));
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def test_hundreds_of_segments_filter_scroll_toggle_and_load_their_models(
    page: Page, orthanc: OrthancServer, study: dict[str, Any]
) -> None:
    models = model_order(orthanc, study["Study"])
    assert sorted(models) == sorted(study["first"]["Models"])
    # The last model asked for is held back: the others load meanwhile, the page stays usable.
    held: list[Route] = []
    held_path = f"/instances/{models[-1]}/segmesh/model"
    page.route(f"**{held_path}", lambda route: held.append(route))
    page.add_init_script(COUNT_FRAMES)
    # The pool's state alone does not tell that the held model's STL was asked for: its task
    # runs while it still reads the model's tags. Playwright reports the request before it
    # hands the route to the handler, which it does while the page is awaited below.
    with page.expect_request(lambda request: request.url.endswith(held_path), timeout=60_000):
        page.goto(f"{orthanc.url}/segmesh/app/viewer.html?instance={study['first']['SEG']}")
    # Every model asked for but the held one; those before its batch (the viewer's batches
    # are of 48) in the scene.
    page.wait_for_function(
        """(() => { const pool = window.segmeshModels?.pool;
            return pool && pool.waiting.length === 0 && pool.running === 1
            && document.querySelector('#model-view').dataset.loaded === '288'; })()""",
        timeout=60_000,
    )
    assert len(held) == 1
    assert "ready" not in page.evaluate("Object.keys(document.body.dataset)")
    # Drawn batch after batch, frames between them.
    seen = set(page.evaluate("window.loadedAtFrames"))
    assert len({n for n in seen if 0 < n < SEGMENTS}) >= 3, sorted(seen)

    # The list: every segment, in a box of its own that scrolls; the page does not grow.
    assert segment_list(page) == list(range(1, SEGMENTS + 1))
    box = page.evaluate(
        """(() => { const list = document.querySelector('#segments');
            return [list.clientHeight, list.scrollHeight, document.body.scrollHeight,
                window.innerHeight,
                document.querySelector('#model-controls').getBoundingClientRect().top]; })()"""
    )
    client, scroll, body, window_height, models_top = box
    assert client < scroll
    assert client <= 0.3 * window_height + 1
    assert body <= window_height
    assert models_top < window_height
    page.eval_on_selector("#segments", "list => { list.scrollTop = list.scrollHeight; }")
    assert page.locator(f"#segments li[data-segment='{SEGMENTS}']").is_visible()
    # Filtered by number or by name.
    assert filter_segments(page, "250") == [250]
    assert filter_segments(page, "structure 12") == [12, *range(120, 130)]
    assert page.inner_text("#segment-count") == f"11 of {SEGMENTS}"
    assert filter_segments(page, "nothing like it") == []
    assert filter_segments(page, "") == list(range(1, SEGMENTS + 1))

    # A toggle, while the models still load, changes that segment's pixels alone, draws each
    # plane once and asks the server nothing.
    viewer.drawn_after(page, lambda: viewer.set_input(page, "#opacity", "1"))
    before = viewer.canvas_pixels(page)
    drawn = {p: drawn_count(page, p) for p in viewer.PLANE_AXES}
    requests = page.evaluate("performance.getEntriesByType('resource').length")
    number = 77
    filter_segments(page, str(number))
    viewer.drawn_after(
        page, lambda: page.locator(f"#segments li[data-segment='{number}'] input").uncheck()
    )
    after = viewer.canvas_pixels(page)
    changed = np.any(before != after, axis=-1)
    assert np.array_equal(changed, study["labels"][AXIAL] == number)
    assert np.all(after[changed][:, 0] == after[changed][:, 1])  # grey now
    assert {p: drawn_count(page, p) for p in viewer.PLANE_AXES} == {
        p: n + 1 for p, n in drawn.items()
    }
    assert page.evaluate("performance.getEntriesByType('resource').length") == requests

    # The held model let through: every model in the scene, none failed, nothing shown amiss.
    held[0].continue_()
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#status")
    assert page.get_attribute("#model-view", "data-loaded") == str(SEGMENTS)
    assert page.get_attribute("#model-view", "data-failed") == "0"
    assert page.locator("#models li").count() == SEGMENTS
    assert page.inner_text("#model-message") == ""

    # A 3D toggle: that model's visibility alone, the others the same objects, one draw call
    # fewer at the next frame, nothing asked of the server.
    toggled = study["first"]["Models"][5]
    calls = page.evaluate(
        """() => { const p = window.segmeshModels; window.meshesBefore = new Map(p.meshes);
            p.render(); return p.renderer.info.render.calls; }"""
    )
    requests = page.evaluate("performance.getEntriesByType('resource').length")
    page.locator(f"#models li[data-model='{toggled}'] input").uncheck()
    same, hidden, calls_after = page.evaluate(
        """async () => { const p = window.segmeshModels;
            await new Promise((done) => { requestAnimationFrame(() => done()); }); // drawn
            const same = [...p.meshes].every(([id, mesh]) => window.meshesBefore.get(id) === mesh);
            const hidden = [...p.meshes].filter(([, mesh]) => !mesh.visible).map(([id]) => id);
            return [same, hidden, p.renderer.info.render.calls]; }"""
    )
    assert same
    assert hidden == [toggled]
    assert calls_after == calls - 1
    assert page.evaluate("performance.getEntriesByType('resource').length") == requests


def test_two_sources_models_in_the_study_every_panel_drawn(
    page: Page, orthanc: OrthancServer, study: dict[str, Any]
) -> None:
    """Issue 24's report at a smaller scale: 600 models in the study, one of them unreadable."""
    second = store_source(orthanc, study["images"], study["labels"], "Other", 3)
    models = model_order(orthanc, study["Study"])
    assert len(models) == 2 * SEGMENTS
    broken = second["Models"][0]
    page.route(f"**/instances/{broken}/{{segmesh/model,content/0042-0011}}", lambda r: r.abort())
    viewer.open_viewer(page, orthanc, f"instance={second['SEG']}")
    assert page.inner_text("#status") == ""
    for plane in viewer.PLANE_AXES:
        assert drawn_count(page, plane) >= 1, plane
    pixels = viewer.canvas_pixels(page)
    rgb = pixels[..., :3].astype(int)
    coloured = (rgb[..., 0] != rgb[..., 1]) | (rgb[..., 1] != rgb[..., 2])
    assert np.count_nonzero(coloured) >= np.count_nonzero(study["labels"][AXIAL]) // 2
    assert page.locator("#statistics tbody tr").count() == SEGMENTS
    assert page.inner_text("#statistics-message") == ""
    assert page.get_attribute("#model-view", "data-loaded") == str(2 * SEGMENTS - 1)
    assert page.get_attribute("#model-view", "data-failed") == "1"
    assert page.inner_text("#model-message") == "1 model(s) could not be read"
    assert page.locator("#models li").count() == 2 * SEGMENTS - 1
