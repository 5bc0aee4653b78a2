"""DICOM SEG to label map: segmesh against highdicom, pydicom-seg and a gzip .seg.nrrd read.

Generates (once, cached) a TotalSegmentator-scale BINARY SEG with highdicom: 512 x 512 x 300 CT
grid, 104 organ-like segments (ellipsoids), empty frames omitted. Then, in one run, times the
same decode by each reader and prints medians, ratios to segmesh's core and peak memory
(tracemalloc, which numpy reports to, measured in a separate untimed call).

    make bench-venv
    .venv/bin/python benchmarks/bench_seg.py [--runs 5] [--cache /tmp/segmesh-bench-seg]

pydicom-seg 0.4.1 pins numpy<2 and cannot live in segmesh's venv; give it its own:

    python3 -m venv /tmp/pydicom-seg-venv
    /tmp/pydicom-seg-venv/bin/pip install pydicom-seg==0.4.1 pydicom==2.4.4
    .venv/bin/python benchmarks/bench_seg.py --pydicom-seg-python /tmp/pydicom-seg-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import highdicom as hd
import nrrd
import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugin"))

from tests import builders  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.formats import nrrd_header  # noqa: E402
from segmesh.options import Grid, LabelMapOptions  # noqa: E402
from segmesh.seg.reader import seg_to_labelmap  # noqa: E402
from segmesh.settings import Settings  # noqa: E402

SHAPE = (300, 512, 512)  # slices, rows, columns
SPACING = (0.8, 0.8, 1.5)  # row, column, slice (mm)
SEGMENTS = 104

PYDICOM_SEG_SNIPPET = """
import sys, time, tracemalloc, json
import pydicom, pydicom_seg
def read():
    return pydicom_seg.MultiClassReader().read(pydicom.dcmread(sys.argv[1])).data
read()  # warm the imports and the page cache
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    read()
    times.append(time.perf_counter() - start)
