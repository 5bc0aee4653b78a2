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


def test_models_are_deflated_above_a_size_which_may_be_0() -> None:
    assert Settings().deflate_models_above_megabytes == 256
    for value in (0, 1024):
        settings = Settings.from_configuration({"SegMesh": {"DeflateModelsAboveMegabytes": value}})
        assert settings.deflate_models_above_megabytes == value
    for bad in (-1, 1.5, "256"):
        with pytest.raises(BadRequestError, match="DeflateModelsAboveMegabytes"):
            Settings.from_configuration({"SegMesh": {"DeflateModelsAboveMegabytes": bad}})


@pytest.mark.parametrize(
    ("value", "stl", "labelmap"),
    [
        ({"Stl": {"Iterations": 5}}, {"Iterations": 5}, False),
        ({"LabelMap": True}, None, True),
        ({"Stl": {}, "LabelMap": True}, {}, True),
        ({"Stl": {}, "LabelMap": False}, {}, False),
        (None, None, False),
    ],
)
def test_auto_generate_is_read(value: object, stl: object, labelmap: bool) -> None:
    settings = Settings.from_configuration({"SegMesh": {"AutoGenerate": value}})
    assert (settings.auto_stl, settings.auto_labelmap) == (stl, labelmap)


@pytest.mark.parametrize("value", [{"LabelMap": "yes"}, {"LabelMap": 1}, {"Stl": []}, [True]])
def test_bad_auto_generate_is_refused(value: object) -> None:
    with pytest.raises(BadRequestError, match="AutoGenerate"):
        Settings.from_configuration({"SegMesh": {"AutoGenerate": value}})
