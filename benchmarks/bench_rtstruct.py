"""RT-STRUCT to label map: segmesh against rt-utils and the exact per-polygon reference.

A synthetic CT of 100 axial slices of 512 x 512 and an RT-STRUCT of 50 ROIs contoured on every
slice (an outer contour with a hole and a second, disjoint contour: 3 contours per slice, 15,000
in all; the ROIs overlap) are written to a temporary folder. Each method starts from the files:

- segmesh: pydicom reads the files, ``rtstruct_to_labelmap`` builds the layered label map;
- rt-utils: ``RTStructBuilder.create_from`` and ``get_roi_mask_by_name`` for every ROI (OpenCV
  fills polygons whose vertices are rounded to whole pixels, so it is not exact);
- exact reference: every polygon filled by ``skimage.draw.polygon`` at voxel centres, XOR per
  slice (the even-odd rule).

Prints the median time of each, its ratio to segmesh, its peak traced memory (one more run under
tracemalloc) and how many voxels differ from the exact reference. It reuses the tests' DICOM
builders: ``.venv/bin/python -m benchmarks.bench_rtstruct [--repeats 3]`` or
``.venv/bin/python benchmarks/bench_rtstruct.py`` (``make bench-venv`` first).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from rt_utils import RTStructBuilder
from skimage.draw import polygon as draw_polygon

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project folder: tests' builders

from tests.rtstruct_synthetic import Roi, Series, random_polygon, rtstruct

from segmesh.labelmap import LabelMap
from segmesh.options import LabelMapOptions
from segmesh.rtstruct.reader import rtstruct_to_labelmap
from segmesh.settings import Settings

SLICES, ROWS, COLUMNS, ROIS = 100, 512, 512, 50
SPACING = 0.9765625  # exact in binary: index coordinates are exact too
ORIGIN = np.array([-250.0, -250.0, -100.0])
Masks = dict[str, npt.NDArray[np.bool_]]  # ROI name -> (slices, rows, columns)


def write_case(folder: Path, seed: int = 0) -> None:
    """CT files and ``rtstruct.dcm`` into ``folder``."""
    positions = ORIGIN + np.arange(SLICES)[:, None] * np.array([0.0, 0.0, 2.5])
    series = Series(positions, pixel_spacing=(SPACING, SPACING), shape=(ROWS, COLUMNS))
    rng = np.random.default_rng(seed)
    rois = []
    for number in range(1, ROIS + 1):
        centre = rng.uniform(120, 390, 2)
        radius = rng.uniform(40, 90)
        roi = Roi(number, f"ROI {number}")
        for k in range(SLICES):
            scale = 0.6 + 0.4 * np.sin(np.pi * (k + 0.5) / SLICES)
            outer = random_polygon(rng, tuple(centre), radius * scale, 48)
            hole = random_polygon(rng, tuple(centre), 0.3 * radius * scale, 16)
            side = random_polygon(rng, (centre[0] + 1.6 * radius, centre[1]), 15.0, 24)
            for polygon in (outer, hole, side):
                roi.add(series.to_lps(k, polygon), images=[series.sop_instance_uids[k]])
        rois.append(roi)
    for k, image in enumerate(series.images()):
        image.save_as(folder / f"ct{k:03d}.dcm", enforce_file_format=True)
    dataset = rtstruct(rois, series.frame_of_reference_uid, series.series_instance_uid)
    dataset.save_as(folder / "rtstruct.dcm", enforce_file_format=True)


def run_segmesh(folder: Path) -> LabelMap:
    images = [pydicom.dcmread(path) for path in sorted(folder.glob("ct*.dcm"))]
    dataset = pydicom.dcmread(folder / "rtstruct.dcm")
    return rtstruct_to_labelmap(dataset, images, LabelMapOptions(), Settings())


def labelmap_masks(labelmap: LabelMap) -> Masks:
    """Per-ROI masks out of the layers, for the comparison only (not timed)."""
    return {segment.label: labelmap.mask(segment.number) for segment in labelmap.segments}


def run_rt_utils(folder: Path) -> Masks:
    with tempfile.TemporaryDirectory() as series_folder:
        for path in folder.glob("ct*.dcm"):
            (Path(series_folder) / path.name).symlink_to(path)
        builder = RTStructBuilder.create_from(series_folder, str(folder / "rtstruct.dcm"))
        return {
            name: np.transpose(builder.get_roi_mask_by_name(name), (2, 0, 1))
            for name in builder.get_roi_names()
        }


def run_reference(folder: Path) -> Masks:
    """skimage.draw.polygon per polygon, XOR per slice; the slice is the contour's z."""
    dataset = pydicom.dcmread(folder / "rtstruct.dcm")
    names = {int(item.ROINumber): str(item.ROIName) for item in dataset.StructureSetROISequence}
    masks = {}
    for item in dataset.ROIContourSequence:
        mask = np.zeros((SLICES, ROWS, COLUMNS), dtype=bool)
        for contour in item.ContourSequence:
            points = np.array(contour.ContourData, dtype=np.float64).reshape(-1, 3)
            k = round((points[0, 2] - ORIGIN[2]) / 2.5)
            columns = (points[:, 0] - ORIGIN[0]) / SPACING
            rows = (points[:, 1] - ORIGIN[1]) / SPACING
            single = np.zeros((ROWS, COLUMNS), dtype=bool)
            single[draw_polygon(rows, columns, (ROWS, COLUMNS))] = True
            mask[k] ^= single
        masks[names[int(item.ReferencedROINumber)]] = mask
    return masks


def timed(function: Callable[[Path], Any], folder: Path, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(folder)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_megabytes(function: Callable[[Path], Any], folder: Path) -> float:
    """Peak memory traced (Python and numpy allocations) during one more, untimed run."""
    tracemalloc.start()
    function(folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def differing_voxels(masks: Masks, reference: Masks) -> int:
    return sum(int(np.count_nonzero(masks[name] != reference[name])) for name in reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_case(folder)
        methods = {
            "segmesh": run_segmesh,
            "rt-utils": run_rt_utils,
            "skimage per polygon, XOR (exact)": run_reference,
        }
        timings = {name: timed(run, folder, arguments.repeats) for name, run in methods.items()}
        peaks = {name: peak_megabytes(run, folder) for name, run in methods.items()}
    seconds, labelmap = timings["segmesh"]
    timings["segmesh"] = (seconds, labelmap_masks(labelmap))
    reference = timings["skimage per polygon, XOR (exact)"][1]
    ours = timings["segmesh"][0]
    print(
        f"{ROIS} ROIs x {SLICES} slices of {ROWS} x {COLUMNS}, 3 contours per ROI and slice; "
        f"median of {arguments.repeats}"
    )
    print(
        f"| {'method':34} | {'median s':>9} | {'time / segmesh':>16} | {'peak MB':>8} "
        f"| {'voxels != exact':>15} |"
    )
    print(f"|{'-' * 36}|{'-' * 10}:|{'-' * 17}:|{'-' * 9}:|{'-' * 16}:|")
    for name, (seconds, masks) in timings.items():
        print(
            f"| {name:34} | {seconds:9.2f} | {seconds / ours:16.2f} | {peaks[name]:8.0f} | "
            f"{differing_voxels(masks, reference):15,d} |"
        )
    print(f"total foreground voxels (exact): {sum(int(m.sum()) for m in reference.values()):,d}")
    print(f"segmesh / rt-utils time: {ours / timings['rt-utils'][0]:.2f} (goal: at most 1.0)")


if __name__ == "__main__":
    main()
