"""DICOM SEG (BINARY, FRACTIONAL, LABELMAP) to label maps, and label maps to SEG.

- :mod:`.reader`: :func:`describe_seg` and :func:`seg_to_labelmap`, the entry points;
- :mod:`.frames`: per-frame positions scanned from the raw bytes;
- :mod:`.grid`: which grid a SEG's frames fill (the source series' or its own planes);
- :mod:`.pixels`: frames to bit planes and values, cropped to what is occupied;
- :mod:`.frame_codecs`: segmesh's own decoders (1-bit RLE, Deflated Image Frame Compression);
- :mod:`.decoders`: which compressed transfer syntaxes can be decoded here;
- :mod:`.writer`: :func:`write_seg`, a label map as BINARY or LABELMAP SEG (highdicom).
"""

from .decoders import available_decoders
from .reader import describe_seg, seg_to_labelmap
from .writer import write_seg

__all__ = ["available_decoders", "describe_seg", "seg_to_labelmap", "write_seg"]
