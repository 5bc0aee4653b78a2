"""Training sets out of the archive: ``POST /segmesh/datasets`` (nnU-Net) against the script a
researcher writes today, in one run on the same files.

Input: ``--cases`` cases (50), each its own patient and study: a 512 x 512 x ``--slices`` (100)
CT (a body of soft tissue in air, the organs 10 HU apart, noise sd 20 HU, int16 stored values,
rescale intercept -1024) and a 10-segment BINARY SEG written by highdicom
(``tests.builders.seg``) of 10 ellipsoids (``tests.builders.lattice_ellipsoids``, a seed a
case), "Segment 1" to "Segment 10". The Part-10 files are generated once into ``--cache`` and
reused (cases already there are kept; missing ones are added).

1. Baseline, in a fresh process of its own (single process, as such scripts are), reading the
   cached files from disk: for each case, the CT files with pydicom (``dcmread``,
   ``pixel_array``, the rescale in int16, slices sorted by ImagePositionPatient along the
   normal), the SEG with highdicom 0.28 (``segread``, then ``get_pixels_by_source_instance`` on
   the CT's sorted SOP Instance UIDs with ``combine_segments``: the (slices, rows, columns)
   label map of segment numbers on the CT grid), written with nibabel as
   ``imagesTr/{case}_0000.nii.gz`` and ``labelsTr/{case}.nii.gz`` (gzip level 1, nibabel's
   default and segmesh's; RAS affine from the CT geometry), then ``dataset.json``. Its peak
   memory is the process's ``ru_maxrss``.
2. segmesh: the same files stored in a real Orthanc, ``POST /segmesh/datasets`` with the
   studies and ``"Format": "nnunet"``, polled until it ends, the zip downloaded to disk: the
   wall time from the POST to the file written. Peak memory: the VmHWM of Orthanc and of each
   of its children (reset before the job through ``/proc/{pid}/clear_refs``), and the sum of
   their resident memory sampled every 50 ms.
3. Beside it, ``"Format": "hdf5"`` through REST the same way (no baseline).

Fairness: for the first 3 cases both outputs are read back with nibabel (closest canonical
orientation): the labels must be equal voxel for voxel (segment names matched through each
``dataset.json``), the images equal, the affines equal, and every file a gzip NIfTI; the run
fails loudly otherwise.

Goal: segmesh at least 3x faster than the baseline. From the project folder:
``.venv/bin/python benchmarks/bench_datasets.py [--cases 50] [--slices 100] [--repeats 1]
[--cache DIR] [--workers N]``; ``--cases 3`` is a quick check.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: the tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

import highdicom as hd  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pydicom  # noqa: E402
from tests import builders  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

ROWS = COLUMNS = 512
SPACING = (0.8, 0.8, 1.0)  # row, column, slice mm
ORIGIN = (-204.4, -204.4, -150.0)
SEGMENTS = 10
CHECKED = 3  # cases whose outputs are compared voxel for voxel
GOAL = 3.0  # segmesh at least this many times faster
MB = 1e6
GZIP_MAGIC = b"\x1f\x8b"


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- the input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A cached case: its folder (``ct/*.dcm``, ``seg.dcm``), name and UIDs."""

    folder: Path
    name: str
    seg_uid: str
    study_uid: str

    @property
    def ct_paths(self) -> list[Path]:
        return sorted((self.folder / "ct").glob("*.dcm"))

    @property
    def seg_path(self) -> Path:
        return self.folder / "seg.dcm"


def ct_values(labels: npt.NDArray[np.uint8], seed: int) -> npt.NDArray[np.int16]:
    """(slices, rows, columns) int16 stored values (HU + 1024): an elliptic body of soft tissue
    (40 HU) in air (-1000 HU), each label 10 HU above the last, noise sd 20 HU."""
    rng = np.random.default_rng(seed)
    j, i = np.ogrid[:ROWS, :COLUMNS]
    body = ((i - COLUMNS / 2) / (0.46 * COLUMNS)) ** 2 + ((j - ROWS / 2) / (0.36 * ROWS)) ** 2 <= 1
    values = np.empty(labels.shape, dtype=np.int16)
    base = np.where(body, 40 + 1024, -1000 + 1024).astype(np.int16)
    for k in range(labels.shape[0]):
        noise = rng.standard_normal((ROWS, COLUMNS), dtype=np.float32) * 20
        values[k] = base + labels[k].astype(np.int16) * 10 + np.rint(noise).astype(np.int16)
    return values


