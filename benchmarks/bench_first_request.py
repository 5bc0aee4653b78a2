"""The first label-map request, stage by stage, against reading the same map from a .seg.nrrd.

Input: the 100-segment BINARY SEG on a 512 x 512 x 300 CT of ``bench_service.py``
(``benchmarks.lattice_input``, cached in ``--cache``). In one run:

- pynrrd reading the ``.seg.nrrd`` of the same label map (the reference), read again just
  before each run of what it is compared with: on a shared machine whose load changes during
  the run, each ratio is of two times taken under the same load (the median of the runs'
  ratios is printed against the goals);
- segmesh's core decode (``work.DecodeLabelMap`` run in this process: the CT headers read, the
  SEG decoded on their grid, its layers written), with its own stages and its CPU time (the
  goal is on its ``decode`` stage, ``labelmap_of_file``, as the issue measured it: the CT
  headers read apart; the whole is printed beside it), and
  the same in a worker process started as segmesh's pool starts them (spawned, at their
  lower priority): a worker's decode slower than this process's with the same CPU time
  waited for a core;
- the first ``GET /instances/{id}/segmesh/labelmap?format=npz`` through REST, each time of a
  copy of the SEG stored anew (nothing of it cached or attached), until its labels are read,
  with the stages the route answers in ``Server-Timing`` (index calls, the source's file,
  the attachment look-up, the hand-over to the worker, the worker's image headers, decode,
  and the layers written while a thread encodes the npz, the hand-back, the layers and the
  npz read back) and what is left:
  sending the answer, and the client reading it (``numpy.load``).

Medians of ``--repeats``; timings only, never a test. The machine's load is printed with them.

    .venv/bin/python benchmarks/bench_first_request.py [--repeats 5] [--workers 2] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import io
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nrrd
import numpy as np
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

from benchmarks.lattice_input import FULL, QUICK, SEGMENTS, generate, seg_copies  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.settings import Settings  # noqa: E402
from segmesh.work import DecodeLabelMap, SeriesGrid  # noqa: E402
from segmesh.worker_io import worker_process  # noqa: E402
from segmesh.worker_io.worker_process import NICENESS  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def paired(
    reference: Callable[[], float], measured: Callable[[], dict[str, float]], repeats: int
) -> tuple[list[float], list[dict[str, float]]]:
    """``repeats`` runs of ``measured``, each just after one of ``reference``: both times of
    a run taken under the same load."""
    references, runs = [], []
    for _ in range(repeats):
        references.append(reference())
        runs.append(measured())
    return references, runs


def ratio(references: list[float], runs: list[dict[str, float]], name: str) -> float:
    """The median over the runs of stage ``name`` over its run's reference."""
    return statistics.median(
        run[name] / seconds for run, seconds in zip(runs, references, strict=True)
    )


def nrrd_read(path: Path) -> float:
    start = time.perf_counter()
    nrrd.read(str(path))
    return time.perf_counter() - start


def decode_work(seg_path: Path, ct_paths: list[Path], folder: Path) -> DecodeLabelMap:
    """The core's decode of the SEG on the CT's grid, as the route hands it to a worker."""
    return DecodeLabelMap(
        source_path=str(seg_path),
        grid=SeriesGrid(image_files=[path.read_bytes() for path in ct_paths]),
        segments=None,
        threshold=0.5,
        settings=Settings(),
        layers_path=str(folder / "layers"),
    )


def core_decode(work: DecodeLabelMap) -> dict[str, float]:
    """Stages, total and ``cpu`` (this process's CPU time) of ``work``, in seconds: where the
    total exceeds the CPU time, the process waited (for a core, or for the disk)."""
    cpu = time.process_time()
    start = time.perf_counter()
    decoded = work.run()
    stages = dict(decoded.stages)
    stages["total"] = time.perf_counter() - start
    stages["cpu"] = time.process_time() - cpu
    # Removed, so that the next run writes a new file as the route's workers do (replacing a
    # file first frees its pages: 0.02 s more).
    os.unlink(decoded.layers.path)
    return stages


def in_worker(pool: ProcessPoolExecutor, work: DecodeLabelMap) -> dict[str, float]:
    """:func:`core_decode` in a worker process started as segmesh's pool starts its own
    (spawned, at its lower priority, the core imported)."""
    return pool.submit(core_decode, work).result()


