"""Label maps in (the core of ``POST /series/{id}/segmesh/import``): each file format, each
target, the grid checked (same, flipped, permuted, cropped: exact; anything else a 422 unless
resampled), the segments described from the file, the fields and dcmqi templates, and bad
files refused with a 4xx."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import highdicom as hd
import nrrd
import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset
from scipy import ndimage

from segmesh.dicom.part10 import part10
from segmesh.errors import BadRequestError, LimitExceededError, SegMeshError, UnprocessableError
from segmesh.geometry import geometry_from_images
from segmesh.imports import ImportOptions, Match
from segmesh.options import LabelMapOptions
from segmesh.requests.import_fields import import_options
from segmesh.settings import Settings
from segmesh.sources import to_labelmap
from segmesh.work import ImportLabelMap
from tests import label_files
from tests.builders import ct_series, ellipsoid_labels
from tests.conversion_checks import dice, validation_errors

SHAPE = (12, 20, 16)
CENTRES = [[5, 6, 4], [10, 12, 7], [8, 10, 6]]
RADII = [[3, 3, 2], [4, 5, 3], [2, 2, 2]]


@pytest.fixture(scope="module")
def images() -> list[Dataset]:
    """An oblique-free CT with uneven row and column spacing, off the origin."""
    return ct_series(SHAPE, (0.8, 0.7, 2.5), origin=(-5.0, 3.0, 10.0))


@pytest.fixture(scope="module")
def labels() -> npt.NDArray[np.uint8]:
    """Three ellipsoids, the third inside the second's box (values 1, 2, 3)."""
    return ellipsoid_labels(SHAPE, CENTRES, RADII)


def affine_of(images: list[Dataset]) -> npt.NDArray[np.float64]:
    return geometry_from_images(images)[0].affine


def run(images: list[Dataset], data: bytes, fields: dict[str, Any] | None = None) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        work = ImportLabelMap(
            file=data,
            options=import_options(fields or {}),
            image_files=[part10(ds) for ds in images],
            settings=Settings(),
            output_folder=folder,
        )
        result = work.run()
        # The files, read before their folder goes, stand in for their paths.
        written = tuple(
            SimpleNamespace(
                target=target.target,
                objects=tuple(
                    Written(Path(o.path).read_bytes(), o.sop_class_uid, o.segments)
                    for o in target.objects
                ),
            )
            for target in result.written
        )
        return SimpleNamespace(**{**vars_of(result), "written": written})


def vars_of(result: Any) -> dict[str, Any]:
    return {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}


@dataclasses.dataclass(frozen=True)
class Written:
    """An imported object as the tests read it: its Part-10 ``file``."""

    file: bytes
    sop_class_uid: str
    segments: tuple[int, ...]


def read_back(written: Written, images: list[Dataset]) -> npt.NDArray[np.uint16]:
    """The stored object's labels [k, j, i] as the file's values (a BINARY SEG renumbers)."""
    dataset = pydicom.dcmread(io.BytesIO(written.file))
    labelmap = to_labelmap(dataset, images, LabelMapOptions(), Settings())
    renumbered = dataset.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4"
    values = np.zeros(labelmap.geometry.shape, dtype=np.uint16)
    for index, segment in enumerate(labelmap.segments):
        value = written.segments[index] if renumbered else segment.number
        values[labelmap.layers[segment.layer] == segment.value] = value
    return values


def check_rtstruct(got: npt.NDArray[Any], expected: npt.NDArray[Any]) -> None:
    """Dice at least 0.99 per segment, and no voxel outside a one-voxel band."""
    for value in np.unique(expected[expected > 0]):
        mine, theirs = got == value, expected == value
        assert dice(mine, theirs) >= 0.99
        band = ndimage.binary_dilation(theirs)
        assert not np.any(mine & ~band)


def files_of(labels: npt.NDArray[Any], affine: npt.NDArray[np.float64]) -> dict[str, Any]:
    """The label map in every format: (file, fields)."""
    return {
        "nifti1": (label_files.nifti(labels, affine), {}),
        "nifti2": (label_files.nifti(labels, affine, version=2), {}),
        "nrrd-lps": (label_files.plain_nrrd(labels, affine), {}),
        "nrrd-ras": (label_files.plain_nrrd(labels, affine, ras=True), {}),
        "npz": (label_files.npz(labels, affine), {}),
        "npy": (label_files.npy(labels), {"Affine": affine.tolist()}),
    }


