"""A model's label map into the archive: ``POST /series/{id}/segmesh/import`` against highdicom
and dcmqi on the same input, in one run.

Input: a 100-segment label map (the tests' lattice of ellipsoids) on a 512 x 512 x 300 CT grid,
as a gzip NIfTI, and the CT stored in a real Orthanc with segmesh.

- segmesh: the whole call through REST, from the posted NIfTI to the stored instance (read,
  grid check, write, store), to a BINARY SEG and to a LABELMAP SEG; the stored series is
  deleted before each repeat, so that each one stores anew.
- highdicom 0.28 (what the goal is against): ``Segmentation(...)`` from the label map in memory
  (the CT headers in memory too), then encoding it as a Part-10 file; both timed apart.
- dcmqi ``itkimage2segimage``: the same NIfTI, the CT folder and a template of 100 segments,
  as its users run it (printed beside, no goal).

Goal (issue "A model's label map into the archive"): the REST call at most 1.5x highdicom's
constructor and encoding, for each type. From the project folder: ``.venv/bin/python
benchmarks/bench_import.py [--repeats 3] [--slices 300] [--segments 100]``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project folder: the tests' builders and Orthanc runner
sys.path.insert(0, str(ROOT / "plugin"))

import highdicom as hd  # noqa: E402
import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from pydicom.sr.codedict import codes  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402
from tests import builders, label_files  # noqa: E402
from tests.conftest import encode  # noqa: E402
from tests.orthanc_server import OrthancServer  # noqa: E402

from segmesh.dicom.attributes import PATIENT_AND_STUDY_KEYWORDS  # noqa: E402
from segmesh.geometry import geometry_from_images  # noqa: E402

SPACING = (0.8, 0.8, 1.0)  # row, column, slice mm
ORIGIN = (-204.4, -204.4, -150.0)


def median_of(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def descriptions(count: int, kind: str) -> list[hd.seg.SegmentDescription]:
    return [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=f"Segment {number}",
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number in range(1, count + 1)
    ]


def highdicom_times(
    images: list[pydicom.Dataset], labels: np.ndarray, kind: str, repeats: int
) -> tuple[float, float]:
    """Median seconds of highdicom's constructor, and of encoding its result."""
    count = int(labels.max())
    built, encoded = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        seg = hd.seg.Segmentation(
            source_images=images,
            pixel_array=labels,
            segmentation_type=kind,
            segment_descriptions=descriptions(count, kind),
            series_instance_uid=generate_uid(),
            series_number=300,
            sop_instance_uid=generate_uid(),
            instance_number=1,
            manufacturer="bench",
            manufacturer_model_name="bench",
            software_versions="1",
            device_serial_number="1",
            omit_empty_frames=True,
        )
        built.append(time.perf_counter() - start)
        start = time.perf_counter()
        buffer = io.BytesIO()
        seg.save_as(buffer, enforce_file_format=True)
        encoded.append(time.perf_counter() - start)
    return statistics.median(built), statistics.median(encoded)


