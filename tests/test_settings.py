"""Unit tests of the SegMesh configuration section."""

from __future__ import annotations

import pytest

from segmesh.errors import BadRequestError
from segmesh.settings import Settings


def test_defaults_when_section_is_absent() -> None:
    assert Settings.from_configuration({}) == Settings()


def test_values_are_read() -> None:
    settings = Settings.from_configuration({"SegMesh": {"MaxVoxels": 1000, "CacheMegabytes": 64}})
    assert (settings.max_voxels, settings.cache_megabytes) == (1000, 64)


@pytest.mark.parametrize("value", ["1000", -1, 0, 1.5, True])
def test_bad_values_are_refused(value: object) -> None:
    with pytest.raises(BadRequestError, match="MaxVoxels"):
        Settings.from_configuration({"SegMesh": {"MaxVoxels": value}})
