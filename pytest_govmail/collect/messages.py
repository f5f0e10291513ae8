"""Read the sample messages given with ``--govmail-eml``: local files, no network.

A file that cannot be used (missing, unreadable, a directory, over
:data:`~pytest_govmail.model.dkim.MAX_MESSAGE_BYTES`, or not an RFC 5322 message at all) becomes a
:class:`~pytest_govmail.model.dkim.SampleMessage` whose ``error`` says why: reading never raises,
so the plugin decides how to report it (DKIM-07 is INCONCLUSIVE for such a message).

The header is split with dkimpy's own parser (``dkim.rfc822_parse``) and each ``DKIM-Signature``
with dkimpy's tag-list parser (``dkim.util.parse_tag_value``), so the selectors the DKIM planner
asks for are exactly the key names dkimpy looks up when DKIM-07 verifies the message. The From
address is parsed with the standard library's RFC 5322 header parser (``email.policy.default``).
"""

from __future__ import annotations

import email.policy
import os
import re
from collections.abc import Sequence
from pathlib import Path

import dkim
import dkim.util
import idna

from pytest_govmail.model.dkim import MAX_MESSAGE_BYTES, SampleMessage, SignatureTags

#: Header fields read per message: a hostile file could hold a million tiny ones.
MAX_SIGNATURE_FIELDS = 50
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_LDH_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")


def read_messages(paths: Sequence[Path]) -> tuple[SampleMessage, ...]:
    """Each file read once (a path given twice is read once), in the order given."""
    seen: dict[str, SampleMessage] = {}
    for path in paths:
        key = os.fspath(path)
        if key not in seen:
            seen[key] = read_message(path)
    return tuple(seen.values())


def read_message(path: Path) -> SampleMessage:
    """One file as a sample message; never raises for a bad file."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_MESSAGE_BYTES:
                return _too_large(source, size)
            raw = handle.read(MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return SampleMessage(source, error=f"cannot read {source}: {reason}")
    if len(raw) > MAX_MESSAGE_BYTES:  # the file grew while we read it
        return _too_large(source, len(raw))
    return parse_message(raw, source)


def _too_large(source: str, size: int) -> SampleMessage:
    return SampleMessage(
        source,
        size=size,
        error=(
            f"{source} is {size:,} bytes; sample messages are limited to "
            f"{MAX_MESSAGE_BYTES:,} bytes (2 MiB): give a message without large attachments"
        ),
    )


def parse_message(raw: bytes, source: str) -> SampleMessage:
    """A sample message from its bytes (pure: tests build messages with it)."""
    if len(raw) > MAX_MESSAGE_BYTES:
        return _too_large(source, len(raw))
    try:
        headers = dkim.rfc822_parse(raw)[0]
    except IndexError:  # dkimpy's reader on a continuation line before any field
        return SampleMessage(
            source,
            size=len(raw),
            error=f"{source} is not an RFC 5322 message: it starts with a folded line",
        )
    except dkim.MessageFormatError as exc:
        return SampleMessage(
            source,
            size=len(raw),
            error=f"{source} is not an RFC 5322 message: {_bounded(str(exc))}",
        )
    if not headers:
        return SampleMessage(
            source, size=len(raw), error=f"{source} is not an RFC 5322 message: no header fields"
        )
    from_values = [_unfold(value) for name, value in headers if name.lower() == b"from"]
    signatures = [_signature(value) for name, value in headers if name.lower() == b"dkim-signature"]
    return SampleMessage(
        source=source,
        raw=raw,
        size=len(raw),
        from_domain=from_domain(from_values[0]) if len(from_values) == 1 else None,
        from_header=" | ".join(from_values) if from_values else None,
        dkim_signatures=tuple(signatures[:MAX_SIGNATURE_FIELDS]),
    )


def _unfold(value: bytes) -> str:
    return _FOLD.sub(b"", value).decode("utf-8", errors="replace").strip()


def _bounded(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def from_domain(value: str) -> str | None:
    """The domain of the single address in a From field, normalised; None if there is none.

    RFC 5322 section 3.6.2 allows a From field to list several mailboxes (with a Sender); DMARC
    (RFC 7489 section 6.6.1) cannot align such a message, so it has no From domain here either.
    """
    try:
        header = email.policy.default.header_factory("from", value)
        addresses = header.addresses
        domains = [str(a.domain) for a in addresses]
    except Exception:  # the stdlib header parser raises assorted errors on hostile input
        return None
    if len(domains) != 1:
        return None
    return normalise_mail_domain(domains[0])


def normalise_mail_domain(domain: str) -> str | None:
    """``domain`` as a lower-case A-label name without the trailing dot, or None if not a name."""
    text = domain.strip().rstrip(".")
    if not text or text.startswith("["):
        return None
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    text = text.lower()
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_LDH_LABEL.match(x) for x in labels):
        return None
    return text


def _signature(value: bytes) -> SignatureTags:
    """The tags of one DKIM-Signature field (RFC 6376 section 3.5), read as dkimpy reads them."""
    try:
        tags = dkim.util.parse_tag_value(value)
    except dkim.util.InvalidTagValueList as exc:
        return SignatureTags("", "", "", error=f"the tag list does not parse: {exc!r}")

    def tag(name: bytes) -> str:
        found = tags.get(name, b"")
        return bytes(found).decode("utf-8", errors="replace").strip()

    signed = tuple(
        h.strip().lower() for h in re.split(r"\s*:\s*", tag(b"h").replace("\r\n", "")) if h
    )
    return SignatureTags(tag(b"d"), tag(b"s"), tag(b"a"), signed)
