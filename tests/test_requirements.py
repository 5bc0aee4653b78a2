"""requirements/ (every package of the venv, pinned, installed with --no-deps from wheels only)
and pyproject.toml (segmesh's own pins) say the same."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Which requirements file holds which of pyproject.toml's lists.
FILES = {"dependencies": "run", "test": "test", "bench": "bench"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    """name -> "version; marker" of ``name==version`` lines (markers' quotes made alike)."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        name, _, version = requirement.partition("==")
        assert version, f"not pinned: {line}"
        found[canonical(name.strip())] = (
            f"{version.strip()}; {marker.strip().replace(chr(39), chr(34))}".rstrip("; ")
        )
    return found


def test_every_pin_of_pyproject_is_in_requirements_with_its_version_and_marker() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lists = {"dependencies": project["dependencies"], **project["optional-dependencies"]}
    assert set(lists) == set(FILES)
    locked = {
        name: pins((ROOT / "requirements" / f"{file}.txt").read_text().splitlines())
        for name, file in FILES.items()
    }
    for name, declared in lists.items():
        for package, pin in pins(declared).items():
            assert locked[name].get(package) == pin, (name, package, pin)


def test_no_package_is_pinned_twice() -> None:
    seen: dict[str, str] = {}
    for file in FILES.values():
        for package in pins((ROOT / "requirements" / f"{file}.txt").read_text().splitlines()):
            assert package not in seen, f"{package} in {file}.txt and {seen[package]}.txt"
            seen[package] = file
