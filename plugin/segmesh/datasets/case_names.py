"""Names of training cases: no patient identifier ever goes into a dataset's file names."""

from __future__ import annotations

import hashlib


def hashed_case_name(*uids: str) -> str:
    """ "case_" and the first 12 hex digits of the SHA-256 of ``uids`` joined by "\\": the same
    sources always give the same name."""
    return "case_" + hashlib.sha256("\\".join(uids).encode()).hexdigest()[:12]


def numbered_case_name(number: int) -> str:
    """ "case_0001": four digits, more where the number needs them."""
    return f"case_{number:04d}"
