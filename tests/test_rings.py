"""The rings of docs/architecture.md, kept: every module of ``plugin/segmesh`` sits in one ring,
imports only its own ring and those below, and no modules import each other in a loop;
``orthanc`` is imported in three modules of the adapter only. Read from the source (no module
is imported), so a new module that breaks an arrow fails here, with the arrow named."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "plugin" / "segmesh"

#: The rings, from the ground up: a module may import its own ring and those below.
RINGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "ground",
        ("segmesh", "segmesh.errors", "segmesh.settings", "segmesh.options", "segmesh.timings"),
    ),
    ("dicom primitives", ("segmesh.dicom",)),
    ("domain", ("segmesh.geometry", "segmesh.labelmap", "segmesh.source_description")),
    ("worker-side I/O", ("segmesh.worker_io",)),
    (
        "families",
        (
            "segmesh.images",
            "segmesh.seg",
            "segmesh.rtstruct",
            "segmesh.mesh",
            "segmesh.formats",
            "segmesh.statistics",
            "segmesh.overlay",
            "segmesh.models",
            "segmesh.conversions",
            "segmesh.sources",
            "segmesh.imports",
            "segmesh.datasets",
            "segmesh.demo",
        ),
    ),
    ("typed work", ("segmesh.work",)),
    ("service", ("segmesh.service",)),
    ("requests", ("segmesh.requests",)),
    ("adapter", ("segmesh.orthanc",)),
)
#: The only modules that import ``orthanc``: registration, the HTTP glue, the host.
ORTHANC_IMPORTERS = {"segmesh.orthanc", "segmesh.orthanc.http", "segmesh.orthanc.host"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "node_modules" not in path.parts
    }


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every module this one imports, as dotted names (segmesh's own, and ``orthanc``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in MODULES else target


def _ring(name: str) -> int:
    """The ring of a module: that of the longest prefix listed."""
    best, ring = -1, -1
    for number, (_, prefixes) in enumerate(RINGS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, ring = len(prefix), number
    return ring


GRAPH = {
    name: sorted({target for target in _imports(name, path) if target in MODULES} - {name})
    for name, path in MODULES.items()
}


def test_every_module_has_a_ring() -> None:
    unplaced = [name for name in MODULES if _ring(name) < 0]
    assert not unplaced, f"place these in a ring (docs/architecture.md, RINGS here): {unplaced}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_or_sideways(name: str) -> None:
    upward = [
        f"{name} ({RINGS[_ring(name)][0]}) -> {target} ({RINGS[_ring(target)][0]})"
        for target in GRAPH[name]
        if _ring(target) > _ring(name)
    ]
    assert not upward, upward


def test_no_modules_import_each_other_in_a_loop() -> None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in GRAPH[name]:
            if state.get(target) == 1:
                loop = [*path[path.index(target) :], target]
                raise AssertionError("import loop: " + " -> ".join(loop))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in MODULES:
        if name not in state:
            visit(name)


def test_orthanc_is_imported_by_three_modules_of_the_adapter() -> None:
    importers = {name for name, path in MODULES.items() if "orthanc" in set(_imports(name, path))}
    assert importers == ORTHANC_IMPORTERS


def test_the_rings_catch_an_upward_import() -> None:
    """The checks themselves: the core's ground importing the service would be caught."""
    assert _ring("segmesh.errors") < _ring("segmesh.service.host") < _ring("segmesh.orthanc.host")
    assert _ring("segmesh.service.jobs.runner") < _ring("segmesh.requests.storing_kinds")
    assert _ring("segmesh.dicom.tags") < _ring("segmesh.geometry") < _ring("segmesh.seg.reader")
    assert "segmesh.errors" in GRAPH["segmesh.geometry"]
