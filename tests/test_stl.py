"""Unit tests of STL files, the Encapsulated STL dataset, thresholding and NIfTI input."""

from __future__ import annotations

import copy
import datetime
import gzip
import io

import nibabel as nib
import numpy as np
import pytest
import trimesh
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from segmesh import __version__
from segmesh.demo import DemoStudy
from segmesh.dicom.part10 import part10
from segmesh.dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from segmesh.errors import BadRequestError, BrokenFileError, UnprocessableError
from segmesh.formats import MeshFormat, binary_stl, export_mesh, nifti_labelmap, read_binary_stl
from segmesh.mesh import (
    Mesh,
    MeshOptions,
    ThresholdOptions,
    build,
    merge,
    threshold_labelmap,
    threshold_mask,
)
from segmesh.models import (
    ModelFiles,
    ModelRequest,
    ModelSource,
    encapsulated_stl,
    icon_pixels,
    stl_document,
)
from segmesh.requests.mesh_fields import threshold_options
from segmesh.settings import Settings
from tests.dciodvfy import dciodvfy_errors, inflated


@pytest.fixture(scope="module")
def liver(demo_study: DemoStudy) -> Mesh:
    mesh = build(demo_study.masks[1], demo_study.geometry, MeshOptions())
    assert mesh is not None
    return mesh


def test_binary_stl_round_trip(liver: Mesh):
    data = binary_stl(liver)
    assert len(data) == 84 + 50 * liver.triangle_count
    back = read_binary_stl(data)
    np.testing.assert_allclose(back.vertices, liver.vertices[liver.faces].reshape(-1, 3), atol=1e-4)
    loaded = trimesh.load_mesh(io.BytesIO(data), file_type="stl")
    assert loaded.is_watertight
    assert loaded.volume == pytest.approx(liver.volume, rel=1e-4)
    # Stored normals agree with the winding (outward).
    stored = np.frombuffer(data, dtype=np.float32, count=3, offset=84)
    np.testing.assert_allclose(stored, liver.face_normals[0], atol=1e-5)
    with pytest.raises(BrokenFileError):
        read_binary_stl(data[:500])


@pytest.mark.parametrize("mesh_format", [MeshFormat.OBJ, MeshFormat.PLY, MeshFormat.GLB])
def test_other_formats_load_back(liver: Mesh, mesh_format: MeshFormat):
    loaded = trimesh.load_mesh(
        io.BytesIO(export_mesh(liver, mesh_format)), file_type=mesh_format.value
    )
    assert loaded.volume == pytest.approx(liver.volume, rel=1e-4)
    np.testing.assert_allclose(
        loaded.centroid, trimesh.Trimesh(liver.vertices, liver.faces).centroid, atol=1e-3
    )


def test_bad_format_is_400():
    with pytest.raises(BadRequestError):
        MeshFormat.parse("vrml")


def request_for(demo_study: DemoStudy, parameters=None, tags=None) -> ModelRequest:
    seg = demo_study.seg
    source = ModelSource(
        seg,
        str(seg.FrameOfReferenceUID),
        str(seg.SOPInstanceUID),
        ((str(seg.SeriesInstanceUID), str(seg.SOPClassUID), str(seg.SOPInstanceUID)),),
    )
    return ModelRequest(source, parameters or MeshOptions().to_json(), "models", tags or {})


def test_encapsulated_stl_dataset(demo_study: DemoStudy, liver: Mesh):
    dataset = encapsulated_stl(liver, request_for(demo_study), "1", "Liver", (221, 130, 101), 1)
    data = part10(dataset)
    assert dciodvfy_errors(data) == []
    ds = dcmread(io.BytesIO(data))
    assert ds.SOPClassUID == ENCAPSULATED_STL_STORAGE
    assert ds.Modality == "M3D"
    assert ds.MIMETypeOfEncapsulatedDocument == "model/stl"
    assert ds.StudyInstanceUID == demo_study.seg.StudyInstanceUID
    assert ds.PatientID == demo_study.seg.PatientID
    assert ds.FrameOfReferenceUID == demo_study.seg.FrameOfReferenceUID
    assert ds.ContentDescription == "Liver"
    assert ds.MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    assert ds.MeasurementUnitsCodeSequence[0].CodingSchemeDesignator == "UCUM"
    assert (ds.ModelModification, ds.ModelMirroring) == ("NO", "NO")
    assert ds.SourceInstanceSequence[0].ReferencedSOPInstanceUID == demo_study.seg.SOPInstanceUID
    assert ds.DerivationAlgorithmSequence[0].AlgorithmVersion == __version__
    assert '"Smoothing": "taubin"' in ds.DerivationAlgorithmSequence[0].AlgorithmParameters
    assert list(ds.RecommendedDisplayCIELabValue) == list(
        demo_study.seg.SegmentSequence[0].RecommendedDisplayCIELabValue
    )
    icon = ds.IconImageSequence[0]
    assert (icon.Rows, icon.Columns) == (64, 64)
    assert stl_document(ds) == binary_stl(liver, f"segmesh {__version__} Liver (LPS mm)")
    assert ds.EncapsulatedDocumentLength == len(stl_document(ds))


