"""segmesh.options: query parameters of a label map conversion."""

from __future__ import annotations

import pytest

from segmesh.errors import BadRequestError
from segmesh.options import Grid, LabelMapOptions


def test_query_is_parsed() -> None:
    options = LabelMapOptions.from_query(
        {"segments": "4,1", "grid": "native", "threshold": "0.25", "spacing": "1,0.5,2"}
    )
    assert options == LabelMapOptions((4, 1), Grid.NATIVE, 0.25, (1.0, 0.5, 2.0))


@pytest.mark.parametrize("spacing", ["0,1,1", "1,1", "nan,1,1", "1,inf,1", "1,1,-2"])
def test_spacing_must_be_three_finite_positive_numbers(spacing: str) -> None:
    with pytest.raises(BadRequestError, match="spacing"):
        LabelMapOptions.from_query({"spacing": spacing})