tracemalloc.start()
read()
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"times": times, "peaks": [peak]}))
"""


def organ_labels() -> np.ndarray:
    """(slices, rows, columns) uint8: SEGMENTS ellipsoids of organ sizes inside a body."""
    rng = np.random.default_rng(7)
    centres, radii = [], []
    for _ in range(SEGMENTS):
        radius = rng.uniform([8, 8, 6], [45, 45, 60])  # mm: rows, columns, slices
        centre = rng.uniform([130, 130, 40], [380, 380, 260])  # voxels: row, column, slice
        # In voxels, (column, row, slice) order.
        centres.append(centre[[1, 0, 2]])
        radii.append((radius / np.array(SPACING))[[1, 0, 2]])
    return builders.ellipsoid_labels(SHAPE, centres, radii)


def generate(cache: Path) -> tuple[Path, Path, list[Path]]:
    """The SEG, the .seg.nrrd and the CT files, written once into ``cache``."""
    seg_path, nrrd_path, ct_folder = cache / "seg.dcm", cache / "labels.seg.nrrd", cache / "ct"
    if seg_path.exists() and nrrd_path.exists():
        return seg_path, nrrd_path, sorted(ct_folder.glob("*.dcm"))
    cache.mkdir(parents=True, exist_ok=True)
    ct_folder.mkdir(exist_ok=True)
    print("generating the benchmark SEG (once) ...", flush=True)
    # The CT series the SEG refers to (pixel values do not matter here).
    images = builders.ct_series(SHAPE, SPACING, (-204.4, -204.4, -225.0), rescale_intercept=-1024)
    for k, image in enumerate(images):
        image.save_as(ct_folder / f"{k:04d}.dcm", enforce_file_format=True)
    labels = organ_labels()
    present = [n for n in range(1, SEGMENTS + 1) if (labels == n).any()]
    seg = builders.seg(
        images, labels, [f"Organ {number}" for number in range(1, SEGMENTS + 1)], automatic=True
    )
    seg.save_as(seg_path, enforce_file_format=True)
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    # The research format, gzip at pynrrd's default level as 3D Slicer writes it.
    nrrd.write(str(nrrd_path), labelmap.layers[0].T, nrrd_header(labelmap))
    print(f"  {len(present)} segments present, {int(seg.NumberOfFrames)} frames", flush=True)
    return seg_path, nrrd_path, sorted(ct_folder.glob("*.dcm"))


def measure(
    function: Callable[[], Any], runs: int, trace: bool = True
) -> tuple[list[float], list[int]]:
    """Wall times (s) of ``runs`` calls after one warm-up, and the tracemalloc peak (bytes) of
    one more call: tracing slows numpy-heavy code, so it is never on while timing. Without
    ``trace`` (REST calls: the work happens in Orthanc's process) the peak is 0, not measured."""
    function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
        del result
    if not trace:
        return times, [0]
    tracemalloc.start()
    result = function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return times, [peak]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-bench-seg"
    )
    parser.add_argument("--pydicom-seg-python", type=Path, default=None)
    args = parser.parse_args()
    seg_path, nrrd_path, ct_paths = generate(args.cache)
    file_bytes = seg_path.stat().st_size
    seg_data = seg_path.read_bytes()
    labelmap_bytes = int(np.prod(SHAPE))

    def segmesh_core() -> Any:
        dataset = pydicom.dcmread(BytesIO(seg_data))
        return seg_to_labelmap(dataset, None, LabelMapOptions(grid=Grid.NATIVE), Settings()).layers

    def highdicom_read() -> Any:
        seg = hd.seg.segread(BytesIO(seg_data))
        return seg.get_volume(combine_segments=True).array

    def nrrd_read() -> Any:
        return nrrd.read(str(nrrd_path))[0]

    rows: dict[str, tuple[list[float], list[int]]] = {}
    rows["segmesh core (dcmread + decode)"] = measure(segmesh_core, args.runs)
    rows["pynrrd .seg.nrrd (gzip)"] = measure(nrrd_read, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder), {"SegMesh": {"CacheMegabytes": 1}})
        server.start()
        try:
            seg_id = server.upload(seg_data)
            for path in ct_paths:
                server.upload(path)

            def route(grid: str) -> Callable[[], Any]:
                def call() -> Any:
                    # As curl asks: without Accept-Encoding, Orthanc does not gzip the answer.
                    response = server.get(
                        f"/instances/{seg_id}/segmesh/labelmap?format=npz&grid={grid}",
                        headers={"Accept-Encoding": "identity"},
                    )
                    response.raise_for_status()
                    return len(response.content)

                return call

            for grid in ("native", "source"):
                rows[f"segmesh REST npz, grid={grid}"] = measure(route(grid), args.runs, False)
        finally:
            server.stop()
    rows["highdicom segread + get_volume"] = measure(highdicom_read, max(1, args.runs // 2))
    if args.pydicom_seg_python:
        result = subprocess.run(
            [
                str(args.pydicom_seg_python),
                "-c",
                PYDICOM_SEG_SNIPPET,
                str(seg_path),
                str(max(1, args.runs // 2)),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(result.stdout.strip().splitlines()[-1])
        rows["pydicom-seg MultiClassReader (own venv)"] = (measured["times"], measured["peaks"])
    else:
        print("pydicom-seg skipped: give --pydicom-seg-python (see the docstring)")

    base = statistics.median(rows["segmesh core (dcmread + decode)"][0])
    print(
        f"\nSEG: {SEGMENTS} segments, {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} grid, "
        f"file {file_bytes / 1e6:.1f} MB, label map {labelmap_bytes / 1e6:.1f} MB; "
        f"median of {args.runs} runs (peers with few runs: median of those)\n"
    )
    print(f"| {'reader':<42} | {'median s':>9} | {'ratio to core':>13} | {'peak MB':>8} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 15}|{'-' * 10}|")
    for name, (times, peaks) in rows.items():
        median = statistics.median(times)
        peak = f"{max(peaks) / 1e6:8.1f}" if max(peaks) else "     n/a"
        print(f"| {name:<42} | {median:9.3f} | {median / base:13.2f} | {peak} |")
    print(
        f"\nmemory budget (2 x (label map + file)): {2 * (labelmap_bytes + file_bytes) / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
