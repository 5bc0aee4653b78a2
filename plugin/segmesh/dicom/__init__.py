"""DICOM building blocks shared by every object segmesh reads or writes.

- :mod:`.attributes`: patient and study attributes, items of (per-frame) sequences, codes;
- :mod:`.color`: CIELab to RGB and back, default colours;
- :mod:`.sop_classes`: SOP Class UIDs and :class:`~.sop_classes.Kind` (SEG or RTSTRUCT);
- :mod:`.description`: :class:`~.description.SourceDescription` of a SEG or RT-STRUCT;
- :mod:`.image_volume`: an image series' pixels on a grid, after the modality rescale;
- :mod:`.tags`: what a request's ``Tags`` may set; :mod:`.part10`: datasets as files;
- :mod:`.provenance`: the mark of objects segmesh writes (Manufacturer "segmesh");
- :mod:`.conversion_uids`: deterministic UIDs of converted objects;
- :mod:`.segment_codes`: RTROIInterpretedType <-> SEG property category and type codes;
- :mod:`.image_order`: referenced images in the order of a label map's slices.
- :mod:`.malformed`: pydicom's errors on malformed values as ``BrokenFileError`` (400).

Nothing is imported here: :mod:`segmesh.geometry` needs :mod:`.attributes`, while
:mod:`.description` and :mod:`.image_volume` need the geometry, so the modules are imported
by name.
"""