@pytest.mark.parametrize("file_format", ["nifti1", "nifti2", "nrrd-lps", "nrrd-ras", "npz", "npy"])
@pytest.mark.parametrize("target", ["SEG", "LABELMAP", "RTSTRUCT"])
def test_every_format_reads_back_on_the_series_grid(
    images: list[Dataset], labels: npt.NDArray[np.uint8], file_format: str, target: str
) -> None:
    data, fields = files_of(labels, affine_of(images))[file_format]
    result = run(images, data, {**fields, "To": target})
    assert result.placement.match is Match.SAME
    (written,) = result.written
    (obj,) = written.objects
    got = read_back(obj, images)
    if target == "RTSTRUCT":
        check_rtstruct(got, labels)
    else:
        assert np.array_equal(got, labels)
    dataset = pydicom.dcmread(io.BytesIO(obj.file))
    assert validation_errors(dataset) == []
    assert dataset.StudyInstanceUID == images[0].StudyInstanceUID
    assert dataset.FrameOfReferenceUID == images[0].FrameOfReferenceUID


@pytest.mark.parametrize(
    "change",
    [
        (
            "flip-i",
            lambda lab, aff: label_files.flipped(lab, aff, 0),
            Match.REORIENTED,
            ["-i", "+j", "+k"],
        ),
        (
            "flip-k",
            lambda lab, aff: label_files.flipped(lab, aff, 2),
            Match.REORIENTED,
            ["+i", "+j", "-k"],
        ),
        (
            "permute",
            lambda lab, aff: label_files.permuted(lab, aff, (2, 0, 1)),
            Match.REORIENTED,
            ["+k", "+i", "+j"],
        ),
        (
            "crop",
            lambda lab, aff: label_files.cropped(lab, aff, (1, 2, 1)),
            Match.PART,
            ["+i", "+j", "+k"],
        ),
    ],
    ids=lambda change: change[0],
)
@pytest.mark.parametrize("file_format", ["nifti1", "nrrd-ras", "npz"])
def test_flips_permutations_and_crops_are_mapped_exactly(
    images: list[Dataset], labels: npt.NDArray[np.uint8], change: Any, file_format: str
) -> None:
    _name, move, match, axes = change
    moved, affine = move(labels, affine_of(images))
    data, fields = files_of(moved, affine)[file_format]
    result = run(images, data, {**fields, "To": ["SEG", "LABELMAP"]})
    assert result.placement.match is match
    assert list(result.placement.axes) == axes
    for written in result.written:
        assert np.array_equal(read_back(written.objects[0], images), labels)


def test_a_grid_off_the_series_is_a_422_naming_the_difference(
    images: list[Dataset], labels: npt.NDArray[np.uint8]
) -> None:
    affine = affine_of(images)
    half = affine.copy()
    half[:3, 3] += affine[:3, 0] * 0.5
    with pytest.raises(UnprocessableError, match="between the series' voxels"):
        run(images, label_files.nifti(labels, half))
    coarse = affine.copy()
    coarse[:3, 0] *= 2
    with pytest.raises(
        UnprocessableError, match=r"voxels are 1\.4 x 0\.8 x 2\.5 mm, the series. 0\.7 x 0\.8"
    ):
        run(images, label_files.nifti(labels[:, :, :8], coarse))
    turned = affine.copy()
    turned[:3, :2] = affine[:3, :2] @ np.array([[0.8, -0.6], [0.6, 0.8]])
    with pytest.raises(UnprocessableError, match="not along the series'"):
        run(images, label_files.nifti(labels, turned))


