"""Where finished datasets wait to be downloaded: one file each in the dataset folder, named by
a random id, written as ``{id}{suffix}.part`` and renamed when finished, removed once older
than ``DatasetHours`` (at each new dataset and each download)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

from ..errors import GoneError, NotFoundError
from ..settings import Settings

logger = logging.getLogger(__name__)

PART = ".part"


def dataset_folder(settings: Settings) -> Path:
    """The folder of finished datasets (created where absent)."""
    folder = Path(settings.dataset_folder or Path(tempfile.gettempdir()) / "segmesh-datasets")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_dataset_path(settings: Settings, suffix: str) -> Path:
    """A fresh path for a dataset being written (``.part`` until :func:`finish_dataset`)."""
    return dataset_folder(settings) / f"{uuid.uuid4().hex}{suffix}{PART}"


def finish_dataset(path: Path) -> Path:
    """The finished dataset's path: ``path`` without ``.part``."""
    finished = path.with_name(path.name.removesuffix(PART))
    os.replace(path, finished)
    return finished


def remove_expired(settings: Settings) -> None:
    """Remove the datasets (finished or not) older than ``settings.dataset_hours``."""
    oldest = time.time() - settings.dataset_hours * 3600
    for path in dataset_folder(settings).iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink()
                logger.info("segmesh: dataset %s expired and was removed", path.name)
        except FileNotFoundError:
            continue


def finished_dataset(settings: Settings, name: str) -> Path:
    """The finished dataset ``name``; 410 where it expired (or was removed)."""
    if Path(name).name != name or name.endswith(PART):
        raise NotFoundError("Unknown dataset", name)
    remove_expired(settings)
    path = dataset_folder(settings) / name
    if not path.is_file():
        raise GoneError(
            "Dataset removed",
            f"finished datasets are kept {settings.dataset_hours} hours (SegMesh.DatasetHours)",
        )
    return path
