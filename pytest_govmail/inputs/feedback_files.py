"""Read the report files given with ``--govmail-dmarc-reports`` and ``--govmail-tlsrpt-reports``.

Each path is a file or a folder (read recursively, in name order). A file is a report as it came:
XML or JSON, gzip, zip, or a mail message (``.eml``) carrying one as an attachment under
whatever MIME type its sender chose; the container is told by content, not by name. A file that
is not a report is refused with its path and the reason, and the run goes on: one stranger's bad
file never stops an assessment. Files are bounded before they are read (:data:`MAX_FILE_BYTES`;
:data:`MAX_FILES` a run) and their contents by :mod:`pytest_govmail.feedback.unpack`.

Mail messages are parsed here, not in :mod:`pytest_govmail.feedback`, because the standard
library's ``email`` package loads ``socket``; the parsers stay pure.
"""

from __future__ import annotations

import email
import email.policy
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from email.message import Message
from pathlib import Path

from pytest_govmail.feedback import ReportError
from pytest_govmail.feedback.aggregate import parse_aggregate
from pytest_govmail.feedback.tlsrpt import parse_tlsrpt
from pytest_govmail.feedback.unpack import MAX_UNPACKED_BYTES, kind_of, payloads
from pytest_govmail.model.evidence import FileRefused, read_regular
from pytest_govmail.model.feedback import DEFAULT_WINDOW_DAYS, Feedback, FeedbackBuilder

#: The largest file read (a compressed report, or a message carrying one).
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Files read in one run, over every path given.
MAX_FILES = 100_000
#: Attachments looked at in one message.
MAX_PARTS = 32


def report_files(paths: Sequence[Path], builder: FeedbackBuilder) -> Iterator[Path]:
    """Every file under ``paths``, each once; a path that is neither file nor folder is refused."""
    seen: set[str] = set()
    count = 0
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.exists():
            found = [path]
        else:
            builder.refuse(str(path), "no such file or folder")
            continue
        for item in found:
            key = os.fspath(item)
            if key in seen:
                continue
            seen.add(key)
            count += 1
            if count > MAX_FILES:
                builder.refuse(key, f"more than {MAX_FILES:,} report files given: the rest unread")
                return
            yield item


def read_bounded(path: Path) -> bytes:
    """A regular file's bytes, at most :data:`MAX_FILE_BYTES`; :class:`ReportError` otherwise
    (read by :func:`pytest_govmail.model.evidence.read_regular`, as every user file is)."""
    try:
        return read_regular(path, MAX_FILE_BYTES)
    except FileRefused as refused:
        reason = {
            "unreadable": f"cannot read it ({refused.detail})",
            "irregular": "not a regular file",
            "too large": f"{refused.size:,} bytes, more than {MAX_FILE_BYTES:,}",
            "grew": f"grew past {MAX_FILE_BYTES:,} bytes while read",
        }[refused.why]
        raise ReportError(reason) from None


def looks_like_message(data: bytes) -> bool:
    """A mail message starts with header fields (``Name: value``), not XML, JSON or an archive."""
    if kind_of(data) != "plain":
        return False
    head = data[:1000].lstrip()
    if head[:1] in (b"<", b"{", b"["):
        return False
    first = head.split(b"\n", 1)[0]
    name, colon, _ = first.partition(b":")
    return bool(colon) and bool(name) and all(33 <= c <= 126 and c != 58 for c in name)


def attachments(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The non-text parts of a message (and text parts that hold XML or JSON), decoded."""
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; anything it raises is a bad file
        raise ReportError(f"not a readable mail message ({type(exc).__name__})") from None
    parts = 0
    for part in message.walk():
        if not isinstance(part, Message) or part.is_multipart():
            continue
        parts += 1
        if parts > MAX_PARTS:
            raise ReportError(f"more than {MAX_PARTS} MIME parts")
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        filename = part.get_filename() or ""
        content_type = part.get_content_type()
        if (
            content_type == "text/plain"
            and not filename
            and payload.lstrip()[:1]
            not in (
                b"<",
                b"{",
            )
        ):
            continue  # the human-readable part
        if content_type == "text/html" and not filename:
            continue
        yield str(filename)[:200] or content_type, payload


Parser = Callable[[bytes], object]


def _reports(data: bytes, source: str) -> Iterator[tuple[str, bytes]]:
    """The plain report payloads in a file, with the name each is reported under."""
    if looks_like_message(data):
        found = False
        for name, payload in attachments(data):
            found = True
            for member, content in payloads(payload, name, MAX_UNPACKED_BYTES):
                yield f"{source} [{member}]", content
        if not found:
            raise ReportError("a mail message with no report attached")
        return
    for member, content in payloads(data, "", MAX_UNPACKED_BYTES):
        yield (f"{source} [{member}]" if member else source), content


def as_of(started_at: str | None) -> datetime:
    """When a run's report window ends: when its evidence was collected (a replay judges its
    reports as the run it replays did), else now."""
    from datetime import UTC

    if started_at:
        try:
            return datetime.fromisoformat(started_at)
        except ValueError:
            pass
    return datetime.now(UTC)


def read_reports(
    dmarc: Sequence[Path] = (),
    tlsrpt: Sequence[Path] = (),
    *,
    now: datetime | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    domains: Iterable[str] | None = None,
) -> Feedback:
    """Read every report under the paths given, into per-domain totals (never raises for a file)."""
    builder = FeedbackBuilder(now, window_days, set(domains) if domains is not None else None)
    for kind, paths in (("dmarc", dmarc), ("tlsrpt", tlsrpt)):
        for path in report_files(paths, builder):
            builder.files += 1
            source = os.fspath(path)
            try:
                data = read_bounded(path)
                for where, content in _reports(data, source):
                    try:
                        if kind == "dmarc":
                            builder.add_dmarc(parse_aggregate(content), where)
                        else:
                            builder.add_tlsrpt(parse_tlsrpt(content), where)
                    except ReportError as exc:
                        builder.refuse(where, str(exc))
            except ReportError as exc:
                builder.refuse(source, str(exc))
            except RecursionError:
                builder.refuse(source, "nested too deeply")
            except Exception as exc:  # one stranger's file never stops the run
                builder.refuse(source, f"unreadable ({type(exc).__name__})")
    return builder.build()
