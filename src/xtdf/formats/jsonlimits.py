"""JSON from a file someone else wrote: its shape is measured before it is decoded.

:func:`json.loads` builds every value before anything can look at it, so 16 MiB of
``{},`` becomes 5.6 million dicts (about 500 MB) and ``[`` nested 100,000 deep ends in a
bare ``RecursionError``. :func:`scan` measures the nesting depth and the number of values
of the raw text with a few passes of C-speed byte operations (no per-character Python
loop, no object per value) and :func:`loads` refuses a document past the limits with the
caller's typed error, naming the document, before :mod:`json` sees it.

The limits are generous for what TDFs carry: a manifest is about 6 levels deep (an
assertion's statement value adds what its writer chose, rarely more than 10), and a
manifest at the 16 MiB size limit made only of segment entries holds about 600,000
values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from xtdf.errors import FormatError, XtdfError

#: levels of nesting allowed; the outermost object or array is level 1
MAX_DEPTH = 100
#: values allowed in one document (containers and scalars; object keys not counted)
MAX_VALUES = 1_000_000

#: every byte but the ones structure is made of (quotes only to find the strings)
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{},')))
_DELTA = [0] * 256
for _c in b"[{":
    _DELTA[_c] = 1
for _c in b"]}":
    _DELTA[_c] = -1
#: strings are cut out a slice at a time, so the pieces of one slice are all that exist
_SLICE = 1 << 18


@dataclass(frozen=True)
class Shape:
    """What :func:`scan` found: the deepest nesting and the number of values."""

    depth: int
    values: int


class ShapeError(ValueError):
    """The text cannot be JSON (an unterminated string)."""


def _utf8(data: bytes | bytearray | str) -> bytes:
    """The text as UTF-8, where no byte of a multi-byte character looks like ``"[]{},\\``."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    data = bytes(data)
    encoding = json.detect_encoding(data)
    if encoding in ("utf-8", "utf-8-sig"):
        return data
    return data.decode(encoding, "surrogatepass").encode("utf-8", "surrogatepass")


def _outside_strings(text: bytes) -> bytes:
    """``text`` (quotes, brackets and commas only) without what its strings enclose."""
    out = []
    inside = False
    for start in range(0, len(text), _SLICE):
        pieces = text[start : start + _SLICE].split(b'"')
        out.append(b"".join(pieces[1::2] if inside else pieces[0::2]))
        inside ^= len(pieces) % 2 == 0
    return b"".join(out)


def scan(
    data: bytes | bytearray | str, max_values: int | None = None, max_depth: int | None = None
) -> Shape:
    """Depth and value count of a JSON text: the depth exact, the count an upper bound
    (exact but for one more per empty array or object), both for valid JSON.

    Escapes go first (``\\\\`` before ``\\"``, pairing them as a JSON reader does), then
    every byte but quotes, brackets and commas, then the strings: empty ones (most of what
    is left) with one replace, the rest a slice at a time. With ``max_values``, a document
    with more values stops before the depth pass, whose cost grows with them; with
    ``max_depth``, the depth pass stops at the first level past it (the depth reported is
    then ``max_depth + 1``), and all of it runs in C without making an int. Raises
    :class:`ShapeError` for an unterminated string; anything else malformed is left for
    :mod:`json` to name, since this is only a bound on what it will build.
    """
    raw = _utf8(data)
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = raw.translate(None, _NOT_STRUCTURE)
    del raw
    if text.count(b'"') % 2:
        raise ShapeError("unterminated string")
    # a pair of adjacent quotes is an empty string, or a key's closing quote and its
    # string value's opening one (only a colon between): cutting the latter pair joins
    # the key and the value into one string, which hides nothing outside strings
    text = text.replace(b'""', b"")
    if b'"' in text:
        text = _outside_strings(text)
    values = 1 + text.count(b",") + text.count(b"[") + text.count(b"{")
    if max_values is not None and values > max_values:
        return Shape(depth=-1, values=values)
    depth = max(max(accumulate(map(_DELTA.__getitem__, text)), default=0), 0)
    if max_depth is not None and depth > max_depth:
        return Shape(depth=max_depth + 1, values=values)
    return Shape(depth=depth, values=values)


def excess(
    data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES
) -> str | None:
    """What is past the limits (``"is nested deeper than ..."``), or None if nothing is.

    Raises :class:`ShapeError` or :class:`UnicodeError` for text that cannot be JSON.
    """
    shape = scan(data, max_values, max_depth)
    if shape.values > max_values:
        return f"has more than {max_values} values ({shape.values} counted)"
    if shape.depth > max_depth:
        return f"is nested deeper than {max_depth} levels"
    return None


def check(
    data: bytes | bytearray | str,
    what: str,
    *,
    error: type[XtdfError] = FormatError,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
) -> None:
    """Raise ``error`` naming ``what`` unless the text is within the limits."""
    try:
        problem = excess(data, max_depth=max_depth, max_values=max_values)
    except (ShapeError, UnicodeError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    if problem is not None:
        raise error(f"{what} {problem}")


def loads(
    data: bytes | bytearray | str,
    what: str,
    *,
    error: type[XtdfError] = FormatError,
    max_depth: int = MAX_DEPTH,
    max_values: int = MAX_VALUES,
) -> Any:
    """:func:`json.loads` after :func:`check`; every failure is ``error`` naming ``what``."""
    check(data, what, error=error, max_depth=max_depth, max_values=max_values)
    try:
        return json.loads(data)
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
