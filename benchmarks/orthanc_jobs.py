"""segmesh's jobs as the benchmarks wait for them."""

from __future__ import annotations

import time
from typing import Any

from tests.orthanc_server import OrthancServer

#: The states a job ends in.
ENDED = ("Success", "Failure", "Cancelled")


def ended_job(server: OrthancServer, path: str, interval: float) -> dict[str, Any]:
    """The record of the job at ``path`` (its ``Path``) once it has ended, read every
    ``interval`` seconds."""
    while (record := server.get(path).json())["State"] not in ENDED:
        time.sleep(interval)
    return dict(record)
