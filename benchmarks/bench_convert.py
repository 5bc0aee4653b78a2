"""Conversions between DICOM objects: segmesh against the peers a user would take.

- RT-STRUCT -> SEG: the case of ``bench_rtstruct.py`` (50 overlapping ROIs x 100 slices of
  512 x 512). segmesh: ``rtstruct_to_labelmap`` + ``write_seg`` (BINARY). Peer: the same label
  map, then plain highdicom ``Segmentation(...)`` from its stacked masks.
- SEG -> RT-STRUCT: the 104-segment grid of ``bench_seg.py`` (512 x 512 x ``--slices``).
  segmesh: ``labelmap_to_rtstruct`` from the label map. Peer: rt-utils 1.2.7
  ``RTStructBuilder.create_new`` + ``add_roi`` with each segment's mask.
- SEG -> LABELMAP: the same label map. segmesh: ``write_seg`` (LABELMAP). Peer: plain highdicom
  ``Segmentation(...)`` with the label array and SegmentationType LABELMAP.

Prints median seconds, ratio to segmesh and the written sizes. From the project folder, after
``make bench-venv``: ``.venv/bin/python -m benchmarks.bench_convert [--repeats 1] [--slices 300]``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
from benchmarks import bench_seg
from benchmarks.bench_rtstruct import write_case
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid
from rt_utils import RTStructBuilder
from tests import builders
from tests.conftest import encode
from tests.orthanc_server import OrthancServer

from segmesh.dicom.attributes import PATIENT_AND_STUDY_KEYWORDS
from segmesh.geometry import geometry_from_images
from segmesh.labelmap import LabelMap, Segment
from segmesh.options import LabelMapOptions
from segmesh.rtstruct import rtstruct_to_labelmap
from segmesh.rtstruct.from_labelmap import labelmap_to_rtstruct
from segmesh.seg.writer import write_seg
from segmesh.settings import Settings

Timing = tuple[float, Any]


def timed(function: Callable[[], Any], repeats: int) -> Timing:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def size(dataset: pydicom.Dataset) -> int:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return len(buffer.getvalue())


def plain_highdicom(
    images: list[pydicom.Dataset], pixels: np.ndarray, labels: dict[int, str], kind: str
) -> hd.seg.Segmentation:
    """What a highdicom user writes: generic codes, one description per segment (``labels``
    by segment number: the values of a label array, 1 to N for stacked masks)."""
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number, label in labels.items()
    ]
    return hd.seg.Segmentation(
        source_images=images,
        pixel_array=pixels,
        segmentation_type=kind,
        segment_descriptions=descriptions,
        series_instance_uid=generate_uid(),
        series_number=300,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="bench",
        manufacturer_model_name="bench",
        software_versions="1",
        device_serial_number="1",
        content_date=datetime.date(2026, 1, 1),
        content_time=datetime.time(12, 0),
    )


def report(title: str, rows: dict[str, Timing], sizes: dict[str, int]) -> None:
    ours = rows["segmesh"][0]
    print(f"\n{title}")
    print(f"| {'method':40} | {'median s':>9} | {'time / segmesh':>15} | {'MB written':>10} |")
    print(f"|{'-' * 42}|{'-' * 10}:|{'-' * 16}:|{'-' * 11}:|")
    for name, (seconds, _result) in rows.items():
        print(
            f"| {name:40} | {seconds:9.2f} | {seconds / ours:15.2f} | "
            f"{sizes.get(name, 0) / 2**20:10.1f} |"
        )


def rtstruct_to_seg(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        write_case(folder)
        images = [pydicom.dcmread(path) for path in sorted(folder.glob("ct*.dcm"))]
        rtstruct = pydicom.dcmread(folder / "rtstruct.dcm")
    # The tests' synthetic CT lacks type 2 attributes plain highdicom reads (segmesh fills
    # them itself); give both the same complete images.
    for image in images:
        for keyword in PATIENT_AND_STUDY_KEYWORDS:
            setattr(image, keyword, image.get(keyword, ""))
        image.SliceThickness = 2.5
    start = time.perf_counter()
    labelmap = rtstruct_to_labelmap(rtstruct, images, LabelMapOptions(), Settings())
    decode = time.perf_counter() - start

    def segmesh() -> Any:
        return write_seg(rtstruct, labelmap, images, "BINARY")[0]

    def highdicom() -> Any:
        stacked = np.stack([labelmap.mask(s.number) for s in labelmap.segments], axis=-1)
        labels = {n: s.label for n, s in enumerate(labelmap.segments, start=1)}
        return plain_highdicom(images, stacked, labels, "BINARY")

    rows = {
        "segmesh": timed(segmesh, repeats),
        "plain highdicom (stacked masks)": timed(highdicom, repeats),
    }
    sizes = {name: size(result) for name, (_s, result) in rows.items()}
    report(
        f"RT-STRUCT -> SEG (BINARY): {len(labelmap.segments)} ROIs x {labelmap.geometry.shape}, "
        f"{labelmap.layers.shape[0]} layers; label map from the RT-STRUCT {decode:.2f} s "
        "(not in the times)",
        rows,
        sizes,
    )


def seg_labelmap(slices: int) -> tuple[list[pydicom.Dataset], LabelMap, pydicom.Dataset]:
    """bench_seg's CT and organs, cut to ``slices``, as a label map and a source dataset."""
    bench_seg.SHAPE = (slices, *bench_seg.SHAPE[1:])
    images = builders.ct_series(
        bench_seg.SHAPE, bench_seg.SPACING, (-204.4, -204.4, -225.0), rescale_intercept=-1024
    )
    labels = bench_seg.organ_labels()
    present = [int(n) for n in np.unique(labels) if n]
    segments = tuple(Segment(n, f"Organ {n}", (200, 120, n)) for n in present)
    labelmap = LabelMap(labels[np.newaxis], geometry_from_images(images)[0], segments)
    source = pydicom.Dataset()
    source.SOPInstanceUID = generate_uid()
    source.SeriesDescription = "bench organs"
    return images, labelmap, source


