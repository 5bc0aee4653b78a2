"""The three-plane viewer on a 512 x 512 x 300 CT: first view and scrolling, timed in Chromium.

Input: the 100-segment BINARY SEG on a 512 x 512 x 300 CT of ``bench_service.py`` (the same
cache folder and layout, generated once if missing). Figures:

1. the viewer's arrays through REST, cold (nothing of the source cached; the worker
   processes started on the demo study first), the three asked at once as the viewer does:
   grid JSON with the first view's ``planes/labels.npy`` and ``planes/image.npy``, then
   (cold again) with the whole ``labels.npy`` and ``image.npy``; their sizes;
2. the first view in Chromium: ``viewer.html?instance=`` opened to all three planes drawn
   (``window.segmeshFirstView``, ms from navigation start), goal 2 s, with the waterfall of
   the requests answered before it (Chromium's resource timings: asked, first byte, last
   byte) and how long drawing took after the last of them; then the whole volumes in
   (``window.segmeshWholeVolumes``: scrolling from then on). ``--models N`` first stores
   models of the first N segments in the study, which the 3D panel loads beside the planes
   (as a study of TotalSegmentator models would); ``--segments 1000 --sources 2`` a
   1000-segment SEG (small balls on a lattice) and a second SEG of the same labels, the models of
   every segment of both stored (2000 models, issue 24's report), then the 3D panel's figures:
   models in the scene and failed, when the last came in, the longest gap between two frames
   while they loaded (the page's responsiveness), errors shown and statistics rows;
3. scrolling: 100 steps through each plane, one animation frame apart, once the viewer's
   column-ordered copy is made (after the first view); per plane the draw time and the time
   from the step to the plane drawn (p50, p95), goal p95 50 ms.

Timings only, never a test. The machine's load average is printed with the figures.

    .venv/bin/python benchmarks/bench_viewer.py [--quick] [--workers 2] [--models 30]
    .venv/bin/python benchmarks/bench_viewer.py --segments 1000 --sources 2 [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
from playwright.sync_api import Page, sync_playwright
from pydicom.sr.codedict import codes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

from tests import builders  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.demo import make_demo_study  # noqa: E402

FULL = (300, 512, 512)  # slices, rows, columns
QUICK = (60, 256, 256)
SPACING = (0.8, 0.8, 1.5)  # column, row, slice (mm)
ORIGIN = (-204.4, -204.4, -225.0)
SEGMENTS = 100
CHROMIUM = "/usr/bin/chromium"
STEPS = 100


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def lattice_balls(shape: tuple[int, int, int], count: int) -> npt.NDArray[np.uint16]:
    """(slices, rows, columns) uint16: ``count`` balls of radius 2 voxels (33 voxels, five
    slices each), segment n in the n-th cell of a lattice over the grid, none touching."""
    labels = np.zeros(shape, dtype=np.uint16)
    side = int(np.ceil(count ** (1 / 3) * 1.2))
    cells = [max(1, min(side, n // 6)) for n in shape]
    while np.prod(cells) < count:
        cells[int(np.argmax(np.array(shape) / cells))] += 1
    step = np.array(shape) // cells
    k, j, i = np.ogrid[-2:3, -2:3, -2:3]
    ball = k**2 + j**2 + i**2 <= 4
    for number in range(1, count + 1):
        centre = (np.array(np.unravel_index(number - 1, cells)) * step + step // 2).astype(int)
        box = tuple(slice(c - 2, c + 3) for c in centre)
        labels[box][ball] = number
    return labels


def generate_many(
    cache: Path, shape: tuple[int, int, int], segments: int, sources: int
) -> tuple[list[Path], list[Path]]:
    """``sources`` SEGs of :func:`lattice_balls` ("Structure n", "Source 2 n", ...) on one CT,
    written once into ``cache``."""
    folder = cache / f"{'x'.join(map(str, shape))}-{segments}x{sources}"
    ct_folder = folder / "ct"
    seg_paths = [folder / f"seg{n}.dcm" for n in range(1, sources + 1)]
    if all(path.exists() for path in seg_paths):
        return seg_paths, sorted(ct_folder.glob("*.dcm"))
    ct_folder.mkdir(parents=True, exist_ok=True)
    print(f"generating {sources} {segments}-segment SEGs on {shape} (once) ...", flush=True)
    labels = lattice_balls(shape, segments)
    images = builders.ct_series(
        shape,
        (SPACING[1], SPACING[0], SPACING[2]),
        ORIGIN,
        pixels=(labels > 0).astype(np.int16) * 100,
        rescale_intercept=-1024,
        study=builders.study_dataset("Bench^Viewer", "BENCH-VIEWER-MANY"),
    )
    for k, image in enumerate(images):
        image.save_as(ct_folder / f"{k:04d}.dcm", enforce_file_format=True)
    for n, path in enumerate(seg_paths, 1):
        name = "Structure" if n == 1 else f"Source {n}"
        seg = builders.seg(
            images,
            labels,
            [f"{name} {m}" for m in range(1, segments + 1)],
            property_types=[codes.SCT.Tissue] * segments,
            category=codes.SCT.Tissue,
            series_number=1 + n,
        )
        seg.save_as(path, enforce_file_format=True)
    return seg_paths, sorted(ct_folder.glob("*.dcm"))


def generate(cache: Path, shape: tuple[int, int, int]) -> tuple[Path, list[Path]]:
    """The SEG and the CT files, written once into ``cache`` (``bench_service.py``'s layout)."""
    folder = cache / "x".join(map(str, shape))
    seg_path, ct_folder = folder / "seg.dcm", folder / "ct"
    if seg_path.exists():
        return seg_path, sorted(ct_folder.glob("*.dcm"))
    ct_folder.mkdir(parents=True, exist_ok=True)
    print(f"generating the {SEGMENTS}-segment SEG on {shape} (once) ...", flush=True)
    labels = builders.lattice_ellipsoids(shape, SPACING, ORIGIN, SEGMENTS)
    images = builders.ct_series(
        shape,
        (SPACING[1], SPACING[0], SPACING[2]),
        ORIGIN,
        pixels=labels.astype(np.int16) * 10,
        rescale_intercept=-1024,
        study=builders.study_dataset("Bench^Service", "BENCH-SERVICE"),
    )
    for k, image in enumerate(images):
        image.save_as(ct_folder / f"{k:04d}.dcm", enforce_file_format=True)
    seg = builders.seg(
        images,
        labels,
        [f"Structure {n}" for n in range(1, SEGMENTS + 1)],
        property_types=[codes.SCT.Tissue] * SEGMENTS,
        category=codes.SCT.Tissue,
    )
    seg.save_as(seg_path, enforce_file_format=True)
    return seg_path, sorted(ct_folder.glob("*.dcm"))


def warm_up(server: OrthancServer) -> None:
    """Start segmesh's worker processes (they start at the first request) on the demo study,
    so that the figures are those of a running Orthanc opening a study it has not cached."""
    demo = make_demo_study()
    for image in demo.images:
        server.upload(encode(image))
    demo_seg = server.upload(encode(demo.seg))
    with ThreadPoolExecutor(2) as pool:
        for path in ("labels.npy", "image.npy"):
            pool.submit(server.get, f"/instances/{demo_seg}/segmesh/volume/{path}")


def figure_rest(server: OrthancServer, seg_id: str, first_view: bool) -> None:
    """The grid with the whole volumes or (``first_view``) with the three planes."""
    base = f"/instances/{seg_id}/segmesh/volume"
    names = ("planes/labels.npy", "planes/image.npy") if first_view else ("labels.npy", "image.npy")
    paths = [base, *(f"{base}/{name}" for name in names)]

    def timed(path: str) -> tuple[float, int]:
        start = time.perf_counter()
        response = server.get(path)
        assert response.status_code == 200, response.text
        return time.perf_counter() - start, len(response.content)

    start = time.perf_counter()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(timed, paths))
    total = time.perf_counter() - start
    what = "the first view's planes" if first_view else "the whole volumes"
    print(f"1. the grid and {what} through REST, cold, asked at once:")

    def label(path: str) -> str:
        return path.split("/volume")[-1].lstrip("/") or "volume"

    for path, (seconds, size) in zip(paths, results, strict=True):
        print(f"   {label(path):<18} {seconds:6.2f} s  {size / 1e6:7.1f} MB")
    print(f"   all three          {total:6.2f} s")
    print("   again, one after another (the label map cached, the image decoded again):")
    for path in paths:
        seconds, size = timed(path)
        print(f"   {label(path):<18} {seconds:6.2f} s  {size / 1e6:7.1f} MB")


