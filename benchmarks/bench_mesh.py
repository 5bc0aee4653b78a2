"""A 100-segment label map to stored-ready STL bytes: segmesh against its peers.

Peers, on the same label map in the same run:

- ``vtk-orthanc-stl``: the Orthanc STL plugin's pipeline rebuilt with VTK from PyPI: for each
  segment, vtkMarchingCubes on the full grid, vtkSmoothPolyDataFilter (15 iterations),
  vtkPolyDataNormals, vtkSTLWriter (binary, to a temporary file).
- ``skimage-full``: scikit-image marching cubes per label on the full volume, binary STL.
- ``segmesh``: bounding boxes, marching cubes, Taubin smoothing (default), binary STL; and
  ``segmesh+dicom``: the same up to Part-10 Encapsulated STL bytes.

Volume fidelity: each mesh's enclosed volume against its voxel volume (median and worst
absolute relative error). Each pipeline runs in its own forked process; "peak MB" is its peak
resident memory above the label map already loaded. With ``--rest``, a real Orthanc is started, the label map is stored
as a DICOM SEG with its CT, and ``POST /instances/{id}/segmesh/stl`` is timed.

Run: ``.venv/bin/python benchmarks/bench_mesh.py [--repeat 3] [--rest]`` (``make bench-venv``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import numpy.typing as npt
import vtk
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from skimage.measure import marching_cubes
from vtkmodules.util import numpy_support

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner

from tests import builders  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.dicom.part10 import part10  # noqa: E402
from segmesh.formats import binary_stl  # noqa: E402
from segmesh.geometry import VolumeGeometry  # noqa: E402
from segmesh.labelmap import LabelMap, Segment  # noqa: E402
from segmesh.mesh import Mesh, MeshOptions, segment_meshes  # noqa: E402
from segmesh.models import ModelRequest, ModelSource, encapsulated_stl  # noqa: E402

SHAPE = (120, 256, 256)  # slices, rows, columns
SPACING = (0.8, 0.8, 2.0)  # column, row, slice (mm)
ORIGIN = (-102.0, -110.0, -200.0)

Result = tuple[list[bytes], list[float]]  # STL files, enclosed volumes (mm^3)


def make_labelmap(count: int = 100, seed: int = 0) -> LabelMap:
    """``count`` ellipsoids of random sizes (3 to ~28 mm radii) on a jittered lattice."""
    rng = np.random.default_rng(seed)
    cells = (5, 5, 4)
    size = np.array([SHAPE[2] * SPACING[0], SHAPE[1] * SPACING[1], SHAPE[0] * SPACING[2]])
    cell = size / cells
    centres, radii = [], []
    for number in range(1, count + 1):
        index = np.unravel_index(number - 1, cells)
        radius = rng.uniform(0.15, 0.45, 3) * cell
        centre = np.array(ORIGIN) + (np.array(index) + 0.5) * cell
        centre += rng.uniform(-1, 1, 3) * (cell / 2 - radius - SPACING[0])
        centres.append(centre)
        radii.append(radius)
    layer = builders.ellipsoid_labels(SHAPE, centres, radii, SPACING, ORIGIN)
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = ORIGIN
    slices = np.arange(SHAPE[0])[:, None]
    geometry = VolumeGeometry(
        SHAPE, affine, "1.2.826.0.1.3680043.8.498.1", affine[:3, 3] + slices * affine[:3, 2]
    )
    segments = tuple(
        Segment(n, f"Structure {n}", (int(rng.integers(60, 255)), 120, 90))
        for n in range(1, count + 1)
    )
    return LabelMap(layer[np.newaxis], geometry, segments)


def run_segmesh(labelmap: LabelMap) -> Result:
    files, volumes = [], []
    for _, mesh in segment_meshes(labelmap, None, MeshOptions()):
        assert mesh is not None
        files.append(binary_stl(mesh))
        volumes.append(mesh.volume)
    return files, volumes


def run_segmesh_dicom(labelmap: LabelMap) -> Result:
    study = Dataset()
    study.PatientID = "BENCH"
    study.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.2"
    source = ModelSource(study, labelmap.geometry.frame_of_reference_uid, "bench")
    request = ModelRequest(source, MeshOptions().to_json(), "bench")
    files, volumes = [], []
    for segment, mesh in segment_meshes(labelmap, None, MeshOptions()):
        assert mesh is not None
        dataset = encapsulated_stl(
            mesh, request, str(segment.number), segment.label, segment.color, segment.number
        )
        files.append(part10(dataset))
        volumes.append(mesh.volume)
    return files, volumes


def run_skimage(labelmap: LabelMap) -> Result:
    layer = labelmap.layers[0]
    spacing = (SPACING[2], SPACING[1], SPACING[0])
    files, volumes = [], []
    for segment in labelmap.segments:
        padded = np.pad(layer == segment.value, 1).astype(np.float32)
        kji, faces, _, _ = marching_cubes(padded, 0.5, spacing=spacing)
        vertices = kji[:, ::-1] + np.array(ORIGIN) - np.array(SPACING)
        mesh = Mesh(vertices, faces.astype(np.int64))
        if mesh.volume < 0:
            mesh = Mesh(vertices, np.ascontiguousarray(mesh.faces[:, ::-1]))
        files.append(binary_stl(mesh))
        volumes.append(mesh.volume)
    return files, volumes


def run_vtk(labelmap: LabelMap) -> Result:
    with tempfile.TemporaryDirectory() as name:
        return _run_vtk(labelmap, Path(name))


def _run_vtk(labelmap: LabelMap, folder: Path) -> Result:
    layer = labelmap.layers[0]
    files, volumes = [], []
    for segment in labelmap.segments:
        mask = (layer == segment.value).astype(np.uint8)
        image = vtk.vtkImageData()
        image.SetDimensions(SHAPE[2], SHAPE[1], SHAPE[0])
        image.SetSpacing(*SPACING)
        image.SetOrigin(*ORIGIN)
        image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(mask.ravel(), deep=True))
        cubes = vtk.vtkMarchingCubes()
        cubes.SetInputData(image)
        cubes.SetValue(0, 0.5)
        smoother = vtk.vtkSmoothPolyDataFilter()
        smoother.SetInputConnection(cubes.GetOutputPort())
        smoother.SetNumberOfIterations(15)
        normals = vtk.vtkPolyDataNormals()
        normals.SetInputConnection(smoother.GetOutputPort())
        writer = vtk.vtkSTLWriter()
        writer.SetInputConnection(normals.GetOutputPort())
        writer.SetFileTypeToBinary()
        # vtkSTLWriter writes files only (as in the Orthanc STL plugin): a temporary one.
        writer.SetFileName(str(folder / "mesh.stl"))
        writer.Write()
        files.append((folder / "mesh.stl").read_bytes())
        mass = vtk.vtkMassProperties()
        mass.SetInputConnection(normals.GetOutputPort())
        mass.Update()
        volumes.append(mass.GetVolume())
    return files, volumes


def fidelity(volumes: list[float], voxel_volumes: npt.NDArray[np.float64]) -> tuple[float, float]:
    errors = np.abs(np.asarray(volumes) / voxel_volumes - 1.0)
    return float(np.median(errors)), float(errors.max())


def _status_kilobytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _measure(
    function: Callable[[LabelMap], Result], labelmap: LabelMap, repeat: int, pipe: Connection
) -> None:
    """In a child process: times of ``repeat`` runs, output bytes, volumes, peak extra RSS."""
    # Resets the peak RSS (VmHWM) to the current RSS, so that the peak is this pipeline's own.
    Path("/proc/self/clear_refs").write_text("5")
    start_rss = _status_kilobytes("VmRSS")
    times = []
    result: Result = ([], [])
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(labelmap)
        times.append(time.perf_counter() - start)
    peak = _status_kilobytes("VmHWM") - start_rss
    pipe.send((times, sum(map(len, result[0])), result[1], peak / 1024))


def timed(
    function: Callable[[LabelMap], Result], labelmap: LabelMap, repeat: int
) -> tuple[float, int, list[float], float]:
    """Median seconds, output bytes, volumes and peak extra MB of one pipeline, run in a fresh
    forked process so that each pipeline's memory is measured alone."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_measure, args=(function, labelmap, repeat, sender))
    process.start()
    times, size, volumes, peak = receiver.recv()
    process.join()
    return statistics.median(times), size, volumes, peak


