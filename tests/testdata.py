"""Where the shared third-party test data is; tests that need it skip where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


def testdata(relative: str) -> Path:
    """The path of a file or folder under ``shared/testdata``; skips the test where absent."""
    path = TESTDATA / relative
    if not path.exists():
        pytest.skip(f"third-party test data {relative} is absent (see shared/testdata/README.md)")
    return path
