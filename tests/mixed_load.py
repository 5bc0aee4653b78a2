"""A bounded mixed load on a real Orthanc, each answer checked: client threads sending segment
tables, npz label maps, overlays and single-segment meshes of several sources.

Shared by ``tests/test_load.py`` (zero errors, memory after the run against after warm-up) and
``benchmarks/bench_service.py`` (the same figures, as goals). An answer counts as an error
unless it has its route's status (200) and a body that parses as its route's file and agrees
with the first answer to the same path (the same label map, PNG, mesh): concurrency must never
mix up two requests. Times are milliseconds, wall clock on the client.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import requests
from PIL import Image

from tests.orthanc_server import OrthancServer, client_session

ROUTES = ("segments", "labelmap", "overlay", "stl segment")
#: The share of each route in the mix (segment tables and overlays are what a viewer sends).
WEIGHTS = {"segments": 0.3, "labelmap": 0.1, "overlay": 0.5, "stl segment": 0.1}


@dataclass(frozen=True)
class LoadSource:
    """A SEG or RT-STRUCT under load: ``numbers`` of its segments, ``meshable`` those with
    voxels on its label map, ``images`` the Orthanc ids of its referenced series' images,
    ``image_size`` (columns, rows) of each."""

    name: str
    instance_id: str
    numbers: tuple[int, ...]
    meshable: tuple[int, ...]
    images: tuple[str, ...]
    image_size: Mapping[str, tuple[int, int]]


def load_source(server: OrthancServer, name: str, instance_id: str) -> LoadSource:
    """What the load needs of one stored source, read through the routes themselves."""
    description = server.get(f"/instances/{instance_id}/segmesh/segments").json()
    numbers = tuple(segment["Number"] for segment in description["Segments"])
    answer = server.get(f"/instances/{instance_id}/segmesh/labelmap?format=npz")
    answer.raise_for_status()
    with np.load(io.BytesIO(answer.content)) as npz:
        labels = npz["labels"]
        placed = json.loads(str(npz["segments"]))
    meshable = tuple(s["Number"] for s in placed if (labels[s["Layer"]] == s["Value"]).any())
    series_id = description["ReferencedSeries"][0]
    images = tuple(server.get(f"/series/{series_id}").json()["Instances"])
    sizes = {}
    for image_id in images:
        tags = server.get(f"/instances/{image_id}/simplified-tags").json()
        sizes[image_id] = (int(tags["Columns"]), int(tags["Rows"]))
    return LoadSource(name, instance_id, numbers, meshable, images, sizes)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _segments_key(source: LoadSource, body: bytes) -> str:
    numbers = tuple(s["Number"] for s in json.loads(body)["Segments"])
    if numbers != source.numbers:
        raise ValueError(f"segments {numbers}, not {source.numbers}")
    return _digest(body)


def _labelmap_key(source: LoadSource, body: bytes) -> str:
    # The zip entries carry the time they were written: compare the arrays, not the bytes.
    with np.load(io.BytesIO(body)) as npz:
        labels, affine = npz["labels"], npz["affine"]
        numbers = tuple(s["Number"] for s in json.loads(str(npz["segments"])))
    if labels.ndim != 4 or affine.shape != (4, 4) or numbers != source.numbers:
        raise ValueError(f"labels {labels.shape}, affine {affine.shape}, segments {numbers}")
    return f"{labels.shape}:{_digest(labels.tobytes())}:{_digest(affine.tobytes())}"


def _overlay_key(source: LoadSource, body: bytes, image_id: str) -> str:
    with Image.open(io.BytesIO(body)) as png:
        png.load()
        if png.format != "PNG" or png.mode != "RGBA" or png.size != source.image_size[image_id]:
            raise ValueError(f"{png.format} {png.mode} {png.size}")
    return _digest(body)


def _stl_key(body: bytes) -> str:
    count = int(np.frombuffer(body, "<u4", 1, 80)[0]) if len(body) >= 84 else 0
    if count == 0 or len(body) != 84 + 50 * count:
        raise ValueError(f"{len(body)} bytes for {count} triangles")
    return _digest(body)


@dataclass
class LoadResult:
    """Times (ms) of each route's answers, and what was wrong with the wrong ones."""

    seconds: float
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(values) for values in self.times.values())

    def percentile(self, route: str, q: float) -> float:
        values = self.times[route]
        return float(np.percentile(values, q)) if values else float("nan")

    def table(self) -> list[str]:
        """One line per route: answers, p50, p95, p99 (ms), errors."""
        errors: dict[str, int] = defaultdict(int)
        for route, _ in self.errors:
            errors[route] += 1
        lines = [f"{'route':<12} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}"]
        for route in ROUTES:
            lines.append(
                f"{route:<12} {len(self.times[route]):>6} {self.percentile(route, 50):>8.1f} "
                f"{self.percentile(route, 95):>8.1f} {self.percentile(route, 99):>8.1f} "
                f"{errors[route]:>6}"
            )
        lines.append(f"{'all':<12} {self.count:>6} in {self.seconds:.0f} s")
        return lines


