"""The issue's speed goals, measured in one run through REST on a real Orthanc.

Input: a 100-segment BINARY SEG (ellipsoids on a lattice, ``tests.builders.lattice_ellipsoids``)
on a 512 x 512 x 300 CT, written once with highdicom and cached (``--cache``). Figures:

1. storing all models (``POST /instances/{seg}/segmesh/stl``, default options) against VTK's
   vtkSurfaceNets3D on the same label map (all labels in one pass, 16 smoothing iterations,
   triangles, split per label on its BoundaryLabels cell data); icons' time per model
   (``icon_pixels`` on the core's meshes);
2. the label map through REST (npz, grid=source, until its labels are read), first request
   (a copy of the SEG stored anew: decoded cold) and a repeat, against pynrrd reading the same
   map from a ``.seg.nrrd`` file (``to_seg_nrrd``); and, printed beside them, the first
   request of the SEG whose models figure 1 stored (its label map held since);
3. 4 concurrent label-map requests against the same 4 one after another: four copies of the SEG
   (new SOP Instance UIDs), each stored anew before each round so that it is decoded anew (no
   cache entry, no attachment), timed until the answers are in: the server's concurrency,
   not the client's decompression;
4. overlay p95 while a 100-segment model job runs against its idle p95, and, for reference,
   while a client uploads the job's model files anew (Orthanc storing them, no segmesh work);
5. a bounded mixed load (8 client threads, ``--load-seconds``, loopback) over segments,
   overlays, label maps and single-segment meshes of four sources (``tests.mixed_load``, the
   client of ``tests/test_load.py``: every answer checked): per-route p50/p95/p99, errors, and
   Orthanc's resident memory (itself and its worker children) after a warm-up of the same mix
   and after the run.

Timings only, never a test. The machine's load average is printed with the figures.

    .venv/bin/python benchmarks/bench_service.py [--workers 2] [--load-seconds 120] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nrrd
import numpy as np
import pydicom
import requests
import vtk
from vtkmodules.util import numpy_support

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

from benchmarks.lattice_input import (  # noqa: E402
    FULL,
    ORIGIN,
    QUICK,
    SEGMENTS,
    SPACING,
    generate,
    seg_copies,
)
from tests import builders  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.mixed_load import MixedLoad, load_source, warm_up_seconds  # noqa: E402
from tests.orthanc_server import OrthancServer, client_session  # noqa: E402

from segmesh.demo import make_demo_study  # noqa: E402
from segmesh.mesh import MeshOptions, segment_meshes  # noqa: E402
from segmesh.models.icon import icon_pixels  # noqa: E402
from segmesh.options import LabelMapOptions  # noqa: E402
from segmesh.seg.reader import seg_to_labelmap  # noqa: E402
from segmesh.settings import Settings  # noqa: E402


class Goals:
    """Rows of the final table: figure, value, goal, met."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, bool]] = []

    def add(self, figure: str, value: float, limit: float, unit: str, at_most: bool = True) -> None:
        met = value <= limit if at_most else value >= limit
        goal = f"{'<=' if at_most else '>='} {limit:g}{unit}"
        self.rows.append((figure, f"{value:.3g}{unit}", goal, met))
        print(f"  {figure}: {value:.3g}{unit} (goal {goal}: {'met' if met else 'MISSED'})")

    def print(self) -> None:
        width = max(len(row[0]) for row in self.rows)
        print(f"\n| {'figure':<{width}} | {'value':>10} | {'goal':>10} | met |")
        print(f"|{'-' * (width + 2)}|{'-' * 12}|{'-' * 12}|-----|")
        for figure, value, goal, met in self.rows:
            print(f"| {figure:<{width}} | {value:>10} | {goal:>10} | {'yes' if met else 'no':>3} |")


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


# --- figure 1: models against vtkSurfaceNets3D, icons ------------------------------------------


def surface_nets_output(
    layer: np.ndarray,
    count: int,
    spacing: tuple[float, float, float],
    origin: tuple[float, float, float],
) -> Any:
    """vtkSurfaceNets3D's polydata of labels 1 to ``count`` of ``layer`` (slices, rows,
    columns) at once, on a grid of ``spacing`` and ``origin`` (x, y, z mm): 16 smoothing
    iterations, triangles; each triangle's two labels in its ``BoundaryLabels``."""
    image = vtk.vtkImageData()
    image.SetDimensions(layer.shape[2], layer.shape[1], layer.shape[0])
    image.SetSpacing(*spacing)
    image.SetOrigin(*origin)
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(layer.ravel(), deep=False))
    nets = vtk.vtkSurfaceNets3D()
    nets.SetInputData(image)
    nets.GenerateLabels(count, 1, count)
    nets.SmoothingOn()
    nets.SetNumberOfIterations(16)
    nets.SetOutputMeshTypeToTriangles()
    nets.Update()
    return nets.GetOutput()


