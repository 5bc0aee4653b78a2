"""Whole micro-CT scans thresholded and meshed in slabs, through REST: peak resident memory of
every process, and time, against the whole-mask path of commit 7658e9a; marching cubes in
slabs against VTK's ``vtkFlyingEdges3D`` per voxel.

The scan: an artefact, a thick-walled vase (about 1500 HU: a ceramic) with a foot, an open
mouth and closed air bubbles in its wall and base, in air (-1000 HU) with noise (+-40 HU),
int16 CT slices generated one at a time and uploaded as Part-10 files: the scan is never held.
Thresholded at 300 HU at full resolution, Taubin smoothing (20 iterations), no decimation, as
a job (``POST /series/{id}/segmesh/stl``, ``SegMesh.Workers`` 1).

1. 1024 x 1024 x 2000 (4 GB of pixels) through a real Orthanc of this worktree; the VmHWM
   (peak resident memory, /proc/<pid>/status) of Orthanc and of each of its child processes
   once the job ends, beside the model's size (the STL, the output; its file is deflated above
   ``DeflateModelsAboveMegabytes``, 256 MB), and of a fresh Orthanc storing that file alone
   (what Orthanc itself takes to store it). The goal: at most 1.5 GB each besides the output
   model, Orthanc no more than storing the model alone.
2. 512 x 512 x 1000 through this worktree and through commit 7658e9a (a git worktree of it,
   removed afterwards, started as a second Orthanc in turn): time and peaks of each.
3. Marching cubes per voxel on a 512 x 512 x 400 part of the vase's mask held in memory: the
   slabs (:func:`segmesh.mesh.slabs.slab_surface`), one pass (:func:`segmesh.mesh.surface`)
   and ``vtkFlyingEdges3D`` (its own threads), each with its triangle count.

Every Orthanc gets a fresh temporary storage folder, deleted with it. The machine may be shared:
wall times are noisy, peaks are not.

Run: ``.venv/bin/python benchmarks/bench_threshold_slabs.py [--large 2000] [--small 1000]``
(``--small 0``: the large scan alone, parts 2 and 3 skipped)
(``.venv`` made by ``scripts/make-venv.sh test,bench``: VTK). ``--repository`` names the git
repository to take the baseline from where this copy is not one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import vtk
from pydicom.uid import generate_uid
from vtkmodules.util import numpy_support

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

from benchmarks.bench_threshold import is_watertight_stl, peak_mb, worker_pids  # noqa: E402
from benchmarks.orthanc_jobs import ended_job  # noqa: E402
from tests import builders  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.geometry import VolumeGeometry  # noqa: E402
from segmesh.mesh import surface  # noqa: E402
from segmesh.mesh.slabs import slab_surface  # noqa: E402

BASELINE = "7658e9a"
SPACING_MM = 0.05  # a micro-CT's isotropic voxel
THRESHOLD_HU = 300
MB = 1e6
BODY = {"Threshold": THRESHOLD_HU, "Asynchronous": True}


def vase_slices(size: int, slices: int, seed: int = 0) -> Iterator[npt.NDArray[np.int16]]:
    """(size, size) int16 HU of each slice, bottom up: foot, belly, neck and mouth of the vase,
    a wall of about 5% of the size, bubbles in the wall and the base."""
    rng = np.random.default_rng(seed)
    j, i = np.ogrid[:size, :size]
    r = np.hypot(j - size / 2, i - size / 2) / size  # radius in widths of the scan
    bubbles = [  # (height, angle, distance from the axis, radius) in scan widths / slices
        (0.04, 0.0, 0.05, 0.012),
        (0.05, 2.0, 0.12, 0.010),
        (0.30, 1.0, 0.0, 0.0),
        (0.35, 4.0, 0.0, 0.0),
        (0.60, 3.0, 0.0, 0.0),
        (0.75, 5.5, 0.0, 0.0),
    ]
    for k in range(slices):
        h = k / slices
        if h < 0.03 or h > 0.95:
            hu = np.full((size, size), -1000, dtype=np.int16)
        else:
            outer = 0.18 + 0.2 * np.sin(np.pi * min(1.0, h / 0.85)) ** 1.5  # belly to neck
            outer = max(outer, 0.12 if h < 0.1 else 0.0)  # the foot
            wall = 0.05
            solid = r <= outer
            if h > 0.08:  # above the base: hollow, the mouth open at the top
                solid &= r >= outer - wall
            hu = np.where(solid, 1500, -1000).astype(np.int16)
            for height, angle, distance, radius in bubbles:
                if distance == 0.0:  # a bubble in the wall at that height
                    distance = outer - wall / 2
                    radius = wall / 4
                dz = (h - height) * slices / size  # in scan widths
                if abs(dz) < radius:
                    rr = np.sqrt(radius**2 - dz**2)
                    cj = 0.5 + distance * np.sin(angle)
                    ci = 0.5 + distance * np.cos(angle)
                    hu[np.hypot(j / size - cj, i / size - ci) <= rr] = -1000
        hu += rng.integers(-40, 41, (size, size), dtype=np.int16)
        yield hu


def encoded_slices(size: int, slices: int) -> Iterator[bytes]:
    """The scan as Part-10 CT files, one slice generated and encoded at a time."""
    study = builders.study_dataset("Museum^Vase", "MUSEUM")
    series_uid, frame_uid = generate_uid(), generate_uid()
    for k, hu in enumerate(vase_slices(size, slices)):
        (image,) = builders.ct_images(
            [[0.0, 0.0, k * SPACING_MM]],
            (SPACING_MM, SPACING_MM),
            (hu.astype(np.int32) + 1024).astype(np.int16)[np.newaxis],
            slice_thickness=SPACING_MM,
            rescale_intercept=-1024,
            study=study,
            frame_of_reference_uid=frame_uid,
            series_instance_uid=series_uid,
        )
        yield encode(image)


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def model_through_rest(
    plugin_root: Path, size: int, slices: int, label: str, alone: bool = False
) -> dict[str, Any]:
    """Upload the scan into a fresh Orthanc loading ``plugin_root``'s segmesh, store its model
    as a job, print each process's peak; the figures as a dict. With ``alone``, also the peak
    of a fresh Orthanc storing that model's file alone (:func:`storing_alone`)."""
    pixels_mb = size * size * slices * 2 / MB
    with tempfile.TemporaryDirectory(prefix="segmesh-slabs-") as folder:
        # The large scan is above the default MaxVoxels (2e9) and may be above MaxTriangles.
        limits = {"MaxVoxels": 10_000_000_000, "MaxTriangles": 200_000_000}
        configuration = {"SegMesh": {"Workers": 1, **limits}}
        server = OrthancServer(Path(folder), configuration)
        # Orthanc loads this worktree's script; the baseline's is the same file, at its root.
        server.config_path.write_text(
            server.config_path.read_text().replace(
                str(ROOT / "plugin" / "segmesh_plugin.py"),
                str(plugin_root / "plugin" / "segmesh_plugin.py"),
            )
        )
        server.start()
        try:
            start = time.perf_counter()
            instance = ""
            for data in encoded_slices(size, slices):
                instance = server.upload(data)
            series = server.get(f"/instances/{instance}").json()["ParentSeries"]
            print(
                f"\n[{label}] {size} x {size} x {slices} int16 ({pixels_mb:.0f} MB of pixels) "
                f"stored in {time.perf_counter() - start:.0f} s; {load()}",
                flush=True,
            )
            assert server.process is not None
            orthanc_before = peak_mb(server.process.pid)
            start = time.perf_counter()
            job = server.post(f"/series/{series}/segmesh/stl", json=BODY).json()
            record = ended_job(server, job["Path"], 1.0)
            seconds = time.perf_counter() - start
            assert record["State"] == "Success", record
            (item,) = record["Result"]["Instances"]
            statistics = server.get(f"/instances/{item['ID']}/statistics").json()
            file_mb = int(statistics["DiskSize"]) / MB
            tags = server.get(f"/instances/{item['ID']}/tags?simplify").json()
            # The output model is the STL; above DeflateModelsAboveMegabytes its file is smaller.
            size_mb = int(tags["EncapsulatedDocumentLength"]) / MB
            syntax = server.get(f"/instances/{item['ID']}/metadata/TransferSyntax").text
            ns = seconds * 1e9 / (size * size * slices)
            print(
                f"  job: {seconds:.0f} s ({ns:.0f} ns a voxel), {item['Triangles']} triangles, "
                f"{item['VolumeMl']} ml, model (STL) {size_mb:.0f} MB, its file {file_mb:.0f} MB "
                f"({syntax}); {load()}"
            )
            peaks = {"Orthanc": peak_mb(server.process.pid)}
            print(f"  Orthanc: peak {peaks['Orthanc']:.0f} MB ({orthanc_before:.0f} MB before)")
            for pid in worker_pids(server.process.pid):
                peaks[f"child {pid}"] = peak_mb(pid)
                print(f"  child process {pid}: peak {peaks[f'child {pid}']:.0f} MB")
            if size_mb < 300:  # trimesh's check of a larger one takes gigabytes here
                stl = server.get(f"/instances/{item['ID']}/segmesh/model").content
                print(f"  watertight: {is_watertight_stl(stl)}")
            model = Path(folder) / "model.dcm"
            if alone:
                url = f"/instances/{item['ID']}/file"
                with server.get(url, stream=True) as response, model.open("wb") as handle:
                    for chunk in response.iter_content(1 << 20):
                        handle.write(chunk)
        finally:
            server.stop()
        if alone:
            peaks["Orthanc storing the model alone"] = storing_alone(model)
        return {
            "seconds": seconds,
            "peaks": peaks,
            "triangles": item["Triangles"],
            "volume_ml": item["VolumeMl"],
            "model_mb": size_mb,
        }


