"""The MTA-STS policy file served at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``.

RFC 8461 section 3.2 defines the file as ``key: value`` lines. Its grammar, abridged::

    sts-policy-record        = sts-policy-field *WSP
                               *(sts-policy-term sts-policy-field *WSP)
                               [sts-policy-term]
    sts-policy-field         = sts-policy-version / sts-policy-mode / sts-policy-max-age
                               / sts-policy-mx / sts-policy-extension
    sts-policy-field-delim   = ":" *WSP
    sts-policy-version       = %s"version" ":" *WSP %s"STSv1"          ; required once
    sts-policy-mode          = %s"mode" ":" *WSP
                               (%s"testing" / %s"enforce" / %s"none")  ; required once
    sts-policy-max-age       = %s"max_age" ":" *WSP 1*10DIGIT          ; required once
    sts-policy-mx            = %s"mx" ":" *WSP ["*."] Domain           ; once or more unless
                                                                       ; mode is "none"
    sts-policy-extension     = sts-policy-ext-name ":" *WSP sts-policy-ext-value
    sts-policy-ext-name      = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    sts-policy-ext-value     = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]
    sts-policy-vchar         = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4
    sts-policy-term          = LF / CRLF

What that means here, strictly:

* Lines end in LF or CRLF (both, even mixed, per the grammar and erratum 6253); a CR anywhere
  else is an error. One final line ending is optional; an empty line anywhere (including a second
  line ending at the end) is not in the grammar and is an error.
* No white space before a key or before its ``:``; spaces and tabs after the ``:`` and at the end
  of the line are allowed and not part of the value.
* Keys and the values of ``version`` and ``mode`` are case-sensitive (``%s``): ``Mode: enforce``
  is an extension field named ``Mode``, which leaves the policy without its ``mode``.
* The grammar puts no order on the fields, so ``version`` need not come first (unlike the
  ``v=STSv1`` of the TXT record).
* ``max_age`` is 1 to 10 digits and, as the text of section 3.2 says, at most 31557600 (a year).
* ``mx`` is an RFC 5321 ``Domain`` (letters, digits and inner hyphens, dot-separated, no final
  dot), optionally after ``*.``; we also apply DNS's limits of 63 per label and 253 in all.
* ``version``, ``mode`` and ``max_age`` may each appear only once (the grammar says "required
  once"); ``mx`` may repeat; unknown keys are extensions, which senders ignore (section 3.2), and
  are kept.

:func:`mx_pattern_matches` is RFC 8461 section 4.1's match of an MX host against a pattern.
This module imports no network library: judges use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: RFC 8461 section 3.2: "maximum value of 31557600" seconds (a year).
MAX_AGE_LIMIT = 31557600
VERSION = "STSv1"
MODES = ("enforce", "testing", "none")
SINGLE_KEYS = ("version", "mode", "max_age")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}\Z")
_DIGITS = re.compile(r"[0-9]{1,10}\Z")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # everything but TAB (WSP) is refused
_WSP = " \t"


class MtaStsPolicyError(ValueError):
    """The text is not a valid MTA-STS policy file (RFC 8461 section 3.2).

    ``code`` is a stable name for the finding: ``mtasts.policy.syntax`` for most errors, and
    ``mtasts.policy.mx_wildcard`` for an ``mx`` pattern with a ``*`` anywhere but as the whole
    leftmost label (``mx*.example.net``, ``mail.*.example.net``, ``*.*.example.net``), which
    section 3.2's ``["*." ] Domain`` does not allow and section 4.1's matching cannot read.
    """

    def __init__(self, message: str, code: str = "mtasts.policy.syntax") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class MtaStsPolicy:
    """A parsed policy. ``mx`` keeps the patterns in file order, as written."""

    version: str
    mode: str
    max_age: int
    mx: tuple[str, ...] = ()
    extensions: tuple[tuple[str, str], ...] = ()

    def matching_pattern(self, host: str) -> str | None:
        """The first ``mx`` pattern that ``host`` matches (RFC 8461 section 4.1), or None."""
        for pattern in self.mx:
            if mx_pattern_matches(pattern, host):
                return pattern
        return None

    def matches(self, host: str) -> bool:
        return self.matching_pattern(host) is not None


def _short(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


def is_hostname(text: str) -> bool:
    """An RFC 5321 ``Domain`` within DNS limits: LDH labels, no empty label, no final dot."""
    if not text or len(text) > 253:
        return False
    return all(_LABEL.match(label) is not None for label in text.split("."))


def is_mx_pattern(text: str) -> bool:
    """``Domain`` or ``*.`` then ``Domain`` (RFC 8461 section 3.2, ``sts-policy-mx-value``)."""
    return is_hostname(text[2:] if text.startswith("*.") else text)


def _lines(text: str) -> list[str]:
    """The lines of ``text`` (LF or CRLF terminators), checked against the grammar's framing."""
    if text == "":
        raise MtaStsPolicyError("the policy is empty")
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\r"):
        body = body[:-1]
    lines = body.split("\n")
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
            lines[number - 1] = line
        if "\r" in line:
            raise MtaStsPolicyError(
                f"line {number} holds a carriage return that is not part of a CRLF line ending"
            )
        if line == "":
            where = "at the end" if number == len(lines) else f"at line {number}"
            raise MtaStsPolicyError(
                f"an empty line {where}: RFC 8461 section 3.2 allows one 'key: value' field on "
                "every line and no blank lines (one final line ending is allowed)"
            )
    return lines