Request = tuple[str, str, Callable[[bytes], str]]


def warm_up_seconds(load_seconds: float) -> float:
    """How long the mix runs before the load is measured: long enough for every source to be
    cached and every worker process to have done each kind of work, and Orthanc's own memory
    to have settled (20 s at least: after 10 s it still grew by about 15 %)."""
    return max(20.0, load_seconds / 4)


class MixedLoad:
    """The mix over ``sources``; every answer to a path is checked against the first."""

    def __init__(self, server: OrthancServer, sources: list[LoadSource]) -> None:
        self.server = server
        self.sources = sources
        self._first: dict[str, str] = {}
        self._lock = threading.Lock()

    def each_route_once(self) -> list[Request]:
        """Each route of each source once (the first image's overlay, the first meshable
        segment's model): what a warm-up sends first, so that every source is cached."""
        return [self._request(source, route, 0) for source in self.sources for route in ROUTES]

    def _request(self, source: LoadSource, route: str, n: int) -> Request:
        base = f"/instances/{source.instance_id}/segmesh"
        if route == "segments":
            return route, f"{base}/segments", lambda body: _segments_key(source, body)
        if route == "labelmap":
            return route, f"{base}/labelmap?format=npz", lambda body: _labelmap_key(source, body)
        if route == "overlay":
            image = source.images[n % len(source.images)]
            path = f"{base}/overlay/{image}.png"
            return route, path, lambda body: _overlay_key(source, body, image)
        number = source.meshable[n % len(source.meshable)]
        return route, f"{base}/stl?segment={number}", _stl_key

    def _random(self, rng: np.random.Generator) -> Request:
        source = self.sources[int(rng.integers(len(self.sources)))]
        route = str(rng.choice(ROUTES, p=[WEIGHTS[r] for r in ROUTES]))
        return self._request(source, route, int(rng.integers(1 << 30)))

    def send(self, session: requests.Session, request: Request, result: LoadResult) -> None:
        """One request, timed and checked into ``result``."""
        route, path, key_of = request
        start = time.perf_counter()
        try:
            answer = session.get(self.server.url + path, timeout=300)
            elapsed = (time.perf_counter() - start) * 1000
            if answer.status_code != 200:
                problem = f"status {answer.status_code}: {answer.text[:200]}"
            else:
                key = key_of(answer.content)
                with self._lock:
                    first = self._first.setdefault(path, key)
                problem = "" if key == first else "differs from the first answer"
        except (requests.RequestException, ValueError, OSError, KeyError) as error:
            elapsed = (time.perf_counter() - start) * 1000
            problem = f"{type(error).__name__}: {error}"
        with self._lock:
            result.times[route].append(elapsed)
            if problem:
                result.errors.append((route, f"{path}: {problem}"))

    def run(self, clients: int, seconds: float, seed: int = 0) -> LoadResult:
        """``clients`` threads, each with its own session and random stream, sending the mix
        for ``seconds`` (a request under way at the end is waited for)."""
        result = LoadResult(seconds)
        deadline = time.monotonic() + seconds

        def client(n: int) -> None:
            rng = np.random.default_rng([seed, n])
            with client_session() as session:
                while time.monotonic() < deadline:
                    self.send(session, self._random(rng), result)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return result

    def warm(self) -> LoadResult:
        """Every request of the mix once, one after another."""
        result = LoadResult(0.0)
        start = time.monotonic()
        with client_session() as session:
            for request in self.each_route_once():
                self.send(session, request, result)
        result.seconds = time.monotonic() - start
        return result