def test_model_files_are_the_bytes_pydicom_writes(demo_study: DemoStudy, liver: Mesh):
    now = datetime.datetime(2026, 3, 4, 5, 6, 7)
    tags = {"SeriesDescription": "Zum Drucken", "DocumentTitle": "Leber (ärztlich)"}
    # Encoded by segmesh where the tags leave the model's own attributes alone (odd and even
    # lengths, UTF-8), by pydicom where they override one.
    requests = [request_for(demo_study, tags=t) for t in ({}, {"SeriesNumber": 7}, tags)]
    for request in requests:
        files = ModelFiles.of(request, now)
        for key, label, number in (
            ("1", "Liver", 1),
            ("2", "Lèvre: ümlaut 肝", 12),
            ("10", "Left kidney", 345),
        ):
            dataset = encapsulated_stl(liver, request, key, label, (221, 130, 101), number, now)
            data = files.file(liver, key, label, (221, 130, 101), number)
            assert data == part10(dataset)
            written = io.BytesIO()  # written as the document is made: the same bytes
            files.write(written, liver, key, label, (221, 130, 101), number)
            assert written.getvalue() == data
    stored = dcmread(io.BytesIO(data))
    assert (stored.DocumentTitle, stored.ContentDescription) == (tags["DocumentTitle"], label)
    assert (stored.SeriesDescription, stored.InstanceNumber) == ("Zum Drucken", 345)
    assert stored.file_meta.MediaStorageSOPInstanceUID == stored.SOPInstanceUID
    assert dciodvfy_errors(data) == []


def test_models_above_the_size_are_written_deflated(demo_study: DemoStudy, liver: Mesh):
    """Above ``deflate_above`` bytes of STL a model file is Deflated Explicit VR Little
    Endian: its dataset the plain file's bytes deflated, read back by pydicom as the same
    dataset, valid, and smaller."""
    now = datetime.datetime(2026, 3, 4, 5, 6, 7)
    request = request_for(demo_study)
    size = len(binary_stl(liver, "header"))
    written = {}
    for deflate_above in (None, size, size - 1, 0):
        handle = io.BytesIO()
        files = ModelFiles.of(request, now, deflate_above)
        files.write(handle, liver, "1", "Liver", (221, 130, 101), 1)
        written[deflate_above] = handle.getvalue()
    plain = written[None]
    assert written[size] == plain  # at the size itself: plain
    assert written[size - 1] == written[0]
    deflated = written[0]
    assert len(deflated) < 0.75 * len(plain)
    assert inflated(deflated) == plain
    ds = dcmread(io.BytesIO(deflated))
    assert ds.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian
    assert ds == dcmread(io.BytesIO(plain))
    assert stl_document(ds) == binary_stl(liver, f"segmesh {__version__} Liver (LPS mm)")
    assert dciodvfy_errors(deflated) == []


def test_stl_document_of_a_broken_instance_is_400(demo_study: DemoStudy, liver: Mesh):
    dataset = encapsulated_stl(liver, request_for(demo_study), "1", "Liver", (221, 130, 101), 1)
    no_length = copy.deepcopy(dataset)
    del no_length.EncapsulatedDocumentLength
    assert stl_document(no_length) == stl_document(dataset)
    bad_length = copy.deepcopy(dataset)
    bad_length.EncapsulatedDocumentLength = 10**9
    with pytest.raises(BrokenFileError, match="EncapsulatedDocumentLength"):
        stl_document(bad_length)
    del dataset.EncapsulatedDocument
    with pytest.raises(BrokenFileError, match="EncapsulatedDocument"):
        stl_document(dataset)


def test_uids_are_deterministic(demo_study: DemoStudy, liver: Mesh):
    first = encapsulated_stl(liver, request_for(demo_study), "1", "Liver", (1, 2, 3), 1)
    again = encapsulated_stl(liver, request_for(demo_study), "1", "Liver", (1, 2, 3), 1)
    other_segment = encapsulated_stl(liver, request_for(demo_study), "2", "Liver", (1, 2, 3), 2)
    other_parameters = encapsulated_stl(
        liver, request_for(demo_study, {"Smoothing": "none"}), "1", "Liver", (1, 2, 3), 1
    )
    assert first.SOPInstanceUID == again.SOPInstanceUID
    assert first.SeriesInstanceUID == again.SeriesInstanceUID == other_segment.SeriesInstanceUID
    assert first.ModelGroupUID == other_segment.ModelGroupUID
    assert first.SOPInstanceUID != other_segment.SOPInstanceUID
    assert first.SOPInstanceUID != other_parameters.SOPInstanceUID
    assert first.SeriesInstanceUID != other_parameters.SeriesInstanceUID