def surface_nets(layer: np.ndarray, count: int) -> tuple[float, int]:
    """Seconds and triangles of vtkSurfaceNets3D on every label at once, split per label."""
    start = time.perf_counter()
    output = surface_nets_output(layer, count, SPACING, ORIGIN)
    points = numpy_support.vtk_to_numpy(output.GetPoints().GetData())
    faces = numpy_support.vtk_to_numpy(output.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    boundary = numpy_support.vtk_to_numpy(output.GetCellData().GetArray("BoundaryLabels"))
    # Per label: its triangles (on either side of a boundary), vertices compacted.
    meshes = []
    for label in range(1, count + 1):
        chosen = faces[(boundary[:, 0] == label) | (boundary[:, 1] == label)]
        used, inverse = np.unique(chosen, return_inverse=True)
        meshes.append((points[used], inverse.reshape(-1, 3)))
    return time.perf_counter() - start, sum(len(faces) for _, faces in meshes)


def figure_models(
    server: OrthancServer, seg_id: str, labelmap: Any, goals: Goals, count: int
) -> None:
    print(f"\n1. storing all {count} models vs vtkSurfaceNets3D ({load()})", flush=True)
    start = time.perf_counter()
    response = server.post(f"/instances/{seg_id}/segmesh/stl", json={})
    stored = time.perf_counter() - start
    response.raise_for_status()
    assert len(response.json()["Instances"]) == count
    nets, triangles = surface_nets(labelmap.layers[0], count)
    print(f"  segmesh POST stl (default options): {stored:.2f} s")
    print(f"  vtkSurfaceNets3D + split: {nets:.2f} s ({triangles} triangles)")
    goals.add("stored models / SurfaceNets", stored / nets, 1.0, "x")
    start = time.perf_counter()
    meshes = [mesh for _, mesh in segment_meshes(labelmap, None, MeshOptions()) if mesh]
    core = time.perf_counter() - start
    smp = vtk.vtkSMPTools
    print(
        f"  segmesh's core meshing, one process: {core:.2f} s ({core / nets:.2f}x SurfaceNets, "
        f"which ran on VTK's {smp.GetBackend()} backend, {smp.GetEstimatedNumberOfThreads()} "
        "threads)"
    )
    times = []
    for mesh in meshes:
        start = time.perf_counter()
        icon_pixels(mesh)
        times.append((time.perf_counter() - start) * 1000)
    print(f"  icon_pixels: median {statistics.median(times):.2f} ms, max {max(times):.2f} ms")
    goals.add("icon per model (median)", statistics.median(times), 2.0, " ms")


# --- figures 2 and 3: label maps ---------------------------------------------------------


def labelmap_call(server: OrthancServer, seg_id: str) -> Callable[[], float]:
    url = f"{server.url}/instances/{seg_id}/segmesh/labelmap?format=npz&grid=source"

    def call() -> float:
        # Until the labels are in memory, as pynrrd's read is (which decompresses them too).
        start = time.perf_counter()
        response = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=600)
        response.raise_for_status()
        with np.load(io.BytesIO(response.content)) as archive:
            archive["labels"]
        return time.perf_counter() - start

    return call


def figure_labelmaps(
    server: OrthancServer, seg_id: str, seg_path: Path, nrrd_path: Path, goals: Goals
) -> None:
    print(f"\n2. label map through REST vs pynrrd .seg.nrrd ({load()})", flush=True)
    nrrd_times = []
    for _ in range(3):
        start = time.perf_counter()
        nrrd.read(str(nrrd_path))
        nrrd_times.append(time.perf_counter() - start)
    reference = statistics.median(nrrd_times)
    # Cold: a copy of the SEG stored anew, nothing of it cached or attached.
    copy_id = server.upload(seg_copies(seg_path, 5)[4])
    call = labelmap_call(server, copy_id)
    first, repeat = call(), call()
    server.session.delete(f"{server.url}/instances/{copy_id}").raise_for_status()
    # The SEG whose models figure 1 stored: its label map (the default grid) is held.
    after_models = labelmap_call(server, seg_id)()
    print(
        f"  pynrrd read: {reference:.2f} s; REST first (cold) {first:.2f} s, repeat "
        f"{repeat:.2f} s; first after the model job {after_models:.2f} s "
        f"({after_models / reference:.2f}x)"
    )
    goals.add("label map REST (cold) / nrrd read", first / reference, 2.0, "x")
    goals.add("label map repeat / nrrd read", repeat / reference, 1.2, "x")


