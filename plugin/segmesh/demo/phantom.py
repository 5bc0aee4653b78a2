"""The demo study, generated (no downloads) and deterministic: the same UIDs every time.

The CT is 40 axial slices of 120 rows x 160 columns, PixelSpacing 1.2 mm (rows) x 0.9 mm
(columns), 2.5 mm slices, origin away from zero. Organs are placed asymmetrically (the liver on
the patient's right) so that a mirrored or flipped result shows.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

from .. import __version__
from ..dicom.color import rgb_to_cielab
from ..geometry import VolumeGeometry, geometry_from_images
from ..rtstruct.writer import RoiMask, write_rtstruct

SHAPE = (40, 120, 160)  # slices, rows, columns
PIXEL_SPACING = (1.2, 0.9)  # row spacing, column spacing (mm)
SLICE_THICKNESS = 2.5
ORIGIN = (-71.55, -71.4, -48.75)  # ImagePositionPatient of the first slice (mm)
#: Not "segmesh", which marks segmesh's outputs (segmesh.dicom.provenance).
DEMO_MANUFACTURER = "segmesh demo"


@dataclass(frozen=True)
class Organ:
    """An organ of the phantom: an ellipsoid, or a tube along z with a lumen (a ring on each
    slice: the contour with a hole)."""

    number: int
    name: str
    code: Code
    color: tuple[int, int, int]
    hounsfield: int
    centre: tuple[float, float, float]  # LPS mm
    radii: tuple[float, float, float]  # mm
    inner_radius: float = 0.0  # tube lumen; 0 for an ellipsoid

    def mask(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], z: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """Voxels of the organ, from the LPS coordinates of the voxel centres."""
        dx, dy, dz = x - self.centre[0], y - self.centre[1], z - self.centre[2]
        if self.inner_radius:
            r2 = dx**2 + dy**2
            return np.asarray(
                (r2 <= self.radii[0] ** 2)
                & (r2 > self.inner_radius**2)
                & (np.abs(dz) <= self.radii[2])
            )
        return np.asarray(
            (dx / self.radii[0]) ** 2 + (dy / self.radii[1]) ** 2 + (dz / self.radii[2]) ** 2 <= 1.0
        )


ORGANS = (
    Organ(1, "Liver", codes.SCT.Liver, (221, 130, 101), 60, (-30.0, 0.0, 8.0), (26.0, 21.0, 24.0)),
    Organ(
        2, "Spleen", codes.SCT.Spleen, (157, 108, 162), 50, (38.0, 12.0, 12.0), (10.0, 14.0, 16.0)
    ),
    Organ(
        3,
        "Left kidney",
        codes.SCT.Kidney,
        (185, 102, 83),
        35,
        (32.0, 30.0, -18.0),
        (8.0, 10.0, 15.0),
    ),
    Organ(
        4,
        "Right kidney",
        codes.SCT.Kidney,
        (185, 102, 83),
        35,
        (-30.0, 32.0, -22.0),
        (8.0, 10.0, 15.0),
    ),
    Organ(
        5, "Vertebra", codes.SCT.Vertebra, (241, 214, 145), 700, (0.0, 42.0, 0.0), (9.0, 9.0, 200.0)
    ),
    Organ(
        6, "Aorta", codes.SCT.Aorta, (216, 101, 79), 45, (10.0, 24.0, -5.0), (7.0, 7.0, 35.0), 3.5
    ),
)


@dataclass(frozen=True)
class DemoStudy:
    """The generated objects: CT slices (in slice order), the SEG and the RT-STRUCT."""

    images: list[Dataset]
    seg: Dataset
    rtstruct: Dataset
    geometry: VolumeGeometry
    masks: dict[int, npt.NDArray[np.bool_]]


def _uid(*parts: str) -> UID:
    return generate_uid(entropy_srcs=["segmesh-demo", *parts])


def study_attributes(
    patient_name: str, patient_id: str, study_instance_uid: str, study_description: str = ""
) -> Dataset:
    """The patient and study attributes of a generated study (dated 2026-01-01 12:00)."""
    study = Dataset()
    study.SpecificCharacterSet = "ISO_IR 192"
    study.PatientName = patient_name
    study.PatientID = patient_id
    study.PatientBirthDate = ""
    study.PatientSex = "O"
    study.StudyInstanceUID = study_instance_uid
    study.StudyDate = "20260101"
    study.StudyTime = "120000"
    if study_description:
        study.StudyDescription = study_description
    study.ReferringPhysicianName = ""
    study.StudyID = "1"
    study.AccessionNumber = ""
    return study


def ct_slices(
    pixels: npt.NDArray[np.integer],
    positions: npt.ArrayLike,
    pixel_spacing: tuple[float, float],
    study: Dataset,
    *,
    series_instance_uid: str,
    frame_of_reference_uid: str,
    sop_instance_uids: Sequence[str],
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    slice_thickness: float | None = None,
    rescale_intercept: float = 0,
    series_description: str = "Phantom CT",
) -> list[Dataset]:
    """CT images, one a slice, as the demo's: 16-bit signed, MONOCHROME2, explicit VR.

    ``pixels`` (slices, rows, columns) stored values (HU = value + ``rescale_intercept``);
    ``positions`` (slices, 3) ImagePositionPatient, LPS mm; ``pixel_spacing`` (row, column)
    mm; ``orientation`` (6,) ImageOrientationPatient; ``study`` the patient and study
    attributes each image carries; ``slice_thickness`` mm (no SliceThickness where None).
    """
    normal = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    images = []
    for k, position in enumerate(np.asarray(positions, dtype=np.float64)):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = UID(sop_instance_uids[k])
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds.update(study)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_instance_uids[k]
        ds.Modality = "CT"
        ds.SeriesInstanceUID = series_instance_uid
        ds.SeriesNumber = 1
        ds.SeriesDescription = series_description
        ds.Laterality = ""
        ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.Manufacturer = DEMO_MANUFACTURER
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.AcquisitionNumber = 1
        ds.KVP = 120
        ds.PatientPosition = "HFS"
        ds.ImagePositionPatient = [float(v) for v in position]
        ds.ImageOrientationPatient = list(orientation)
        ds.PixelSpacing = list(pixel_spacing)
        if slice_thickness is not None:
            ds.SliceThickness = slice_thickness
        ds.SliceLocation = float(position @ normal)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = pixels.shape[1:]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = rescale_intercept
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter = 40
        ds.WindowWidth = 400
        ds.PixelData = pixels[k].astype("<i2").tobytes()
        images.append(ds)
    return images


def make_demo_study() -> DemoStudy:
    """Generate the demo CT, SEG and RT-STRUCT."""
    k, j, i = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in SHAPE), indexing="ij")
    x = ORIGIN[0] + i * PIXEL_SPACING[1]
    y = ORIGIN[1] + j * PIXEL_SPACING[0]
    z = ORIGIN[2] + k * SLICE_THICKNESS
    body = (x / 66.0) ** 2 + ((y - 5.0) / 58.0) ** 2 <= 1.0
    hounsfield = np.where(body, 20.0, -1000.0)
    masks = {organ.number: organ.mask(x, y, z) & body for organ in ORGANS}
    for organ in ORGANS:
        hounsfield[masks[organ.number]] = organ.hounsfield
    noise = np.random.default_rng(0).normal(0.0, 8.0, SHAPE)
    pixels = np.round(hounsfield + np.where(body, noise, 0.0)).astype(np.int16)

    study = study_attributes("Phantom^Demo", "SEGMESH-DEMO", _uid("study"), "segmesh demo phantom")
    positions = [[ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SLICE_THICKNESS] for k in range(SHAPE[0])]
    images = ct_slices(
        pixels,
        positions,
        PIXEL_SPACING,
        study,
        series_instance_uid=_uid("ct-series"),
        frame_of_reference_uid=_uid("frame-of-reference"),
        sop_instance_uids=[_uid("ct", str(k)) for k in range(SHAPE[0])],
        slice_thickness=SLICE_THICKNESS,
    )
    geometry, _ = geometry_from_images(images)

    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=organ.number,
            segment_label=organ.name,
            segmented_property_category=codes.SCT.Organ,
            segmented_property_type=organ.code,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            display_color=hd.color.CIELabColor.from_dicom_value(rgb_to_cielab(organ.color)),
        )
        for organ in ORGANS
    ]
    seg = hd.seg.Segmentation(
        source_images=images,
        pixel_array=np.stack([masks[organ.number] for organ in ORGANS], axis=-1),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=_uid("seg-series"),
        series_number=100,
        sop_instance_uid=_uid("seg"),
        instance_number=1,
        manufacturer=DEMO_MANUFACTURER,
        manufacturer_model_name=DEMO_MANUFACTURER,
        software_versions=__version__,
        device_serial_number="0",
        series_description="Phantom organs (SEG)",
        content_date=datetime.date(2026, 1, 1),
        content_time=datetime.time(12, 0),
    )
    rois = [
        RoiMask(organ.number, organ.name, organ.color, "ORGAN", masks[organ.number], "MANUAL")
        for organ in ORGANS
    ]
    rtstruct = write_rtstruct(
        images, geometry, rois, _uid("rtstruct-series"), _uid("rtstruct"), "Phantom organs"
    )
    # The demo stands for someone else's input: it must not bear the mark of segmesh's outputs.
    rtstruct.Manufacturer = rtstruct.ManufacturerModelName = DEMO_MANUFACTURER
    return DemoStudy(images, seg, rtstruct, geometry, masks)