def test_tags_override_and_protected_tags(demo_study: DemoStudy, liver: Mesh):
    request = request_for(demo_study, tags={"SeriesDescription": "Print me", "SeriesNumber": 7})
    dataset = encapsulated_stl(liver, request, "1", "Liver", (1, 2, 3), 1)
    assert (dataset.SeriesDescription, dataset.SeriesNumber) == ("Print me", 7)
    bad = (
        {"SOPInstanceUID": "1.2"},
        {"NoSuchKeyword": "x"},
        {"PatientName": ["a"]},
        {"ContentDate": "yesterday"},
        {"SeriesNumber": 1.5},
        {"SeriesDescription": "x" * 65},
        {"Rows": 5},
        {"PixelData": "x"},
    )
    for tags in bad:
        with pytest.raises(BadRequestError):
            encapsulated_stl(liver, request_for(demo_study, tags=tags), "1", "L", (1, 2, 3), 1)


def test_icon_shows_the_liver_on_the_images_left(liver: Mesh):
    icon = icon_pixels(liver)
    assert icon.shape == (64, 64)
    lit = icon > 0
    assert 0.3 < lit.mean() < 0.95
    # Seen from the front, the model's lateral extremes fill the icon's width; its surface
    # facing the viewer (the front) is brighter than its rim.
    assert icon[28:36, 28:36].mean() > icon[lit].mean()


def test_icon_is_not_mirrored(demo_study: DemoStudy):
    liver, spleen = (build(demo_study.masks[n], demo_study.geometry, MeshOptions()) for n in (1, 2))
    assert liver is not None
    assert spleen is not None
    icon = icon_pixels(merge([liver, spleen]))
    # Liver (patient's right, bigger) on the image's left; spleen (patient's left) on the right.
    assert (icon[:, :32] > 0).sum() > 2 * (icon[:, 32:] > 0).sum()


def test_threshold_finds_the_vertebra(demo_study: DemoStudy):
    labelmap = threshold_labelmap(demo_study.images, ThresholdOptions(400.0), Settings())
    np.testing.assert_array_equal(labelmap.mask(1), demo_study.masks[5])
    assert labelmap.geometry.shape == demo_study.geometry.shape
    np.testing.assert_allclose(labelmap.geometry.affine, demo_study.geometry.affine)


def test_threshold_applies_the_rescale(demo_study: DemoStudy):
    images = [copy.deepcopy(image) for image in demo_study.images]
    for image in images:
        image.RescaleIntercept = -1000  # stored values now read 1000 HU lower
    labelmap = threshold_labelmap(images, ThresholdOptions(-600.0), Settings())
    np.testing.assert_array_equal(labelmap.mask(1), demo_study.masks[5])


def test_threshold_applies_a_functional_group_rescale(demo_study: DemoStudy):
    """An enhanced (multi-frame) CT carries its rescale in the functional groups, not at the
    top level: thresholding must use it, as ``include=image`` does."""
    first = demo_study.images[0]
    enhanced = copy.deepcopy(first)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        delattr(enhanced, keyword)
    del enhanced.RescaleIntercept, enhanced.RescaleSlope
    enhanced.NumberOfFrames = len(demo_study.images)
    enhanced.PixelData = b"".join(bytes(image.PixelData) for image in demo_study.images)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = first.PixelSpacing
    measures.SliceThickness = first.SliceThickness
    orientation = Dataset()
    orientation.ImageOrientationPatient = first.ImageOrientationPatient
    rescale = Dataset()
    rescale.RescaleIntercept, rescale.RescaleSlope, rescale.RescaleType = -1000, 1, "HU"
    shared.PixelMeasuresSequence = [measures]
    shared.PlaneOrientationSequence = [orientation]
    shared.PixelValueTransformationSequence = [rescale]
    enhanced.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for image in demo_study.images:
        position = Dataset()
        position.ImagePositionPatient = image.ImagePositionPatient
        frame = Dataset()
        frame.PlanePositionSequence = [position]
        per_frame.append(frame)
    enhanced.PerFrameFunctionalGroupsSequence = per_frame
    labelmap = threshold_labelmap([enhanced], ThresholdOptions(-600.0), Settings())
    np.testing.assert_array_equal(labelmap.mask(1), demo_study.masks[5])


def test_threshold_window_and_keep_largest():
    volume = np.zeros((6, 20, 20), dtype=np.float32)
    volume[1:5, 2:10, 2:10] = 100  # big
    volume[1:3, 14:17, 14:17] = 100  # small
    volume[1:5, 12:14, 2:4] = 500  # above Upper
    both = threshold_mask(volume, ThresholdOptions(50.0, 200.0))
    assert both.sum() == 4 * 64 + 2 * 9
    largest = threshold_mask(volume, ThresholdOptions(50.0, 200.0, keep_largest=1))
    assert largest.sum() == 4 * 64
    assert not largest[1, 15, 15]


