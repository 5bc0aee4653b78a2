"""Validation of written DICOM objects with dciodvfy (Debian package dicom3tools)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian


def inflated(data: bytes) -> bytes:
    """A Part-10 file in Deflated Explicit VR Little Endian as the same file in Explicit VR
    Little Endian: its dataset's bytes inflated as they are, the file meta's transfer syntax
    changed (dciodvfy reads no deflated file); any other file as it is."""
    with BytesIO(data) as stream:
        read_preamble(stream, False)
        file_meta = _read_file_meta_info(stream)
        if file_meta.TransferSyntaxUID != DeflatedExplicitVRLittleEndian:
            return data
        dataset = zlib.decompress(stream.read(), -15)
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, file_meta, enforce_standard=True)
    return b"\0" * 128 + b"DICM" + meta.getvalue() + dataset


def dciodvfy_lines(data: bytes) -> list[str]:
    """The ``Error`` and ``Warning`` lines dciodvfy prints for a Part-10 file (a deflated one
    checked :func:`inflated`)."""
    executable = shutil.which("dciodvfy")
    if executable is None:
        pytest.fail("dciodvfy is not installed: `make test` installs dicom3tools")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "object.dcm"
        path.write_bytes(inflated(data))
        result = subprocess.run(
            [executable, str(path)], capture_output=True, text=True, timeout=300, check=False
        )
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith(("Error", "Warning"))]


def dciodvfy_errors(data: bytes) -> list[str]:
    """The ``Error`` lines dciodvfy prints for a Part-10 file."""
    return [line for line in dciodvfy_lines(data) if line.startswith("Error")]
