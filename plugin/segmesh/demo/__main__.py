"""``python -m segmesh.demo``: write the demo study to a folder, or upload it to Orthanc."""

from __future__ import annotations

import argparse
import logging
import sys
import time
import urllib.error
import urllib.request
from io import BytesIO
from pathlib import Path

from pydicom.dataset import Dataset

from .phantom import make_demo_study

logger = logging.getLogger("segmesh.demo")


def _encode(dataset: Dataset) -> bytes:
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{url}/system", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError) as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"Orthanc did not answer at {url}: {error}") from error
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, help="folder to write the .dcm files to")
    parser.add_argument(
        "--upload", metavar="URL", help="Orthanc to upload to, e.g. http://localhost:8042"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("highdicom").setLevel(logging.WARNING)
    if not arguments.output and not arguments.upload:
        parser.error("give --output or --upload")
    study = make_demo_study()
    files = {f"CT{index:03d}.dcm": image for index, image in enumerate(study.images)}
    files["SEG.dcm"] = study.seg
    files["RTSTRUCT.dcm"] = study.rtstruct
    if arguments.output:
        arguments.output.mkdir(parents=True, exist_ok=True)
        for name, dataset in files.items():
            (arguments.output / name).write_bytes(_encode(dataset))
        logger.info("segmesh demo: %d files written to %s", len(files), arguments.output)
    if arguments.upload:
        url = arguments.upload.rstrip("/")
        _wait_for(url, 60)
        for dataset in files.values():
            request = urllib.request.Request(
                f"{url}/instances", data=_encode(dataset), method="POST"
            )
            with urllib.request.urlopen(request, timeout=60):
                pass
        logger.info("segmesh demo: study 'segmesh demo phantom' uploaded to %s", url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
