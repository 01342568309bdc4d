"""Opening paths or binary file objects, and filling buffers from them without copies."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import BinaryIO

PathOrFile = str | os.PathLike[str] | BinaryIO


def is_file_object(obj: object) -> bool:
    return hasattr(obj, "read") or hasattr(obj, "write")


@contextlib.contextmanager
def open_input(src: PathOrFile) -> Iterator[BinaryIO]:
    if is_file_object(src):
        yield src  # type: ignore[misc]
        return
    with open(src, "rb") as fh:  # type: ignore[arg-type]
        yield fh


def input_size(fh: BinaryIO) -> int | None:
    """Bytes left to read, or None for pipes and other unseekable streams."""
    try:
        if not fh.seekable():
            return None
        here = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(here)
        return end - here
    except (OSError, AttributeError, ValueError):
        return None


def reader_into(fh: object) -> Callable[[memoryview], int]:
    """A ``readinto``-like function for any binary reader."""
    readinto = getattr(fh, "readinto", None)
    if readinto is not None:
        return readinto  # type: ignore[no-any-return]
    read = fh.read  # type: ignore[attr-defined]

    def _readinto(view: memoryview) -> int:
        data = read(len(view))
        view[: len(data)] = data
        return len(data)

    return _readinto


def fill(readinto: Callable[[memoryview], int], view: memoryview) -> int:
    """Read until ``view`` is full or the input ends; return the byte count."""
    total = 0
    size = len(view)
    while total < size:
        n = readinto(view[total:])
        if not n:
            break
        total += n
    return total
