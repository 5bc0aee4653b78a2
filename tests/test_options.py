"""segmesh.requests: the query parameters of a label map conversion, numbers and lists."""

from __future__ import annotations

import pytest

from segmesh.errors import BadRequestError
from segmesh.options import Grid, LabelMapOptions
from segmesh.requests.labelmap_query import labelmap_options
from segmesh.requests.values import parse_integers, parse_number


def test_query_is_parsed() -> None:
    options = labelmap_options(
        {"segments": "4,1", "grid": "native", "threshold": "0.25", "spacing": "1,0.5,2"}
    )
    assert options == LabelMapOptions((4, 1), Grid.NATIVE, 0.25, (1.0, 0.5, 2.0))


@pytest.mark.parametrize("spacing", ["0,1,1", "1,1", "nan,1,1", "1,inf,1", "1,1,-2"])
def test_spacing_must_be_three_finite_positive_numbers(spacing: str) -> None:
    with pytest.raises(BadRequestError, match="spacing"):
        labelmap_options({"spacing": spacing})


@pytest.mark.parametrize(
    ("value", "text_allowed", "number"), [("2.5", True, 2.5), (3, False, 3.0), (0.5, True, 0.5)]
)
def test_numbers_from_text_and_json(value: object, text_allowed: bool, number: float) -> None:
    assert parse_number(value, "x", text_allowed) == number


@pytest.mark.parametrize(
    ("value", "text_allowed"),
    [(True, True), ("abc", True), ("nan", True), (float("inf"), True), ("3", False), (None, True)],
)
def test_not_numbers_are_refused_with_the_parameters_name(
    value: object, text_allowed: bool
) -> None:
    with pytest.raises(BadRequestError, match="Bad parameter x"):
        parse_number(value, "x", text_allowed)


def test_integers_separated_by_commas() -> None:
    assert parse_integers("4, 1,", "segments") == (4, 1)
    with pytest.raises(BadRequestError, match="Bad parameter segments"):
        parse_integers("1,a", "segments")
