"""What a unit of work is (:class:`Work`), and the one function a worker process runs
(:func:`run_work`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

R_co = TypeVar("R_co", covariant=True)
R = TypeVar("R")


@runtime_checkable
class Work(Protocol[R_co]):
    """A unit of work that crosses into a worker process: a frozen dataclass of what it needs
    (pickled there), whose :meth:`run` does it there and answers ``R_co`` (pickled back)."""

    def run(self) -> R_co:
        """Do the work (in the worker process, or in the calling thread without workers)."""
        ...


def run_work(work: Work[R]) -> R:
    """What a worker process runs, for every unit of work."""
    return work.run()


@dataclass(frozen=True, slots=True)
class ProcessId:
    """The worker's process id: a call that only makes the pool start one more worker."""

    def run(self) -> int:
        """This process's id."""
        return os.getpid()