def test_resampling_on_request_is_nearest_neighbour_and_recorded(
    images: list[Dataset], labels: npt.NDArray[np.uint8]
) -> None:
    """A file at twice the resolution in plane: each series voxel takes the label at its centre."""
    affine = affine_of(images)
    fine = affine.copy()
    fine[:3, :2] /= 2
    # Fine voxel 2n lies on coarse voxel n's centre: the resampled labels are the coarse ones.
    fine_labels = np.repeat(np.repeat(labels, 2, axis=1), 2, axis=2)
    data = label_files.nifti(fine_labels, fine)
    with pytest.raises(UnprocessableError):
        run(images, data)
    result = run(images, data, {"Resample": "nearest", "To": ["SEG", "RTSTRUCT"]})
    assert result.placement.match is Match.RESAMPLED
    assert result.skipped == ()
    assert result.placement.to_json()["LabelledVoxelsOutside"] == 0
    seg, rtstruct = (w.objects[0] for w in result.written)
    assert np.array_equal(read_back(seg, images), labels)
    dataset = pydicom.dcmread(io.BytesIO(seg.file))
    assert "resampled" in dataset.ContentDescription
    assert "(resampled)" in dataset.SeriesDescription
    assert "resampled" in pydicom.dcmread(io.BytesIO(rtstruct.file)).StructureSetDescription
    # A label on fine voxels that fall between the series' voxel centres is lost, and said.
    fine_labels[0, 1, 1] = 9
    lost = run(images, label_files.nifti(fine_labels, fine), {"Resample": "nearest"})
    assert lost.skipped == ((9, "Segment 9", "no voxel on the series' grid once resampled"),)


def test_seg_nrrd_layers_names_colours_and_codes(
    images: list[Dataset], labels: npt.NDArray[np.uint8]
) -> None:
    """Two layers, each numbering from 1, and Slicer's terminology: renumbered 1 to 3, the
    overlapping segment kept in a BINARY SEG."""
    first = np.where(labels == 3, 0, labels)
    second = (labels == 3).astype(np.uint8)
    liver = "Segmentation category and type - DICOM master list~SCT^123037004^Anatomical Structure~SCT^10200004^Liver~^^~Anatomic codes~^^~^^"
    segments = [
        {
            "Name": "Liver",
            "Layer": 0,
            "LabelValue": 1,
            "Color": (1.0, 0.0, 0.0),
            "Tags": f"TerminologyEntry:{liver}|",
        },
        {"Name": "Spleen", "Layer": 0, "LabelValue": 2, "Color": (0.0, 1.0, 0.0)},
        {"Name": "Tumour", "Layer": 1, "LabelValue": 1, "Color": (0.0, 0.0, 1.0)},
    ]
    data = label_files.seg_nrrd(np.stack([first, second]), affine_of(images), segments)
    result = run(images, data)
    assert result.file_format == ".seg.nrrd"
    assert [(s.number, s.label, s.color, s.layer) for s in result.segments] == [
        (1, "Liver", (255, 0, 0), 0),
        (2, "Spleen", (0, 255, 0), 0),
        (3, "Tumour", (0, 0, 255), 1),
    ]
    dataset = pydicom.dcmread(io.BytesIO(result.written[0].objects[0].file))
    liver_item = dataset.SegmentSequence[0]
    assert liver_item.SegmentLabel == "Liver"
    assert liver_item.SegmentedPropertyTypeCodeSequence[0].CodeValue == "10200004"
    assert liver_item.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "123037004"
    assert np.array_equal(read_back(result.written[0].objects[0], images), labels)


