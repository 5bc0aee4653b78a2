"""A generated 512 x 512 x 1000 scan thresholded to a stored, watertight model: time and peak
memory against the image volume (the issue's goal: at most 3x, 2 bytes a voxel: 524 MB).

The scan: a museum's vessel, a thick-walled ellipsoidal pot open at the top (about 1200 HU) in
air (-1000 HU), with noise (sd 30 HU), int16 CT slices generated one at a time into Part-10
files: the volume is never held. Thresholded at 300 HU, largest piece kept, Taubin smoothing
(20 iterations), no decimation: the worst case for memory.

Core (default): the functions the REST path's workers run, each in a fresh spawned worker
process as segmesh's pool starts them: ``ThresholdSeries`` (the series' files to the crop of
the mask's bounding box) then ``BuildModel`` (the crop to a Part-10 Encapsulated STL).
The parent plays the Orthanc process: it writes the files one at a time into a temporary
folder, and the worker reads them one at a time from there, as it fetches a stored series.
Each process's peak resident memory is its VmHWM (/proc/self/status), printed with its ratio to the image volume.
The stored STL is checked watertight with trimesh.

``--rest``: a real Orthanc (``SegMesh.Workers`` 1) takes the files one at a time, ``POST
/series/{id}/segmesh/stl`` runs as a job, and the VmHWM of Orthanc and of its worker process
are read from /proc/<pid>/status once it ends; the model is fetched and checked watertight.

Run: ``.venv/bin/python benchmarks/bench_threshold.py [--slices 1000] [--rest]``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import trimesh
from pydicom import dcmread
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner

from benchmarks.orthanc_jobs import ended_job  # noqa: E402
from tests import builders  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.mesh import MeshOptions, ThresholdOptions  # noqa: E402
from segmesh.models import ModelFiles, ModelOutput, ModelRequest, stl_document  # noqa: E402
from segmesh.settings import Settings  # noqa: E402
from segmesh.work import BuildModel, ThresholdedSeries, ThresholdSeries, run_work  # noqa: E402
from segmesh.worker_io.packed_files import temporary_path  # noqa: E402

ROWS = COLUMNS = 512
PIXEL_SPACING = (0.2, 0.2)  # row, column (mm): a micro-CT
SLICE_STEP = 0.2
THRESHOLD = ThresholdOptions(300.0, None, 1)
MB = 1e6


def vessel_slices(slices: int, seed: int = 0) -> Iterator[npt.NDArray[np.int16]]:
    """(rows, columns) int16 HU of each slice: the pot's wall, air elsewhere, noise."""
    rng = np.random.default_rng(seed)
    j, i = np.ogrid[:ROWS, :COLUMNS]
    r2 = ((i - COLUMNS / 2) / (0.43 * COLUMNS)) ** 2 + ((j - ROWS / 2) / (0.43 * ROWS)) ** 2
    inner2 = ((i - COLUMNS / 2) / (0.36 * COLUMNS)) ** 2 + ((j - ROWS / 2) / (0.36 * ROWS)) ** 2
    for k in range(slices):
        z = (k - slices / 2) / (0.47 * slices)  # the outer wall's height, -1 to 1
        cavity = (k - slices * 0.58) / (0.47 * slices)  # higher: the cavity opens at the top
        wall = (r2 + z**2 <= 1.0) & ~(inner2 + cavity**2 <= 1.0)
        hu = np.where(wall, 1200, -1000) + rng.normal(0.0, 30.0, (ROWS, COLUMNS))
        yield hu.astype(np.int16)


def encoded_slices(slices: int) -> Iterator[bytes]:
    """The scan as Part-10 files, one slice generated and encoded at a time."""
    study = builders.study_dataset("Museum^Vessel", "MUSEUM")
    series_uid, frame_uid = generate_uid(), generate_uid()
    for k, hu in enumerate(vessel_slices(slices)):
        (image,) = builders.ct_images(
            [[0.0, 0.0, k * SLICE_STEP]],
            PIXEL_SPACING,
            (hu.astype(np.int32) + 1024).astype(np.int16)[np.newaxis],
            slice_thickness=SLICE_STEP,
            rescale_intercept=-1024,
            study=study,
            frame_of_reference_uid=frame_uid,
            series_instance_uid=series_uid,
        )
        yield encode(image)


class FolderFiles(Sequence[bytes]):
    """The files at ``paths``, each read when indexed: the worker's view of a stored series."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> list[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | list[bytes]:
        if isinstance(index, slice):
            return [path.read_bytes() for path in self.paths[index]]
        return self.paths[index].read_bytes()


def written_files(slices: int, folder: Path) -> FolderFiles:
    """:func:`encoded_slices` written into ``folder``, one at a time."""
    paths = []
    for k, data in enumerate(encoded_slices(slices)):
        paths.append(folder / f"{k:05d}.dcm")
        paths[-1].write_bytes(data)
    return FolderFiles(paths)


def peak_mb(pid: int | str = "self") -> float:
    """VmHWM (peak resident memory) of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    raise RuntimeError("no VmHWM")


def measured(function: Callable[..., Any], *args: Any) -> tuple[Any, float, float, float]:
    """``function(*args)`` in a worker: result, seconds, peak MB before and after the call."""
    before = peak_mb()
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start, before, peak_mb()