def first_request(server: OrthancServer, data: bytes) -> dict[str, float]:
    """Stages (seconds) of the first label-map request of ``data`` stored anew, and
    ``client``: the whole request until its labels are read."""
    seg_id = server.upload(data)
    url = f"{server.url}/instances/{seg_id}/segmesh/labelmap?format=npz&grid=source"
    start = time.perf_counter()
    response = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=600)
    response.raise_for_status()
    received = time.perf_counter() - start
    with np.load(io.BytesIO(response.content)) as archive:
        archive["labels"]
    client = time.perf_counter() - start
    assert response.headers["X-SegMesh-LabelMap-Origin"] == "decoded"
    stages = {}
    for part in response.headers["Server-Timing"].split(", "):
        name, _, duration = part.partition(";dur=")
        stages[name] = float(duration) / 1000
    parts = sum(seconds for name, seconds in stages.items() if name != "total")
    # Per run, since medians of the parts need not add up to the median of the whole.
    stages["(unnamed)"] = stages["total"] - parts
    stages["answer"] = received - stages["total"]
    stages["read"] = client - received
    stages["client"] = client
    # Deleted, so that the next copy stored is a new file again.
    server.session.delete(f"{server.url}/instances/{seg_id}").raise_for_status()
    return stages


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run.get(name, 0.0) for run in runs) for name in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help=f"a {QUICK} grid, for a smoke run")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-bench-service"
    )
    arguments = parser.parse_args()
    shape = QUICK if arguments.quick else FULL
    seg_path, nrrd_path, ct_paths = generate(arguments.cache, shape)
    copy = seg_copies(seg_path, 1)[0].read_bytes()
    print(f"input: {SEGMENTS}-segment BINARY SEG on {shape} (slices, rows, columns); {load()}")
    reference = functools.partial(nrrd_read, nrrd_path)
    with tempfile.TemporaryDirectory() as folder:
        work = decode_work(seg_path, ct_paths, Path(folder))
        core_references, core_runs = paired(
            reference, functools.partial(core_decode, work), arguments.repeats
        )
        core = medians(core_runs)
        with ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker_process.start,
            initargs=(os.getpid(),),
        ) as pool:
            worker = medians([in_worker(pool, work) for _ in range(arguments.repeats + 1)][1:])
        work_dir = Path(folder) / "orthanc"
        work_dir.mkdir()
        server = OrthancServer(work_dir, {"SegMesh": {"Workers": arguments.workers}})
        server.start()
        try:
            print(f"{server.versions()}; SegMesh.Workers {arguments.workers}", flush=True)
            for path in ct_paths:
                server.upload(path)
            first_request(server, copy)  # the workers started, the core imported
            rest_references, rest_runs = paired(
                reference, functools.partial(first_request, server, copy), arguments.repeats
            )
            rest = medians(rest_runs)
        finally:
            server.stop()
    print(
        f"\npynrrd reads the .seg.nrrd: {statistics.median(core_references):.3f} s beside the "
        f"core decode, {statistics.median(rest_references):.3f} s beside the REST requests "
        f"(medians of {arguments.repeats})"
    )
    print("\nsegmesh's core decode (cpu: its CPU time; the rest of its total it waited):")
    print(f"  {'':<12} {'here':>7}   {'worker':>7}  (a spawned process at nice {NICENESS})")
    for name, seconds in core.items():
        print(f"  {name:<12} {seconds:7.3f} s {worker[name]:7.3f} s")
    print("\nfirst request through REST (Server-Timing, medians of each stage):")
    notes = {
        "(unnamed)": "in the route, outside the stages",
        "total": "the route",
        "answer": "sent and received",
        "read": "the client's numpy.load of the labels (inflating them)",
        "client": "the whole request",
    }
    for name, seconds in rest.items():
        print(f"  {name:<12} {seconds:7.3f} s  {notes.get(name, '')}".rstrip())
    print(f"\n{load()}")
    print("\n(the ratios: medians of each run's ratio to the .seg.nrrd read just before it)")
    print("| figure | value | goal | met |")
    print("|---|---:|---:|---|")
    for figure, value, goal in (
        (
            "first label map through REST / .seg.nrrd read",
            ratio(rest_references, rest_runs, "client"),
            2.0,
        ),
        (
            "core decode (labelmap_of_file, the CT headers read apart) / .seg.nrrd read",
            ratio(core_references, core_runs, "decode"),
            1.0,
        ),
        (
            "the same with the CT headers read and the layers written / .seg.nrrd read",
            ratio(core_references, core_runs, "total"),
            None,
        ),
    ):
        if goal is None:
            print(f"| {figure} | {value:.2f}x | (no goal) | |")
        else:
            met = "yes" if value <= goal else "no"
            print(f"| {figure} | {value:.2f}x | <= {goal:g}x | {met} |")


if __name__ == "__main__":
    main()