def dcmqi_seconds(folder: Path, nifti: Path, count: int, kind: str) -> float | None:
    """itkimage2segimage on the same NIfTI and CT folder; None where dcmqi is absent."""
    tool = shutil.which("itkimage2segimage", path=str(Path(sys.executable).parent))
    if tool is None:
        print("dcmqi is absent (pip install dcmqi): its column is left out")
        return None
    template = {
        "ContentCreatorName": "bench",
        "SeriesDescription": "bench",
        "SeriesNumber": "300",
        "InstanceNumber": "1",
        "segmentAttributes": [
            [
                {
                    "labelID": number,
                    "SegmentLabel": f"Segment {number}",
                    "SegmentAlgorithmType": "MANUAL",
                    "SegmentedPropertyCategoryCodeSequence": {
                        "CodeValue": "85756007",
                        "CodingSchemeDesignator": "SCT",
                        "CodeMeaning": "Tissue",
                    },
                    "SegmentedPropertyTypeCodeSequence": {
                        "CodeValue": "85756007",
                        "CodingSchemeDesignator": "SCT",
                        "CodeMeaning": "Tissue",
                    },
                }
                for number in range(1, count + 1)
            ]
        ],
    }
    meta = folder / "meta.json"
    meta.write_text(json.dumps(template))
    output = folder / f"dcmqi-{kind}.dcm"
    start = time.perf_counter()
    subprocess.run(
        [
            tool,
            "--inputImageList",
            str(nifti),
            "--inputDICOMDirectory",
            str(folder / "ct"),
            "--outputDICOM",
            str(output),
            "--inputMetadata",
            str(meta),
            "--segmentationType",
            kind.lower(),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def rest_seconds(
    server: OrthancServer, series_id: str, data: bytes, kind: str, repeats: int
) -> tuple[float, float]:
    """Median seconds of the import call, its stored series deleted before each repeat; and
    of Orthanc storing the same file alone (a plain upload), which the call includes."""
    times, uploads = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        response = server.post(
            f"/series/{series_id}/segmesh/import",
            data=data,
            headers={"X-SegMesh-Fields": json.dumps({"To": kind})},
        )
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["Instances"][0]["Status"] == "Success", answer
        stored = server.get(f"/instances/{answer['Instances'][0]['ID']}/file").content
        server.session.delete(f"{server.url}/series/{answer['Series']}").raise_for_status()
        start = time.perf_counter()
        server.upload(stored)
        uploads.append(time.perf_counter() - start)
        server.session.delete(f"{server.url}/series/{answer['Series']}").raise_for_status()
    return statistics.median(times), statistics.median(uploads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--segments", type=int, default=100)
    arguments = parser.parse_args()
    shape = (arguments.slices, 512, 512)
    images = builders.ct_series(shape, SPACING, ORIGIN, rescale_intercept=-1024)
    # Type 2 attributes plain highdicom reads from the first image (segmesh fills them itself).
    for image in images:
        for keyword in PATIENT_AND_STUDY_KEYWORDS:
            setattr(image, keyword, image.get(keyword, ""))
    geometry = geometry_from_images(images)[0]
    labels = builders.lattice_ellipsoids(
        shape,
        (SPACING[1], SPACING[0], SPACING[2]),
        tuple(geometry.affine[:3, 3]),
        arguments.segments,
    )
    count = int(labels.max())
    data = label_files.nifti(labels, geometry.affine)
    print(
        f"{count} segments on {shape} ({np.count_nonzero(labels) / labels.size:.1%} labelled), "
        f"NIfTI {len(data) / 1e6:.1f} MB; repeats {arguments.repeats}"
    )
    headers = [
        pydicom.dcmread(io.BytesIO(encode(image)), stop_before_pixels=True) for image in images
    ]
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "ct").mkdir()
        for k, image in enumerate(images):
            image.save_as(folder / "ct" / f"{k:04d}.dcm", enforce_file_format=True)
        nifti = folder / "labels.nii.gz"
        nifti.write_bytes(data)
        (folder / "orthanc").mkdir()
        server = OrthancServer(folder / "orthanc")
        server.start()
        try:
            ids = [server.upload(encode(image)) for image in images]
            series_id = server.get(f"/instances/{ids[0]}").json()["ParentSeries"]
            for kind in ("BINARY", "LABELMAP"):
                target = "SEG" if kind == "BINARY" else "LABELMAP"
                rest, upload = rest_seconds(server, series_id, data, target, arguments.repeats)
                built, encoded = highdicom_times(headers, labels, kind, arguments.repeats)
                dcmqi = dcmqi_seconds(folder, nifti, count, kind)
                rows.append((kind, rest, upload, built, encoded, dcmqi))
        finally:
            server.stop()
    print()
    print(
        f"| {'SEG':8} | {'segmesh REST s':>14} | {'of it, Orthanc storing s':>24} | "
        f"{'highdicom build s':>17} | {'+ encode s':>10} | {'REST / highdicom':>16} | "
        f"{'goal <= 1.5':>11} | {'dcmqi s':>8} |"
    )
    print(
        f"|{'-' * 10}|{'-' * 15}:|{'-' * 25}:|{'-' * 18}:|{'-' * 11}:|{'-' * 17}:|"
        f"{'-' * 12}:|{'-' * 9}:|"
    )
    for kind, rest, upload, built, encoded, dcmqi in rows:
        ratio = rest / (built + encoded)
        dcmqi_text = "absent" if dcmqi is None else f"{dcmqi:.2f}"
        print(
            f"| {kind:8} | {rest:14.2f} | {upload:24.2f} | {built:17.2f} | {encoded:10.2f} | "
            f"{ratio:16.2f} | {'met' if ratio <= 1.5 else 'NOT met':>11} | {dcmqi_text:>8} |"
        )


if __name__ == "__main__":
    main()