def generate(cache: Path, count: int, slices: int) -> list[Case]:
    """``count`` cases written once into ``cache`` (``{slices}x512x512/case{n:03d}``); a case
    is complete once its ``seg.dcm`` is written (last)."""
    root = cache / f"{slices}x{ROWS}x{COLUMNS}"
    cases = []
    for n in range(1, count + 1):
        folder = root / f"case{n:03d}"
        seg_path = folder / "seg.dcm"
        if not seg_path.exists():
            start = time.perf_counter()
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "ct").mkdir(parents=True)
            shape = (slices, ROWS, COLUMNS)
            # lattice_ellipsoids' spacing is (column, row, slice), its origin the first voxel.
            labels = builders.lattice_ellipsoids(
                shape, (SPACING[1], SPACING[0], SPACING[2]), ORIGIN, SEGMENTS, seed=n
            )
            images = builders.ct_series(
                shape,
                SPACING,
                ORIGIN,
                pixels=ct_values(labels, n),
                rescale_intercept=-1024,
                study=builders.study_dataset(f"Bench^Case{n:03d}", f"BENCH-DATASETS-{n:03d}"),
            )
            for k, image in enumerate(images):
                image.save_as(folder / "ct" / f"{k:04d}.dcm", enforce_file_format=True)
            seg = builders.seg(images, labels, [f"Segment {s}" for s in range(1, SEGMENTS + 1)])
            part = folder / "seg.part"
            seg.save_as(part, enforce_file_format=True)
            part.rename(seg_path)
            print(f"  case {n} generated in {time.perf_counter() - start:.1f} s", flush=True)
        header = pydicom.dcmread(seg_path, stop_before_pixels=True)
        cases.append(
            Case(folder, f"case{n:03d}", str(header.SOPInstanceUID), str(header.StudyInstanceUID))
        )
    return cases


# --- 1. the baseline: what a researcher writes today -------------------------------------------


def hounsfield(dataset: pydicom.Dataset) -> npt.NDArray[Any]:
    """The slice's values after the modality rescale: int16 where it is whole (CT), else
    float32."""
    pixels = dataset.pixel_array
    slope = float(dataset.get("RescaleSlope", 1))
    intercept = float(dataset.get("RescaleIntercept", 0))
    if slope == 1 and intercept.is_integer():
        return pixels.astype(np.int16) + np.int16(intercept)
    return (pixels * np.float32(slope) + np.float32(intercept)).astype(np.float32)


def ras_affine(datasets: list[pydicom.Dataset]) -> npt.NDArray[np.float64]:
    """[column, row, slice, 1] to RAS mm of a sorted series."""
    orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    row_spacing, column_spacing = (float(v) for v in datasets[0].PixelSpacing)
    first = np.array(datasets[0].ImagePositionPatient, dtype=float)
    last = np.array(datasets[-1].ImagePositionPatient, dtype=float)
    if len(datasets) > 1:
        step = (last - first) / (len(datasets) - 1)
    else:
        step = np.cross(orientation[:3], orientation[3:]) * float(datasets[0].SliceThickness)
    lps = np.eye(4)
    lps[:3, 0] = orientation[:3] * column_spacing
    lps[:3, 1] = orientation[3:] * row_spacing
    lps[:3, 2] = step
    lps[:3, 3] = first
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps


