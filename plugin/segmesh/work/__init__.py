"""Everything that crosses into a worker process: each unit of work is a frozen dataclass of
what it needs (pickled into the worker), whose ``run()`` does it there by calling the core and
answers a typed result (pickled back). The worker pool runs these values and nothing else,
through :func:`run_work`; this package never imports ``orthanc``.

- :mod:`.unit`: :class:`Work` (the protocol), :func:`run_work`, :class:`ProcessId` (a worker
  started);
- :mod:`.labelmaps`: :class:`DecodeLabelMap` (a stored SEG or RT-STRUCT on a
  :class:`SeriesGrid` or :class:`NativeGrid`, and as a file where a :class:`FileOut` asks ->
  :class:`DecodedLabelMap`, its file a :class:`WrittenFile`),
  :class:`ReadNiftiLabelMap` (a posted NIfTI -> LabelMap);
- :mod:`.series`: :class:`ImageVolume` (a series' volume as a .npy file),
  :class:`CrossSections` (three planes as .npy bytes), :class:`Histogram` (ValueHistogram),
  :class:`ThresholdSeries` (-> :class:`ThresholdedSeries`), :class:`ThresholdMesh` (a preview
  :class:`ReportedMesh`: the mesh and its printability, in slabs where its options allow);
- :mod:`.slabs`: :class:`DescribeSeries` (-> :class:`DescribedSeries`, what a series' models
  cite), :class:`BuildSeriesModel` (a thresholded series meshed in slabs, its Encapsulated STL
  file -> BuiltModel);
- :mod:`.statistics`: :class:`MeasureLabelMap` (-> :class:`MeasuredLabelMap`),
  :class:`MeasureImage` (ImageFigures per segment);
- :mod:`.models`: :class:`BuildModel` (an Encapsulated STL file -> BuiltModel),
  :class:`MeshFile` (one segment's mesh as STL, OBJ, MTL, PLY, GLB or 3MF bytes, and its
  printability: :class:`ReportedFile`), :class:`MeshPart` (one segment's mesh as a 3MF
  ``<mesh>`` element in a file), :class:`PackThreeMF` (those parts as one 3MF file),
  :class:`StoredModelPrintability` (a stored model's report);
- :mod:`.conversions`: :class:`ConvertLabelMap` (-> Conversion), :class:`ImportLabelMap`
  (-> ImportResult);
- :mod:`.datasets`: :class:`ExportCase` (-> CaseExported), :class:`FinishNnunetZip`,
  :class:`FinishHdf5`.
"""

from .conversions import ConvertLabelMap, ImportLabelMap
from .datasets import ExportCase, FinishHdf5, FinishNnunetZip
from .labelmaps import (
    DecodedLabelMap,
    DecodeLabelMap,
    FileOut,
    NativeGrid,
    ReadNiftiLabelMap,
    SeriesGrid,
    WrittenFile,
)
from .models import (
    BuildModel,
    MeshFile,
    MeshPart,
    PackThreeMF,
    ReportedFile,
    StoredModelPrintability,
)
from .series import (
    CrossSections,
    Histogram,
    ImageVolume,
    ReportedMesh,
    ThresholdedSeries,
    ThresholdMesh,
    ThresholdSeries,
)
from .slabs import BuildSeriesModel, DescribedSeries, DescribeSeries
from .statistics import MeasuredLabelMap, MeasureImage, MeasureLabelMap
from .unit import ProcessId, Work, run_work

#: Every unit of work, for the tests that check each is a picklable frozen dataclass.
WORK_TYPES: tuple[type, ...] = (
    ProcessId,
    DecodeLabelMap,
    ReadNiftiLabelMap,
    ImageVolume,
    CrossSections,
    Histogram,
    ThresholdSeries,
    ThresholdMesh,
    DescribeSeries,
    BuildSeriesModel,
    MeasureLabelMap,
    MeasureImage,
    BuildModel,
    MeshFile,
    MeshPart,
    PackThreeMF,
    StoredModelPrintability,
    ConvertLabelMap,
    ImportLabelMap,
    ExportCase,
    FinishNnunetZip,
    FinishHdf5,
)

__all__ = [
    "WORK_TYPES",
    "BuildModel",
    "BuildSeriesModel",
    "ConvertLabelMap",
    "CrossSections",
    "DecodeLabelMap",
    "DecodedLabelMap",
    "DescribeSeries",
    "DescribedSeries",
    "ExportCase",
    "FileOut",
    "FinishHdf5",
    "FinishNnunetZip",
    "Histogram",
    "ImageVolume",
    "ImportLabelMap",
    "MeasureImage",
    "MeasureLabelMap",
    "MeasuredLabelMap",
    "MeshFile",
    "MeshPart",
    "NativeGrid",
    "PackThreeMF",
    "ProcessId",
    "ReadNiftiLabelMap",
    "ReportedFile",
    "ReportedMesh",
    "SeriesGrid",
    "StoredModelPrintability",
    "ThresholdMesh",
    "ThresholdSeries",
    "ThresholdedSeries",
    "Work",
    "WrittenFile",
    "run_work",
]