def ct_and_seg(labelmap: LabelMap) -> tuple[list[Dataset], Dataset]:
    """A CT series on the label map's grid and a BINARY SEG of every segment (highdicom)."""
    images = builders.ct_series(
        SHAPE,
        (SPACING[1], SPACING[0], SPACING[2]),
        ORIGIN,
        pixels=labelmap.layers[0].astype(np.int16) * 10,
        study=builders.study_dataset("Bench^Mesh", "BENCH-MESH"),
        frame_of_reference_uid=labelmap.geometry.frame_of_reference_uid,
    )
    seg = builders.seg(
        images,
        labelmap.layers[0],
        [segment.label for segment in labelmap.segments],
        property_types=[codes.SCT.Tissue] * len(labelmap.segments),
        category=codes.SCT.Tissue,
    )
    return images, seg


def rest_benchmark(labelmap: LabelMap, repeat: int) -> float:
    """Median seconds of POST /instances/{seg}/segmesh/stl for all segments, real Orthanc."""
    start = time.perf_counter()
    images, seg = ct_and_seg(labelmap)
    print(
        f"(SEG of {len(labelmap.segments)} segments written in {time.perf_counter() - start:.0f} s)"
    )
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder))
        server.start()
        try:
            for image in images:
                server.upload(encode(image))
            seg_id = server.upload(encode(seg))
            times = []
            for run in range(repeat):
                start = time.perf_counter()
                # A different parameter each run: new instances are built and stored every time.
                response = server.post(
                    f"/instances/{seg_id}/segmesh/stl", json={"Iterations": 20 + run}
                )
                times.append(time.perf_counter() - start)
                response.raise_for_status()
                assert len(response.json()["Instances"]) == len(labelmap.segments)
        finally:
            server.stop()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rest", action="store_true", help="also time the REST route")
    arguments = parser.parse_args()
    labelmap = make_labelmap()
    counts = np.bincount(labelmap.layers[0].ravel(), minlength=101)[1:]
    voxel_volumes = counts * float(np.prod(SPACING))
    print(
        f"label map {SHAPE} (slices, rows, columns), spacing {SPACING} mm, "
        f"{len(labelmap.segments)} segments, {counts.min()}..{counts.max()} voxels each"
    )
    runs = {
        "vtk-orthanc-stl": run_vtk,
        "skimage-full": run_skimage,
        "segmesh": run_segmesh,
        "segmesh+dicom": run_segmesh_dicom,
    }
    rows = []
    for name, function in runs.items():
        seconds, size, volumes, peak = timed(function, labelmap, arguments.repeat)
        median_error, worst_error = fidelity(volumes, voxel_volumes)
        rows.append((name, seconds, size, peak, median_error, worst_error))
    reference = rows[0][1]
    print(f"\nmedian of {arguments.repeat} runs\n")
    print(
        f"| {'pipeline':<16} | {'seconds':>8} | {'vs vtk':>7} | {'MB out':>7} | {'peak MB':>7} | "
        f"{'vol err median':>14} | {'vol err worst':>13} |"
    )
    print(f"|{'-' * 18}|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 15}:|{'-' * 14}:|")
    for name, seconds, size, peak, median_error, worst_error in rows:
        print(
            f"| {name:<16} | {seconds:8.2f} | {seconds / reference:7.2f} | "
            f"{size / 1e6:7.1f} | {peak:7.0f} | {median_error:14.2%} | {worst_error:13.2%} |"
        )
    if arguments.rest:
        seconds = rest_benchmark(labelmap, arguments.repeat)
        print(
            f"\nREST POST /instances/{{seg}}/segmesh/stl, all {len(labelmap.segments)} "
            f"segments stored: median {seconds:.2f} s of {arguments.repeat}"
        )


if __name__ == "__main__":
    main()