def save_nifti(volume: npt.NDArray[Any], affine: npt.NDArray[np.float64], path: Path) -> None:
    """(slices, rows, columns) as (i, j, k) gzip NIfTI-1."""
    image = nib.Nifti1Image(volume.T, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    nib.save(image, path)


def baseline_case(case: Case, output: Path) -> dict[str, int]:
    """One case into ``output``'s imagesTr and labelsTr; its segments' names and numbers."""
    datasets = [pydicom.dcmread(path) for path in case.ct_paths]
    orientation = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    datasets.sort(key=lambda d: float(normal @ np.array(d.ImagePositionPatient, dtype=float)))
    image = np.stack([hounsfield(d) for d in datasets])
    affine = ras_affine(datasets)
    seg = hd.seg.segread(case.seg_path)
    labels = seg.get_pixels_by_source_instance(
        [str(d.SOPInstanceUID) for d in datasets], combine_segments=True
    )
    save_nifti(image, affine, output / "imagesTr" / f"{case.name}_0000.nii.gz")
    save_nifti(labels.astype(np.uint8), affine, output / "labelsTr" / f"{case.name}.nii.gz")
    return {str(s.SegmentLabel): int(s.SegmentNumber) for s in seg.SegmentSequence}


def baseline(cases: list[Case], output: Path) -> tuple[list[float], float, float, float]:
    """The whole dataset (run in a fresh process): seconds per case, total seconds, and the
    process's peak resident memory before and after, MB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB
    start = time.perf_counter()
    (output / "imagesTr").mkdir(parents=True)
    (output / "labelsTr").mkdir()
    labels: dict[str, int] = {"background": 0}
    times = []
    for case in cases:
        case_start = time.perf_counter()
        labels.update(baseline_case(case, output))
        times.append(time.perf_counter() - case_start)
    dataset = {
        "channel_names": {"0": "CT"},
        "labels": dict(sorted(labels.items(), key=lambda item: item[1])),
        "numTraining": len(cases),
        "file_ending": ".nii.gz",
        "name": output.name,
    }
    (output / "dataset.json").write_text(json.dumps(dataset, indent=2))
    total = time.perf_counter() - start
    return times, total, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def run_baseline(cases: list[Case], output: Path) -> tuple[list[float], float, float, float]:
    """:func:`baseline` in a new spawned process."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(baseline, cases, output).result()


# --- 2. segmesh through REST -------------------------------------------------------------------


def status_kilobytes(pid: int, field_name: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return 0


@dataclass
class MemoryWatch:
    """Orthanc's and its children's memory during a job: each process's VmHWM reset before
    (``clear_refs`` 5) and read after, and the sum of their VmRSS sampled every 50 ms."""

    server: OrthancServer
    reset: bool = False
    peak_sum_kb: int = 0
    peaks_kb: dict[int, int] = field(default_factory=dict)
    #: Each process's largest RssAnon sampled: its own memory, without the pages of files it
    #: maps (a downloaded dataset is sent from the page cache, which VmHWM counts).
    anon_peaks_kb: dict[int, int] = field(default_factory=dict)
    #: Orthanc's RssAnon before the job.
    anon_before_kb: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemoryWatch:
        assert self.server.process is not None
        self.anon_before_kb = status_kilobytes(self.server.process.pid, "RssAnon")
        self.reset = True
        for pid in self.server.process_ids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                self.reset = False
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._record()
            self._stop.wait(0.05)

    def _record(self) -> None:
        pids = self.server.process_ids()
        self.peak_sum_kb = max(self.peak_sum_kb, sum(status_kilobytes(p, "VmRSS") for p in pids))
        for pid in pids:
            self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), status_kilobytes(pid, "VmHWM"))
            anon = status_kilobytes(pid, "RssAnon")
            self.anon_peaks_kb[pid] = max(self.anon_peaks_kb.get(pid, 0), anon)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self._record()

    def orthanc_mb(self) -> float:
        assert self.server.process is not None
        return self.peaks_kb.get(self.server.process.pid, 0) * 1024 / MB

    def orthanc_anon_mb(self) -> float:
        assert self.server.process is not None
        return self.anon_peaks_kb.get(self.server.process.pid, 0) * 1024 / MB

    def children_mb(self) -> list[float]:
        assert self.server.process is not None
        orthanc = self.server.process.pid
        return sorted(
            (kb * 1024 / MB for pid, kb in self.peaks_kb.items() if pid != orthanc), reverse=True
        )


@dataclass
class JobRun:
    seconds: float  # from the POST to the output written to disk
    job_seconds: float  # from the POST to the job's success seen
    result: dict[str, Any]
    path: Path
    memory: MemoryWatch


