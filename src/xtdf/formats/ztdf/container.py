"""The zip around a ZTDF: ``0.payload`` first, then ``0.manifest.json`` (as the Go SDK writes).

Writing streams (stored entries, no seeking: the payload carries a data descriptor, as
the Go SDK's writer does). ZIP64 is used only when the payload may reach 4 GiB (or its
size is unknown), as upstream's writer does, because some readers dislike ZIP64 extras
on small entries. Reading parses the central directory with :mod:`zipfile` but reads a
stored payload straight from the file with ``readinto``: no copies, and the segment
hashes and GCM tags are stronger than the zip CRC anyway.
"""

from __future__ import annotations

import os
import struct
import time
import zipfile
import zlib
from typing import BinaryIO, Protocol

from xtdf.errors import (
    FormatError,
    ManifestError,
    MissingEntryError,
    NotAZipError,
    UnsupportedError,
)
from xtdf.formats.ztdf.manifest import MANIFEST_NAME, PAYLOAD_NAME

try:  # zlib-ng's CRC-32 is several times faster than zlib's; same polynomial
    from zlib_ng.zlib_ng import crc32
except ImportError:  # pragma: no cover - zlib-ng is a pinned dependency
    from zlib import crc32

#: zip entries bigger than this need ZIP64
ZIP64_LIMIT = 0xFFFFFFFF
#: refuse manifests larger than this, stored or inflated. The Go SDK reads at most 10 MiB
#: (``manifestMaxSize`` in ``sdk/internal/archive/tdf3_reader.go``, checked against the
#: entry's stored size) and so does the Java SDK (``TDFReader.MAX_MANIFEST_SIZE_MB``), so
#: every file an upstream SDK can read fits, with room; 16 MiB of segment entries describe
#: a payload of over 150,000 segments (300 GiB at the Go SDK's 2 MiB).
MAX_MANIFEST_SIZE = 16 * 1024 * 1024
#: how the manifest and payload entries may be stored: deflate inflates in bounded steps;
#: bzip2 and LZMA inflate a whole read at once (zipfile gives them no output bound), and no
#: SDK writes them
_READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_READ_CHUNK = 1 << 16

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_MAGIC = b"PK\x03\x04"
_CENTRAL_HEADER = struct.Struct("<4s4H2H3L5H2L")
_CENTRAL_MAGIC = b"PK\x01\x02"
_DESCRIPTOR32 = struct.Struct("<4s3L")
_DESCRIPTOR64 = struct.Struct("<4sL2Q")
_DESCRIPTOR_MAGIC = b"PK\x07\x08"
_EXTRA64_LOCAL = struct.Struct("<2H2Q")
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_MAGIC = b"PK\x05\x06"
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_EOCD64_MAGIC = b"PK\x06\x06"
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64_LOCATOR_MAGIC = b"PK\x06\x07"
_FLAG_DESCRIPTOR = 0x08

Source = str | os.PathLike[str] | BinaryIO
Sink = str | os.PathLike[str] | BinaryIO


class Readable(Protocol):
    def readinto(self, buffer: memoryview | bytearray, /) -> int: ...


class _Range:
    """``readinto`` over a byte range of an open file."""

    def __init__(self, fh: BinaryIO, offset: int, size: int) -> None:
        self._fh = fh
        self._remaining = size
        fh.seek(offset)

    def readinto(self, buffer: memoryview | bytearray) -> int:
        view = memoryview(buffer)
        if len(view) > self._remaining:
            view = view[: self._remaining]
        n = self._fh.readinto(view) or 0  # type: ignore[attr-defined]
        self._remaining -= n
        return n


class _Inflating:
    """``readinto`` over a deflated entry, its failures (bad data, bad CRC) FormatErrors."""

    def __init__(self, entry: zipfile.ZipExtFile, name: str) -> None:
        self._entry = entry
        self._name = name

    def readinto(self, buffer: memoryview | bytearray) -> int:
        try:
            return self._entry.readinto(buffer)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"{self._name}: cannot inflate {PAYLOAD_NAME}: {exc}") from exc


