"""Overlay latency through REST: segmesh's overlay route against Orthanc's own PNG routes.

Starts one Orthanc with segmesh (free loopback port, temporary storage), stores the inputs, then
scrolls through every slice several times as a viewer would, and prints a table of medians and
95th percentiles in milliseconds:

- ``segmesh overlay, cold``: the first overlay of a source (decodes the SEG or rasterises the
  RT-STRUCT, then caches the label map);
- ``segmesh overlay, warm``: every later overlay (the goal: p95 <= 30 ms on 512 x 512 slices);
- ``segmesh overlay, warm, outline``: the same in outline mode;
- ``Orthanc /preview of the CT``: Orthanc's PNG of the same image, the reference;
- ``Orthanc /preview of a SEG frame``: what Orthanc itself does with a 1-bit SEG frame.

Then, in this process, the PNG encoding alone of the synthetic SEG's overlay of every slice:
segmesh's ``encode_png`` (RGBA, rows unfiltered) against Pillow's RGBA PNG at the same zlib
level (what segmesh used before), median ms per slice, ratio and bytes.

Inputs: a synthetic 512 x 512 x 64 CT with a 6-segment BINARY SEG and an RT-STRUCT of the same
organs, and, where ../shared/testdata is present, dcmqi's ``liver.dcm`` on its 3 real 512 x 512
CT slices.

    .venv/bin/python benchmarks/bench_overlay.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import requests
from PIL import Image
from pydicom.dataset import Dataset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner

from tests import builders  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.demo.phantom import ORGANS  # noqa: E402
from segmesh.geometry import image_planes  # noqa: E402
from segmesh.options import LabelMapOptions  # noqa: E402
from segmesh.overlay import OverlayStyle, encode_png, plane_labels, render  # noqa: E402
from segmesh.rtstruct.writer import RoiMask  # noqa: E402
from segmesh.seg.reader import seg_to_labelmap  # noqa: E402
from segmesh.settings import Settings  # noqa: E402

TESTDATA = ROOT.parent / "shared" / "testdata"
SHAPE = (64, 512, 512)
SPACING = (0.7, 0.7, 2.5)  # row, column, slice (mm)


def synthetic_study() -> tuple[list[Dataset], Dataset, Dataset]:
    """CT slices, SEG and RT-STRUCT of the demo organs on a 512 x 512 x 64 grid."""
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in SHAPE), indexing="ij")
    origin = (-179.0, -179.0, -80.0)
    x = origin[0] + i * SPACING[1]
    y = origin[1] + j * SPACING[0]
    z = origin[2] + k * SPACING[2]
    # The demo organs, twice as large, on a 512 x 512 field of view.
    masks = {organ.number: organ.mask(x / 2, y / 2, z / 2) for organ in ORGANS}
    hounsfield = np.where((x / 150) ** 2 + (y / 130) ** 2 <= 1, 30, -1000).astype(np.int16)
    images = builders.ct_series(
        SHAPE,
        SPACING,
        origin,
        pixels=hounsfield,
        study=builders.study_dataset("Bench^Overlay", "BENCH"),
    )
    seg = builders.seg(
        images,
        np.stack([masks[organ.number] for organ in ORGANS], axis=-1),
        [organ.name for organ in ORGANS],
        property_types=[organ.code for organ in ORGANS],
        series_number=100,
    )
    rois = [
        RoiMask(organ.number, organ.name, organ.color, "ORGAN", masks[organ.number])
        for organ in ORGANS
    ]
    return images, seg, builders.rtstruct(images, rois, "bench")


def timed(call: Callable[[], requests.Response]) -> tuple[float, int]:
    start = time.perf_counter()
    response = call()
    return (time.perf_counter() - start) * 1000, response.status_code


@dataclass(frozen=True)
class Row:
    """One line of the table: latencies in ms and the HTTP statuses seen."""

    name: str
    times: list[float]
    statuses: set[int]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        return float(np.percentile(self.times, 95))

    @property
    def status(self) -> str:
        if self.statuses == {200}:
            return "ok"
        return "HTTP " + ",".join(str(s) for s in sorted(self.statuses))


def bench_source(orthanc: Any, label: str, source_id: str, rounds: int) -> list[Row]:
    """Scroll the source's referenced images ``rounds`` times."""
    description = orthanc.get(f"/instances/{source_id}/segmesh/segments").json()
    series_id = description["ReferencedSeries"][0]
    images = orthanc.get(f"/series/{series_id}/ordered-slices").json()["SlicesShort"]
    image_ids = [image[0] for image in images]
    get = orthanc.session.get
    base = f"{orthanc.url}/instances/{source_id}/segmesh/overlay"
    cold, cold_status = timed(lambda: get(f"{base}/{image_ids[0]}.png?opacity=1"))
    warm, warm_status = [], set()
    outline, outline_status = [], set()
    preview, preview_status = [], set()
    for _ in range(rounds):
        for image_id in image_ids:
            elapsed, status = timed(lambda i=image_id: get(f"{base}/{i}.png?opacity=1"))
            warm.append(elapsed)
            warm_status.add(status)
            elapsed, status = timed(lambda i=image_id: get(f"{base}/{i}.png?outline=true"))
            outline.append(elapsed)
            outline_status.add(status)
            elapsed, status = timed(lambda i=image_id: get(f"{orthanc.url}/instances/{i}/preview"))
            preview.append(elapsed)
            preview_status.add(status)
    rows = [
        Row(f"{label}: segmesh overlay, cold", [cold], {cold_status}),
        Row(f"{label}: segmesh overlay, warm", warm, warm_status),
        Row(f"{label}: segmesh overlay, warm, outline", outline, outline_status),
        Row(f"{label}: Orthanc /preview of the CT", preview, preview_status),
    ]
    if description["Kind"] == "SEG":
        frames, frame_status = [], set()
        for frame in range(min(len(image_ids), 10)):
            elapsed, status = timed(
                lambda f=frame: get(f"{orthanc.url}/instances/{source_id}/frames/{f}/preview")
            )
            frames.append(elapsed)
            frame_status.add(status)
        rows.append(Row(f"{label}: Orthanc /preview of a SEG frame", frames, frame_status))
    return rows