def test_fields_and_dcmqi_template(images: list[Dataset], labels: npt.NDArray[np.uint8]) -> None:
    """Labels, colours, codes and the algorithm from the fields; a dcmqi template as is;
    unlisted labels skipped with their reason."""
    data = label_files.nifti(labels, affine_of(images))
    template = {
        "ContentCreatorName": "Reader1",
        "ClinicalTrialSeriesID": "Session1",
        "SeriesDescription": "TotalSegmentator",
        "SeriesNumber": "300",
        "segmentAttributes": [
            [
                {
                    "labelID": 1,
                    "SegmentDescription": "Liver",
                    "SegmentAlgorithmType": "AUTOMATIC",
                    "SegmentAlgorithmName": "TotalSegmentator",
                    "SegmentedPropertyCategoryCodeSequence": {
                        "CodeValue": "123037004",
                        "CodingSchemeDesignator": "SCT",
                        "CodeMeaning": "Anatomical Structure",
                    },
                    "SegmentedPropertyTypeCodeSequence": {
                        "CodeValue": "10200004",
                        "CodingSchemeDesignator": "SCT",
                        "CodeMeaning": "Liver",
                    },
                    "recommendedDisplayRGBValue": [221, 130, 101],
                },
                {"labelID": 2, "SegmentLabel": "Spleen", "SegmentAlgorithmType": "MANUAL"},
            ]
        ],
    }
    result = run(images, data, template)
    assert result.skipped == ((3, "Segment 3", "not among the Segments asked for"),)
    dataset = pydicom.dcmread(io.BytesIO(result.written[0].objects[0].file))
    assert validation_errors(dataset) == []
    assert dataset.SeriesDescription == "TotalSegmentator"
    assert dataset.ContentCreatorName == "Reader1"
    assert dataset.ClinicalTrialSeriesID == "Session1"
    liver, spleen = dataset.SegmentSequence
    assert (liver.SegmentLabel, liver.SegmentAlgorithmType) == ("Liver", "AUTOMATIC")
    assert liver.SegmentAlgorithmName == "TotalSegmentator"
    assert liver.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Liver"
    assert (spleen.SegmentLabel, spleen.SegmentAlgorithmType) == ("Spleen", "MANUAL")

    fields = {
        "To": ["LABELMAP", "RTSTRUCT"],
        "Algorithm": {"Name": "nnU-Net", "Version": "2.5", "Type": "SEMIAUTOMATIC"},
        "Segments": [{"Value": 2, "Label": "Spleen", "Color": [10, 20, 30]}, {"Value": 3}],
    }
    labelmap_seg, rtstruct = (w.objects[0] for w in run(images, data, fields).written)
    dataset = pydicom.dcmread(io.BytesIO(labelmap_seg.file))
    assert validation_errors(dataset) == []
    items = {int(item.SegmentNumber): item for item in dataset.SegmentSequence}
    assert (items[2].SegmentLabel, items[3].SegmentLabel) == ("Spleen", "Segment 3")
    assert items[2].SegmentAlgorithmType == "SEMIAUTOMATIC"
    identification = items[2].SegmentationAlgorithmIdentificationSequence[0]
    assert (identification.AlgorithmName, identification.AlgorithmVersion) == ("nnU-Net", "2.5")
    structure_set = pydicom.dcmread(io.BytesIO(rtstruct.file))
    assert validation_errors(structure_set) == []
    assert [roi.ROIName for roi in structure_set.StructureSetROISequence] == ["Spleen", "Segment 3"]