def seg_to_rtstruct_and_labelmap(repeats: int, slices: int) -> None:
    images, labelmap, source = seg_labelmap(slices)
    names = [s.label for s in labelmap.segments]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for k, image in enumerate(images):
            image.save_as(folder / f"{k:04d}.dcm", enforce_file_format=True)

        def rt_utils() -> Any:
            builder = RTStructBuilder.create_new(dicom_series_path=str(folder))
            # rt-utils orders its series by slice position as segmesh does, masks (rows,
            # columns, slices).
            for segment in labelmap.segments:
                mask = np.transpose(labelmap.mask(segment.number), (1, 2, 0))
                builder.add_roi(mask=mask, color=list(segment.color), name=segment.label)
            return builder.ds

        rows = {
            "segmesh": timed(lambda: labelmap_to_rtstruct(source, labelmap, images), repeats),
            "rt-utils 1.2.7 create_new + add_roi": timed(rt_utils, repeats),
        }
    report(
        f"SEG -> RT-STRUCT: {len(names)} segments on {labelmap.geometry.shape}",
        rows,
        {name: size(result) for name, (_s, result) in rows.items()},
    )
    rows = {
        "segmesh": timed(lambda: write_seg(source, labelmap, images, "LABELMAP")[0], repeats),
        "plain highdicom (label array)": timed(
            # The label array holds the segment numbers, which need not run 1 to N.
            lambda: plain_highdicom(
                images,
                labelmap.layers[0],
                {s.number: s.label for s in labelmap.segments},
                "LABELMAP",
            ),
            repeats,
        ),
        "segmesh BINARY, for the size": timed(
            lambda: write_seg(source, labelmap, images, "BINARY")[0], 1
        ),
    }
    sizes = {name: size(result) for name, (_s, result) in rows.items()}
    report(f"SEG -> LABELMAP: {len(names)} segments on {labelmap.geometry.shape}", rows, sizes)
    binary = sizes["segmesh BINARY, for the size"]
    print(f"LABELMAP / BINARY file size: {sizes['segmesh'] / binary:.3f}")


def rest_binary_to_labelmap(repeats: int, slices: int) -> None:
    """A BINARY SEG stored in a real Orthanc, converted by the route to LABELMAP; both decoded
    through REST (npz, grid=source): same label map, file sizes and decode times."""
    images, labelmap, source = seg_labelmap(slices)
    (binary,) = write_seg(source, labelmap, images, "BINARY")
    with tempfile.TemporaryDirectory() as temporary:
        server = OrthancServer(Path(temporary))
        server.start()
        try:
            for image in images:
                server.upload(encode(image))
            binary_id = server.upload(encode(binary))
            start = time.perf_counter()
            converted = server.post(
                f"/instances/{binary_id}/segmesh/convert", json={"To": "LABELMAP"}
            )
            convert_seconds = time.perf_counter() - start
            assert converted.status_code == 200, converted.text
            labelmap_id = converted.json()["Instances"][0]["ID"]
            decoded = {}
            seconds = {}
            for name, identifier in (("BINARY", binary_id), ("LABELMAP", labelmap_id)):
                runs = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    answer = server.get(f"/instances/{identifier}/segmesh/labelmap?format=npz")
                    runs.append(time.perf_counter() - start)
                    assert answer.status_code == 200, answer.text
                seconds[name] = statistics.median(runs)
                with np.load(io.BytesIO(answer.content)) as npz:
                    decoded[name] = npz["labels"].max(axis=0)
            sizes = {
                name: len(server.get(f"/instances/{identifier}/file").content)
                for name, identifier in (("BINARY", binary_id), ("LABELMAP", labelmap_id))
            }
        finally:
            server.stop()
    same = np.array_equal(decoded["BINARY"], decoded["LABELMAP"])
    print(
        f"\nBINARY -> LABELMAP through REST: {len(labelmap.segments)} segments on "
        f"{labelmap.geometry.shape}; conversion route {convert_seconds:.2f} s"
    )
    print(f"| {'SEG':9} | {'file MB':>8} | {'decode s (REST npz)':>20} |")
    print(f"|{'-' * 11}|{'-' * 9}:|{'-' * 21}:|")
    for name in ("BINARY", "LABELMAP"):
        print(f"| {name:9} | {sizes[name] / 1e6:8.1f} | {seconds[name]:20.3f} |")
    print(
        f"size factor LABELMAP / BINARY: {sizes['LABELMAP'] / sizes['BINARY']:.3f}; "
        f"decode LABELMAP / BINARY: {seconds['LABELMAP'] / seconds['BINARY']:.2f}; "
        f"same label map: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument(
        "--rest", action="store_true", help="only the BINARY -> LABELMAP round through REST"
    )
    arguments = parser.parse_args()
    if arguments.rest:
        rest_binary_to_labelmap(max(arguments.repeats, 3), arguments.slices)
        return
    rtstruct_to_seg(arguments.repeats)
    seg_to_rtstruct_and_labelmap(arguments.repeats, arguments.slices)


if __name__ == "__main__":
    main()