def figure_concurrent_labelmaps(server: OrthancServer, seg_path: Path, goals: Goals) -> None:
    copies = [path.read_bytes() for path in seg_copies(seg_path, 4)]

    def stored_anew() -> list[str]:
        ids = [server.upload(data) for data in copies]
        for identifier in ids:  # stored anew: a new file, nothing of it cached
            server.session.delete(f"{server.url}/instances/{identifier}").raise_for_status()
        return [server.upload(data) for data in copies]

    def received(identifier: str) -> None:
        url = f"{server.url}/instances/{identifier}/segmesh/labelmap?format=npz&grid=source"
        requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=600).raise_for_status()

    print(f"\n3. 4 concurrent label maps vs 4 one after another ({load()})", flush=True)
    ids = stored_anew()
    start = time.perf_counter()
    for identifier in ids:
        received(identifier)
    sequential = time.perf_counter() - start
    ids = stored_anew()
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(received, ids))
    concurrent = time.perf_counter() - start
    print(f"  one after another {sequential:.2f} s, concurrent {concurrent:.2f} s")
    goals.add("4 label maps: sequential / concurrent", sequential / concurrent, 1.7, "x", False)
    for identifier in ids:
        server.session.delete(f"{server.url}/instances/{identifier}").raise_for_status()


# --- figure 4: overlays while a job runs --------------------------------------------------


def image_ids(server: OrthancServer, source_id: str) -> list[str]:
    description = server.get(f"/instances/{source_id}/segmesh/segments").json()
    series_id = description["ReferencedSeries"][0]
    slices = server.get(f"/series/{series_id}/ordered-slices").json()["SlicesShort"]
    return [image[0] for image in slices]


def overlay_times(
    server: OrthancServer, seg_id: str, images: list[str], until: Callable[[int], bool]
) -> list[float]:
    session = client_session()
    times: list[float] = []
    n = 0
    while not until(n):
        url = f"{server.url}/instances/{seg_id}/segmesh/overlay/{images[n % len(images)]}.png"
        start = time.perf_counter()
        session.get(url, timeout=120).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
        n += 1
    return times


def figure_overlay_under_job(server: OrthancServer, seg_id: str, goals: Goals) -> None:
    print(f"\n4. overlay p95 while a model job runs vs idle ({load()})", flush=True)
    images = image_ids(server, seg_id)
    overlay_times(server, seg_id, images, lambda n: n >= 5)  # cached
    idle = overlay_times(server, seg_id, images, lambda n: n >= 200)
    # A different parameter: new models are built (not found stored).
    answer = server.post(
        f"/instances/{seg_id}/segmesh/stl", json={"Asynchronous": True, "Iterations": 21}
    )
    answer.raise_for_status()
    path = answer.json()["Path"]
    done = threading.Event()

    def watch() -> None:
        while server.get(path).json()["State"] in ("Pending", "Running"):
            time.sleep(0.2)
        done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    busy = overlay_times(server, seg_id, images, lambda n: done.is_set())
    watcher.join()
    record = server.get(path).json()
    idle95, busy95 = percentile(idle, 95), percentile(busy, 95)
    print(
        f"  idle p95 {idle95:.1f} ms (n {len(idle)}); during the job ({record['State']}) p95 "
        f"{busy95:.1f} ms (n {len(busy)})"
    )
    goals.add("overlay p95 under job / idle", busy95 / idle95, 1.5, "x")
    stored = overlay_while_orthanc_stores(server, seg_id, images, record["Result"]["Instances"])
    print(
        f"  reference, no segmesh work: p95 {stored:.1f} ms ({stored / idle95:.2f}x idle) while "
        "a client uploads the job's model files again (Orthanc storing them alone)"
    )


def overlay_while_orthanc_stores(
    server: OrthancServer, seg_id: str, images: list[str], instances: list[dict[str, Any]]
) -> float:
    """Overlay p95 (ms) while another client uploads ``instances``' files anew, deleted first:
    what Orthanc's own storing of the same files costs the route, with no segmesh work."""
    files = [server.get(f"/instances/{i['ID']}/file").content for i in instances]
    for instance in instances:
        server.session.delete(f"{server.url}/instances/{instance['ID']}").raise_for_status()
    uploaded = threading.Event()

    def upload() -> None:
        session = client_session()
        for data in files:
            session.post(f"{server.url}/instances", data=data, timeout=120).raise_for_status()
        uploaded.set()

    uploader = threading.Thread(target=upload)
    uploader.start()
    times = overlay_times(server, seg_id, images, lambda n: uploaded.is_set())
    uploader.join()
    return percentile(times, 95)


