"""Recognise a TDF by its first bytes and describe it as JSON-ready data."""

from __future__ import annotations

import os
from typing import Any

from xtdf.errors import FormatError

ZIP_MAGIC = b"PK\x03\x04"
NANO_MAGIC = b"L1L"


def sniff(path: str | os.PathLike[str]) -> str:
    """Return ``"ztdf"`` or ``"nano"``; raise FormatError for anything else."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(ZIP_MAGIC):
        return "ztdf"
    if head.startswith(NANO_MAGIC):
        return "nano"
    raise FormatError(f"{os.fspath(path)}: not a TDF (neither a zip nor a NanoTDF 'L1L' header)")


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    kind = sniff(path)
    if kind == "ztdf":
        from xtdf.formats.ztdf.inspect import describe as describe_ztdf

        return describe_ztdf(path)
    from xtdf.formats.nano.inspect import describe as describe_nano

    return describe_nano(path)