def storing_alone(model: Path) -> float:
    """VmHWM MB of a fresh Orthanc (with segmesh, idle) storing the Part-10 file ``model``
    alone through ``POST /instances``, its body sent from disk: what Orthanc itself takes to
    store the model, against its peak during the job."""
    with tempfile.TemporaryDirectory(prefix="segmesh-store-") as folder:
        server = OrthancServer(Path(folder), {"SegMesh": {"Workers": 1}})
        server.start()
        try:
            with model.open("rb") as handle:
                response = server.session.post(f"{server.url}/instances", data=handle, timeout=600)
            response.raise_for_status()
            assert server.process is not None
            return peak_mb(server.process.pid)
        finally:
            server.stop()


def baseline_worktree(repository: Path, folder: Path) -> Path:
    """A git worktree of :data:`BASELINE` of ``repository`` in ``folder``, on this venv."""
    subprocess.run(
        ["git", "-C", str(repository), "worktree", "add", "--detach", str(folder), BASELINE],
        check=True,
        capture_output=True,
    )
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


def vase_mask(size: int, slices: int, first: int, count: int) -> npt.NDArray[np.bool_]:
    """Slices ``first`` to ``first + count`` of the vase's mask, in memory."""
    mask = np.empty((count, size, size), dtype=bool)
    for k, hu in enumerate(vase_slices(size, slices)):
        if first <= k < first + count:
            mask[k - first] = hu >= THRESHOLD_HU
        if k + 1 >= first + count:
            break
    return mask


