"""Datasets as Part-10 files, the form Orthanc's ``/instances`` stores."""

from __future__ import annotations

from io import BytesIO

from pydicom.dataset import Dataset


def part10(dataset: Dataset) -> bytes:
    """The dataset as a Part-10 file."""
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