def test_same_file_and_fields_give_the_same_uids(
    images: list[Dataset], labels: npt.NDArray[np.uint8]
) -> None:
    data = label_files.nifti(labels, affine_of(images))

    def uids(fields: dict[str, Any]) -> list[str]:
        objects = [o for w in run(images, data, fields).written for o in w.objects]
        return [str(pydicom.dcmread(io.BytesIO(o.file)).SOPInstanceUID) for o in objects]

    assert uids({"To": "SEG"}) == uids({"To": "SEG"})
    assert uids({"To": "SEG"}) != uids({"To": "SEG", "Segments": {"1": "Liver"}})


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda lab, aff: label_files.nifti(lab.astype(np.float32) + 0.5, aff),
            BadRequestError,
            "non-integer",
        ),
        (
            lambda lab, aff: label_files.nifti(lab.astype(np.int16) - 1, aff),
            BadRequestError,
            "0..65535",
        ),
        (
            lambda lab, aff: label_files.nifti(np.stack([lab, lab], -1), aff),
            UnprocessableError,
            "3-D",
        ),
        (lambda lab, aff: b"\x00" * 400, BadRequestError, "Unknown file format"),
        (lambda lab, aff: label_files.npy(lab), BadRequestError, "affine"),
        (lambda lab, aff: b"NRRD0004\nnonsense", BadRequestError, "NRRD"),
    ],
    ids=["fractions", "negative", "4d", "foreign", "npy-without-affine", "broken-nrrd"],
)
def test_bad_files_are_a_4xx(
    images: list[Dataset], labels: npt.NDArray[np.uint8], make: Any, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        run(images, make(labels, affine_of(images)))


def test_limits(images: list[Dataset], labels: npt.NDArray[np.uint8], tmp_path: Path) -> None:
    data = label_files.nifti(labels, affine_of(images))
    settings = Settings(max_voxels=1000)
    files = [part10(ds) for ds in images]
    work = ImportLabelMap(
        file=data,
        options=ImportOptions(),
        image_files=files,
        settings=settings,
        output_folder=str(tmp_path),
    )
    with pytest.raises(LimitExceededError, match="MaxVoxels"):
        work.run()
    with pytest.raises(LimitExceededError, match="MaxSegments"):
        dataclasses.replace(work, settings=Settings(max_segments=2)).run()


@pytest.mark.parametrize(
    "fields",
    [
        {"To": "MESH"},
        {"Segments": [{"Value": 0}]},
        {"Segments": [{"Value": 1, "Color": [300, 0, 0]}]},
        {"Segments": [{"Value": 1, "Category": {"CodeValue": "1"}}]},
        {"Algorithm": {"Type": "GUESSED"}},
        {"Resample": "cubic"},
        {"Compression": "JPEG"},
        {"Compression": "RLE", "To": "SEG"},
        {"Tags": {"PatientName": "Other^Patient"}},
        {"Affine": [[1, 0], [0, 1]]},
        {"Unknown": 1},
    ],
)
def test_bad_fields_are_a_400(fields: dict[str, Any]) -> None:
    with pytest.raises(SegMeshError) as raised:
        import_options(fields)
    assert raised.value.http_status == 400


def on_series_grid(
    array: npt.NDArray[Any], affine: npt.NDArray[np.float64], images: list[Dataset]
) -> npt.NDArray[np.int64]:
    """A peer's ``array`` whose index [a, b, c] lies at ``affine @ [a, b, c, 1]`` (LPS mm),
    pasted on the series' grid [k, j, i]; every voxel must fall on a series voxel."""
    geometry = geometry_from_images(images)[0]
    indices = np.indices(array.shape).reshape(3, -1).T.astype(np.float64)
    series = geometry.lps_to_index(indices @ affine[:3, :3].T + affine[:3, 3])
    assert np.abs(series - np.rint(series)).max() < 1e-3
    i, j, k = np.rint(series).astype(int).T
    pasted = np.zeros(geometry.shape, dtype=np.int64)
    pasted[k, j, i] = array.reshape(-1)
    return pasted


def test_dcmqi_and_highdicom_read_what_an_import_writes(
    images: list[Dataset], labels: npt.NDArray[np.uint8], tmp_path: Any
) -> None:
    """A flipped NIfTI imported as BINARY and LABELMAP SEG; dcmqi's segimage2itkimage and
    highdicom's get_volume give the file's labels back on the series' grid."""
    moved, affine = label_files.flipped(labels, affine_of(images), 1)
    result = run(images, label_files.nifti(moved, affine), {"To": ["SEG", "LABELMAP"]})
    tool = shutil.which("segimage2itkimage", path=str(Path(sys.executable).parent))
    assert tool is not None, "dcmqi is a test requirement"
    for written in result.written:
        (obj,) = written.objects
        renumbered = written.target.value == "SEG"
        source_of = dict(enumerate(obj.segments, start=1)) if renumbered else None

        seg = hd.seg.segread(io.BytesIO(obj.file))
        volume = seg.get_volume(combine_segments=True, relabel=False)
        got = on_series_grid(volume.array, volume.affine, images)
        if source_of is not None:
            table = np.zeros(max(source_of) + 1, dtype=np.int64)
            table[list(source_of)] = list(source_of.values())
            got = table[got]
        assert np.array_equal(got, labels), f"highdicom, {written.target.value}"

        path = tmp_path / f"{written.target.value}.dcm"
        path.write_bytes(obj.file)
        out = tmp_path / written.target.value
        out.mkdir()
        subprocess.run(
            [tool, "--inputDICOM", str(path), "--outputDirectory", str(out), "-t", "nrrd"],
            check=True,
            capture_output=True,
        )
        combined = np.zeros(labels.shape, dtype=np.int64)
        for segment_file in sorted(out.glob("*.nrrd")):
            data, header = nrrd.read(str(segment_file))
            nrrd_affine = np.eye(4)
            nrrd_affine[:3, :3] = np.asarray(header["space directions"]).T
            nrrd_affine[:3, 3] = header["space origin"]
            pasted = on_series_grid(data, nrrd_affine, images)
            if source_of is not None:
                pasted = np.where(pasted > 0, source_of[int(segment_file.stem)], 0)
            combined = np.where(pasted > 0, pasted, combined)
        assert np.array_equal(combined, labels), f"dcmqi, {written.target.value}"
