"""Unpack what a report arrives in (gzip, zip, or nothing), within bounds.

RFC 7489 section 7.2.1.1 has aggregate reports sent gzip-compressed; receivers also send zip
(Google) and plain XML. RFC 8460 section 5.3 has TLS-RPT sent as ``application/tlsrpt+gzip``.
The container is told by its first bytes, never by the file name or MIME type a sender chose
(``application/octet-stream``, ``application/x-zip-compressed``...). A compressed file can
expand a millionfold, so every read is bounded: :data:`MAX_UNPACKED_BYTES` a report, and
:data:`MAX_ZIP_MEMBERS` members a zip; a nested archive is unpacked once more, no deeper.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator

from pytest_govmail.feedback import ReportError

#: The largest report read, once decompressed (32 MiB: a report of 50 records is ~30 KiB, and
#: the largest receivers' daily reports stay far below this).
MAX_UNPACKED_BYTES = 32 * 1024 * 1024
#: Members read from one zip (a receiver's zip holds one report).
MAX_ZIP_MEMBERS = 16
#: Archives inside archives unpacked.
MAX_DEPTH = 2

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


def kind_of(data: bytes) -> str:
    """ "gzip", "zip" or "plain", by the first bytes."""
    if data.startswith(GZIP_MAGIC):
        return "gzip"
    if data.startswith(ZIP_MAGIC):
        return "zip"
    return "plain"


def gunzip(data: bytes, limit: int = MAX_UNPACKED_BYTES) -> bytes:
    """The decompressed bytes, or :class:`ReportError` past ``limit`` or when corrupt.

    Read with ``zlib`` a member at a time, each call bounded by what is left of ``limit``, so a
    bomb is stopped after ``limit`` bytes, never inflated whole. Bytes after the last member are
    ignored when they are not another member: Mimecast's reports carry a stray CRLF there
    (``gzip.decompress`` refuses them), and the report itself is whole.
    """
    out = bytearray()
    rest = data
    while rest:
        stream = zlib.decompressobj(wbits=31)
        try:
            out += stream.decompress(rest, limit - len(out) + 1)
        except zlib.error as exc:
            raise ReportError(f"corrupt gzip data ({exc})") from None
        if len(out) > limit or stream.unconsumed_tail:
            raise ReportError(f"gzip data expands past {limit:,} bytes (a decompression bomb?)")
        if not stream.eof:
            raise ReportError("truncated gzip data")
        rest = stream.unused_data
        if not rest.startswith(GZIP_MAGIC):
            break
    return bytes(out)


def unzip(data: bytes, limit: int = MAX_UNPACKED_BYTES) -> Iterator[tuple[str, bytes]]:
    """Each member's (name, bytes), each bounded, and the whole too."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ReportError(f"corrupt zip archive ({type(exc).__name__})") from None
    if not members:
        raise ReportError("empty zip archive")
    if len(members) > MAX_ZIP_MEMBERS:
        raise ReportError(f"zip archive of {len(members)} files (at most {MAX_ZIP_MEMBERS})")
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise ReportError(f"zip member {member.filename!r} is encrypted")
        if member.file_size > limit - total:
            raise ReportError(
                f"zip member {member.filename!r} declares {member.file_size:,} bytes "
                "(a decompression bomb?)"
            )
        try:
            with archive.open(member) as stream:
                out = stream.read(limit - total + 1)
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            zlib.error,
            NotImplementedError,
            RuntimeError,
        ) as exc:
            raise ReportError(f"corrupt zip member ({type(exc).__name__})") from None
        total += len(out)
        if total > limit:
            raise ReportError(f"zip archive expands past {limit:,} bytes (a decompression bomb?)")
        yield member.filename, out


def payloads(
    data: bytes, name: str = "", limit: int = MAX_UNPACKED_BYTES, depth: int = 0
) -> Iterator[tuple[str, bytes]]:
    """Every plain payload in ``data`` as (name, bytes): itself, or its archive's members."""
    kind = kind_of(data)
    if kind == "plain":
        if len(data) > limit:
            raise ReportError(f"{len(data):,} bytes, more than a report can be ({limit:,})")
        yield name, data
        return
    if depth >= MAX_DEPTH:
        raise ReportError("archives nested too deeply")
    if kind == "gzip":
        yield from payloads(gunzip(data, limit), name.removesuffix(".gz"), limit, depth + 1)
        return
    for member, content in unzip(data, limit):
        yield from payloads(content, f"{name}:{member}" if name else member, limit, depth + 1)
