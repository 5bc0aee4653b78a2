"""What a block of requests costs Orthanc and each of its processes in resident memory: the peak
of each process above what it held just before, not the tree's whole peak.

Orthanc holds much before a source's first request (its index, its allocator's retained
memory after the uploads, the workers' imports), and that is no work of segmesh's: dividing
the whole tree's peak by a goal measured the uploads. Here each process (Orthanc, each worker,
any process started meanwhile, which held nothing before) has its resident memory read from
``/proc/<pid>/status`` just before the block, its peak during the block, and what of that peak
is file pages mapped in (``RssFile``: a SEG's pixel data read in place, which the kernel can
drop, and which other processes share). Peaks are the kernel's own (``VmHWM``, reset at the
start by writing 5 to ``/proc/<pid>/clear_refs`` where allowed), else the largest of samples
every 20 ms. Linux only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


def status_kilobytes(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile (kB) of ``pid``; empty where it has ended."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    wanted = ("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")
    return {line.split()[0][:-1]: int(line.split()[1]) for line in lines if line.startswith(wanted)}


def _reset_peak(pid: int) -> bool:
    """Whether the kernel's peak (VmHWM) of ``pid`` was reset to its resident memory now."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class ProcessMemory:
    """One process over the block, kB: resident ``before`` it (0 for a process started during
    it), its ``peak`` and the file-mapped part of its resident memory at its largest sample."""

    pid: int
    before: int
    peak: int = 0
    file_at_peak: int = 0
    reset: bool = False
    sampled_peak: int = field(default=0, repr=False)

    @property
    def growth(self) -> int:
        """The peak above what it held before, kB."""
        return max(self.peak - self.before, 0)


@contextmanager
def process_peaks(process_ids: Callable[[], list[int]]) -> Iterator[dict[int, ProcessMemory]]:
    """Each process's :class:`ProcessMemory` over the block, by pid (the first of
    ``process_ids()`` is the parent, Orthanc), filled in when the block ends."""
    processes: dict[int, ProcessMemory] = {}
    for pid in process_ids():
        status = status_kilobytes(pid)
        if status:
            processes[pid] = ProcessMemory(pid, status["VmRSS"], reset=_reset_peak(pid))
    done = threading.Event()

    def sample() -> None:
        stop = False
        while not stop:
            stop = done.is_set()  # one more round after the block, for its last peaks
            for pid in process_ids():
                status = status_kilobytes(pid)
                if not status:
                    continue
                process = processes.setdefault(pid, ProcessMemory(pid, 0))
                if status["VmRSS"] >= process.sampled_peak:
                    process.sampled_peak = status["VmRSS"]
                    process.file_at_peak = status.get("RssFile", 0)
                if process.reset or process.before == 0:
                    # The kernel's peak holds since the reset, or since a new process began.
                    process.peak = max(process.peak, status["VmHWM"])
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield processes
    finally:
        done.set()
        sampler.join()
        for process in processes.values():
            process.peak = max(process.peak, process.sampled_peak)


def combined(blocks: Iterable[dict[int, ProcessMemory]]) -> dict[int, ProcessMemory]:
    """Each process over consecutive blocks of :func:`process_peaks`: what it held before the
    first block it was in (0 where it started during one) and its highest peak."""
    whole: dict[int, ProcessMemory] = {}
    for block in blocks:
        for pid, process in block.items():
            known = whole.setdefault(pid, ProcessMemory(pid, process.before, reset=process.reset))
            known.reset = known.reset and process.reset
            if process.peak >= known.peak:
                known.peak, known.file_at_peak = process.peak, process.file_at_peak
    return whole
