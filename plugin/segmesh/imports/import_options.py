"""What an import writes: a request's fields (a JSON object) or a dcmqi metadata template
given as is, parsed by :func:`segmesh.requests.import_fields.import_options`.

Fields: ``To`` (SEG, LABELMAP, RTSTRUCT, or a list), ``Format`` (nifti, nrrd, npz, npy; sniffed
where absent), ``Affine`` (4x4, [i, j, k, 1] to LPS mm: for ``.npy``), ``Segments`` (a list
of ``{"Value", "Label", "Color", "Category", "Type", "TypeModifier", "Description",
"Algorithm"}``, or ``{"1": "Liver"}``), ``Algorithm`` (``{"Name", "Version", "Type"}``),
``Resample`` ("nearest"), ``Split``, ``Compression`` ("RLE"), ``SeriesDescription``, ``Tags``,
``Template`` (dcmqi's JSON) and ``Asynchronous``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..conversions import Target
from ..formats.label_volume import LabelFileFormat

#: dcmqi template attributes kept on every written object, by the targets they belong to.
TEMPLATE_TAGS = {
    "SeriesNumber": ("SEG", "LABELMAP", "RTSTRUCT"),
    "InstanceNumber": ("SEG", "LABELMAP", "RTSTRUCT"),
    "BodyPartExamined": ("SEG", "LABELMAP", "RTSTRUCT"),
    "ClinicalTrialSeriesID": ("SEG", "LABELMAP", "RTSTRUCT"),
    "ClinicalTrialTimePointID": ("SEG", "LABELMAP", "RTSTRUCT"),
    "ClinicalTrialCoordinatingCenterName": ("SEG", "LABELMAP", "RTSTRUCT"),
    "ContentCreatorName": ("SEG", "LABELMAP"),
    "ContentLabel": ("SEG", "LABELMAP"),
    "ContentDescription": ("SEG", "LABELMAP"),
}


@dataclass(frozen=True)
class Algorithm:
    """The algorithm that made the label map: ``kind`` AUTOMATIC, SEMIAUTOMATIC or MANUAL
    (SegmentAlgorithmType); ``name`` (type 1C where not MANUAL) and ``version``."""

    kind: str = "AUTOMATIC"
    name: str = "unknown"
    version: str = ""

    def attributes(self) -> dict[str, str]:
        """A segment's algorithm attributes, as the writers read them."""
        if self.kind == "MANUAL":
            return {"AlgorithmType": "MANUAL"}
        named = {"AlgorithmType": self.kind, "AlgorithmName": self.name or "unknown"}
        return named | ({"AlgorithmVersion": self.version} if self.version else {})


@dataclass(frozen=True)
class SegmentFields:
    """What the caller says of the segment whose voxels hold ``value``; None: the file's own
    or the default."""

    value: int
    label: str | None = None
    color: tuple[int, int, int] | None = None
    codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    description: str | None = None
    algorithm: Algorithm | None = None


@dataclass(frozen=True)
class ImportOptions:
    """A parsed import request (its file apart)."""

    targets: tuple[Target, ...] = (Target.SEG,)
    file_format: LabelFileFormat | None = None
    affine: tuple[tuple[float, ...], ...] | None = None
    segments: tuple[SegmentFields, ...] = ()
    algorithm: Algorithm = Algorithm()
    resample: bool = False
    split: bool = False
    rle: bool = False
    series_description: str = ""
    tags: Mapping[str, Any] = field(default_factory=dict)
    template_tags: Mapping[str, Any] = field(default_factory=dict)

    def tags_for(self, target: Target) -> dict[str, Any]:
        """The template's attributes that belong to ``target``, then the caller's Tags."""
        kept = {k: v for k, v in self.template_tags.items() if target.value in TEMPLATE_TAGS[k]}
        return kept | dict(self.tags)
