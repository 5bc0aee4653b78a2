"""The label-map attachment (``AutoGenerate.LabelMap``) against decoding the SEG, on the
100-segment BINARY SEG on a 512 x 512 x 300 CT of ``bench_service.py`` (its ``--cache``
folder; run that once first, or ``make bench-venv`` so that this script can generate it).

1. In the core: ``seg_to_labelmap`` (the SEG file and the CT headers to a label map) against
   ``read_labelmap_file`` (the attachment's bytes to the same label map); the file's size.
2. Through REST, the first ``GET .../segmesh/labelmap?format=npz`` after a restart (no
   process holds the label map; the workers warmed up by a one-segment label map first): with
   the attachment, and with it deleted (decoded).

Timings only, never a test; the machine's load average is printed with the figures.

    .venv/bin/python benchmarks/bench_attachment.py [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: the Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.formats.labelmap_file import read_labelmap_file, write_labelmap_file  # noqa: E402
from segmesh.geometry import image_planes  # noqa: E402
from segmesh.options import LabelMapOptions  # noqa: E402
from segmesh.seg.reader import seg_to_labelmap  # noqa: E402
from segmesh.settings import Settings  # noqa: E402

ATTACHMENT = 4603
SHAPE = "300x512x512"


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def inputs(cache: Path) -> tuple[Path, list[Path]]:
    folder = cache / SHAPE
    seg_path = folder / "seg.dcm"
    if not seg_path.exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_service import FULL, generate  # needs the bench venv (VTK)

        generate(cache, FULL)
    return seg_path, sorted((folder / "ct").glob("*.dcm"))


def best(seconds: list[float]) -> str:
    return f"best {min(seconds):.3f} s, median {float(np.median(seconds)):.3f} s"


def figure_core(seg_path: Path, ct_paths: list[Path], repeats: int) -> None:
    print(f"\n1. in the core ({load()})", flush=True)
    seg = pydicom.dcmread(seg_path)
    images = [pydicom.dcmread(path, stop_before_pixels=True) for path in ct_paths]
    decode = []
    for _ in range(repeats):
        start = time.perf_counter()
        labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
        decode.append(time.perf_counter() - start)
    planes = {str(image.SOPInstanceUID): image_planes(image)[0] for image in images}
    start = time.perf_counter()
    data = write_labelmap_file(labelmap, {"Key": "bench"}, planes)
    written = time.perf_counter() - start
    read = []
    for _ in range(repeats):
        start = time.perf_counter()
        again, _ = read_labelmap_file(data, {"Key": "bench"})
        read.append(time.perf_counter() - start)
    assert np.array_equal(again.layers, labelmap.layers)
    print(f"  label map {labelmap.layers.shape}, {labelmap.layers.nbytes / 1e6:.1f} MB")
    print(f"  seg_to_labelmap: {best(decode)}")
    print(f"  write_labelmap_file: {written:.3f} s, {len(data) / 1e6:.2f} MB")
    print(f"  read_labelmap_file: {best(read)}  ({min(decode) / min(read):.1f}x faster)")


def first_request(server: OrthancServer, seg_id: str) -> tuple[float, str]:
    """Seconds and origin of the default label map, first asked after a restart; another
    label map (one segment) is asked before it, so the worker processes have started."""
    server.stop()
    server.start()
    server.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz&segments=1").raise_for_status()
    start = time.perf_counter()
    response = server.get(f"/instances/{seg_id}/segmesh/labelmap?format=npz")
    seconds = time.perf_counter() - start
    response.raise_for_status()
    return seconds, response.headers["X-SegMesh-LabelMap-Origin"]


def figure_rest(seg_path: Path, ct_paths: list[Path], workers: int, repeats: int) -> None:
    print(f"\n2. through REST, first request after a restart, workers warm ({load()})", flush=True)
    configuration = {
        "StableAge": 1,
        "SegMesh": {"AutoGenerate": {"LabelMap": True}, "Workers": workers},
    }
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder), configuration)
        server.start()
        try:
            print(f"  {server.versions()}; SegMesh.Workers {workers}", flush=True)
            for path in ct_paths:
                server.upload(path)
            seg = pydicom.dcmread(seg_path)
            # tests.builders marks its SEGs as segmesh's outputs, which no automatic run takes.
            seg.Manufacturer = "bench"
            buffer = io.BytesIO()
            seg.save_as(buffer, enforce_file_format=True)
            seg_id = server.upload(buffer.getvalue())
            del seg, buffer
            path = f"/instances/{seg_id}/attachments/{ATTACHMENT}/data"
            deadline = time.monotonic() + 600
            while server.get(path).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("the attachment was never made")
                time.sleep(0.5)  # within Orthanc's KeepAliveTimeout (1 s by default)
            attached = [first_request(server, seg_id) for _ in range(repeats)]
            assert {origin for _, origin in attached} == {"attachment"}
            etag = server.get(path).headers["ETag"]
            server.session.delete(
                f"{server.url}{path[: -len('/data')]}", headers={"If-Match": etag}
            )
            decoded = [first_request(server, seg_id) for _ in range(repeats)]
            assert {origin for _, origin in decoded} == {"decoded"}
        except Exception:
            print(server.log()[-5000:])
            raise
        finally:
            server.stop()
    with_attachment = [seconds for seconds, _ in attached]
    without = [seconds for seconds, _ in decoded]
    print(f"  from the attachment: {best(with_attachment)}")
    print(f"  decoding the SEG: {best(without)}")
    print(f"  ratio (best): {min(without) / min(with_attachment):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-bench-service"
    )
    arguments = parser.parse_args()
    seg_path, ct_paths = inputs(arguments.cache)
    print(f"input: {seg_path} and {len(ct_paths)} CT images; {load()}")
    figure_core(seg_path, ct_paths, arguments.repeats)
    figure_rest(seg_path, ct_paths, arguments.workers, arguments.repeats)


if __name__ == "__main__":
    main()
