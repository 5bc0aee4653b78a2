"""Per-segment statistics of 100 segments on a 512 x 512 x 300 CT: segmesh's core, and MIRP.

The case: 100 ellipsoids (radii 15 to 45 % of a 5 x 5 x 4 lattice cell) in one layer of a
512 x 512 x 300 label map (0.8 x 0.8 x 1.5 mm), with a synthetic CT in HU (int16: -1000 outside a
body cylinder, each segment its own mean plus noise). ``segment_statistics`` runs with the image
on every segment; the median of ``--repeat`` runs is printed, with the voxels in the segments'
bounding boxes (the work the core does beyond one find_objects pass).

MIRP 2.7 (the test extra) computes its morphology and statistics families, the same figures, on
``--mirp`` segments (numpy input: the segment's binary mask on the full grid); its time per
segment is set against segmesh's time per segment.

With ``--rest``, a real Orthanc is started, the CT and a BINARY SEG of the 100 segments
(highdicom) are stored, and ``GET /instances/{seg}/segmesh/statistics`` (with the image: the
source grid) is timed beside ``GET /instances/{seg}/segmesh/labelmap?format=npz`` (the label map
alone); medians of ``--repeat`` runs, and each run. The first JSON run also decodes the label map
and finds its own figures; later runs find those in the cache (the image's figures are made
anew every time, from the CT's files).

Run: ``.venv/bin/python benchmarks/bench_statistics.py [--repeat 3] [--mirp 3] [--rest]``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from scipy import ndimage

from segmesh.geometry import VolumeGeometry
from segmesh.labelmap import LabelMap, Segment
from segmesh.statistics import segment_statistics, statistics_csv, statistics_json

SHAPE = (300, 512, 512)  # slices, rows, columns
SPACING = (0.8, 0.8, 1.5)  # column, row, slice (mm)
ORIGIN = (-204.0, -204.0, -225.0)
ROOT = Path(__file__).resolve().parents[1]


def make_case(count: int = 100, seed: int = 0) -> tuple[LabelMap, npt.NDArray[np.int16]]:
    """The label map of ``count`` ellipsoids and its CT (slices, rows, columns) in HU."""
    rng = np.random.default_rng(seed)
    layer = np.zeros(SHAPE, dtype=np.uint8)
    cells = np.array((4, 5, 5))  # k, j, i
    cell = np.array(SHAPE) / cells
    means = rng.uniform(-100, 300, count + 1)
    for number in range(1, count + 1):
        index = np.array(np.unravel_index(number - 1, tuple(cells)))
        radii = rng.uniform(0.15, 0.45, 3) * cell
        centre = (index + 0.5) * cell + rng.uniform(-1, 1, 3) * (cell / 2 - radii - 1)
        low = np.maximum(np.floor(centre - radii).astype(int), 0)
        high = np.minimum(np.ceil(centre + radii).astype(int) + 1, SHAPE)
        k, j, i = np.ogrid[low[0] : high[0], low[1] : high[1], low[2] : high[2]]
        inside = ((k - centre[0]) / radii[0]) ** 2 + ((j - centre[1]) / radii[1]) ** 2 + (
            (i - centre[2]) / radii[2]
        ) ** 2 <= 1.0
        layer[low[0] : high[0], low[1] : high[1], low[2] : high[2]][inside] = number
    j, i = np.ogrid[: SHAPE[1], : SHAPE[2]]
    body = (j - 256) ** 2 + (i - 256) ** 2 <= 250**2
    ct = rng.normal(0, 25, SHAPE).astype(np.float32)
    ct += np.where(body, 40, -1000)
    ct += means.astype(np.float32)[layer] * (layer > 0)
    image = np.clip(np.round(ct), -1024, 3071).astype(np.int16)
    affine = np.diag([*SPACING, 1.0])
    affine[:3, 3] = ORIGIN
    geometry = VolumeGeometry(
        SHAPE, affine, "1.2.3", affine[:3, 3] + np.arange(SHAPE[0])[:, None] * affine[:3, 2]
    )
    segments = tuple(Segment(n, f"Structure {n}", (200, 120, 90)) for n in range(1, count + 1))
    return LabelMap(layer[np.newaxis], geometry, segments), image


def time_segmesh(labelmap: LabelMap, image: npt.NDArray[np.int16], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        stats = segment_statistics(labelmap, image=image)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    statistics_json(stats)
    statistics_csv(stats)
    print(f"rendering JSON and CSV: {1000 * (time.perf_counter() - start):.1f} ms")
    return statistics.median(times)


def time_mirp(labelmap: LabelMap, image: npt.NDArray[np.int16], count: int) -> float:
    """MIRP's seconds per segment over the first ``count`` segments."""
    from mirp import extract_features

    logging.getLogger("mirp").setLevel(logging.ERROR)
    times = []
    for segment in labelmap.segments[:count]:
        mask = labelmap.layers[0] == segment.value
        start = time.perf_counter()
        extract_features(
            image=image,
            mask=mask,
            image_modality="CT",
            base_feature_families=["morphology", "statistics"],
            stat_percentile=[5.0, 95.0],
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ct_and_seg(labelmap: LabelMap, image: npt.NDArray[np.int16]) -> tuple[list[Dataset], Dataset]:
    """The CT series of ``image`` and a BINARY SEG of every segment (highdicom)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    study_uid, series_uid = generate_uid(), generate_uid()
    images = []
    for k in range(SHAPE[0]):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = labelmap.geometry.frame_of_reference_uid
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "B^S", "B", "", "O"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "1200", "1", ""
        ds.ReferringPhysicianName, ds.Manufacturer, ds.PositionReferenceIndicator = "", "b", ""
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImagePositionPatient = list(labelmap.geometry.slice_positions[k])
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [SPACING[1], SPACING[0]], SPACING[2]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = SHAPE[1], SHAPE[2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1  # stored values + 1024: HU back
        ds.PixelData = (image[k].astype("<i2") + 1024).tobytes()
        images.append(ds)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=segment.number,
            segment_label=segment.label,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for segment in labelmap.segments
    ]
    seg = hd.seg.Segmentation(
        source_images=images,
        pixel_array=labelmap.layers[0],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=2,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="segmesh",
        manufacturer_model_name="bench",
        software_versions="0",
        device_serial_number="0",
    )
    return images, seg


def rest_benchmark(labelmap: LabelMap, image: npt.NDArray[np.int16], repeat: int) -> None:
    """Median seconds of the statistics and label-map routes on a real Orthanc."""
    sys.path.insert(0, str(ROOT))
    from tests.conftest import encode
    from tests.orthanc_server import OrthancServer

    start = time.perf_counter()
    images, seg = ct_and_seg(labelmap, image)
    print(f"(CT and SEG of 100 segments written in {time.perf_counter() - start:.0f} s)")
    with tempfile.TemporaryDirectory() as folder:
        server = OrthancServer(Path(folder))
        server.start()
        try:
            for ds in images:
                server.upload(encode(ds))
            seg_id = server.upload(encode(seg))
            routes = {
                "statistics (JSON, with the CT)": "statistics",
                "statistics (CSV, with the CT)": "statistics?format=csv",
                "label map (npz)": "labelmap?format=npz",
            }
            for name, route in routes.items():
                times = []
                for _ in range(repeat):
                    start = time.perf_counter()
                    response = server.get(f"/instances/{seg_id}/segmesh/{route}")
                    times.append(time.perf_counter() - start)
                    response.raise_for_status()
                if route == "statistics":
                    answer = response.json()
                    assert answer["Grid"] == "source"
                    assert len(answer["Segments"]) == 100
                    assert answer["Segments"][0]["Image"] is not None
                each = ", ".join(f"{t:.2f}" for t in times)
                print(
                    f"REST {name}: median {statistics.median(times):.2f} s of {repeat} "
                    f"(min {min(times):.2f} s; each {each} s)"
                )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mirp", type=int, default=3, help="segments for MIRP (0: none)")
    parser.add_argument("--rest", action="store_true", help="also time the REST routes")
    args = parser.parse_args()
    start = time.perf_counter()
    labelmap, image = make_case()
    print(f"case built in {time.perf_counter() - start:.1f} s: {SHAPE}, 100 segments")
    boxes = ndimage.find_objects(labelmap.layers[0])
    box_voxels = sum(int(np.prod([s.stop - s.start for s in box])) for box in boxes if box)
    print(f"voxels in bounding boxes: {box_voxels / 1e6:.1f} M of {np.prod(SHAPE) / 1e6:.1f} M")
    ours = time_segmesh(labelmap, image, args.repeat)
    print(f"segmesh core, 100 segments with the image: {ours:.3f} s (median of {args.repeat})")
    if args.mirp:
        theirs = time_mirp(labelmap, image, args.mirp)
        print(
            f"MIRP 2.7: {theirs:.2f} s per segment (median of {args.mirp}); segmesh "
            f"{ours / 100 * 1000:.1f} ms per segment: {theirs / (ours / 100):.0f}x"
        )
    if args.rest:
        rest_benchmark(labelmap, image, args.repeat)


if __name__ == "__main__":
    main()
