"""Writing RT Structure Sets from masks (pydicom): contours traced on each slice."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian
from skimage.measure import find_contours

from ..dicom.attributes import copy_patient_and_study
from ..dicom.provenance import mark_as_written
from ..dicom.sop_classes import RT_STRUCTURE_SET_STORAGE
from ..geometry import VolumeGeometry

FloatArray = npt.NDArray[np.float64]


#: The Defined Terms of ROIGenerationAlgorithm, the same as SEG's SegmentAlgorithmType.
ROI_GENERATION_ALGORITHMS = frozenset({"AUTOMATIC", "SEMIAUTOMATIC", "MANUAL"})


@dataclass(frozen=True)
class RoiMask:
    """One ROI to write: ``mask`` (slices, rows, columns) bool on the image grid, or on a box
    of it whose first voxel is slice, row, column ``start`` (a segment's bounding box: a
    whole-grid mask per ROI makes 1000 ROIs cost 1000 volumes).

    ``generation_algorithm`` is one of :data:`ROI_GENERATION_ALGORITHMS`, or empty where
    unknown (ROIGenerationAlgorithm is type 2); ``generation_description`` names the algorithm
    (ROIGenerationDescription, left out where empty).
    """

    number: int
    name: str
    color: tuple[int, int, int]
    interpreted_type: str
    mask: npt.NDArray[np.bool_]
    generation_algorithm: str = ""
    generation_description: str = ""
    start: tuple[int, int, int] = (0, 0, 0)


def mask_contours(mask: npt.NDArray[np.bool_]) -> list[FloatArray]:
    """Closed contours of a (rows, columns) mask as (N, 2) [column, row] index coordinates.

    Traced at level 0.5 between voxel centres, so every voxel centre of the mask is inside
    under the even-odd rule and every other centre is outside; holes come out as inner contours.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return []
    # Tracing the bounding box only: a whole 512 x 512 slice per small ROI is most of the time.
    top, left = int(rows[0]), int(columns[0])
    box = mask[top : int(rows[-1]) + 1, left : int(columns[-1]) + 1]
    padded = np.pad(box.astype(np.float32), 1)
    offset = np.array([top - 1.0, left - 1.0])  # undo the padding and the crop
    contours = []
    for contour in find_contours(padded, 0.5):
        points = contour[:-1] + offset  # drop the repeated closing point
        if len(points) >= 3:
            contours.append(np.asarray(points[:, ::-1], dtype=np.float64))
    return contours


def _decimal_strings(values: FloatArray) -> list[str]:
    # DS values are at most 16 characters.
    return [f"{value:.6g}" for value in values]


def write_rtstruct(
    images: Sequence[Dataset],
    geometry: VolumeGeometry,
    rois: Iterable[RoiMask],
    series_instance_uid: str,
    sop_instance_uid: str,
    label: str = "segmesh",
) -> Dataset:
    """An RT Structure Set on ``images`` (sorted as the slices of ``geometry``); ``rois`` is
    iterated once, so a generator can build one mask at a time."""
    reference = images[0]
    now = datetime.datetime.now()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UID(RT_STRUCTURE_SET_STORAGE)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE
    ds.SOPInstanceUID = UID(sop_instance_uid)
    copy_patient_and_study(reference, ds)
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = 200
    ds.SeriesDescription = label
    ds.OperatorsName = ""
    ds.FrameOfReferenceUID = geometry.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    mark_as_written(ds)
    ds.InstanceNumber = 1
    ds.StructureSetLabel = label
    ds.StructureSetDate = now.strftime("%Y%m%d")
    ds.StructureSetTime = now.strftime("%H%M%S")

    contour_images = DicomSequence()
    for image in images:
        item = Dataset()
        item.ReferencedSOPClassUID = image.SOPClassUID
        item.ReferencedSOPInstanceUID = image.SOPInstanceUID
        contour_images.append(item)
    series_item = Dataset()
    series_item.SeriesInstanceUID = reference.SeriesInstanceUID
    series_item.ContourImageSequence = contour_images
    study_item = Dataset()
    study_item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management
    study_item.ReferencedSOPInstanceUID = reference.StudyInstanceUID
    study_item.RTReferencedSeriesSequence = DicomSequence([series_item])
    frame_item = Dataset()
    frame_item.FrameOfReferenceUID = geometry.frame_of_reference_uid
    frame_item.RTReferencedStudySequence = DicomSequence([study_item])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame_item])

    ds.StructureSetROISequence = DicomSequence()
    ds.ROIContourSequence = DicomSequence()
    ds.RTROIObservationsSequence = DicomSequence()
    for roi in rois:
        roi_item = Dataset()
        roi_item.ROINumber = roi.number
        roi_item.ReferencedFrameOfReferenceUID = geometry.frame_of_reference_uid
        roi_item.ROIName = roi.name
        roi_item.ROIGenerationAlgorithm = roi.generation_algorithm
        if roi.generation_description:
            roi_item.ROIGenerationDescription = roi.generation_description
        ds.StructureSetROISequence.append(roi_item)

        contours = DicomSequence()
        first, row, column = roi.start
        shift = np.array([column, row])  # [column, row] of the mask's first voxel
        for offset, plane in enumerate(roi.mask):
            if not plane.any():
                continue
            k = first + offset
            for points in mask_contours(plane):
                ijk = np.c_[points + shift, np.full(len(points), k)]
                contour = Dataset()
                image_item = Dataset()
                image_item.ReferencedSOPClassUID = images[k].SOPClassUID
                image_item.ReferencedSOPInstanceUID = images[k].SOPInstanceUID
                contour.ContourImageSequence = DicomSequence([image_item])
                contour.ContourGeometricType = "CLOSED_PLANAR"
                contour.NumberOfContourPoints = len(points)
                contour.ContourNumber = len(contours) + 1
                contour.ContourData = _decimal_strings(geometry.index_to_lps(ijk).ravel())
                contours.append(contour)
        contour_item = Dataset()
        contour_item.ReferencedROINumber = roi.number
        contour_item.ROIDisplayColor = list(roi.color)
        contour_item.ContourSequence = contours
        ds.ROIContourSequence.append(contour_item)

        observation = Dataset()
        observation.ObservationNumber = roi.number
        observation.ReferencedROINumber = roi.number
        observation.RTROIInterpretedType = roi.interpreted_type
        observation.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(observation)
    return ds
