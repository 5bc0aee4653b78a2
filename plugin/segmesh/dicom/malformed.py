"""One boundary where pydicom's errors on malformed values become :class:`BrokenFileError`.

pydicom reads values lazily: a DS of "abc", an unknown value representation or a length past
the end surfaces as a bare ``ValueError`` (or ``NotImplementedError``, ...) wherever an
attribute is first touched, deep inside a reader. The core's entry points that read a file
(:func:`segmesh.sources.describe`, :func:`segmesh.sources.to_labelmap`, ...) are wrapped in
:data:`as_broken_file`, which answers 400 for exactly those errors: raised while pydicom was
running. An error raised by segmesh's own code is left alone, a bug to be seen as a 500.
"""

from __future__ import annotations

import struct
from contextlib import ContextDecorator
from pathlib import Path
from types import TracebackType

import pydicom

from ..errors import BrokenFileError, SegMeshError

_PYDICOM_DIR = str(Path(pydicom.__file__).resolve().parent)

#: What pydicom raises on malformed values (struct.error: binary values of a wrong length).
_VALUE_ERRORS = (
    ValueError,
    TypeError,
    NotImplementedError,
    OverflowError,
    IndexError,
    KeyError,
    EOFError,
    struct.error,
)


def _raised_in_pydicom(traceback: TracebackType | None) -> bool:
    """Whether pydicom was on the stack where the error was raised."""
    while traceback is not None:
        if str(Path(traceback.tb_frame.f_code.co_filename).resolve()).startswith(_PYDICOM_DIR):
            return True
        traceback = traceback.tb_next
    return False


class _AsBrokenFile(ContextDecorator):
    """Context manager and decorator: pydicom's value errors raise :class:`BrokenFileError`."""

    def __enter__(self) -> _AsBrokenFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if (
            error is None
            or isinstance(error, SegMeshError)
            or not isinstance(error, _VALUE_ERRORS)
            or not _raised_in_pydicom(traceback)
        ):
            return
        raise BrokenFileError(
            "Malformed DICOM value", f"{type(error).__name__}: {str(error)[:300]}"
        ) from error


#: Wrap a reader (``@as_broken_file`` or ``with as_broken_file:``).
as_broken_file = _AsBrokenFile()
