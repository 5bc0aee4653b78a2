"""Encapsulated STL instances (SOP Class 1.2.840.10008.5.1.4.1.1.104.3, modality M3D).

Orthanc 1.10's ``/tools/create-dicom`` knows no STL, so the dataset is built here with pydicom
and stored as a Part-10 file. UIDs are derived from the source, the segment, the parameters and
segmesh's version: repeating a request gives the same instances, which Orthanc does not
duplicate.
"""

from __future__ import annotations

import datetime
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from io import BytesIO
from typing import Any, BinaryIO

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    generate_uid,
)

from .. import __version__
from ..dicom.attributes import copy_patient_and_study
from ..dicom.color import RGB, rgb_to_cielab
from ..dicom.malformed import as_broken_file
from ..dicom.part10 import (
    encoded_elements,
    file_meta_elements,
    ob_header,
    short_element,
    text_value,
    uid_value,
    write_part10_of_elements,
)
from ..dicom.provenance import mark_as_written
from ..dicom.sop_classes import ENCAPSULATED_STL_STORAGE
from ..dicom.tags import apply_tags
from ..errors import BrokenFileError
from ..formats.mesh_files import (
    STL_HEADER_BYTES,
    STL_TRIANGLE,
    binary_stl,
    binary_stl_buffer,
)
from ..mesh.base import Mesh
from .icon import ICON_SIZE, icon_item, icon_pixels

SERIES_NUMBER = 3000


@dataclass(frozen=True)
class ModelSource:
    """Where models come from.

    ``study`` carries the patient and study attributes; ``key`` identifies the source for UID
    derivation (a SOP Instance UID, a Series Instance UID, a file digest); ``instances`` lists
    (Series Instance UID, SOP Class UID, SOP Instance UID) of the DICOM objects of the same
    study the models derive from.
    """

    study: Dataset
    frame_of_reference_uid: str
    key: str
    instances: tuple[tuple[str, str, str], ...] = ()

    def __post_init__(self) -> None:
        # Only the patient and study attributes are used: keeping no more (not a SEG's
        # per-frame sequences) keeps the source small to send to worker processes.
        study = Dataset()
        copy_patient_and_study(self.study, study)
        object.__setattr__(self, "study", study)


@dataclass(frozen=True)
class ModelRequest:
    """One request's models: same source, parameters, series and Model Group UID."""

    source: ModelSource
    parameters: Mapping[str, Any]
    series_description: str
    tags: Mapping[str, Any] = field(default_factory=dict)
    #: How scaled models say so ("Scaled x2"), empty for models in patient mm: their
    #: descriptions begin with it and their frame of reference is their own.
    scale_note: str = ""

    @property
    def frame_of_reference_uid(self) -> str:
        """The source's frame, or for scaled models one derived from it and the scale, so
        that no viewer overlays them on the source's images."""
        if not self.scale_note:
            return self.source.frame_of_reference_uid
        return str(
            generate_uid(
                entropy_srcs=[
                    "segmesh-scaled",
                    self.source.frame_of_reference_uid,
                    self.source.key,
                    self.scale_note,
                ]
            )
        )

    def described(self, text: str) -> str:
        """``text`` as a scaled model's descriptions say it (LO: 64 characters at most)."""
        return f"{self.scale_note}: {text}"[:64] if self.scale_note else text

    def _uid(self, *parts: str) -> UID:
        parameters = json.dumps(
            {"Parameters": self.parameters, "Tags": self.tags}, sort_keys=True, default=str
        )
        return generate_uid(
            entropy_srcs=["segmesh", __version__, self.source.key, parameters, *parts]
        )

    @property
    def series_instance_uid(self) -> UID:
        """The series of this request's models."""
        return self._uid("series")

    @property
    def model_group_uid(self) -> UID:
        """Model Group UID shared by the meshes of this request."""
        return self._uid("model-group")

    def sop_instance_uid(self, segment_key: str) -> UID:
        """The SOP Instance UID of one model (``segment_key``: its segment number(s))."""
        return self._uid("instance", segment_key)


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


#: UTF-8, the Specific Character Set of every model.
CHARACTER_SET = "ISO_IR 192"