def _field(number: int, line: str) -> tuple[str, str]:
    """(key, value) of one line, with the value's surrounding white space removed."""
    control = _CONTROL.search(line)
    if control is not None:
        raise MtaStsPolicyError(f"line {number} holds the control character {control.group()!r}")
    if line[0] in _WSP:
        raise MtaStsPolicyError(f"line {number} starts with white space: {_short(line)}")
    key, colon, value = line.partition(":")
    if not colon:
        if line.startswith("\ufeff"):
            raise MtaStsPolicyError("the policy starts with a byte order mark (U+FEFF)")
        raise MtaStsPolicyError(f"line {number} is not a 'key: value' field: {_short(line)}")
    if _NAME.match(key) is None:
        if key.startswith("\ufeff"):
            raise MtaStsPolicyError("the policy starts with a byte order mark (U+FEFF)")
        if key.rstrip(_WSP) != key:
            raise MtaStsPolicyError(
                f"line {number}: white space before ':' after {_short(key.rstrip(_WSP))}"
            )
        raise MtaStsPolicyError(
            f"line {number}: {_short(key)} is not a valid key (a letter or digit, then up to 31 "
            "letters, digits, '_', '-' or '.')"
        )
    value = value.strip(_WSP)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MtaStsPolicyError(f"line {number} is not valid UTF-8 text") from None
    return key, value


def _mode(number: int, value: str) -> str:
    if value in MODES:
        return value
    hint = " (values are case-sensitive)" if value.lower() in MODES else ""
    raise MtaStsPolicyError(
        f"line {number}: mode {_short(value)} is not enforce, testing or none{hint}"
    )


def _max_age(number: int, value: str) -> int:
    if _DIGITS.match(value) is None:
        raise MtaStsPolicyError(
            f"line {number}: max_age {_short(value)} is not 1 to 10 digits (seconds)"
        )
    seconds = int(value)
    if seconds > MAX_AGE_LIMIT:
        raise MtaStsPolicyError(
            f"line {number}: max_age {seconds} is over the maximum of {MAX_AGE_LIMIT} "
            "(one year; RFC 8461 section 3.2)"
        )
    return seconds


def _mx(number: int, value: str) -> str:
    if is_mx_pattern(value):
        return value
    code = "mtasts.policy.syntax"
    if value.endswith(".") and is_mx_pattern(value[:-1]):
        why = "a pattern must not end with '.'"
    elif "*" in value:
        why = (
            "a wildcard is only allowed as a whole first label, '*.' then a hostname "
            "(RFC 8461 section 3.2)"
        )
        code = "mtasts.policy.mx_wildcard"
    else:
        why = "not a hostname (letters, digits and inner hyphens, separated by dots)"
    raise MtaStsPolicyError(f"line {number}: mx {_short(value)} is invalid: {why}", code)


def is_wildcard_pattern(pattern: str) -> bool:
    """True for a valid ``*.`` pattern (one that matches any single leftmost label)."""
    return pattern.startswith("*.") and is_mx_pattern(pattern)


def _extension_value(number: int, key: str, value: str) -> str:
    if not value:
        raise MtaStsPolicyError(f"line {number}: the field {_short(key)} has no value")
    if "\t" in value:
        raise MtaStsPolicyError(
            f"line {number}: the value of {_short(key)} holds a tab (only spaces are allowed "
            "inside a value)"
        )
    return value


def parse_mtasts_policy(text: str) -> MtaStsPolicy:
    """Parse a policy file's text. Raises only :class:`MtaStsPolicyError`."""
    if not isinstance(text, str):
        raise MtaStsPolicyError("an MTA-STS policy must be text")
    seen: dict[str, int] = {}
    version = mode = None
    max_age: int | None = None
    mx: list[str] = []
    extensions: list[tuple[str, str]] = []
    for number, line in enumerate(_lines(text), start=1):
        key, value = _field(number, line)
        if key in SINGLE_KEYS:
            if key in seen:
                raise MtaStsPolicyError(
                    f"line {number}: a second {key!r} field (the first is on line {seen[key]}); "
                    f"{key!r} may appear only once"
                )
            seen[key] = number
        if key == "version":
            if value != VERSION:
                raise MtaStsPolicyError(
                    f"line {number}: version {_short(value)} is not {VERSION!r} (case-sensitive)"
                )
            version = value
        elif key == "mode":
            mode = _mode(number, value)
        elif key == "max_age":
            max_age = _max_age(number, value)
        elif key == "mx":
            mx.append(_mx(number, value))
        else:
            extensions.append((key, _extension_value(number, key, value)))
    for key, found in (("version", version), ("mode", mode), ("max_age", max_age)):
        if found is None:
            raise MtaStsPolicyError(_missing(key, extensions))
    assert version is not None and mode is not None and max_age is not None
    if not mx and mode != "none":
        raise MtaStsPolicyError(
            f"no mx field: a policy in mode {mode!r} must list at least one mx pattern"
        )
    return MtaStsPolicy(version, mode, max_age, tuple(mx), tuple(extensions))


def _missing(key: str, extensions: list[tuple[str, str]]) -> str:
    near = [name for name, _ in extensions if name.lower() == key]
    hint = f" ({_short(near[0])} is not {key!r}: keys are case-sensitive)" if near else ""
    return f"no {key!r} field{hint}; a policy needs version, mode and max_age exactly once"


def mx_pattern_matches(pattern: str, host: str) -> bool:
    """RFC 8461 section 4.1: does MX ``host`` match policy ``pattern``?

    Case-insensitive; a final dot on ``host`` is ignored. ``*.example.net`` matches exactly one
    left-most label (``mx1.example.net``), never ``example.net`` itself nor ``a.b.example.net``.
    Anything else matches only the identical name. Never raises.
    """
    pattern = pattern.lower()
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or not pattern:
        return False
    if pattern.startswith("*."):
        suffix = pattern[1:]
        if not host.endswith(suffix):
            return False
        label = host[: -len(suffix)]
        return bool(label) and "." not in label and label != "*"
    return pattern == host
