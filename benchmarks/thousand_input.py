"""The benchmarks' 1000+-segment inputs: small ellipsoids scattered over a 512 x 512 x 300 CT
(``tests.builders.scattered_structures``, 270 to 3000 voxels each at 1000), as a BINARY SEG
with 2% of them overlapping earlier ones and as a LABELMAP SEG of those that do not overlap,
written once with highdicom into a cache folder (minutes at this size), each with its label
map as a ``.seg.nrrd`` (the peers' reference read)."""

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
RADII = (4.0, 9.0)  # voxels


def ct_files(cache: Path, shape: tuple[int, int, int]) -> list[Path]:
    """The CT series of ``shape`` (HU -1024 everywhere), written once."""
    folder = cache / "x".join(map(str, shape)) / "ct"
    if not folder.exists():
        temporary = folder.with_name("ct-partial")
        temporary.mkdir(parents=True, exist_ok=True)
        images = builders.ct_series(
            shape,
            (SPACING[1], SPACING[0], SPACING[2]),
            ORIGIN,
            rescale_intercept=-1024,
            study=builders.study_dataset("Bench^Thousand", "BENCH-THOUSAND"),
        )
        for k, image in enumerate(images):
            image.save_as(temporary / f"{k:04d}.dcm", enforce_file_format=True)
        temporary.rename(folder)
    return sorted(folder.glob("*.dcm"))


def generate(
    cache: Path, shape: tuple[int, int, int], count: int, kind: str
) -> tuple[Path, Path, list[Path]]:
    """The ``kind`` ("BINARY" or "LABELMAP") SEG of ``count`` structures, its label map as a
    .seg.nrrd, and the CT files, written once into ``cache``."""
    cts = ct_files(cache, shape)
    folder = cache / "x".join(map(str, shape)) / f"{count}-{kind}"
    seg_path, nrrd_path = folder / "seg.dcm", folder / "labels.seg.nrrd"
    if seg_path.exists() and nrrd_path.exists():
        return seg_path, nrrd_path, cts
    folder.mkdir(parents=True, exist_ok=True)
    print(f"generating the {count}-segment {kind} SEG on {shape} (once) ...", flush=True)
    start = time.perf_counter()
    base, extra = builders.scattered_structures(shape, count, count // 50, RADII)
    images = [pydicom.dcmread(path) for path in cts]
    if kind == "BINARY":
        seg = builders.many_segments_seg(images, base, extra)
    else:
        seg = builders.many_segments_seg(images, base, None, "LABELMAP")
    labelmap = seg_to_labelmap(seg, images, LabelMapOptions(), Settings())
    nrrd_path.write_bytes(to_seg_nrrd(labelmap))
    seg.save_as(seg_path, enforce_file_format=True)
    print(f"  written in {time.perf_counter() - start:.0f} s", flush=True)
    return seg_path, nrrd_path, cts


def seg_copy(seg_path: Path, name: str) -> Path:
    """A copy of the SEG under a new SOP Instance UID (stored anew, it is decoded cold)."""
    path = seg_path.with_name(f"copy-{name}.dcm")
    if not path.exists():
        dataset = pydicom.dcmread(seg_path)
        dataset.SOPInstanceUID = pydicom.uid.generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.save_as(path, enforce_file_format=True)
    return path