def rest_job(server: OrthancServer, study_ids: list[str], file_format: str, path: Path) -> JobRun:
    """``POST /segmesh/datasets``, polled until it ends, its output written to ``path``: the
    wall time of it all. Exits with the job's error where it fails."""
    with MemoryWatch(server) as memory:
        start = time.perf_counter()
        response = server.post(
            "/segmesh/datasets", json={"Resources": study_ids, "Format": file_format}
        )
        if response.status_code != 202:
            raise SystemExit(
                f"POST /segmesh/datasets ({file_format}): {response.status_code} {response.text}"
            )
        job = response.json()
        while True:
            record = server.get(job["Path"]).json()
            if record.get("State") in ("Success", "Failure", "Cancelled"):
                break
            time.sleep(0.1)
        job_seconds = time.perf_counter() - start
        if record["State"] != "Success":
            raise SystemExit(
                f"the {file_format} job ended {record['State']}: {record.get('Error', record)}"
            )
        with server.session.get(
            f"{server.url}{job['Path']}/output", stream=True, timeout=600
        ) as answer:
            answer.raise_for_status()
            with path.open("wb") as file:
                for chunk in answer.iter_content(1 << 20):
                    file.write(chunk)
        seconds = time.perf_counter() - start
    return JobRun(seconds, job_seconds, record["Result"], path, memory)


# --- the fairness check ------------------------------------------------------------------------


def label_values(dataset_json: dict[str, Any]) -> dict[str, int]:
    """name -> value of a dataset.json's labels (nnU-Net v2 {name: value}, or v1 {value: name})."""
    labels = dataset_json["labels"]
    if all(str(key).isdigit() for key in labels):
        return {str(name): int(value) for value, name in labels.items()}
    return {str(name): int(value) for name, value in labels.items()}


def read_nifti(data: bytes, folder: Path, name: str) -> tuple[npt.NDArray[Any], Any]:
    """A gzip NIfTI's array and affine in the closest canonical orientation; fails where the
    file is not gzip."""
    if not data.startswith(GZIP_MAGIC):
        raise SystemExit(f"outputs agree: no ({name} is not gzip)")
    path = folder / name.replace("/", "_")
    path.write_bytes(data)
    image = nib.as_closest_canonical(nib.load(path))
    array = np.asanyarray(image.dataobj)
    path.unlink()
    return array, image.affine


def job_cases(run: JobRun, cases: list[Case], study_ids: list[str]) -> dict[str, str]:
    """Each case's name in the job's output, found by its Source (the SEG's SOP Instance UID,
    its StudyInstanceUID, or its Orthanc study id)."""
    by_value: dict[str, str] = {}
    for entry in run.result["Cases"]:
        for value in entry.get("Source", {}).values():
            by_value[str(value)] = str(entry["Case"])
    found = {}
    for case, study_id in zip(cases, study_ids, strict=True):
        for key in (case.seg_uid, case.study_uid, study_id):
            if key in by_value:
                found[case.name] = by_value[key]
                break
    return found


def check_outputs(
    cases: list[Case], names_of: dict[str, str], baseline_folder: Path, run: JobRun, scratch: Path
) -> tuple[int, str]:
    """Compare the first :data:`CHECKED` cases of both outputs; exit where they differ.
    Returns how many were compared and the zip's dataset folder."""
    with zipfile.ZipFile(run.path) as archive:
        names = archive.namelist()
        roots = [n.rsplit("/", 1)[0] for n in names if n.endswith("dataset.json")]
        if len(roots) != 1:
            raise SystemExit(f"outputs agree: no (dataset.json in the zip: {roots})")
        root = roots[0]
        ours = label_values(json.loads(archive.read(f"{root}/dataset.json")))
        theirs = label_values(json.loads((baseline_folder / "dataset.json").read_text()))
        if set(ours) != set(theirs):
            raise SystemExit(f"outputs agree: no (labels {sorted(ours)} against {sorted(theirs)})")
        table = np.zeros(max(theirs.values()) + 1, dtype=np.int64)
        for name, value in theirs.items():
            table[value] = ours[name]
        problems = []
        compared = 0
        for case in cases[:CHECKED]:
            name = names_of.get(case.name)
            if name is None:
                problems.append(f"{case.name}: not among the job's cases")
                continue
            for ours_name, theirs_path in (
                (f"{root}/labelsTr/{name}.nii.gz", baseline_folder / "labelsTr"),
                (f"{root}/imagesTr/{name}_0000.nii.gz", baseline_folder / "imagesTr"),
            ):
                if ours_name not in names:
                    problems.append(f"{ours_name} is not in the zip")
                    continue
                is_labels = "labelsTr" in ours_name
                file = theirs_path / (
                    f"{case.name}.nii.gz" if is_labels else f"{case.name}_0000.nii.gz"
                )
                mine, mine_affine = read_nifti(archive.read(ours_name), scratch, ours_name)
                base, base_affine = read_nifti(file.read_bytes(), scratch, str(file))
                if is_labels:
                    base = table[base]
                if mine.shape != base.shape:
                    problems.append(f"{ours_name}: shape {mine.shape} against {base.shape}")
                elif not np.array_equal(mine, base):
                    differing = int(np.count_nonzero(mine != base))
                    problems.append(f"{ours_name}: {differing} voxels differ")
                if not np.allclose(mine_affine, base_affine, atol=1e-3):
                    problems.append(f"{ours_name}: affine\n{mine_affine}\nagainst\n{base_affine}")
            compared += 1
    renumbered = any(ours[name] != value for name, value in theirs.items())
    if problems:
        print("outputs agree: no")
        raise SystemExit("\n".join(problems))
    note = " (label numbers differ; compared by segment name)" if renumbered else ""
    print(f"outputs agree: yes: {compared} cases, labels and images voxel for voxel{note}")
    return compared, root


