"""``docs/openapi.json`` against the routes segmesh registers, so that nobody documents a route
that is not there, nor leaves one undocumented.

Each registered pattern (a regular expression such as
``/instances/([^/]+)/segmesh/overlay/([^/]+)\\.png``) becomes an OpenAPI path template: its
literal text unescaped and its groups named, in order, by the ``{...}`` of the documented path
of the same shape (``/instances/{id}/segmesh/overlay/{imageId}.png``). The set of (path, method)
registered must equal the set documented, both ways; every path parameter must be declared,
and every path documented must be in ``docs/rest-api.md`` and in its route table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import pytest

import segmesh
from tests.test_access_control import registered_routes  # noqa: F401 (a fixture)

DOCS = Path(__file__).resolve().parents[1] / "docs"
OPENAPI = DOCS / "openapi.json"
REST_API = DOCS / "rest-api.md"
#: The operations of an OpenAPI path item.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: A capturing group of a route pattern (segmesh's patterns nest none).
GROUP = re.compile(r"\((?:[^()\\]|\\.)*\)")
#: A ``{name}`` of an OpenAPI path template.
NAME = re.compile(r"\{([^{}]+)\}")
#: What a literal part of a pattern must not hold once its escapes are taken out.
METACHARACTERS = re.compile(r"[.^$*+?{}\[\]|()]")

Routes = list[tuple[str, tuple[str, ...]]]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI.read_text())
    return document


def literal(piece: str) -> str:
    """The text a group-free piece of a pattern matches, which must be plain text."""
    assert not METACHARACTERS.search(re.sub(r"\\.", "", piece)), f"{piece!r} is not literal"
    return re.sub(r"\\(.)", r"\1", piece)


def shape(path: str) -> str:
    """A path template with its names left out: ``/instances/{}/segmesh/segments``."""
    return NAME.sub("{}", path)


def openapi_path(pattern: str, documented: Iterable[str]) -> str:
    """The OpenAPI path of a registered ``pattern``: its literal text unescaped and its groups
    named, in order, by the ``{...}`` of the ``documented`` path of the same shape (by position,
    not by a table); ``{group1}``, ``{group2}``... where no documented path has that shape."""
    pieces = GROUP.split(pattern)
    groups = len(pieces) - 1
    pattern_shape = "{}".join(literal(piece) for piece in pieces)
    same = [path for path in documented if shape(path) == pattern_shape]
    assert len(same) <= 1, f"{pattern}: several documented paths have its shape: {same}"
    names = NAME.findall(same[0]) if same else [f"group{n}" for n in range(1, groups + 1)]
    assert len(names) == groups
    return literal(pieces[0]) + "".join(
        f"{{{name}}}{literal(piece)}" for name, piece in zip(names, pieces[1:], strict=True)
    )


def resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """``item``, or what its ``$ref`` (inside this document) points at."""
    while "$ref" in item:
        reference = item["$ref"]
        assert reference.startswith("#/"), reference
        target: Any = spec
        for part in reference[2:].split("/"):
            target = target[part]
        item = target
    return item


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def parameters(spec: dict[str, Any], path: str, operation: dict[str, Any]) -> list[dict]:
    """The parameters of an operation, its path item's included, resolved."""
    listed = spec["paths"][path].get("parameters", []) + operation.get("parameters", [])
    return [resolve(spec, parameter) for parameter in listed]


def fill(path: str, values: dict[str, str]) -> str:
    """``path`` with each ``{name}`` replaced by its value."""
    return NAME.sub(lambda match: values[match.group(1)], path)


def test_the_conversion_names_groups_by_position() -> None:
    documented = ["/instances/{id}/segmesh/overlay/{imageId}.png", "/segmesh/jobs/{job}"]
    assert (
        openapi_path(r"/instances/([^/]+)/segmesh/overlay/([^/]+)\.png", documented)
        == "/instances/{id}/segmesh/overlay/{imageId}.png"
    )
    assert openapi_path(r"/segmesh/jobs/([^/]+)", documented) == "/segmesh/jobs/{job}"
    assert openapi_path(r"/segmesh/jobs/([^/]+)/output", documented) == (
        "/segmesh/jobs/{group1}/output"
    )
    assert openapi_path(r"/segmesh/nifti-stl", []) == "/segmesh/nifti-stl"
    with pytest.raises(AssertionError, match="not literal"):
        openapi_path(r"/segmesh/a.b", [])


