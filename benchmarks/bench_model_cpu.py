"""A worker's CPU per stored model (issue 24's 1000-model job), in one process: every model of
the 1000-segment BINARY SEG of ``thousand_input`` built as a worker builds it (the unit of work
:class:`segmesh.work.BuildModel`: meshed, checked, icon, Encapsulated STL file written), against
vtkSurfaceNets3D on the same label map (``bench_thousand.surface_nets``), both in CPU seconds.

On 2 cores the workers' CPU and Orthanc's storing compete: each millisecond of worker CPU per
model is about 0.5 s of the 1000-model job (``bench_thousand.py`` measures the job itself).
``--profile`` prints the models' cProfile (by own time), whose relative costs survive a shared
machine better than the CPU seconds do.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import pydicom

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: tests' builders
sys.path.insert(0, str(ROOT / "plugin"))

from benchmarks.bench_service import load  # noqa: E402
from benchmarks.bench_thousand import surface_nets  # noqa: E402
from benchmarks.thousand_input import FULL, QUICK, generate  # noqa: E402

from segmesh.mesh import MeshOptions, segment_crops  # noqa: E402
from segmesh.models import ModelFiles, ModelOutput, ModelRequest, ModelSource  # noqa: E402
from segmesh.options import LabelMapOptions  # noqa: E402
from segmesh.seg.reader import seg_to_labelmap  # noqa: E402
from segmesh.settings import Settings  # noqa: E402
from segmesh.work import BuildModel  # noqa: E402


def build_all(units: list[BuildModel]) -> float:
    """CPU seconds of running ``units`` one after the other, each into its own new file as the
    model task makes them."""
    start = time.process_time()
    for unit in units:
        unit.run()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 60 x 256 x 256 grid")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "segmesh-1000")
    parser.add_argument("--profile", action="store_true", help="cProfile the models' building")
    arguments = parser.parse_args()
    shape = QUICK if arguments.quick else FULL
    seg_path, _, ct_paths = generate(arguments.cache, shape, 1000, "BINARY")
    seg = pydicom.dcmread(seg_path)
    cts = [pydicom.dcmread(path, stop_before_pixels=True) for path in ct_paths]
    labelmap = seg_to_labelmap(seg, cts, LabelMapOptions(), Settings())
    crops = [crop for _, crop in segment_crops(labelmap, None) if crop is not None]
    options = MeshOptions()
    source = ModelSource(seg, labelmap.geometry.frame_of_reference_uid, "bench")
    files = ModelFiles.of(
        ModelRequest(source, options.to_json(), "bench"),
        datetime.datetime.now(),
        Settings().deflate_models_above_megabytes * 2**20,
    )
    print(f"{len(crops)} models of the 1000-segment BINARY SEG on {shape} ({load()})")
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, f"{n}.dcm") for n in range(len(crops))]

        def units() -> list[BuildModel]:
            for path in paths:
                Path(path).write_bytes(b"")  # the task's new empty file
            return [
                BuildModel(
                    (crop,),
                    labelmap.geometry,
                    options,
                    ModelOutput(files, str(n), f"Segment {n}", (200, 100, 50), n, 10**7, path),
                )
                for n, (crop, path) in enumerate(zip(crops, paths, strict=True), start=1)
            ]

        build_all(units()[:20])  # imports and caches warm
        segmesh = min(build_all(units()) for _ in range(2))
        if arguments.profile:
            profile = cProfile.Profile()
            profile.runcall(build_all, units())
    layers = labelmap.layers
    start = time.process_time()
    surface_nets(layers, int(layers.max()))
    nets = time.process_time() - start
    count = len(crops)
    print(
        f"  segmesh's models, one process: {segmesh:.2f} s CPU, {segmesh / count * 1000:.2f} ms "
        f"a model; vtkSurfaceNets3D on the label map: {nets:.2f} s CPU, "
        f"{nets / count * 1000:.2f} ms a model; {segmesh / nets:.2f}x"
    )
    print(
        f"  on 2 cores, about {segmesh / count * 1000 * 0.5:.2f} s of the 1000-model job "
        f"(bench_thousand.py: goal <= 1.2x SurfaceNets + storing)"
    )
    if arguments.profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
