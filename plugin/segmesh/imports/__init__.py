"""Label maps in: a file made elsewhere (a model's NIfTI, a Slicer ``.seg.nrrd``, NumPy)
written as DICOM SEG, LABELMAP SEG or RT-STRUCT on a stored series' grid.

- :mod:`.import_options`: what an import writes (parsed from the request's fields and dcmqi
  templates by :mod:`segmesh.requests.import_fields`);
- :mod:`.grid_placement`: the file's grid against the series', exact or resampled;
- :mod:`.label_import`: :func:`import_labelmap`, what a worker runs for an import
  (:class:`segmesh.work.ImportLabelMap`).
"""

from .grid_placement import Match, Placement, place_on_series
from .import_options import ImportOptions
from .label_import import ImportResult, import_labelmap

__all__ = [
    "ImportOptions",
    "ImportResult",
    "Match",
    "Placement",
    "import_labelmap",
    "place_on_series",
]