class ArchiveReader:
    """An opened ZTDF zip: the manifest bytes and a streaming view of the payload."""

    def __init__(self, src: Source) -> None:
        self._own = not hasattr(src, "read")
        self._fh: BinaryIO = open(src, "rb") if self._own else src  # type: ignore[arg-type]  # noqa: SIM115
        self.name = os.fspath(src) if self._own else getattr(src, "name", "<stream>")
        try:
            self._zip = zipfile.ZipFile(self._fh)  # type: ignore[arg-type]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            self.close()
            raise NotAZipError(f"{self.name}: not a ZTDF: not a zip archive ({exc})") from exc
        except BaseException:
            self.close()
            raise
        try:
            self.manifest_info = self._entry(MANIFEST_NAME)
            self.payload_info = self._entry(PAYLOAD_NAME)
        except BaseException:
            self.close()
            raise

    def _entry(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._zip.getinfo(name)
        except KeyError:
            raise MissingEntryError(f"{self.name}: zip has no {name} entry") from None

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
        if self._own:
            self._fh.close()

    def _check_method(self, info: zipfile.ZipInfo) -> None:
        if info.compress_type not in _READABLE_METHODS:
            raise UnsupportedError(
                f"{self.name}: {info.filename} uses zip compression method "
                f"{info.compress_type}; only stored and deflate are supported"
            )

    def read_manifest(self) -> bytes:
        """The manifest's bytes, never more than :data:`MAX_MANIFEST_SIZE` read or inflated.

        The sizes the zip declares are checked first (no reading at all), then the entry is
        inflated in steps and abandoned as soon as it passes the limit, whatever it claimed.
        """
        info = self.manifest_info
        limit = MAX_MANIFEST_SIZE
        too_big = f"{self.name}: {MANIFEST_NAME} is larger than {limit >> 20} MiB"
        self._check_method(info)
        if info.compress_size > limit or info.file_size > limit:
            size = max(info.compress_size, info.file_size)
            raise ManifestError(f"{too_big} ({size} bytes declared)")
        out = bytearray()
        try:
            with self._zip.open(info) as fh:
                # small reads: zipfile inflates as much as each read asks for before
                # cutting it to the size the zip declared
                while len(out) <= limit and (chunk := fh.read(_READ_CHUNK)):
                    out += chunk
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error) as exc:
            raise FormatError(f"{self.name}: cannot read {MANIFEST_NAME}: {exc}") from exc
        if len(out) > limit:
            raise ManifestError(f"{too_big} (it inflates past the limit)")
        return bytes(out)

    @property
    def payload_size(self) -> int:
        return self.payload_info.file_size

    def open_payload(self) -> Readable:
        info = self.payload_info
        self._check_method(info)
        if info.header_offset < 0:  # zipfile adds the archive's offset: a lie can go negative
            raise FormatError(f"{self.name}: {PAYLOAD_NAME} starts before the archive")
        if info.compress_type != zipfile.ZIP_STORED:
            try:
                return _Inflating(self._zip.open(info), self.name)
            except NotImplementedError as exc:
                raise UnsupportedError(f"{PAYLOAD_NAME}: {exc}") from exc
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise FormatError(f"{self.name}: cannot read {PAYLOAD_NAME}: {exc}") from exc
        self._fh.seek(info.header_offset)
        head = self._fh.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size or head[:4] != _LOCAL_MAGIC:
            raise FormatError(f"{self.name}: bad local header for {PAYLOAD_NAME}")
        fields = _LOCAL_HEADER.unpack(head)
        name_len, extra_len = fields[-2], fields[-1]
        offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        return _Range(self._fh, offset, info.compress_size)


def _dos_time(t: time.struct_time) -> tuple[int, int]:
    year = min(max(t.tm_year, 1980), 2107)
    date = (year - 1980) << 9 | t.tm_mon << 5 | t.tm_mday
    return date, t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec // 2


class _Entry:
    """What the central directory needs to know about one written entry."""

    def __init__(self, name: str, offset: int, flags: int, zip64: bool) -> None:
        self.name = name.encode()
        self.offset = offset
        self.flags = flags
        self.zip64 = zip64
        self.crc = 0
        self.size = 0


class _PayloadStream:
    """The open ``0.payload`` entry: counts bytes and keeps the CRC as data goes by."""

    def __init__(self, owner: ArchiveWriter, entry: _Entry) -> None:
        self._owner = owner
        self._entry = entry
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        entry = self._entry
        entry.crc = crc32(data, entry.crc)
        n = self._owner._write(data)
        entry.size += n
        return n

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        e = self._entry
        if e.size >= ZIP64_LIMIT and not e.zip64:
            raise FormatError(f"{PAYLOAD_NAME} grew past 4 GiB without ZIP64")
        if e.zip64:
            self._owner._write(_DESCRIPTOR64.pack(_DESCRIPTOR_MAGIC, e.crc, e.size, e.size))
        else:
            self._owner._write(_DESCRIPTOR32.pack(_DESCRIPTOR_MAGIC, e.crc, e.size, e.size))


