"""Validation of written DICOM objects with dciodvfy (Debian package dicom3tools)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def dciodvfy_lines(data: bytes) -> list[str]:
    """The ``Error`` and ``Warning`` lines dciodvfy prints for a Part-10 file."""
    executable = shutil.which("dciodvfy")
    if executable is None:
        pytest.fail("dciodvfy is not installed: `make test` installs dicom3tools")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "object.dcm"
        path.write_bytes(data)
        result = subprocess.run(
            [executable, str(path)], capture_output=True, text=True, timeout=300, check=False
        )
    lines = (result.stdout + result.stderr).splitlines()
    return [line for line in lines if line.startswith(("Error", "Warning"))]


def dciodvfy_errors(data: bytes) -> list[str]:
    """The ``Error`` lines dciodvfy prints for a Part-10 file."""
    return [line for line in dciodvfy_lines(data) if line.startswith("Error")]