SCROLL = """async ([name, steps]) => {
    const planes = window.segmeshViewer;
    const frame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done)));
    while (!planes.volume.byColumn) await frame();
    planes.latencies.length = 0;
    const view = planes.views[name];
    view.timings.length = 0;
    const direction = planes.cursor.ijk[planes.layouts[name].fixed] > 1 ? -1 : 1;
    for (let n = 0; n < steps; n += 1) {
        planes.scroll(name, direction);
        await frame();
    }
    return [view.timings.slice(), planes.latencies.slice()];
}"""


#: Each request answered before the first view: path, ms from navigation start to asked,
#: first byte and last byte.
WATERFALL = """(before) => performance.getEntriesByType('resource')
    .filter((entry) => entry.responseEnd <= before)
    .map((entry) => [new URL(entry.name).pathname, entry.startTime, entry.responseStart,
        entry.responseEnd])"""


def print_waterfall(requests: list[tuple[str, float, float, float]], first: float) -> None:
    """The requests answered before the first view, then drawing after the last of them."""
    print("   requests answered before it, ms from navigation (asked, first byte, last byte):")
    for path, asked, first_byte, last_byte in sorted(requests, key=lambda row: row[1]):
        name = path.split("/segmesh/", 1)[-1] if "/segmesh/" in path else path
        print(f"   {asked:7.0f} {first_byte:7.0f} {last_byte:7.0f}  {name[-60:]}")
    last = max((row[3] for row in requests), default=0.0)
    print(f"   drawn {first - last:.0f} ms after the last answer")


