"""Sample messages (``--govmail-eml``): the evidence DKIM-07 verifies, kept whole for replay.

A :class:`SampleMessage` holds the message's exact bytes (so that replay re-verifies the very same
message with no file and no network), what was read from its header (the RFC 5322.From domain and
the tags of each ``DKIM-Signature`` that the DKIM planner needs to ask for the signing keys), and
why it could not be used, if it could not. Reading files lives in
:mod:`pytest_govmail.collect.messages`; this module is plain data and imports no network library.

In the evidence file a message is a JSON object (:meth:`SampleMessage.to_json`): the bytes are
base64 (``raw_base64``) with their SHA-256 beside them, which :meth:`SampleMessage.from_json`
checks, so a damaged evidence file is refused rather than judged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The largest message read (2 MiB). A DKIM sample needs headers and a body, not attachments;
#: the bound keeps evidence files and reports small.
MAX_MESSAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SignatureTags:
    """The tags of one ``DKIM-Signature`` header field, as written, before any verification.

    ``domain`` (``d=``) and ``selector`` (``s=``) name the key record
    ``<selector>._domainkey.<domain>``; ``algorithm`` is ``a=``; ``signed_headers`` is ``h=``
    split at ``:`` and lower-cased. ``error`` says why the field's tag list could not be read
    (RFC 6376 section 3.2), in which case the other fields are empty.
    """

    domain: str
    selector: str
    algorithm: str
    signed_headers: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "d": self.domain,
            "s": self.selector,
            "a": self.algorithm,
            "h": list(self.signed_headers),
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignatureTags:
        error = data.get("error")
        return cls(
            domain=_text(data, "d"),
            selector=_text(data, "s"),
            algorithm=_text(data, "a"),
            signed_headers=tuple(_texts(data, "h")),
            error=None if error is None else _as_text(error, "error"),
        )


@dataclass(frozen=True, slots=True)
class SampleMessage:
    """One sample message given with ``--govmail-eml``.

    ``source`` is the path as the user gave it. ``raw`` holds the exact bytes (empty when the
    file could not be used); ``size`` the file's size in bytes, also when it was too large to
    keep. ``from_domain`` is the domain of the single RFC 5322.From address, normalised (IDNA
    A-labels, lower case, no trailing dot), or None when there is no single From address with a
    domain; ``from_header`` is the From field as written (None when absent; several fields are
    joined with `` | ``). ``dkim_signatures`` lists the ``DKIM-Signature`` fields in header order,
    which is the order dkimpy indexes them. ``error`` says why the message is unusable (missing
    file, too large, not a message at all), or is None.
    """

    source: str
    raw: bytes = b""
    size: int = 0
    from_domain: str | None = None
    from_header: str | None = None
    dkim_signatures: tuple[SignatureTags, ...] = ()
    error: str | None = None

    @property
    def sha256(self) -> str:
        """The SHA-256 of ``raw`` in hex: how an assessor ties the evidence to the file."""
        return hashlib.sha256(self.raw).hexdigest()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source,
            "size": self.size,
            "sha256": self.sha256,
            "raw_base64": base64.b64encode(self.raw).decode("ascii"),
            "from_domain": self.from_domain,
            "from_header": self.from_header,
            "dkim_signatures": [s.to_json() for s in self.dkim_signatures],
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SampleMessage:
        """The message :meth:`to_json` wrote; ValueError (or KeyError/TypeError) if malformed."""
        if not isinstance(data, Mapping):
            raise TypeError("a sample message must be a JSON object")
        encoded = _text(data, "raw_base64")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"raw_base64 is not base64: {exc}") from None
        if len(raw) > MAX_MESSAGE_BYTES:
            raise ValueError(f"sample message over {MAX_MESSAGE_BYTES} bytes")
        digest = data.get("sha256")
        if digest is not None and digest != hashlib.sha256(raw).hexdigest():
            raise ValueError(f"sample message {data.get('source')!r}: sha256 does not match")
        size = data.get("size", len(raw))
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be a non-negative integer, not {size!r}")
        signatures = data.get("dkim_signatures", [])
        if not isinstance(signatures, list):
            raise TypeError("dkim_signatures must be a list")
        error = data.get("error")
        return cls(
            source=_text(data, "source"),
            raw=raw,
            size=size,
            from_domain=_optional_text(data, "from_domain"),
            from_header=_optional_text(data, "from_header"),
            dkim_signatures=tuple(SignatureTags.from_json(s) for s in signatures),
            error=None if error is None else _as_text(error, "error"),
        )


def _as_text(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string, not {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    return _as_text(data[key], key)


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _as_text(value, key)


def _texts(data: Mapping[str, Any], key: str) -> list[str]:
    values = data.get(key, [])
    if not isinstance(values, list):
        raise TypeError(f"{key} must be a list")
    return [_as_text(v, key) for v in values]