#: (0042,0011) Encapsulated Document.
ENCAPSULATED_DOCUMENT = 0x00420011


def _shared_attributes(request: ModelRequest, now: datetime.datetime) -> Dataset:
    """The attributes every model of ``request`` has alike (its ``Tags`` applied)."""
    source = request.source
    ds = Dataset()
    ds.SpecificCharacterSet = CHARACTER_SET
    ds.SOPClassUID = UID(ENCAPSULATED_STL_STORAGE)
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    copy_patient_and_study(source.study, ds)
    ds.Modality = "M3D"
    ds.SeriesInstanceUID = request.series_instance_uid
    ds.SeriesNumber = SERIES_NUMBER
    ds.SeriesDescription = request.described(request.series_description)
    ds.FrameOfReferenceUID = request.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    mark_as_written(ds)
    ds.ContentDate = ds.InstanceCreationDate
    ds.ContentTime = ds.InstanceCreationTime
    ds.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    ds.BurnedInAnnotation = "NO"
    ds.ConceptNameCodeSequence = DicomSequence()
    ds.MeasurementUnitsCodeSequence = DicomSequence([_code("mm", "UCUM", "millimeter")])
    ds.ModelModification = "NO"
    ds.ModelMirroring = "NO"
    ds.ModelGroupUID = request.model_group_uid
    ds.DerivationAlgorithmSequence = DicomSequence([_algorithm(request.parameters)])
    if source.instances:
        ds.SourceInstanceSequence = DicomSequence(
            [_reference(sop_class, sop_instance) for _, sop_class, sop_instance in source.instances]
        )
        ds.ReferencedSeriesSequence = _referenced_series(source.instances)
    ds.MIMETypeOfEncapsulatedDocument = "model/stl"
    apply_tags(ds, request.tags)
    return ds


def _own_attributes(
    mesh: Mesh,
    request: ModelRequest,
    segment_key: str,
    label: str,
    color: RGB,
    instance_number: int,
    document_length: int | None = None,
) -> Dataset:
    """The attributes of one model of ``request`` (its ``Tags`` applied: they override these
    as they do the shared ones); with ``document_length``, that of a document written apart
    (:meth:`ModelFiles.write`) instead of the document."""
    ds = Dataset()
    ds.SOPInstanceUID = request.sop_instance_uid(segment_key)
    ds.InstanceNumber = instance_number
    ds.DocumentTitle = label
    ds.ContentDescription = request.described(label)
    ds.RecommendedDisplayCIELabValue = rgb_to_cielab(color)
    ds.IconImageSequence = DicomSequence([icon_item(icon_pixels(mesh))])
    if document_length is None:
        document = binary_stl(mesh, _stl_header(label))
        ds.EncapsulatedDocumentLength = len(document)
        # OB values have even length: pad, the length attribute keeps the true size. (A
        # binary STL, 84 + 50 bytes a triangle, never needs it: no copy of a large document.)
        ds.EncapsulatedDocument = document + b"\0" if len(document) % 2 else document
    else:
        ds.EncapsulatedDocumentLength = document_length
    apply_tags(ds, request.tags)
    return ds


def _stl_header(label: str) -> str:
    return f"segmesh {__version__} {label} (LPS mm)"


def _file_meta(request: ModelRequest, segment_key: str) -> FileMetaDataset:
    file_meta = FileMetaDataset()
    file_meta.MediaStorageSOPClassUID = UID(ENCAPSULATED_STL_STORAGE)
    file_meta.MediaStorageSOPInstanceUID = request.sop_instance_uid(segment_key)
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return file_meta


@as_broken_file
def encapsulated_stl(
    mesh: Mesh,
    request: ModelRequest,
    segment_key: str,
    label: str,
    color: RGB,
    instance_number: int,
    now: datetime.datetime | None = None,
) -> Dataset:
    """The Encapsulated STL dataset of one mesh; ``label`` goes to Content Description."""
    ds = _shared_attributes(request, now or datetime.datetime.now())
    ds.update(_own_attributes(mesh, request, segment_key, label, color, instance_number))
    ds.file_meta = _file_meta(request, segment_key)
    return ds