#: At each animation frame: its time and the 3D panel's models in the scene (installed before
#: the page's scripts run).
COUNT_FRAMES = """
window.benchFrames = [];
const tick = (time) => {
  const panel = document.querySelector('#model-view');
  window.benchFrames.push([time, Number(panel?.dataset.loaded || 0)]);
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def print_models(page: Page, first: float) -> None:
    """The 3D panel's figures once the page is ready (every model in or failed)."""
    loaded = int(page.get_attribute("#model-view", "data-loaded") or 0)
    failed = int(page.get_attribute("#model-view", "data-failed") or 0)
    frames = page.evaluate("window.benchFrames")
    done = next((time for time, count in frames if count == loaded), frames[-1][0])
    loading = [time for time, count in frames if first <= time <= done]
    gaps = np.diff(loading) if len(loading) > 1 else np.array([0.0])
    print(
        f"4. 3D panel: {loaded} models in the scene, {failed} failed; the last in "
        f"{done / 1000:.2f} s from navigation ({(done - first) / 1000:.2f} s after the first view)"
    )
    print(
        f"   frames while they loaded: {len(loading)}, longest gap {gaps.max():.0f} ms, "
        f"p95 {np.percentile(gaps, 95):.0f} ms (the page stays responsive)"
    )
    status = page.inner_text("#status")
    ready = page.evaluate("document.body.dataset.ready")
    rows = page.locator("#statistics tbody tr").count()
    print(
        f"   page ready {ready!r}, status {status!r}, model message "
        f"{page.inner_text('#model-message')!r}, statistics rows {rows}"
    )