def check_hdf5(
    cases: list[Case], names_of: dict[str, str], baseline_folder: Path, run: JobRun
) -> None:
    """The HDF5 file's cases (``cases/{case}`` with ``image`` and ``labels``), and the labelled
    voxels of the checked cases against the baseline's (orientation aside)."""
    import h5py

    with h5py.File(run.path, "r") as file:
        groups = sorted(file["cases"])
        notes = [f"{len(groups)} cases in the file"]
        for case in cases[:CHECKED]:
            name = names_of.get(case.name)
            if name is None or name not in file["cases"]:
                notes.append(f"{case.name} missing")
                continue
            group = file["cases"][name]
            labelled = int(np.count_nonzero(group["labels"][()]))
            theirs = nib.load(baseline_folder / "labelsTr" / f"{case.name}.nii.gz")
            expected = int(np.count_nonzero(np.asanyarray(theirs.dataobj)))
            if labelled != expected or group["image"].size != int(np.prod(theirs.shape)):
                notes.append(f"{name}: {labelled} labelled voxels against {expected}")
        print("hdf5 output: " + "; ".join(notes))


# --- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--slices", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-bench-datasets"
    )
    arguments = parser.parse_args()
    print(f"generating into {arguments.cache} where missing ...", flush=True)
    # In a process of its own: this one stays small, and so does the baseline's process, whose
    # ru_maxrss starts from this one's resident memory when it is spawned.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        cases = pool.submit(generate, arguments.cache, arguments.cases, arguments.slices).result()
    voxels = arguments.slices * ROWS * COLUMNS
    input_mb = sum(p.stat().st_size for c in cases for p in [*c.ct_paths, c.seg_path]) / MB
    print(
        f"{len(cases)} cases, each {COLUMNS} x {ROWS} x {arguments.slices} ({voxels / 1e6:.1f} M "
        f"voxels, {len(cases) * voxels / 1e9:.2f} G in all) with a {SEGMENTS}-segment BINARY "
        f"SEG; {input_mb:.0f} MB of Part-10 files; repeats {arguments.repeats}; {load()}"
    )
    baselines, nnunets, hdf5s = [], [], []
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        checked_folder = work / "baseline-checked"
        for repeat in range(arguments.repeats):
            folder = work / f"baseline-{repeat}" / "Dataset001_baseline"
            times, total, idle, peak = run_baseline(cases, folder)
            baselines.append((times, total, idle, peak))
            written = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / MB
            print(
                f"baseline {repeat + 1}: {total:.1f} s ({statistics.median(times):.2f} s a case "
                f"median), {written:.0f} MB written, peak {peak:.0f} MB (idle with its imports "
                f"{idle:.0f} MB)",
                flush=True,
            )
            if repeat == 0:
                folder.rename(checked_folder)
            else:
                shutil.rmtree(folder.parent)
        (work / "orthanc").mkdir()
        server = OrthancServer(work / "orthanc", {"SegMesh": {"Workers": arguments.workers}})
        server.start()
        try:
            print(f"{server.versions()}; SegMesh.Workers {arguments.workers}", flush=True)
            start = time.perf_counter()
            study_ids = []
            for case in cases:
                for path in case.ct_paths:
                    server.upload(path)
                seg_id = server.upload(case.seg_path)
                study_ids.append(server.get(f"/instances/{seg_id}/study").json()["ID"])
            print(f"stored in Orthanc in {time.perf_counter() - start:.0f} s", flush=True)
            for repeat in range(arguments.repeats):
                run = rest_job(server, study_ids, "nnunet", work / f"segmesh-{repeat}.zip")
                nnunets.append(run)
                result = run.result
                print(
                    f"segmesh nnunet {repeat + 1}: {run.seconds:.1f} s "
                    f"(until the job's success {run.job_seconds:.1f} s), "
                    f"{len(result['Cases'])} cases, {len(result.get('Skipped', []))} skipped, "
                    f"zip {run.path.stat().st_size / MB:.0f} MB "
                    f"(Output.Bytes {result.get('Output', {}).get('Bytes')})",
                    flush=True,
                )
                if result.get("Skipped"):
                    print(f"  skipped: {result['Skipped']}")
                if repeat == 0:
                    check_outputs(
                        cases, job_cases(run, cases, study_ids), checked_folder, run, work
                    )
                run.path.unlink()
                run = rest_job(server, study_ids, "hdf5", work / f"segmesh-{repeat}.h5")
                hdf5s.append(run)
                print(
                    f"segmesh hdf5 {repeat + 1}: {run.seconds:.1f} s "
                    f"(until the job's success {run.job_seconds:.1f} s), "
                    f"file {run.path.stat().st_size / MB:.0f} MB",
                    flush=True,
                )
                if repeat == 0:
                    check_hdf5(cases, job_cases(run, cases, study_ids), checked_folder, run)
                run.path.unlink()
        finally:
            server.stop()
    count = len(cases)
    baseline_total = statistics.median(total for _, total, _, _ in baselines)
    nnunet_total = statistics.median(run.seconds for run in nnunets)
    hdf5_total = statistics.median(run.seconds for run in hdf5s)
    baseline_peak = max(peak for *_, peak in baselines)
    ratio = baseline_total / nnunet_total
    print()
    print(
        f"{count} cases of {COLUMNS} x {ROWS} x {arguments.slices} ({voxels / 1e6:.1f} M voxels "
        f"each), {SEGMENTS} segments; median of {arguments.repeats}; {load()}"
    )
    print(
        f"| {'':38} | {'total s':>8} | {'s a case':>8} | {'baseline / this':>15} | "
        f"{'peak memory':>40} |"
    )
    print(f"|{'-' * 40}|{'-' * 9}:|{'-' * 9}:|{'-' * 16}:|{'-' * 41}:|")

    def row(name: str, total: float, memory: str) -> None:
        print(
            f"| {name:38} | {total:8.2f} | {total / count:8.3f} | "
            f"{baseline_total / total:15.2f} | {memory:>40} |"
        )

    row("baseline (pydicom, highdicom, nibabel)", baseline_total, f"{baseline_peak:.0f} MB")
    for name, runs, total in (
        ("segmesh nnunet (POST to zip on disk)", nnunets, nnunet_total),
        ("segmesh hdf5 (POST to file on disk)", hdf5s, hdf5_total),
    ):
        orthanc = max(r.memory.orthanc_mb() for r in runs)
        anon = max(r.memory.orthanc_anon_mb() for r in runs)
        before = min(r.memory.anon_before_kb for r in runs) * 1024 / MB
        child = max((max(r.memory.children_mb(), default=0.0) for r in runs), default=0.0)
        summed = max(r.memory.peak_sum_kb for r in runs) * 1024 / MB
        memory = (
            f"Orthanc {orthanc:.0f} (anon {before:.0f} to {anon:.0f}), worker {child:.0f}, "
            f"sum {summed:.0f} MB"
        )
        row(name, total, memory)
    reset = all(r.memory.reset for r in [*nnunets, *hdf5s])
    print(
        "peak memory: baseline, its process's ru_maxrss; segmesh, VmHWM of Orthanc and of its "
        "largest child during the job (anon: Orthanc's RssAnon before the job, and its largest "
        "sampled, without the pages of files it maps)"
        + ("" if reset else " (not reset: since Orthanc started)")
        + ", and the largest sum of their resident memory sampled every 50 ms"
    )
    verdict = "met" if ratio >= GOAL else "NOT met"
    goal = f"goal segmesh at least {GOAL:.0f}x faster: {verdict}"
    print(f"baseline / segmesh nnunet: {ratio:.2f}x; {goal}")


if __name__ == "__main__":
    main()
