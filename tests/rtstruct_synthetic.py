"""Synthetic image series and RT-STRUCTs built from polygons in index space, with the exact
expected masks computed independently (per-polygon skimage.draw.polygon, XOR)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid
from skimage.draw import polygon as draw_polygon

from tests import builders

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
STUDY_INSTANCE_UID = "1.2.826.0.1.3680043.8.498.1"


@dataclass
class Series:
    """Image planes: ``positions`` (slices, 3) ImagePositionPatient in slice order,
    ``orientation`` (6,), ``pixel_spacing`` (row, column) mm, ``shape`` (rows, columns)."""

    positions: npt.NDArray[np.float64]
    orientation: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    pixel_spacing: tuple[float, float] = (0.8, 0.6)
    shape: tuple[int, int] = (40, 50)
    frame_of_reference_uid: str = field(default_factory=generate_uid)
    series_instance_uid: str = field(default_factory=generate_uid)
    sop_instance_uids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.sop_instance_uids:
            self.sop_instance_uids = [generate_uid() for _ in self.positions]

    def to_lps(self, k: int, ij: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """(N, 2) [column, row] indices on slice k to (N, 3) LPS mm."""
        ij = np.asarray(ij, dtype=np.float64)
        row_direction = np.array(self.orientation[:3])
        column_direction = np.array(self.orientation[3:])
        return np.asarray(
            self.positions[k]
            + ij[:, :1] * self.pixel_spacing[1] * row_direction
            + ij[:, 1:] * self.pixel_spacing[0] * column_direction
        )

    def images(self) -> list[Dataset]:
        """One CT dataset per slice (pixels all 0), in slice order."""
        return builders.ct_images(
            self.positions,
            self.pixel_spacing,
            np.zeros((len(self.positions), *self.shape), dtype=np.int16),
            self.orientation,
            study=builders.study_dataset("Synthetic^RT", "SYNTHETIC-RT", STUDY_INSTANCE_UID),
            frame_of_reference_uid=self.frame_of_reference_uid,
            series_instance_uid=self.series_instance_uid,
            sop_instance_uids=self.sop_instance_uids,
        )


@dataclass
class Roi:
    """An ROI: ``contours`` are (points (N, 3) LPS mm, ContourGeometricType, referenced
    SOPInstanceUIDs)."""

    number: int
    name: str
    contours: list[tuple[npt.NDArray[np.float64], str, tuple[str, ...]]] = field(
        default_factory=list
    )

    def add(
        self, points: npt.ArrayLike, kind: str = "CLOSED_PLANAR", images: Sequence[str] = ()
    ) -> Roi:
        self.contours.append((np.asarray(points, dtype=np.float64), kind, tuple(images)))
        return self


def rtstruct(
    rois: Sequence[Roi],
    frame_of_reference_uid: str,
    series_instance_uid: str = "",
    roi_frame_of_reference_uid: str = "",
) -> Dataset:
    """An RT Structure Set holding ``rois``, declaring ``frame_of_reference_uid``; its ROIs
    name ``roi_frame_of_reference_uid`` where given (an inconsistent file), else that one."""
    uid = generate_uid()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(RT_STRUCTURE_SET_STORAGE)
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = uid
    ds.PatientID = "SYNTHETIC-RT"
    ds.PatientName = "Synthetic^RT"
    ds.StudyInstanceUID = STUDY_INSTANCE_UID
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "RTSTRUCT"
    ds.StructureSetLabel = "synthetic"
    frame = Dataset()
    frame.FrameOfReferenceUID = frame_of_reference_uid
    if series_instance_uid:
        series = Dataset()
        series.SeriesInstanceUID = series_instance_uid
        image_uids = dict.fromkeys(
            uid for roi in rois for *_, images in roi.contours for uid in images
        )
        series.ContourImageSequence = DicomSequence(_image_references(list(image_uids)))
        study = Dataset()
        study.ReferencedSOPInstanceUID = ds.StudyInstanceUID
        study.RTReferencedSeriesSequence = DicomSequence([series])
        frame.RTReferencedStudySequence = DicomSequence([study])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame])
    ds.StructureSetROISequence = DicomSequence()
    ds.ROIContourSequence = DicomSequence()
    ds.RTROIObservationsSequence = DicomSequence()
    for roi in rois:
        item = Dataset()
        item.ROINumber = roi.number
        item.ROIName = roi.name
        item.ReferencedFrameOfReferenceUID = roi_frame_of_reference_uid or frame_of_reference_uid
        ds.StructureSetROISequence.append(item)
        contour_item = Dataset()
        contour_item.ReferencedROINumber = roi.number
        contour_item.ROIDisplayColor = [255, 0, 0]
        contour_item.ContourSequence = DicomSequence()
        for points, kind, images in roi.contours:
            contour = Dataset()
            contour.ContourGeometricType = kind
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [f"{value:.10g}" for value in points.ravel()]
            if images:
                contour.ContourImageSequence = DicomSequence(_image_references(images))
            contour_item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(contour_item)
        observation = Dataset()
        observation.ObservationNumber = roi.number
        observation.ReferencedROINumber = roi.number
        observation.RTROIInterpretedType = "ORGAN"
        observation.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(observation)
    return ds


def _image_references(image_uids: Sequence[str]) -> list[Dataset]:
    references = []
    for image_uid in image_uids:
        reference = Dataset()
        reference.ReferencedSOPClassUID = CTImageStorage
        reference.ReferencedSOPInstanceUID = image_uid
        references.append(reference)
    return references


def expected_slice(polygons: Sequence[npt.ArrayLike], shape: tuple[int, int]) -> npt.NDArray:
    """The exact reference: each (N, 2) [column, row] polygon filled by skimage, XORed."""
    mask = np.zeros(shape, dtype=bool)
    for polygon in polygons:
        points = np.asarray(polygon, dtype=np.float64)
        single = np.zeros(shape, dtype=bool)
        rows, columns = draw_polygon(points[:, 1], points[:, 0], shape)
        single[rows, columns] = True
        mask ^= single
    return mask


def random_polygon(
    rng: np.random.Generator, centre: tuple[float, float], radius: float, count: int = 9
) -> npt.NDArray[np.float64]:
    """A star-shaped polygon (count, 2) [column, row] with non-integer vertices."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = rng.uniform(0.4, 1.0, count) * radius
    return np.c_[centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)]