def flying_edges(mask: npt.NDArray[np.bool_]) -> tuple[float, int]:
    """Seconds and triangles of vtkFlyingEdges3D at 0.5 on ``mask`` as uint8."""
    start = time.perf_counter()
    image = vtk.vtkImageData()
    image.SetDimensions(mask.shape[2], mask.shape[1], mask.shape[0])
    scalars = numpy_support.numpy_to_vtk(mask.view(np.uint8).ravel(), deep=False)
    image.GetPointData().SetScalars(scalars)
    edges = vtk.vtkFlyingEdges3D()
    edges.SetInputData(image)
    edges.SetValue(0, 0.5)
    edges.ComputeNormalsOff()
    edges.ComputeGradientsOff()
    edges.ComputeScalarsOff()
    edges.Update()
    triangles = edges.GetOutput().GetNumberOfPolys()
    return time.perf_counter() - start, int(triangles)


def marching_cubes_per_voxel(slices: int) -> None:
    size, first = 512, slices // 10
    count = min(400, slices - first)
    mask = vase_mask(size, slices, first, count)
    geometry = VolumeGeometry(
        mask.shape,
        np.diag([SPACING_MM, SPACING_MM, SPACING_MM, 1.0]),
        "1.2.3",
        np.c_[np.zeros((count, 2)), np.arange(count) * SPACING_MM],
    )
    voxels = mask.size
    print(f"\n3. marching cubes of {size} x {size} x {count} voxels in memory; {load()}")
    print(f"   {'':<36} {'time':>8} {'ns/voxel':>9} {'triangles':>11}")
    start = time.perf_counter()
    slabbed = slab_surface(iter(mask), geometry)
    seconds = time.perf_counter() - start
    assert slabbed is not None
    print(
        f"   {'segmesh in slabs (slab_surface)':<36} {seconds:7.2f}s "
        f"{seconds * 1e9 / voxels:9.1f} {slabbed.triangle_count:11d}"
    )
    start = time.perf_counter()
    whole = surface(mask, geometry, keep_degenerate=True)
    seconds = time.perf_counter() - start
    assert whole is not None
    print(
        f"   {'segmesh in one pass (surface)':<36} {seconds:7.2f}s "
        f"{seconds * 1e9 / voxels:9.1f} {whole.triangle_count:11d}"
    )
    seconds, triangles = flying_edges(mask)
    print(
        f"   {'vtkFlyingEdges3D (threads: VTK SMP)':<36} {seconds:7.2f}s "
        f"{seconds * 1e9 / voxels:9.1f} {triangles:11d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=2000, help="slices of the 1024 scan")
    parser.add_argument("--small", type=int, default=1000, help="slices of the 512 scan (0: none)")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument(
        "--repository", type=Path, default=ROOT, help="the git repository holding the baseline"
    )
    arguments = parser.parse_args()
    print(f"segmesh in slabs; Threshold {THRESHOLD_HU} HU, Taubin 20, full resolution; {load()}")
    if not arguments.skip_large:
        print("\n1. the large scan through REST (goal: each process <= 1.5 GB besides the model)")
        large = model_through_rest(ROOT, 1024, arguments.large, "slabs", alone=True)
        for name, peak in large["peaks"].items():
            rest = peak - large["model_mb"]
            # A process below the model's size (multiprocessing's resource tracker) never held it.
            besides = f"{rest:6.0f} MB besides the model (STL)" if rest > 0 else "never held it"
            print(f"   {name:<31} peak {peak:6.0f} MB, {besides}")
        added = large["peaks"]["Orthanc"] - large["peaks"]["Orthanc storing the model alone"]
        print(f"   Orthanc during the job, beyond storing the model alone: {added:.0f} MB")
    if not arguments.small:
        return
    print(f"\n2. 512 x 512 x {arguments.small}: slabs against {BASELINE} (the whole mask)")
    new = model_through_rest(ROOT, 512, arguments.small, "slabs")
    with tempfile.TemporaryDirectory(prefix="segmesh-baseline-") as parent:
        folder = Path(parent) / "baseline"
        try:
            baseline = baseline_worktree(arguments.repository, folder)
            old = model_through_rest(baseline, 512, arguments.small, BASELINE)
        finally:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(arguments.repository),
                    "worktree",
                    "remove",
                    "--force",
                    str(folder),
                ],
                check=False,
                capture_output=True,
            )
    print(f"\n   {'':<14} {'slabs':>10} {BASELINE:>10} {'ratio':>7}")
    print(
        f"   {'time (s)':<14} {new['seconds']:10.0f} {old['seconds']:10.0f} "
        f"{new['seconds'] / old['seconds']:7.2f}"
    )
    worst_new, worst_old = max(new["peaks"].values()), max(old["peaks"].values())
    print(
        f"   {'worst peak MB':<14} {worst_new:10.0f} {worst_old:10.0f} {worst_new / worst_old:7.2f}"
    )
    print(f"   {'triangles':<14} {new['triangles']:10d} {old['triangles']:10d}")
    print(f"   {'volume ml':<14} {new['volume_ml']:10.3f} {old['volume_ml']:10.3f}")
    marching_cubes_per_voxel(arguments.small)


if __name__ == "__main__":
    main()