def peak_memory_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, MB; 0 where unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pillow_png(rgba: np.ndarray) -> bytes:
    """Pillow's RGBA PNG at zlib level 1 (it tries five filters on every row)."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def bench_png_encoding(images: list[Dataset], seg: Dataset) -> None:
    """segmesh's encode_png against Pillow's on the synthetic SEG's overlay of every slice."""
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    overlays = [
        render(plane_labels(labelmap, image_planes(image)[0]), labelmap.segments, OverlayStyle())
        for image in images
    ]
    print(f"\nPNG encoding of the {len(overlays)} overlays (512 x 512 RGBA), median per slice:")
    medians = {}
    for name, encoder in (("segmesh encode_png", encode_png), ("Pillow, level 1", pillow_png)):
        times, size = [], 0
        for rgba in overlays:
            start = time.perf_counter()
            size += len(encoder(rgba))
            times.append((time.perf_counter() - start) * 1000)
        medians[name] = statistics.median(times)
        print(f"  {name:<20} {medians[name]:6.2f} ms, {size / len(overlays) / 1024:6.1f} KiB")
    ratio = medians["Pillow, level 1"] / medians["segmesh encode_png"]
    print(f"  segmesh is {ratio:.1f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="scrolls through every slice")
    arguments = parser.parse_args()
    sources: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as work:
        orthanc = OrthancServer(Path(work))
        orthanc.start()
        try:
            print("generating and storing the 512 x 512 x 64 synthetic study...", flush=True)
            images, seg, rtstruct = synthetic_study()
            for image in images:
                orthanc.upload(encode(image))
            sources.append(("synthetic SEG 512x512x64", orthanc.upload(encode(seg))))
            sources.append(("synthetic RT-STRUCT 512x512x64", orthanc.upload(encode(rtstruct))))
            liver = TESTDATA / "dcmqi" / "segmentations" / "liver.dcm"
            if liver.exists():
                for path in sorted((liver.parent / "ct-3slice").glob("*.dcm")):
                    orthanc.upload(path)
                sources.append(("dcmqi liver.dcm 512x512x3", orthanc.upload(liver)))
            else:
                print(f"{TESTDATA} is absent: the dcmqi input is skipped")
            rows = []
            for label, source_id in sources:
                rows += bench_source(orthanc, label, source_id, arguments.rounds)
            peak = peak_memory_mb(orthanc.process.pid if orthanc.process else 0)
        finally:
            orthanc.stop()
    print()
    print(
        f"{'input and route':<64} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'vs preview':>10}  status"
    )
    reference = {
        row.name.split(":")[0]: row.median for row in rows if row.name.endswith("of the CT")
    }
    for row in rows:
        base = reference.get(row.name.split(":")[0])
        ratio = f"{row.median / base:.2f}x" if base else "-"
        print(
            f"{row.name:<64} {len(row.times):>5} {row.median:>10.1f} {row.p95:>8.1f} "
            f"{ratio:>10}  {row.status}"
        )
    print(f"\nOrthanc's peak resident memory (label maps cached): {peak:.0f} MB")
    bench_png_encoding(images, seg)


if __name__ == "__main__":
    main()
