"""segmesh's routes against Orthanc's authorization plugin (orthanc-authorization 0.11), which is
not packaged in Debian and so never runs here: every route as registered is matched against the
patterns the plugin documents, and against the ``ExtraPermissions`` of the sample that
``docs/deployment.md`` shows (``orthanc-config/authorization.json``).

- The plugin's resource parser (``DefaultAuthorizationParser.cpp``) checks a request against its
  resource where the path is ``/(patients|studies|series|instances)/{id}/...``; its default
  permissions let a viewing user GET those (``SINGLE_RESOURCE_PATTERNS``, ``all|view``).
- Any other request, and any POST or DELETE, needs a permission of its own: segmesh's sample
  adds them with ``ExtraPermissions`` (``[method, regular expression, permissions]``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.test_access_control import registered_routes  # noqa: F401 (a fixture)

SAMPLE = Path(__file__).resolve().parents[1] / "orthanc-config" / "authorization.json"
#: The plugin's pattern of a request about one resource, and its default "view" permission.
RESOURCE = re.compile(r"^/(patients|studies|series|instances)/([a-f0-9-]+)(|/.*)$")
VIEW_METHODS = ("GET",)
#: An Orthanc id, as the plugin's pattern reads them.
ORTHANC_ID = "0123abcd-4567ef89-0123abcd-4567ef89-0123abcd"
#: What stands for each group of segmesh's patterns in a request.
GROUPS = {"([^/]+)": ORTHANC_ID, "(.*)": "viewer.html", "(image|labels)": "labels"}


def request_path(pattern: str) -> str:
    path = pattern.replace(r"\.", ".")
    for group, value in GROUPS.items():
        path = path.replace(group, value)
    assert "(" not in path, f"a group of {pattern} has no stand-in"
    return path


def extra_permission(method: str, path: str) -> str | None:
    """The permissions the sample's ExtraPermissions give ``method path``, None where none."""
    entries = json.loads(SAMPLE.read_text())["Authorization"]["ExtraPermissions"]
    for entry_method, expression, permissions in entries:
        if entry_method.upper() == method and re.search(expression, path):
            return str(permissions)
    return None


def test_every_route_is_viewable_by_resource_or_given_an_extra_permission(
    registered_routes: list[tuple[str, tuple[str, ...]]],  # noqa: F811
) -> None:
    by_resource, extra = [], []
    for pattern, methods in registered_routes:
        path = request_path(pattern)
        resource = RESOURCE.match(path)
        for method in methods:
            if resource is not None and method in VIEW_METHODS:
                # The resource the plugin asks its web service about is the one in the path.
                assert resource.group(2) == ORTHANC_ID
                by_resource.append(f"{method} {path}")
                continue
            permissions = extra_permission(method, path)
            assert permissions is not None, f"{method} {path}: no permission in {SAMPLE.name}"
            # Whatever stores new instances needs what uploading needs; a dataset, whose
            # images leave the archive, what downloading an archive needs.
            if path.startswith("/segmesh/datasets") or path.endswith("/output"):
                assert permissions == "all|download", (method, path)
            elif method == "POST":
                assert permissions == "all|upload", (method, path)
            extra.append(f"{method} {path}")
    # Every GET of a resource's route is the plugin's default; the rest are the sample's.
    assert sorted(by_resource) == sorted(
        f"GET {request_path(p)}"
        for p, methods in registered_routes
        if "GET" in methods and RESOURCE.match(request_path(p))
    )
    assert {path.split()[0] for path in extra} == {"GET", "POST", "DELETE"}
    assert all(not RESOURCE.match(path.split()[1]) for path in extra if path.startswith("GET"))


def test_the_deployment_page_shows_the_sample() -> None:
    page = (SAMPLE.parents[1] / "docs" / "deployment.md").read_text()
    for entry in json.loads(SAMPLE.read_text())["Authorization"]["ExtraPermissions"]:
        assert json.dumps(entry) in page, entry