def figure_browser(server: OrthancServer, seg_id: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.add_init_script(COUNT_FRAMES)
        page.goto(f"{server.url}/segmesh/app/viewer.html?instance={seg_id}")
        page.wait_for_function("window.segmeshFirstView", timeout=120_000)
        first = page.evaluate("window.segmeshFirstView")
        print(f"2. first view (three planes drawn) {first / 1000:.2f} s (goal <= 2 s)")
        print_waterfall(page.evaluate(WATERFALL, first), first)
        page.wait_for_function("window.segmeshWholeVolumes", timeout=120_000)
        whole = page.evaluate("window.segmeshWholeVolumes")
        print(f"   the whole volumes in (scrolling from then on) {whole / 1000:.2f} s")
        page.wait_for_function("document.body.dataset.ready", timeout=600_000)
        if page.get_attribute("#model-view", "data-loaded"):
            print_models(page, first)
        page.wait_for_function("window.segmeshViewer.volume.byColumn", timeout=120_000)
        ordered = page.evaluate("window.segmeshViewer.volume.orderedIn")
        print(f"   the column-ordered copy (for sagittal planes) made in {ordered / 1000:.2f} s")
        print("3. scrolling, 100 steps a plane, ms (draw p50 / p95; step to drawn p50 / p95):")
        for name in ("axial", "coronal", "sagittal"):
            draws, latencies = page.evaluate(SCROLL, [name, STEPS])
            print(
                f"   {name:<9} draw {np.percentile(draws, 50):5.1f} / "
                f"{np.percentile(draws, 95):5.1f}   step to drawn "
                f"{np.percentile(latencies, 50):5.1f} / {np.percentile(latencies, 95):5.1f}"
                " (goal p95 <= 50)"
            )
        browser.close()


def store_models(server: OrthancServer, seg_id: str, count: int) -> None:
    """Models of segments 1 to ``count`` stored in the study (what the 3D panel shows)."""
    response = server.post(
        f"/instances/{seg_id}/segmesh/stl", json={"Segments": list(range(1, count + 1))}
    )
    assert response.status_code == 200, response.text
    print(f"{count} models stored in the study")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK} grid, for a smoke run")
    parser.add_argument(
        "--models", type=int, default=0, help="models of the first N segments in the study"
    )
    parser.add_argument(
        "--segments", type=int, default=SEGMENTS, help="segments of each SEG (100: bench_service's)"
    )
    parser.add_argument(
        "--sources", type=int, default=1, help="SEGs of --segments, every model of each stored"
    )
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-bench-service"
    )
    arguments = parser.parse_args()
    shape = QUICK if arguments.quick else FULL
    many = arguments.segments != SEGMENTS or arguments.sources > 1
    if many:
        seg_paths, ct_paths = generate_many(
            arguments.cache, shape, arguments.segments, arguments.sources
        )
    else:
        seg_path, ct_paths = generate(arguments.cache, shape)
        seg_paths = [seg_path]
    print(
        f"input: {len(seg_paths)} {arguments.segments}-segment BINARY SEG(s) on {shape} "
        f"(slices, rows, columns); {load()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder), {"SegMesh": {"Workers": arguments.workers}})
        server.start()
        try:
            for path in ct_paths:
                server.upload(path)
            seg_ids = [server.upload(path) for path in seg_paths]
            seg_id = seg_ids[0]
            if many:
                for one in seg_ids:
                    store_models(server, one, arguments.segments)
            if arguments.models or many:
                if arguments.models:
                    store_models(server, seg_id, arguments.models)
                server.stop()  # meshing them cached the label map: the figures are cold
                server.start()
            for first_view in (True, False):
                warm_up(server)
                figure_rest(server, seg_id, first_view)
                server.stop()  # a fresh label-map cache: each figure is cold
                server.start()
            warm_up(server)
            figure_browser(server, seg_id)
        finally:
            server.stop()
    models = arguments.segments * len(seg_paths) if many else arguments.models
    print(f"SegMesh.Workers {arguments.workers}, models {models}, {load()}")


if __name__ == "__main__":
    main()
