"""Issue 24's goals at 1000+ segments, through REST on a real Orthanc, in one run.

Input (``benchmarks/thousand_input.py``, cached in ``--cache``): 1000 and 3000 small
structures on a 512 x 512 x 300 CT, as a BINARY SEG (2% overlapping) and a LABELMAP SEG. For
each source:

1. the label map's first request (npz of a copy stored anew: decoded cold) against pynrrd
   reading the same map from a ``.seg.nrrd`` (goal at most 2x), with time per segment voxel;
2. the segments route: first request and p95 of 50 (goal p95 at most 50 ms);
3. statistics (JSON) and an overlay of the middle slice, once each, with time per segment voxel
   (grows with the voxels, not segments x volume, where nothing is quadratic);
4. every model stored as a job (``Asynchronous``, polled) against vtkSurfaceNets3D on the same
   map plus Orthanc storing the same files alone (the job's instances deleted and uploaded
   anew), goal at most 1.2x; where the job's thread handing the models over spent its time
   (waiting for the workers, for the storing threads; and in these, keeping the printability
   reports: segmesh's metrics); and the CPU seconds of Orthanc and of its workers in the job
   and in Orthanc's storing alone (what the job costs apart from the machine's other load);
5. memory: what the source's requests (1 to 4) cost Orthanc and its workers, against 3x the
   label map's layers (goal at most 1x of that). Orthanc holds 1.7 to 1.8 GB before the
   source's first request (the CT and SEG uploads, its allocator's retained memory, the
   workers' imports), none of it segmesh's work on the source: so each process's peak
   resident memory is taken above what it held just before the first request
   (``benchmarks/process_memory.py``: the kernel's VmHWM, reset then, else samples every
   20 ms; a process started meanwhile counts whole), printed per process with the file pages
   mapped in at its peak (the SEG's pixel data read in place: page cache, shared and
   droppable), and the goal judged on the sum of the processes' growths (at least what they
   held above before at once). Printed beside it: what the tree held before, its whole peak
   against the goal as it was judged before, and (``--fresh``) what a fresh Orthanc holds
   after the same uploads with no request made.

Timings only, never a test; the machine's load average is printed with the figures.

    .venv/bin/python benchmarks/bench_thousand.py [--counts 1000,3000] [--kinds BINARY,LABELMAP]
        [--quick] [--cache DIR] [--fresh]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nrrd
import numpy as np
import requests
from vtkmodules.util import numpy_support

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

from benchmarks.bench_service import Goals, load, percentile, surface_nets_output  # noqa: E402
from benchmarks.orthanc_jobs import ended_job  # noqa: E402
from benchmarks.process_memory import (  # noqa: E402
    ProcessMemory,
    combined,
    process_peaks,
    status_kilobytes,
)
from benchmarks.thousand_input import FULL, ORIGIN, QUICK, SPACING, generate, seg_copy  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402


def surface_nets(layers: np.ndarray, numbers: int) -> float:
    """Seconds of vtkSurfaceNets3D on every label of each layer at once (16 smoothing
    iterations, triangles), split per label by one sort of its BoundaryLabels."""
    start = time.perf_counter()
    for layer in layers:
        output = surface_nets_output(layer, numbers, SPACING, ORIGIN)
        if output.GetNumberOfCells() == 0:
            continue
        faces = numpy_support.vtk_to_numpy(output.GetPolys().GetConnectivityArray())
        boundary = numpy_support.vtk_to_numpy(output.GetCellData().GetArray("BoundaryLabels"))
        # A triangle belongs to the labels on both its sides (0 is the background).
        labels = boundary.ravel()
        owners = np.repeat(np.arange(len(boundary)), 2)[labels > 0]
        order = np.argsort(labels[labels > 0], kind="stable")
        for part in np.split(owners[order], np.unique(labels[labels > 0][order], True)[1][1:]):
            np.unique(faces.reshape(-1, 3)[part], return_inverse=True)
    return time.perf_counter() - start


def npz_labels(server: OrthancServer, source: str) -> tuple[np.ndarray, float, str]:
    """The label map (layers, slices, rows, columns), the seconds until it is read, and where
    the route says its time went (its ``Server-Timing``)."""
    start = time.perf_counter()
    response = requests.get(
        f"{server.url}/instances/{source}/segmesh/labelmap?format=npz",
        headers={"Accept-Encoding": "identity"},
        timeout=900,
    )
    response.raise_for_status()
    with np.load(io.BytesIO(response.content)) as archive:
        labels = archive["labels"]
    return labels, time.perf_counter() - start, response.headers.get("Server-Timing", "")


def timed(server: OrthancServer, path: str) -> float:
    start = time.perf_counter()
    server.get(path).raise_for_status()
    return time.perf_counter() - start


def cpu_seconds(server: OrthancServer) -> tuple[float, float]:
    """The CPU seconds (user and system) Orthanc's process and its descendants (the workers)
    have used so far: what a model job costs apart from the machine's other load."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = [0.0, 0.0]
    for index, pid in enumerate(server.process_ids()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        totals[min(index, 1)] += (int(fields[11]) + int(fields[12])) / tick
    return totals[0], totals[1]


def model_stages(server: OrthancServer) -> dict[str, float]:
    """The seconds segmesh's model jobs spent so far in each step of their storing thread
    (``segmesh_models_*_seconds_total`` among Orthanc's Prometheus metrics)."""
    text = server.get("/tools/metrics-prometheus").text
    return {
        name: float(value)
        for name, value in re.findall(r"^(segmesh_models_\w+) (\S+)", text, flags=re.MULTILINE)
    }


def run_source(
    server: OrthancServer, cache: Path, shape: tuple[int, int, int], count: int, kind: str
) -> None:
    goals = Goals()
    seg_path, nrrd_path, _ = generate(cache, shape, count, kind)
    name = f"{count} {kind}"
    print(f"\n== {name} on {shape} ({load()})", flush=True)
    nrrd_times = []
    for _ in range(3):
        start = time.perf_counter()
        data, _header = nrrd.read(str(nrrd_path))
        nrrd_times.append(time.perf_counter() - start)
    reference = statistics.median(nrrd_times)
    copy = seg_copy(seg_path, f"{time.time_ns()}")
    source = server.upload(copy)
    copy.unlink()  # a new one each run: the cache would keep hundreds of MB a run
    # Memory by step (the kernel's peaks are reset as each begins), then over all of them.
    steps: dict[str, dict[int, ProcessMemory]] = {}
    with process_peaks(server.process_ids) as steps["label map"]:
        first_segments = timed(server, f"/instances/{source}/segmesh/segments")
        labels, first, stages = npz_labels(server, source)
    voxels = int(np.count_nonzero(labels))
    print(
        f"  label map {labels.shape} {labels.dtype}: first {first:.2f} s, .seg.nrrd read "
        f"{reference:.2f} s; {first / voxels * 1e9:.0f} ns per segment voxel\n"
        f"  its stages (ms): {stages}"
    )
    goals.add(f"{name}: label map first / nrrd read", first / reference, 2.0, "x")
    with process_peaks(server.process_ids) as steps["segments, statistics, overlay"]:
        times = [timed(server, f"/instances/{source}/segmesh/segments") for _ in range(50)]
        print(f"  segments: first {first_segments * 1000:.0f} ms, p50 "
              f"{percentile(times, 50) * 1000:.1f} ms")  # fmt: skip
        goals.add(f"{name}: segments p95", percentile(times, 95) * 1000, 50.0, " ms")
        stats = timed(server, f"/instances/{source}/segmesh/statistics")
        csv = timed(server, f"/instances/{source}/segmesh/statistics?format=csv")
        series = server.get(f"/instances/{source}/segmesh/segments").json()["ReferencedSeries"]
        slices = server.get(f"/series/{series[0]}/ordered-slices").json()["SlicesShort"]
        overlay = timed(
            server, f"/instances/{source}/segmesh/overlay/{slices[len(slices) // 2][0]}.png"
        )
        print(
            f"  statistics JSON {stats:.2f} s ({stats / voxels * 1e9:.0f} ns per segment voxel), "
            f"CSV {csv:.2f} s; overlay {overlay * 1000:.0f} ms"
        )
    before = model_stages(server)
    cpu_before = cpu_seconds(server)
    with process_peaks(server.process_ids) as steps["models"]:
        start = time.perf_counter()
        job = server.post(f"/instances/{source}/segmesh/stl", json={"Asynchronous": True})
        job.raise_for_status()
        record = ended_job(server, job.json()["Path"], 0.1)
        models = time.perf_counter() - start
    job_cpu = [
        after - earlier for after, earlier in zip(cpu_seconds(server), cpu_before, strict=True)
    ]
    assert record["State"] == "Success", record
    stages = {
        name: seconds - before.get(name, 0.0) for name, seconds in model_stages(server).items()
    }
    stored = [item["ID"] for item in record["Result"]["Instances"]]
    nets = surface_nets(labels, int(labels.max()))
    files = [server.get(f"/instances/{i}/file").content for i in stored]
    for identifier in stored:
        server.session.delete(f"{server.url}/instances/{identifier}").raise_for_status()
    cpu_before = cpu_seconds(server)
    start = time.perf_counter()
    for data in files:
        server.upload(data)
    storing = time.perf_counter() - start
    storing_cpu = cpu_seconds(server)[0] - cpu_before[0]
    print(
        f"  {len(stored)} models as a job {models:.2f} s; vtkSurfaceNets3D {nets:.2f} s + "
        f"Orthanc storing the files alone {storing:.2f} s"
    )
    print(
        "  the job's handing-over thread: waiting for the workers "
        f"{stages['segmesh_models_waiting_seconds_total']:.2f} s, for the storing threads "
        f"{stages['segmesh_models_storing_seconds_total']:.2f} s; in these, keeping the "
        f"printability reports {stages['segmesh_models_reports_seconds_total']:.2f} s"
    )
    print(
        f"  CPU: the job's Orthanc process {job_cpu[0]:.2f} s, its workers {job_cpu[1]:.2f} s; "
        f"Orthanc storing the files alone {storing_cpu:.2f} s ({os.cpu_count()} cores)"
    )
    goals.add(f"{name}: model job / (SurfaceNets + storing)", models / (nets + storing), 1.2, "x")
    layers_mb = labels.nbytes / 2**20
    growth = print_memory(steps, layers_mb)
    goals.add(f"{name}: memory growth / 3x layers", growth / (3 * layers_mb), 1.0, "x")
    goals.print()


def print_memory(steps: dict[str, dict[int, ProcessMemory]], layers_mb: float) -> float:
    """The processes' growth in each step, then each process's memory over all steps (the
    first listed is Orthanc); the sum of their growths, MB."""
    print(f"  memory (MB; label map layers {layers_mb:.0f}); growth of all processes by step:")
    for step, block in steps.items():
        grown = sum(p.growth for p in block.values()) / 1024
        print(f"    {step}: {grown:.0f} ({grown / layers_mb:.2f}x the layers)")
    processes = combined(steps.values())
    for index, process in enumerate(processes.values()):
        role = "Orthanc" if index == 0 else "started meanwhile" if not process.before else "child"
        print(
            f"    {role:<17} pid {process.pid:>7}: before {process.before / 1024:6.0f}, peak "
            f"{process.peak / 1024:6.0f}, growth {process.growth / 1024:6.0f} (file pages "
            f"mapped at its peak {process.file_at_peak / 1024:.0f}; "
            f"{'kernel peak' if process.reset else 'sampled'})"
        )
    before = sum(p.before for p in processes.values()) / 1024
    peak = sum(p.peak for p in processes.values()) / 1024
    growth = sum(p.growth for p in processes.values()) / 1024
    print(
        f"    all: {before:.0f} held before the first request; growth {growth:.0f} = "
        f"{growth / layers_mb:.2f}x the layers (goal <= 3x); the whole tree's peak {peak:.0f} "
        f"would be {peak / (3 * layers_mb):.2f}x of 3x layers"
    )
    return growth


def fresh_after_uploads(cts: list[Path], seg_path: Path) -> None:
    """Print what a fresh Orthanc and its children hold after the CT and the SEG are uploaded,
    no segmesh request made: Orthanc's own share of what the tree held before."""
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder))
        server.start()
        try:
            for path in [*cts, seg_path]:
                server.upload(path)
            held = [status_kilobytes(pid).get("VmRSS", 0) / 1024 for pid in server.process_ids()]
        finally:
            server.stop()
    parts = ", ".join(f"{mb:.0f}" for mb in held)
    print(f"  a fresh Orthanc after the same uploads, no request: {sum(held):.0f} MB ({parts})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,3000")
    parser.add_argument("--kinds", default="BINARY,LABELMAP")
    parser.add_argument("--quick", action="store_true", help="a 60 x 256 x 256 grid")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-1000")
    parser.add_argument(
        "--fresh", action="store_true", help="also what a fresh Orthanc holds after the uploads"
    )
    arguments = parser.parse_args()
    shape = QUICK if arguments.quick else FULL
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder))
        server.start()
        try:
            cts = generate(arguments.cache, shape, 1000, "LABELMAP")[2]
            for path in cts:
                server.upload(path)
            for count in (int(n) for n in arguments.counts.split(",")):
                for kind in arguments.kinds.split(","):
                    run_source(server, arguments.cache, shape, count, kind)
                    if arguments.fresh:
                        seg_path = generate(arguments.cache, shape, count, kind)[0]
                        fresh_after_uploads(cts, seg_path)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