@dataclass(frozen=True)
class ModelFiles:
    """The Part-10 files of one request's models, made faster than by :func:`encapsulated_stl`
    and :func:`~segmesh.dicom.part10.part10` (the same bytes): the attributes the models
    share are encoded once, where the request is made (:meth:`of`), and each file adds its
    own (:meth:`file`, in a worker)."""

    request: ModelRequest
    shared: Mapping[int, bytes]
    #: Bytes of STL above which :meth:`write` deflates the file (None: never).
    deflate_above: int | None = None

    @classmethod
    @as_broken_file
    def of(
        cls, request: ModelRequest, now: datetime.datetime, deflate_above: int | None = None
    ) -> ModelFiles:
        """The files of ``request``'s models, created at ``now``; those whose STL is larger
        than ``deflate_above`` bytes written deflated."""
        return cls(request, encoded_elements(_shared_attributes(request, now)), deflate_above)

    @as_broken_file
    def file(
        self, mesh: Mesh, segment_key: str, label: str, color: RGB, instance_number: int
    ) -> bytes:
        """The Part-10 file of one model (see :func:`encapsulated_stl`)."""
        buffer = BytesIO()
        self.write(buffer, mesh, segment_key, label, color, instance_number)
        return buffer.getvalue()

    @as_broken_file
    def write(
        self,
        handle: BinaryIO,
        mesh: Mesh,
        segment_key: str,
        label: str,
        color: RGB,
        instance_number: int,
    ) -> None:
        """Write the bytes of :meth:`file` to ``handle``, the STL document written from the
        buffer it is made in: neither the file nor a copy of the document is ever held beside
        it (for a model of millions of triangles, each takes as much as the document). Above
        :attr:`deflate_above` bytes of STL, the file is Deflated Explicit VR Little Endian:
        Orthanc parses a file it stores into a second copy (docs/settings.md has figures)."""
        # A binary STL's length, 84 + 50 bytes a triangle, is even: no OB padding to add. The
        # attributes (and the icon's temporaries) first, the document once they are gone.
        length = STL_HEADER_BYTES + 4 + mesh.triangle_count * STL_TRIANGLE.itemsize
        own = self._own_elements(mesh, segment_key, label, color, instance_number, length)
        document = binary_stl_buffer(mesh, _stl_header(label))
        elements = {**self.shared, **own}
        elements[ENCAPSULATED_DOCUMENT] = ob_header(ENCAPSULATED_DOCUMENT, len(document))
        deflated = self.deflate_above is not None and length > self.deflate_above
        write_part10_of_elements(
            handle,
            self._meta(
                segment_key,
                DeflatedExplicitVRLittleEndian if deflated else ExplicitVRLittleEndian,
            ),
            elements,
            {ENCAPSULATED_DOCUMENT: document},
            deflated,
        )

    def _meta(self, segment_key: str, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
        return file_meta_elements(
            ENCAPSULATED_STL_STORAGE, self.request.sop_instance_uid(segment_key), transfer_syntax
        )

    def _own_elements(
        self,
        mesh: Mesh,
        segment_key: str,
        label: str,
        color: RGB,
        instance_number: int,
        document_length: int,
    ) -> dict[int, bytes]:
        """The encoded attributes of one model (:func:`_own_attributes`) but its document,
        of ``document_length``. Encoded here, element by element, where the request's
        ``Tags`` override none of them: building and writing them with pydicom took 0.8 ms a
        model of 1,500 triangles, against 1.3 ms to mesh it (the same bytes:
        ``tests/test_stl.py``)."""
        if _OWN_KEYWORDS & set(self.request.tags):
            own = _own_attributes(
                mesh, self.request, segment_key, label, color, instance_number, document_length
            )
            return encoded_elements(own, CHARACTER_SET)
        described = self.request.described(label)
        return {
            0x00080018: short_element(
                0x00080018, "UI", uid_value(self.request.sop_instance_uid(segment_key))
            ),
            0x00200013: short_element(0x00200013, "IS", text_value(str(instance_number))),
            0x00420010: short_element(0x00420010, "ST", text_value(label, _ENCODINGS)),
            0x00420015: short_element(0x00420015, "UL", struct.pack("<I", document_length)),
            0x0062000D: short_element(0x0062000D, "US", struct.pack("<3H", *rgb_to_cielab(color))),
            0x00700081: short_element(0x00700081, "LO", text_value(described, _ENCODINGS)),
            ICON_IMAGE_SEQUENCE: _icon_element(mesh),
        }


#: The keywords of a model's own attributes (:func:`_own_attributes`): ``Tags`` may override
#: the text and numbers among them (InstanceNumber, DocumentTitle, ContentDescription).
_OWN_KEYWORDS = frozenset(
    {
        "SOPInstanceUID",
        "InstanceNumber",
        "DocumentTitle",
        "ContentDescription",
        "RecommendedDisplayCIELabValue",
        "IconImageSequence",
        "EncapsulatedDocumentLength",
    }
)

#: The character sets of a model's text (its SpecificCharacterSet).
_ENCODINGS = [CHARACTER_SET]

#: (0088,0200) Icon Image Sequence.
ICON_IMAGE_SEQUENCE = 0x00880200


@cache
def _icon_template() -> tuple[bytes, bytes]:
    """The encoded Icon Image Sequence of a model (as pydicom writes it) before and after its
    pixels: every icon has the same attributes but them."""
    ds = Dataset()
    ds.IconImageSequence = DicomSequence([icon_item(np.zeros((ICON_SIZE, ICON_SIZE), np.uint8))])
    data = encoded_elements(ds, CHARACTER_SET)[ICON_IMAGE_SEQUENCE]
    pixels = ICON_SIZE * ICON_SIZE
    header = ob_header(0x7FE00010, pixels)
    start = data.index(header) + len(header)
    return data[:start], data[start + pixels :]


def _icon_element(mesh: Mesh) -> bytes:
    """The encoded Icon Image Sequence of ``mesh`` (:func:`~.icon.icon_item`)."""
    before, after = _icon_template()
    return b"".join([before, icon_pixels(mesh).tobytes(), after])


def _algorithm(parameters: Mapping[str, Any]) -> Dataset:
    item = Dataset()
    item.AlgorithmFamilyCodeSequence = DicomSequence([_code("123109", "DCM", "Manual Processing")])
    item.AlgorithmName = "segmesh marching cubes"
    item.AlgorithmVersion = __version__
    item.AlgorithmParameters = json.dumps(dict(parameters), sort_keys=True)
    item.AlgorithmSource = "segmesh"
    return item


def _reference(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = sop_class_uid
    item.ReferencedSOPInstanceUID = sop_instance_uid
    return item


def _referenced_series(instances: Sequence[tuple[str, str, str]]) -> DicomSequence:
    """Common Instance Reference: the referenced instances grouped by series."""
    by_series: dict[str, list[Dataset]] = {}
    for series_uid, sop_class, sop_instance in instances:
        by_series.setdefault(series_uid, []).append(_reference(sop_class, sop_instance))
    items = []
    for series_uid, references in by_series.items():
        item = Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedInstanceSequence = DicomSequence(references)
        items.append(item)
    return DicomSequence(items)


@as_broken_file
def stl_document(dataset: Dataset) -> bytes:
    """The STL bytes inside an Encapsulated STL dataset (padding removed); 400 where the
    document is missing or shorter than its EncapsulatedDocumentLength."""
    if "EncapsulatedDocument" not in dataset:
        raise BrokenFileError("Malformed Encapsulated STL", "EncapsulatedDocument is missing")
    data = bytes(dataset.EncapsulatedDocument)
    length = dataset.get("EncapsulatedDocumentLength")
    if length is None:
        return data
    if int(length) > len(data):
        raise BrokenFileError(
            "Malformed Encapsulated STL",
            f"EncapsulatedDocumentLength {int(length)} exceeds the {len(data)} bytes stored",
        )
    return data[: int(length)]


def model_label(labels: Sequence[str]) -> str:
    """Content Description of a merged model."""
    return " + ".join(labels) if len(labels) <= 4 else f"{len(labels)} segments"
