"""The MTA-STS TXT record at ``_mta-sts.<domain>`` (RFC 8461 section 3.1).

The policy *file* served over HTTPS is parsed elsewhere; this module only reads the DNS record
that announces it. The grammar (RFC 8461 section 3.1)::

    sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
    sts-field       = sts-id / sts-extension        ; sts-id is required
    sts-field-delim = *WSP ";" *WSP
    sts-version     = %s"v=STSv1"
    sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
    sts-extension   = sts-ext-name "=" sts-ext-value
    sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)  ; no '=', ';', space or control characters

So the version and the ``id=`` name are case-sensitive, there is no white space around ``=``, and
a field that looks like ``id`` but breaks its rule (``id=2024-01``) is only an extension, which
leaves the record without its required id: invalid. The grammar does not say what two ``id``
fields mean; a sender cannot know which one to compare, so we treat that as invalid too.
RFC 8460 (TLS-RPT, section 3) copies this grammar, so :func:`split_fields` serves both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pytest_govmail.model.dns import DnsResult
from pytest_govmail.records.txt import txt_values

VERSION = "v=STSv1"

_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}\Z")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+\Z")
_ID = re.compile(r"[A-Za-z0-9]{1,32}\Z")
_WSP = " \t"


class MtaStsSyntaxError(ValueError):
    """The text is not a valid ``_mta-sts`` TXT record (RFC 8461 section 3.1)."""


@dataclass(frozen=True, slots=True)
class MtaStsRecord:
    """A parsed ``_mta-sts`` record: its policy ``id`` and any extension fields, in order."""

    text: str
    id: str
    extensions: tuple[tuple[str, str], ...] = ()


def starts_with_version(text: str, version: str) -> bool:
    """True when ``text`` begins with ``version`` (case-sensitive) then a delimiter or the end."""
    if not text.startswith(version):
        return False
    rest = text[len(version) :].lstrip(_WSP)
    return rest == "" or rest.startswith(";")


def split_fields(
    text: str, version: str, error: type[ValueError], special: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """The ``name=value`` fields after ``version``, checked against the RFC 8461/8460 grammar.

    Names in ``special`` (``id``, ``rua``) are returned with their raw value for the caller to
    check; every other field must be a valid extension. Raises ``error`` on any syntax error.
    """
    if not starts_with_version(text, version):
        if text.lower().lstrip().startswith(version.lower()):
            raise error(
                f"the record must start with exactly {version!r} (case-sensitive, "
                "nothing before it) followed by ';'"
            )
        raise error(f"the record does not start with {version!r}")
    parts = text[len(version) :].split(";")
    if parts[0].strip(_WSP):
        raise error(f"{version!r} must be followed by ';'")
    fields: list[tuple[str, str]] = []
    for index, part in enumerate(parts[1:], start=1):
        chunk = part.strip(_WSP)
        if not chunk:
            if index == len(parts) - 1 and fields:
                break  # one trailing ';' is allowed
            raise error(
                "an empty field between two ';'"
                if index < len(parts) - 1
                else "no fields after the version"
            )
        name, equals, value = chunk.partition("=")
        if not equals or not value:
            raise error(f"{_short(chunk)!r} is not a name=value field")
        if name in special:
            fields.append((name, value))
            continue
        if _EXT_NAME.match(name) is None:
            raise error(
                f"{_short(name)!r} is not a valid field name (letters, digits, '_', "
                "'-', '.'; at most 32)"
            )
        if _EXT_VALUE.match(value) is None:
            raise error(
                f"the value of {_short(name)!r} holds a space, '=' or a character "
                "that is not printable ASCII"
            )
        fields.append((name, value))
    return fields


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def parse_mtasts_record(text: str) -> MtaStsRecord:
    """Parse an ``_mta-sts`` TXT value (strings joined). Raises only :class:`MtaStsSyntaxError`."""
    if not isinstance(text, str):
        raise MtaStsSyntaxError("an MTA-STS record must be text")
    fields = split_fields(text, VERSION, MtaStsSyntaxError, frozenset({"id"}))
    ids = [value for name, value in fields if name == "id"]
    if not ids:
        raise MtaStsSyntaxError("the record has no id field (RFC 8461 section 3.1 requires one)")
    if len(ids) > 1:
        raise MtaStsSyntaxError("the record has more than one id field")
    if _ID.match(ids[0]) is None:
        raise MtaStsSyntaxError(f"id={_short(ids[0])!r} is not 1 to 32 letters and digits")
    extensions = tuple((n, v) for n, v in fields if n != "id")
    return MtaStsRecord(text, ids[0], extensions)


def announced(values: tuple[str, ...] | list[str], version: str) -> tuple[str, ...]:
    """The TXT values that announce ``version``, after the discard rule of RFC 8461 section 3.1.

    RFC 8461 section 3.1 (and RFC 8460 section 3 for TLS-RPT): "records that do not begin with
    ``v=STSv1;`` are discarded", so a bare ``v=STSv1`` next to a valid record leaves exactly one
    record, and the policy is found. ``*WSP`` before the ``;`` is the grammar's delimiter, so
    ``v=STSv1 ;`` begins a record too. When no value begins with the version and a delimiter,
    the values that begin with the version alone are kept, so that a lone ``v=STSv1`` is
    reported as an invalid record rather than as no record at all (a sender ignores it either
    way; the message names what to fix).
    """
    loose = [v for v in values if starts_with_version(v, version)]
    strict = [v for v in loose if v[len(version) :].lstrip(_WSP).startswith(";")]
    return tuple(strict or loose)


def mtasts_records(result: DnsResult) -> tuple[str, ...]:
    """The TXT values of an answer that begin ``v=STSv1;`` (RFC 8461 section 3.1)."""
    return announced(txt_values(result), VERSION)