def test_the_file_is_openapi_3_1(spec: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"]), spec["openapi"]
    assert spec["info"]["title"] == "segmesh"
    assert spec["info"]["version"] == segmesh.__version__
    # Every reference points at something in the document.
    references = re.findall(r'"\$ref": "([^"]+)"', OPENAPI.read_text())
    assert references
    for reference in set(references):
        resolve(spec, {"$ref": reference})


def test_the_documented_routes_are_the_registered_ones(
    spec: dict[str, Any],
    registered_routes: Routes,  # noqa: F811
) -> None:
    documented = {(path, method) for path, method, _ in operations(spec)}
    registered = {
        (openapi_path(pattern, spec["paths"]), method.lower())
        for pattern, methods in registered_routes
        for method in methods
    }
    assert len({pattern for pattern, _ in registered_routes}) == len(registered_routes)
    assert sorted(documented - registered) == [], "documented, not registered"
    assert sorted(registered - documented) == [], "registered, not documented"
    # No path item without an operation either.
    assert {path for path, _ in documented} == set(spec["paths"])


def test_every_path_parameter_is_declared(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        names = NAME.findall(path)
        assert len(set(names)) == len(names), path
        declared = [p for p in parameters(spec, path, operation) if p["in"] == "path"]
        assert sorted(p["name"] for p in declared) == sorted(names), (method, path)
        assert all(p["required"] is True and "schema" in p for p in declared), (method, path)
        query = [(p["name"], p["in"]) for p in parameters(spec, path, operation)]
        assert len(set(query)) == len(query), f"{method} {path}: a parameter declared twice"


def test_path_parameters_fit_the_route_groups(
    spec: dict[str, Any],
    registered_routes: Routes,  # noqa: F811
) -> None:
    """A path filled in with each parameter's values (its enum, else a stand-in) matches the
    registered pattern, and an alternation of words is the parameter's enum."""
    for pattern, methods in registered_routes:
        path = openapi_path(pattern, spec["paths"])
        for method in methods:
            declared = {
                p["name"]: p["schema"]
                for p in parameters(spec, path, spec["paths"][path][method.lower()])
                if p["in"] == "path"
            }
            groups = GROUP.findall(pattern)
            for name, group in zip(NAME.findall(path), groups, strict=True):
                words = re.fullmatch(r"\(([\w-]+(?:\|[\w-]+)*)\)", group)
                if words is not None:
                    assert sorted(declared[name].get("enum", [])) == sorted(
                        words.group(1).split("|")
                    ), (path, name)
            names = NAME.findall(path)
            for values in product(*[declared[name].get("enum", ["a1-b2"]) for name in names]):
                filled = fill(path, dict(zip(names, values, strict=True)))
                assert re.fullmatch(pattern, filled), (pattern, filled)


def test_answers_and_errors(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        assert {"200", "202"} & set(responses), (method, path)
        for status, response in responses.items():
            response = resolve(spec, response)
            assert response.get("description"), (method, path, status)
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert resolve(spec, schema) == spec["components"]["schemas"]["Error"]
            elif status in ("200", "202", "206"):
                assert response["content"], (method, path, status)
        assert all(status in responses for status in ("400", "422") if "requestBody" in operation)


def test_every_route_is_in_the_rest_api_page(spec: dict[str, Any]) -> None:
    page = REST_API.read_text()
    for path in spec["paths"]:
        # The path as documented, its {...} named as here or otherwise ({image|labels}).
        mention = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        mention = NAME.sub(r"\\{[^}]*\\}", mention)
        assert re.search(mention, page), f"{path} is not in {REST_API.name}"
    # The page's route table lists every operation, as "| GET, DELETE | `/path` |".
    table = {
        (path, method.strip().lower())
        for methods, path in re.findall(r"^\| ([A-Z, ]+) \| `([^`]+)` \|", page, re.MULTILINE)
        for method in methods.split(",")
    }
    assert table == {(path, method) for path, method, _ in operations(spec)}