@pytest.mark.parametrize(
    "body",
    [{}, {"Threshold": "high"}, {"Threshold": 5, "Upper": 1}, {"Threshold": 1, "KeepLargest": 0}],
)
def test_bad_threshold_bodies_are_400(body):
    with pytest.raises(BadRequestError):
        threshold_options(body)


def demo_nifti(demo_study: DemoStudy, code: str = "sform", gzipped: bool = True) -> bytes:
    """The demo masks as a NIfTI label map in RAS, as other tools write them."""
    volume = np.zeros(demo_study.geometry.shape, dtype=np.uint8)
    for number, mask in demo_study.masks.items():
        volume[mask & (volume == 0)] = number
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ demo_study.geometry.affine
    image = nib.Nifti1Image(volume.transpose(2, 1, 0), None)
    if code == "sform":
        image.set_sform(ras, code=1)
        image.set_qform(np.eye(4), code=0)
    elif code == "qform":
        image.set_qform(ras, code=1)
        image.set_sform(np.eye(4), code=0)
    else:
        image.set_sform(ras, code=0)
        image.set_qform(ras, code=0)
    data = image.to_bytes()
    return gzip.compress(data) if gzipped else data


@pytest.mark.parametrize(("code", "gzipped"), [("sform", True), ("qform", False)])
def test_nifti_labelmap_is_in_lps(demo_study: DemoStudy, code: str, gzipped: bool):
    data = demo_nifti(demo_study, code, gzipped)
    labelmap = nifti_labelmap(data, {1: "Liver"}, "1.2.3", Settings())
    assert [segment.label for segment in labelmap.segments] == ["Liver"]
    np.testing.assert_allclose(labelmap.geometry.affine, demo_study.geometry.affine, atol=1e-4)
    np.testing.assert_array_equal(labelmap.mask(1), demo_study.masks[1])
    mesh = build(labelmap.mask(1), labelmap.geometry, MeshOptions())
    assert mesh is not None
    assert mesh.centroid[0] == pytest.approx(-30.0, abs=1.0)


def test_nifti_all_labels_by_default(demo_study: DemoStudy):
    labelmap = nifti_labelmap(demo_nifti(demo_study), {}, "1.2.3", Settings())
    assert [segment.number for segment in labelmap.segments] == [1, 2, 3, 4, 5, 6]
    assert labelmap.segment(3).label == "Label 3"


def test_bad_niftis(demo_study: DemoStudy):
    with pytest.raises(UnprocessableError):
        nifti_labelmap(demo_nifti(demo_study, "none"), {}, "1.2.3", Settings())
    with pytest.raises(BrokenFileError):
        nifti_labelmap(b"\x1f\x8bnot gzip", {}, "1.2.3", Settings())
    with pytest.raises(BrokenFileError):
        nifti_labelmap(b"hello" * 100, {}, "1.2.3", Settings())
    with pytest.raises(BadRequestError):
        nifti_labelmap(demo_nifti(demo_study), {42: "Nothing"}, "1.2.3", Settings())
    floats = nib.Nifti1Image(np.full((4, 4, 4), 0.5, dtype=np.float32), np.eye(4))
    with pytest.raises(BadRequestError):
        nifti_labelmap(floats.to_bytes(), {}, "1.2.3", Settings())


def test_nifti_with_a_singular_affine_is_422():
    """A zero voxel size would give flat, zero-volume models: refused, not stored."""
    volume = np.zeros((10, 10, 10), dtype=np.uint8)
    volume[3:6, 3:6, 3:6] = 1
    flat = np.diag([1.0, 1.0, 0.0, 1.0])
    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_sform(flat, code=1)
    data = nib.Nifti1Image(volume, None, header).to_bytes()
    with pytest.raises(UnprocessableError, match="Degenerate NIfTI affine"):
        nifti_labelmap(data, {}, "1.2.3", Settings())


def test_a_malformed_copied_attribute_is_a_broken_file_not_a_crash(demo_study: DemoStudy) -> None:
    # Found by the fuzz test: an unknown VR in AccessionNumber surfaced when a model copied the
    # source's study attributes, outside every other pydicom boundary.
    raw = bytearray(part10(demo_study.seg))
    at = raw.find(b"\x08\x00\x50\x00")  # (0008,0050) AccessionNumber, explicit VR
    raw[at + 4 : at + 6] = b"\x53\xd2"
    dataset = dcmread(io.BytesIO(bytes(raw)))
    with pytest.raises(BrokenFileError, match="Unknown Value Representation"):
        ModelSource(dataset, "1.2.3", "key")