def in_fresh_worker(function: Callable[..., Any], *args: Any) -> tuple[Any, float, float, float]:
    """``measured(function, *args)`` in a new spawned process; the third figure is that
    process's peak once idle with the core imported, before it takes the arguments."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        idle = pool.submit(peak_mb).result()
        result, seconds, _, peak = pool.submit(measured, function, *args).result()
        return result, seconds, idle, peak


def is_watertight_stl(data: bytes) -> bool:
    return bool(trimesh.load_mesh(io.BytesIO(data), file_type="stl").is_watertight)


def report(name: str, seconds: float, peak: float, image_mb: float) -> None:
    print(f"{name:<44} {seconds:8.1f} s {peak:9.0f} MB {peak / image_mb:6.2f}x")


def run_core(slices: int) -> None:
    image_mb = slices * ROWS * COLUMNS * 2 / MB
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        files = written_files(slices, Path(folder))
        print(
            f"scan: {COLUMNS} x {ROWS} x {slices} int16, {image_mb:.0f} MB of pixels, "
            f"{sum(path.stat().st_size for path in files.paths) / MB:.0f} MB of files, "
            "generated in "
            f"{time.perf_counter() - start:.0f} s"
        )
        print(f"{'step (each in its own process)':<44} {'time':>10} {'peak':>12} {'/image':>7}")
        series: ThresholdedSeries
        series, seconds, before, peak = in_fresh_worker(
            run_work, ThresholdSeries(files=files, threshold=THRESHOLD, settings=Settings())
        )
    print(f"(an idle worker, the core imported: {before:.0f} MB)")
    report("worker: files -> thresholded crop", seconds, peak, image_mb)
    assert series.crop is not None
    box = series.crop.mask.shape
    print(f"  crop {box[2]} x {box[1]} x {box[0]}: {series.crop.mask.nbytes / MB:.0f} MB")
    options = MeshOptions()
    parameters = {**options.to_json(), **THRESHOLD.to_json()}
    request = ModelRequest(series.source, parameters, "Model of the vessel", {})
    with temporary_path(".model.dcm") as path:
        work = BuildModel(
            crops=(series.crop,),
            geometry=series.geometry,
            options=options,
            output=ModelOutput(
                files=ModelFiles.of(request, datetime.datetime.now()),
                segment_key="1",
                label=THRESHOLD.label,
                color=(241, 214, 145),
                instance_number=1,
                max_triangles=Settings().max_triangles,
                path=path,
            ),
        )
        model, seconds, _, peak = in_fresh_worker(run_work, work)
        file = Path(path).read_bytes()
    report("worker: crop -> Encapsulated STL file", seconds, peak, image_mb)
    print(f"  {model.triangles} triangles, {model.volume_ml:.1f} ml, {len(file) / MB:.0f} MB")
    report("parent (the Orthanc process's share)", 0.0, peak_mb(), image_mb)
    stl = stl_document(dcmread(io.BytesIO(file)))
    print(f"watertight: {is_watertight_stl(stl)}")


def worker_pids(pid: int) -> list[int]:
    """The child processes of ``pid`` (segmesh's workers, for an Orthanc process)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(n) for n in (task / "children").read_text().split()]
    return children


def run_rest(slices: int) -> None:
    image_mb = slices * ROWS * COLUMNS * 2 / MB
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder), {"SegMesh": {"Workers": 1}})
        server.start()
        try:
            start = time.perf_counter()
            for data in encoded_slices(slices):
                instance = server.upload(data)
            series = server.get(f"/instances/{instance}").json()["ParentSeries"]
            print(
                f"scan: {COLUMNS} x {ROWS} x {slices} int16, {image_mb:.0f} MB of pixels, "
                f"stored in {time.perf_counter() - start:.0f} s"
            )
            assert server.process is not None
            orthanc_before = peak_mb(server.process.pid)
            start = time.perf_counter()
            body = {"Threshold": 300, "KeepLargest": 1, "Asynchronous": True}
            job = server.post(f"/series/{series}/segmesh/stl", json=body).json()
            record = ended_job(server, job["Path"], 1.0)
            seconds = time.perf_counter() - start
            assert record["State"] == "Success", record
            print(f"POST /series/{{id}}/segmesh/stl as a job: {seconds:.0f} s")
            print(f"(Orthanc's peak before the request: {orthanc_before:.0f} MB)")
            report("Orthanc process", seconds, peak_mb(server.process.pid), image_mb)
            # The worker, and multiprocessing's resource tracker (a few MB).
            for pid in worker_pids(server.process.pid):
                report(f"child process {pid}", seconds, peak_mb(pid), image_mb)
            (item,) = record["Result"]["Instances"]
            print(f"  {item['Triangles']} triangles, {item['VolumeMl']} ml")
            stl = server.get(f"/instances/{item['ID']}/segmesh/model").content
            print(f"watertight: {is_watertight_stl(stl)}")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=1000)
    parser.add_argument("--rest", action="store_true", help="through a real Orthanc")
    arguments = parser.parse_args()
    (run_rest if arguments.rest else run_core)(arguments.slices)


if __name__ == "__main__":
    main()