class ArchiveWriter:
    """Write ``0.payload`` as a stream, then the manifest, then the central directory.

    A hand-written zip writer (rather than :mod:`zipfile`) so that the CRC can come from a
    faster implementation and the output needs no seeking: the payload entry carries a
    data descriptor, as the Go SDK's writer does.
    """

    def __init__(self, dst: Sink, *, zip64: bool) -> None:
        self._own = not hasattr(dst, "write")
        self._fh: BinaryIO = open(dst, "wb") if self._own else dst  # type: ignore[arg-type]  # noqa: SIM115
        self._zip64 = zip64
        self._offset = 0
        self._entries: list[_Entry] = []
        self._payload: _PayloadStream | None = None
        self._date, self._time = _dos_time(time.localtime())

    def _write(self, data: bytes | bytearray | memoryview) -> int:
        self._fh.write(data)
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        self._offset += n
        return n

    def _local_header(self, entry: _Entry, crc: int, size: int) -> None:
        extra = b""
        if entry.zip64:
            extra = _EXTRA64_LOCAL.pack(1, 16, size, size)
            size32 = 0xFFFFFFFF
        else:
            size32 = size
        version = 45 if entry.zip64 else 20
        header = _LOCAL_HEADER.pack(
            _LOCAL_MAGIC, version, 0, entry.flags, 0, self._time, self._date,
            crc, size32, size32, len(entry.name), len(extra),
        )  # fmt: skip
        self._write(header + entry.name + extra)

    def open_payload(self) -> _PayloadStream:
        entry = _Entry(PAYLOAD_NAME, self._offset, _FLAG_DESCRIPTOR, self._zip64)
        self._entries.append(entry)
        self._local_header(entry, 0, 0)
        self._payload = _PayloadStream(self, entry)
        return self._payload

    def finish(self, manifest: bytes) -> None:
        if self._payload is not None:
            self._payload.close()
        entry = _Entry(MANIFEST_NAME, self._offset, 0, False)
        entry.crc, entry.size = crc32(manifest), len(manifest)
        self._entries.append(entry)
        self._local_header(entry, entry.crc, entry.size)
        self._write(manifest)
        self._central_directory()
        self._fh.flush()
        if self._own:
            self._fh.close()

    def _central_directory(self) -> None:
        cd_start = self._offset
        for e in self._entries:
            fields: list[int] = []
            size32 = e.size
            offset32 = e.offset
            if e.zip64 or e.size >= ZIP64_LIMIT:
                fields += [e.size, e.size]
                size32 = 0xFFFFFFFF
            if e.offset >= ZIP64_LIMIT:
                fields.append(e.offset)
                offset32 = 0xFFFFFFFF
            extra = (
                struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            )
            version = 45 if fields else 20
            header = _CENTRAL_HEADER.pack(
                _CENTRAL_MAGIC, 3 << 8 | version, version, e.flags, 0, self._time, self._date,
                e.crc, size32, size32, len(e.name), len(extra), 0, 0, 0, 0o644 << 16, offset32,
            )  # fmt: skip
            self._write(header + e.name + extra)
        cd_size = self._offset - cd_start
        count = len(self._entries)
        need64 = cd_start >= ZIP64_LIMIT or any(e.zip64 for e in self._entries)
        if need64:
            eocd64_offset = self._offset
            self._write(
                _EOCD64.pack(
                    _EOCD64_MAGIC, 44, 3 << 8 | 45, 45, 0, 0, count, count, cd_size, cd_start
                )
            )
            self._write(_EOCD64_LOCATOR.pack(_EOCD64_LOCATOR_MAGIC, 0, eocd64_offset, 1))
        # With ZIP64, the classic record carries only markers: the Go and Java readers
        # take the ZIP64 path only when the directory offset is 0xFFFFFFFF.
        self._write(
            _EOCD.pack(_EOCD_MAGIC, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
            if need64
            else _EOCD.pack(_EOCD_MAGIC, 0, 0, count, count, cd_size, cd_start, 0)
        )

    def abort(self) -> None:
        if self._own:
            self._fh.close()
