"""The benchmarks' 100-segment input: a BINARY SEG of ellipsoids on a lattice
(``tests.builders.lattice_seg_study``) on a 512 x 512 x 300 CT, written once with highdicom
into a cache folder, with the same label map as a ``.seg.nrrd`` (the peers' reference read) and
copies of the SEG under new SOP Instance UIDs (each stored anew is decoded cold)."""

from __future__ import annotations

import time
from pathlib import Path

import pydicom
from tests import builders

from segmesh.formats import to_seg_nrrd
from segmesh.options import LabelMapOptions
from segmesh.seg.reader import seg_to_labelmap
from segmesh.settings import Settings

FULL = (300, 512, 512)  # slices, rows, columns
QUICK = (60, 256, 256)
SPACING = (0.8, 0.8, 1.5)  # column, row, slice (mm)
ORIGIN = (-204.4, -204.4, -225.0)
SEGMENTS = 100


def generate(cache: Path, shape: tuple[int, int, int]) -> tuple[Path, Path, list[Path]]:
    """The SEG, its label map as a .seg.nrrd, and the CT files, written once into ``cache``."""
    folder = cache / "x".join(map(str, shape))
    seg_path, nrrd_path, ct_folder = folder / "seg.dcm", folder / "labels.seg.nrrd", folder / "ct"
    if seg_path.exists() and nrrd_path.exists():
        return seg_path, nrrd_path, sorted(ct_folder.glob("*.dcm"))
    ct_folder.mkdir(parents=True, exist_ok=True)
    print(f"generating the {SEGMENTS}-segment SEG on {shape} (once) ...", flush=True)
    start = time.perf_counter()
    images, seg, _ = builders.lattice_seg_study(
        shape,
        SPACING,
        ORIGIN,
        SEGMENTS,
        study=builders.study_dataset("Bench^Service", "BENCH-SERVICE"),
    )
    for k, image in enumerate(images):
        image.save_as(ct_folder / f"{k:04d}.dcm", enforce_file_format=True)
    seg.save_as(seg_path, enforce_file_format=True)
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    nrrd_path.write_bytes(to_seg_nrrd(labelmap))
    print(f"  written in {time.perf_counter() - start:.0f} s", flush=True)
    return seg_path, nrrd_path, sorted(ct_folder.glob("*.dcm"))


def seg_copies(seg_path: Path, count: int) -> list[Path]:
    """``count`` copies of the SEG under new SOP Instance UIDs, written once beside it."""
    paths = [seg_path.with_name(f"seg-copy-{n}.dcm") for n in range(count)]
    if not all(path.exists() for path in paths):
        dataset = pydicom.dcmread(seg_path)
        for path in paths:
            dataset.SOPInstanceUID = pydicom.uid.generate_uid()
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
            dataset.save_as(path, enforce_file_format=True)
    return paths