# --- figure 5: mixed load ------------------------------------------------------------------


def figure_mixed_load(
    server: OrthancServer, sources: dict[str, str], seconds: float, goals: Goals
) -> None:
    print(f"\n5. mixed load: 8 threads for {seconds:.0f} s over {len(sources)} sources", flush=True)
    mixed = MixedLoad(server, [load_source(server, name, i) for name, i in sources.items()])
    # Warm-up: every route of every source once (each source's label map cached), then the
    # same mix for a while, so that the memory figure measures leaks, not caches filling.
    warm_up = mixed.warm()
    warm_up.errors += mixed.run(8, warm_up_seconds(seconds), seed=1).errors
    warm = server.resident_kilobytes() / 1024
    result = mixed.run(8, seconds, seed=2)
    after = server.resident_kilobytes() / 1024
    print(f"  ({load()})")
    for line in result.table():
        print(f"  {line}")
    for route, problem in (warm_up.errors + result.errors)[:10]:
        print(f"  error: {route} {problem}")
    print(f"  Orthanc resident memory (with workers): warm {warm:.0f} MB, after {after:.0f} MB")
    goals.add("mixed: segments p95", result.percentile("segments", 95), 50, " ms")
    goals.add("mixed: overlay p95", result.percentile("overlay", 95), 100, " ms")
    goals.add("mixed: errors", len(warm_up.errors + result.errors), 0, "")
    goals.add("mixed: memory after / warm", after / warm, 1.2, "x")


# --- main ----------------------------------------------------------------------------------


def small_seg_study() -> tuple[list[Any], Any]:
    """A 3-segment SEG on a 128 x 128 x 20 CT."""
    shape = (20, 128, 128)
    labels = builders.ellipsoid_labels(
        shape, [[40, 40, 10], [90, 60, 8], [64, 100, 12]], [[20, 15, 6], [15, 20, 5], [12, 12, 6]]
    )
    images = builders.ct_series(shape, (1.0, 1.0, 2.0), study=builders.study_dataset())
    return images, builders.seg(images, labels, ["A", "B", "C"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--load-seconds", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK} grid, for a smoke run")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-bench-service"
    )
    parser.add_argument(
        "--skip", default="", help="figures to skip, say 1,5 (the others still run)"
    )
    arguments = parser.parse_args()
    skip = {int(n) for n in arguments.skip.split(",") if n}
    shape = QUICK if arguments.quick else FULL
    seg_path, nrrd_path, ct_paths = generate(arguments.cache, shape)
    print(f"input: {SEGMENTS}-segment BINARY SEG on {shape} (slices, rows, columns); {load()}")
    goals = Goals()
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder), {"SegMesh": {"Workers": arguments.workers}})
        server.start()
        try:
            print(f"{server.versions()}; SegMesh.Workers {arguments.workers}", flush=True)
            for path in ct_paths:
                server.upload(path)
            seg_id = server.upload(seg_path)
            if 1 not in skip:
                dataset = pydicom.dcmread(seg_path)
                images = [pydicom.dcmread(path, stop_before_pixels=True) for path in ct_paths]
                labelmap = seg_to_labelmap(dataset, images, LabelMapOptions(), Settings())
                del dataset
                figure_models(server, seg_id, labelmap, goals, SEGMENTS)
                del labelmap
            if 2 not in skip:
                figure_labelmaps(server, seg_id, seg_path, nrrd_path, goals)
            if 3 not in skip:
                figure_concurrent_labelmaps(server, seg_path, goals)
            if 4 not in skip:
                figure_overlay_under_job(server, seg_id, goals)
            if 5 not in skip:
                demo = make_demo_study()
                for image in demo.images:
                    server.upload(encode(image))
                small_images, small_seg = small_seg_study()
                for image in small_images:
                    server.upload(encode(image))
                sources = {
                    "100-segment SEG": seg_id,
                    "demo SEG": server.upload(encode(demo.seg)),
                    "demo RT-STRUCT": server.upload(encode(demo.rtstruct)),
                    "small SEG": server.upload(encode(small_seg)),
                }
                figure_mixed_load(server, sources, arguments.load_seconds, goals)
        finally:
            server.stop()
    print(f"\nSegMesh.Workers {arguments.workers}, {load()}")
    goals.print()


if __name__ == "__main__":
    main()
