"""Which compressed transfer syntaxes can be decoded here (optional libraries)."""

from __future__ import annotations

from pydicom.pixels import get_decoder
from pydicom.uid import JPEG2000, JPEG2000Lossless, JPEGLSLossless, RLELossless

#: Compressed transfer syntaxes a SEG may use, by name.
COMPRESSED_TRANSFER_SYNTAXES = {
    "RLE Lossless": RLELossless,
    "JPEG 2000 Lossless": JPEG2000Lossless,
    "JPEG 2000": JPEG2000,
    "JPEG-LS Lossless": JPEGLSLossless,
}


def available_decoders() -> dict[str, bool]:
    """For each compressed transfer syntax, whether a decoder plugin is installed."""
    return {
        name: bool(get_decoder(uid).is_available)
        for name, uid in COMPRESSED_TRANSFER_SYNTAXES.items()
    }
