"""SPF (RFC 7208): a strict parser for one record, and the include/redirect tree walk.

:func:`parse_spf` reads one record (the TXT strings already joined, as
:func:`pytest_govmail.records.txt.txt_value` gives) against the ABNF of RFC 7208 section 12 and
returns an :class:`SpfRecord`, or raises :class:`SpfSyntaxError` (and nothing else, for any
``str``). :func:`spf_errors` lists every error of a record, one per faulty term.

:func:`walk_spf` follows a domain's record through ``include`` and ``redirect`` over the DNS
answers known so far and returns an :class:`SpfTree`. The same walk serves the planner (which asks
for every answer the tree still lacks) and the judges (which count lookups and read the tree), so
the two cannot disagree about what evaluation needs.

The walk mirrors RFC 7208 evaluation, worst case (no mechanism matches):

* every DNS-querying term (``include``, ``a``, ``mx``, ``ptr``, ``exists``, ``redirect``) up to the
  first ``all`` counts as one lookup (section 4.6.4); terms after ``all`` are never evaluated
  (section 5.1), and ``redirect`` is ignored when the record has an ``all`` (section 6.1);
  ``exp`` never counts;
* ``include`` and ``redirect`` targets are walked recursively; a target already on the path from
  the root is a loop and is not walked again;
* a target whose macros are all client-free (``%{d}``, ``%{o}``, section 7.2; see
  :func:`expand_domain_spec`) is expanded and walked like any name; a target with a macro that
  names the client or the sender's mailbox (``%{i}``, ``%{s}``, ``%{l}``, ``%{h}`` ...) cannot be
  resolved without a client, so it is recorded but not queried; ``ptr`` needs a client address
  and is never queried;
* the walk stops after :data:`WALK_TERM_BUDGET` DNS-querying terms or :data:`WALK_MAX_DEPTH`
  levels, so a hostile chain of records cannot make the collector ask forever. Either bound is far
  beyond the limit of 10, so a truncated tree already fails that limit.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from pytest_govmail.model.dns import DnsResult, DnsView, Query, normalise_name
from pytest_govmail.records.txt import TxtSyntaxError, starting_with

SPF_VERSION = "v=spf1"
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
QUALIFIERS = "+-~?"

MAX_DNS_TERMS = 10
"""RFC 7208 section 4.6.4: DNS-querying terms allowed in one evaluation."""
MAX_VOID_LOOKUPS = 2
"""RFC 7208 section 4.6.4: void lookups allowed (SHOULD; the RFC's recommended default)."""
MAX_MX_NAMES = 10
"""RFC 7208 section 4.6.4: an ``mx`` term may look up the addresses of at most 10 exchanges."""
WALK_TERM_BUDGET = 40
"""The walk stops after this many DNS-querying terms (4x the limit, as pyspf does)."""
WALK_MAX_DEPTH = 12
"""The walk does not follow include/redirect deeper than this many levels."""

_MESSAGE_CLIP = 80
_ASCII_DIGITS = frozenset("0123456789")


def _clip(text: str, limit: int = _MESSAGE_CLIP) -> str:
    """Text taken from the network, bounded for a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def spf_records(result: DnsResult) -> tuple[str, ...]:
    """The SPF records among an answer's TXT records: ``v=spf1`` alone or followed by a space
    (RFC 7208 section 4.5; case-insensitive). ``v=spf1;...`` or a tab is not an SPF record."""
    return starting_with(result, SPF_VERSION, (" ",))


class SpfSyntaxError(ValueError):
    """A record that does not match RFC 7208 section 12: which term, and why.

    ``index`` is the term's position after ``v=spf1`` (1 for the first term), or ``None`` for an
    error about the record as a whole. ``kind`` says which rule failed: ``"version"`` (the record
    does not start with ``v=spf1``), ``"term"`` (a term does not parse) or ``"duplicate"`` (a
    second ``redirect`` or ``exp``).
    """

    def __init__(
        self, reason: str, term: str | None = None, index: int | None = None, kind: str = "term"
    ) -> None:
        super().__init__(reason, term, index, kind)
        self.reason = reason
        self.term = term
        self.index = index
        self.kind = kind

    def __str__(self) -> str:
        if self.term is None:
            return self.reason
        return f"term {self.index} {_clip(self.term)!r}: {self.reason}"


# --------------------------------------------------------------------------------------------
# The parsed record


@dataclass(frozen=True, slots=True)
class Mechanism:
    """A directive: ``[qualifier] name[:domain-spec|:network][/cidr4][//cidr6]``.

    ``qualifier`` is as written (``""`` when omitted; :attr:`result_qualifier` gives the
    effective one). ``name`` is lower case; ``domain_spec`` and ``network`` keep their case.
    """

    name: str
    qualifier: str = ""
    domain_spec: str | None = None
    network: str | None = None
    cidr4: int | None = None
    cidr6: int | None = None
    text: str = field(default="", compare=False)

    @property
    def result_qualifier(self) -> str:
        return self.qualifier or "+"

    @property
    def queries_dns(self) -> bool:
        return self.name in DNS_MECHANISMS

    def to_text(self) -> str:
        """The canonical text: names in lower case, everything else as written."""
        out = self.qualifier + self.name
        if self.network is not None:
            out += ":" + self.network
        elif self.domain_spec is not None:
            out += ":" + self.domain_spec
        if self.name == "ip6":
            if self.cidr6 is not None:
                out += f"/{self.cidr6}"
            return out
        if self.cidr4 is not None:
            out += f"/{self.cidr4}"
        if self.cidr6 is not None:
            out += f"//{self.cidr6}"
        return out

    def __str__(self) -> str:
        return self.text or self.to_text()


@dataclass(frozen=True, slots=True)
class Modifier:
    """``name=value``: ``redirect`` and ``exp`` (value a domain-spec) or an unknown modifier."""

    name: str
    value: str
    text: str = field(default="", compare=False)

    @property
    def queries_dns(self) -> bool:
        """Only ``redirect`` counts towards the lookup limit (``exp`` does not, section 4.6.4)."""
        return self.name == "redirect"

    def to_text(self) -> str:
        return f"{self.name}={self.value}"

    def __str__(self) -> str:
        return self.text or self.to_text()


Term = Mechanism | Modifier


@dataclass(frozen=True, slots=True)
class SpfRecord:
    """One parsed SPF record: its text as published and its terms in order."""

    text: str
    terms: tuple[Term, ...]

    @property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, Mechanism))

    @property
    def modifiers(self) -> tuple[Modifier, ...]:
        return tuple(t for t in self.terms if isinstance(t, Modifier))

    def modifier(self, name: str) -> Modifier | None:
        return next((m for m in self.modifiers if m.name == name), None)

    @property
    def redirect(self) -> Modifier | None:
        return self.modifier("redirect")

    @property
    def exp(self) -> Modifier | None:
        return self.modifier("exp")

    @property
    def all(self) -> Mechanism | None:
        """The first ``all`` mechanism: evaluation ends there (RFC 7208 section 5.1)."""
        return next((m for m in self.mechanisms if m.name == "all"), None)

    def evaluated_terms(self) -> tuple[Term, ...]:
        """The DNS-querying terms evaluation can reach, in order (RFC 7208 sections 4.6.4, 6.1).

        The mechanisms before the first ``all``, then ``redirect`` when there is no ``all``.
        """
        out: list[Term] = []
        for mech in self.mechanisms:
            if mech.name == "all":
                return tuple(out)
            if mech.queries_dns:
                out.append(mech)
        if self.redirect is not None:
            out.append(self.redirect)
        return tuple(out)

    def to_text(self) -> str:
        """The canonical text: ``v=spf1`` and the terms' canonical text, one space apart."""
        return " ".join([SPF_VERSION, *(t.to_text() for t in self.terms)])

    def replace_terms(self, terms: tuple[Term, ...]) -> str:
        """The record text with other terms (each kept as written): for suggested fixes."""
        version = self.text[: len(SPF_VERSION)]
        return " ".join([version, *(str(t) for t in terms)])


# --------------------------------------------------------------------------------------------
# Macros and domain-specs (RFC 7208 sections 7.1 and 12)

_MACRO_BODY = re.compile(r"([slodiphcrtv])([0-9]*)(r?)([.\-+,/_=]*)", re.ASCII | re.IGNORECASE)
_TOPLABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?", re.ASCII)
_DOMAIN_END = re.compile(r"\.([^.]*)\.?\Z", re.ASCII)
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.\-]*)=", re.ASCII)
_CIDR_TAIL = re.compile(r"(.*?)((?:/[0-9]+)?(?://[0-9]+)?)", re.ASCII | re.DOTALL)
_IP4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", re.ASCII)
_IP6_CHARS = re.compile(r"[0-9A-Fa-f:.]+", re.ASCII)


def _describe_char(ch: str) -> str:
    if ch == "\ufffd":
        return "a byte that is not UTF-8"
    if ch.isprintable() and not ch.isspace():
        return f"{ch!r}"
    return f"U+{ord(ch):04X}"


def _macro_string(text: str, *, explanation: bool = False) -> list[tuple[bool, str]]:
    """Split a macro-string into (is_macro, text) parts, or raise (without term context).

    ``explanation`` allows spaces and the letters c, r and t (explain-string, section 7.1).
    """
    parts: list[tuple[bool, str]] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            if not ("\x21" <= ch <= "\x7e" or (explanation and ch == " ")):
                raise SpfSyntaxError(f"{_describe_char(ch)} is not allowed (visible ASCII only)")
            literal.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in ("%", "_", "-"):
            token = text[i : i + 2]
            i += 2
        elif nxt == "{":
            end = text.find("}", i + 2)
            if end < 0:
                raise SpfSyntaxError(f"macro {_clip(text[i:], 20)!r} has no closing '}}'")
            body = text[i + 2 : end]
            match = _MACRO_BODY.fullmatch(body)
            if match is None:
                raise SpfSyntaxError(
                    f"macro %{{{_clip(body, 20)}}} is not a macro letter (s l o d i p h v)"
                    " followed by optional digits, 'r' and delimiters (RFC 7208 section 7.1)"
                )
            letter, digits = match.group(1).lower(), match.group(2)
            if letter in "crt" and not explanation:
                raise SpfSyntaxError(
                    f"macro %{{{body}}}: the letters c, r and t are allowed only in"
                    " explanation text, not in a record (RFC 7208 section 7.2)"
                )
            if digits and not digits.strip("0"):
                raise SpfSyntaxError(
                    f"macro %{{{body}}}: the digit transformer must not be zero"
                    " (RFC 7208 section 7.3)"
                )
            token = text[i : end + 1]
            i = end + 1
        else:
            raise SpfSyntaxError(
                "'%' must start a macro (%{...}, %%, %_ or %-); write %% for a literal '%'"
            )
        if literal:
            parts.append((False, "".join(literal)))
            literal = []
        parts.append((True, token))
    if literal:
        parts.append((False, "".join(literal)))
    return parts


def has_macros(domain_spec: str) -> bool:
    """Whether a domain-spec holds any macro-expand (``%{..}``, ``%%``, ``%_``, ``%-``).

    Only :func:`expand_domain_spec` can name such a target: ``%{d}`` and ``%{o}`` expand, while
    ``%{i}``, ``%{s}`` and most letters need the connecting client and the sender, which an
    assessment does not have.
    """
    return "%" in domain_spec


#: Macro letters whose value an assessment knows without a client (RFC 7208 section 7.2):
#: ``d`` is the <domain> being checked (the include or redirect target inside one), ``o`` the
#: domain of <sender>, which is the assessed domain itself (an assessment asks what mail *from*
#: that domain may pass; section 4.1 starts check_host() with <domain> equal to it). Every other
#: letter names the client (``i``, ``p``, ``v``, ``h``), the sender's mailbox (``s``, ``l``) or
#: the receiver (``c``, ``r``, ``t``, explanations only).
CLIENT_FREE_LETTERS = frozenset("do")
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def _transform(value: str, digits: str, reverse: str, delimiters: str) -> str:
    """RFC 7208 section 7.3: split on the delimiters, reverse, keep the right-most N, join '.'."""
    parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
    if reverse:
        parts.reverse()
    if digits:
        parts = parts[-int(digits) :]
    return ".".join(parts)


def expand_domain_spec(spec: str, domain: str, sender_domain: str) -> str | None:
    """The name a domain-spec's macros expand to, or None if a macro depends on the client.

    RFC 7208 section 7.3: ``%{d}`` is the current <domain>, ``%{o}`` the sender's domain;
    transformers (digits, ``r``, delimiters) apply; an upper-case letter's value is URL-escaped;
    ``%%``, ``%_`` and ``%-`` are ``%``, a space and ``%20``. Raises :class:`SpfSyntaxError` for
    a spec that is not a macro-string (never for one that :func:`parse_spf` accepted).
    """
    out: list[str] = []
    for is_macro, text in _macro_string(spec):
        if not is_macro:
            out.append(text)
            continue
        if text in ("%%", "%_", "%-"):
            out.append({"%%": "%", "%_": " ", "%-": "%20"}[text])
            continue
        match = _MACRO_BODY.fullmatch(text[2:-1])
        if match is None:  # pragma: no cover - _macro_string has checked every macro
            raise SpfSyntaxError(f"macro {text!r} does not parse")
        letter, digits, reverse, delimiters = match.groups()
        if letter.lower() not in CLIENT_FREE_LETTERS:
            return None
        value = domain if letter.lower() == "d" else sender_domain
        value = _transform(value, digits, reverse, delimiters)
        if letter.isupper():
            value = "".join(c if c in _UNRESERVED else f"%{ord(c):02X}" for c in value)
        out.append(value)
    return _fit_name("".join(out))


def _fit_name(name: str) -> str:
    """RFC 7208 section 7.3: an expanded name over 253 characters loses labels from the left."""
    while len(name.rstrip(".")) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name


def dns_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be asked of DNS (empty label, over 63 or 253 octets), or None."""
    bare = name[:-1] if name.endswith(".") else name
    if not bare:
        return "an empty name"
    if len(bare) > 253:
        return f"{len(bare)} characters long (at most 253)"
    for label in bare.split("."):
        if not label:
            return "an empty label"
        if len(label) > 63:
            return f"a label of {len(label)} characters (at most 63)"
        if not label.isascii() or any(c.isspace() for c in label):
            return "a label with a space or a character that is not ASCII"
    return None


def check_domain_spec(spec: str) -> None:
    """Raise :class:`SpfSyntaxError` (without term context) unless ``spec`` is a domain-spec.

    Beyond the ABNF (a macro-string ending in ``.toplabel`` or a macro-expand), a domain-spec
    without macros must also be a name DNS can carry: no empty label, labels of at most 63
    octets, at most 253 octets in all.
    """
    if not spec:
        raise SpfSyntaxError("the domain-spec is empty")
    parts = _macro_string(spec)
    last_is_macro, tail = parts[-1]
    if not last_is_macro:
        match = _DOMAIN_END.search(tail)
        label = match.group(1) if match is not None else None
        if label is None or not _TOPLABEL.fullmatch(label) or label.isdigit():
            raise SpfSyntaxError(
                f"domain {_clip(spec)!r} must end in a top-level label such as '.uk'"
                " (letters, digits and inner hyphens, not all digits) or in a macro"
            )
    if has_macros(spec):
        return
    name = spec[:-1] if spec.endswith(".") else spec
    if len(name) > 253:
        raise SpfSyntaxError(f"domain is {len(name)} characters long (at most 253)")
    for label in name.split("."):
        if not label:
            raise SpfSyntaxError(f"domain {_clip(spec)!r} has an empty label")
        if len(label) > 63:
            raise SpfSyntaxError(f"domain has a label of {len(label)} characters (at most 63)")


def check_explanation(text: str) -> None:
    """Raise :class:`SpfSyntaxError` unless ``text`` is an explain-string (RFC 7208 section 7.1)."""
    _macro_string(text, explanation=True)


# --------------------------------------------------------------------------------------------
# Terms


def _cidr(digits: str, maximum: int, family: str, hint: str = "") -> int:
    if len(digits) > 1 and digits.startswith("0"):
        raise SpfSyntaxError(f"{family} prefix length /{_clip(digits, 10)} has a leading zero")
    if len(digits) > 3 or int(digits) > maximum:
        raise SpfSyntaxError(
            f"{family} prefix length /{_clip(digits, 10)} is out of range (0-{maximum}){hint}"
        )
    return int(digits)


def _dual_cidr(tail: str) -> tuple[int | None, int | None]:
    """``/24``, ``//64`` or ``/24//64`` (already matched by :data:`_CIDR_TAIL`)."""
    cidr4: int | None = None
    cidr6: int | None = None
    v4, sep, v6 = tail.partition("//")
    if v4:
        cidr4 = _cidr(v4[1:], 32, "ip4", "; an IPv6 prefix length follows '//', as in a//64")
    if sep:
        cidr6 = _cidr(v6, 128, "ip6")
    return cidr4, cidr6


def _ip4(text: str) -> tuple[str, int | None]:
    address, slash, cidr = text.partition("/")
    valid = _IP4.fullmatch(address) is not None and all(
        (len(q) == 1 or not q.startswith("0")) and int(q) <= 255 for q in address.split(".")
    )
    if not valid:
        raise SpfSyntaxError(f"{_clip(address, 40)!r} is not an IPv4 address in dotted-quad form")
    if not slash:
        return address, None
    if not cidr or not set(cidr) <= _ASCII_DIGITS:
        raise SpfSyntaxError(f"ip4 prefix length /{_clip(cidr, 10)} is not a number")
    return address, _cidr(cidr, 32, "ip4")


def _ip6(text: str) -> tuple[str, int | None]:
    address, slash, cidr = text.partition("/")
    valid = _IP6_CHARS.fullmatch(address) is not None
    if valid:
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            valid = False
    if not valid:
        raise SpfSyntaxError(f"{_clip(address, 50)!r} is not an IPv6 address (RFC 4291)")
    if not slash:
        return address, None
    if not cidr or not set(cidr) <= _ASCII_DIGITS:
        raise SpfSyntaxError(f"ip6 prefix length /{_clip(cidr, 10)} is not a number")
    return address, _cidr(cidr, 128, "ip6")


def _mechanism(term: str) -> Mechanism:
    qualifier = term[0] if term[0] in QUALIFIERS else ""
    body = term[len(qualifier) :]
    cut = min((i for i in (body.find(":"), body.find("/")) if i >= 0), default=len(body))
    raw_name, rest = body[:cut], body[cut:]
    name = raw_name.lower()
    if name not in MECHANISMS or not raw_name.isascii():
        if not raw_name:
            raise SpfSyntaxError("a qualifier must be followed by a mechanism")
        raise SpfSyntaxError(
            f"unknown mechanism {_clip(raw_name, 30)!r}"
            " (RFC 7208 section 5: all, include, a, mx, ptr, ip4, ip6, exists)"
        )
    if name == "all":
        if rest:
            raise SpfSyntaxError("'all' takes no argument")
        return Mechanism(name, qualifier, text=term)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{name} needs an address, as in {name}:{_EXAMPLE_NET[name]}")
        network, cidr = (_ip4 if name == "ip4" else _ip6)(rest[1:])
        if name == "ip4":
            return Mechanism(name, qualifier, network=network, cidr4=cidr, text=term)
        return Mechanism(name, qualifier, network=network, cidr6=cidr, text=term)
    if name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) == 1:
            raise SpfSyntaxError(f"{name} needs a domain, as in {name}:_spf.example.gov.uk")
        check_domain_spec(rest[1:])
        return Mechanism(name, qualifier, domain_spec=rest[1:], text=term)
    if name == "ptr":
        if not rest:
            return Mechanism(name, qualifier, text=term)
        if not rest.startswith(":"):
            raise SpfSyntaxError("ptr takes only ':domain' (no prefix length)")
        check_domain_spec(rest[1:])
        return Mechanism(name, qualifier, domain_spec=rest[1:], text=term)
    # a and mx: [":" domain-spec] [dual-cidr-length]
    match = _CIDR_TAIL.fullmatch(rest)
    assert match is not None  # the pattern matches any string
    spec_part, tail = match.group(1), match.group(2)
    cidr4, cidr6 = _dual_cidr(tail)
    if not spec_part:
        return Mechanism(name, qualifier, cidr4=cidr4, cidr6=cidr6, text=term)
    if not spec_part.startswith(":"):
        raise SpfSyntaxError(f"expected ':domain' or '/prefix' after {name}")
    check_domain_spec(spec_part[1:])
    return Mechanism(name, qualifier, spec_part[1:], None, cidr4, cidr6, text=term)


_EXAMPLE_NET = {"ip4": "192.0.2.0/24", "ip6": "2001:db8::/32"}


def _modifier(term: str, name: str) -> Modifier:
    value = term[len(name) + 1 :]
    low = name.lower()
    if low in ("redirect", "exp"):
        if not value:
            raise SpfSyntaxError(f"{low}= needs a domain")
        check_domain_spec(value)
    else:
        _macro_string(value)
    return Modifier(low, value, text=term)


def _term(term: str) -> Term:
    bad = next((ch for ch in term if not "\x21" <= ch <= "\x7e"), None)
    if bad is not None:
        raise SpfSyntaxError(
            f"{_describe_char(bad)} is not allowed: terms hold visible ASCII only and are"
            " separated by spaces"
        )
    match = _MODIFIER.match(term)
    if match is not None:
        return _modifier(term, match.group(1))
    return _mechanism(term)


def _split(text: str) -> list[str]:
    if not isinstance(text, str):
        raise TypeError(f"an SPF record is a str, not {type(text).__name__}")
    version = text[: len(SPF_VERSION)]
    rest = text[len(SPF_VERSION) :]
    if version.lower() != SPF_VERSION or rest[:1] not in ("", " "):
        raise SpfSyntaxError(
            f"the record must start with 'v=spf1' followed by a space or its end;"
            f" it starts with {_clip(text, 20)!r} (RFC 7208 section 4.5)",
            kind="version",
        )
    return [t for t in rest.split(" ") if t]


def _check_record(terms: list[tuple[int, str, Term]]) -> list[SpfSyntaxError]:
    errors = []
    for name in ("redirect", "exp"):
        found = [(i, raw) for i, raw, t in terms if isinstance(t, Modifier) and t.name == name]
        for i, raw in found[1:]:
            reason = f"a second {name}= (at most one; RFC 7208 section 6)"
            errors.append(SpfSyntaxError(reason, raw, i, "duplicate"))
    return errors


#: Parses are remembered by text: the DNS planners read every SPF record again each round, each
#: SPF judge reads it again, and a sweep's domains share a handful of records (their provider's).
_CACHED = 8192


@functools.lru_cache(maxsize=_CACHED)
def spf_errors(text: str) -> tuple[SpfSyntaxError, ...]:
    """Every syntax error of a record, in order: one per faulty term, then duplicate modifiers."""
    try:
        raw_terms = _split(text)
    except SpfSyntaxError as exc:
        return (exc,)
    errors: list[SpfSyntaxError] = []
    parsed: list[tuple[int, str, Term]] = []
    for index, raw in enumerate(raw_terms, start=1):
        try:
            parsed.append((index, raw, _term(raw)))
        except SpfSyntaxError as exc:
            errors.append(SpfSyntaxError(exc.reason, raw, index))
    errors.extend(_check_record(parsed))
    return tuple(errors)


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record strictly (RFC 7208 section 12), or raise :class:`SpfSyntaxError`.

    Names (version, mechanisms, modifiers, macro letters) are case-insensitive; terms are
    separated by one or more spaces (no other whitespace); unknown modifiers are kept, unknown
    mechanisms are errors; ``redirect`` and ``exp`` may each appear once.
    """
    errors = spf_errors(text)
    if errors:
        raise errors[0].with_traceback(None)  # remembered, so shared: a fresh traceback each time
    return _record(text)


@functools.lru_cache(maxsize=_CACHED)
def _record(text: str) -> SpfRecord:
    return SpfRecord(text, tuple(_term(raw) for raw in _split(text)))


# --------------------------------------------------------------------------------------------
# The tree walk


class NodeState(enum.StrEnum):
    """What the walk found at one domain of the include/redirect tree."""

    OK = "ok"
    """Exactly one SPF record, and it parses: its terms were walked."""
    NO_RECORD = "no_record"
    """The TXT answer (NXDOMAIN, NODATA or other TXT only) holds no SPF record."""
    MULTIPLE = "multiple"
    """More than one SPF record: a permerror (RFC 7208 section 4.5)."""
    INVALID = "invalid"
    """One SPF record that does not parse: a permerror."""
    UNRESOLVED = "unresolved"
    """The TXT lookup failed (timeout, SERVFAIL ...) or has not been collected yet."""
    LOOP = "loop"
    """The domain is already on the path from the root: not walked again."""
    MACRO = "macro"
    """The target has macros, so it cannot be named without a client: not queried."""
    NOT_EXPANDED = "not_expanded"
    """The walk's bound was reached before this target."""


@dataclass(frozen=True, slots=True)
class SpfNode:
    """One domain's place in the tree: its record (if any) and the lookups its terms make."""

    domain: str
    state: NodeState
    depth: int = 0
    path: tuple[str, ...] = ()
    query: Query | None = None
    void: bool | None = None
    text: str = ""
    record: SpfRecord | None = None
    problem: str = ""
    lookups: tuple[TermLookup, ...] = ()
    truncated: bool = False

    @property
    def count(self) -> int:
        """DNS-querying terms evaluated from this record, through its includes and redirect."""
        return sum(lookup.count for lookup in self.lookups)

    def nodes(self) -> Iterator[SpfNode]:
        """This node and every node below it, depth first in evaluation order."""
        yield self
        for lookup in self.lookups:
            if lookup.child is not None:
                yield from lookup.child.nodes()


@dataclass(frozen=True, slots=True)
class TermLookup:
    """One DNS-querying term as evaluation meets it, with what its queries got.

    ``void`` is True when the term's lookup got no records (for ``a``: neither A nor AAAA; for
    ``mx``: the MX query), None when unknown (a failed or missing answer, macros, ``ptr``).
    ``unresolved`` describes the failed or missing answers the verdicts depend on.
    """

    term: Term
    domain: str
    target: str | None
    queries: tuple[Query, ...] = ()
    void: bool | None = None
    unresolved: tuple[str, ...] = ()
    mx_names: int | None = None
    child: SpfNode | None = None

    @property
    def count(self) -> int:
        return 1 + (self.child.count if self.child is not None else 0)

    @property
    def kind(self) -> str:
        return self.term.name


@dataclass(frozen=True, slots=True)
class SpfTree:
    """The result of :func:`walk_spf`."""

    root: SpfNode
    truncated: bool = False

    @property
    def dns_terms(self) -> int:
        """DNS-querying terms counted through the whole tree (RFC 7208 section 4.6.4)."""
        return self.root.count

    def nodes(self) -> Iterator[SpfNode]:
        return self.root.nodes()

    def lookups(self) -> Iterator[TermLookup]:
        for node in self.nodes():
            yield from node.lookups

    def queries(self) -> tuple[Query, ...]:
        """Every DNS question the tree rests on, asked or still to ask, without repeats."""
        seen: dict[Query, None] = {}
        for node in self.nodes():
            if node.query is not None:
                seen.setdefault(node.query)
            for lookup in node.lookups:
                for query in lookup.queries:
                    seen.setdefault(query)
        return tuple(seen)


def _describe_missing(query: Query, result: DnsResult | None) -> str:
    if result is None:
        return f"{query.key}: not collected"
    return result.describe()


def _mx_exchanges(result: DnsResult) -> list[str]:
    """The exchanges of an MX answer, by preference; the null MX ``.`` becomes ``""``."""
    found: list[tuple[int, str]] = []
    for record in result.records:
        parts = record.split()
        if len(parts) == 2 and parts[0].isascii() and parts[0].isdigit():
            found.append((int(parts[0]), normalise_name(parts[1])))
    return [name for _, name in sorted(found)]


class _Walk:
    """One walk's state: the answers and the budget of DNS-querying terms left."""

    def __init__(self, dns: DnsView, sender_domain: str = "") -> None:
        self.dns = dns
        self.sender_domain = sender_domain
        self.terms = 0
        self.truncated = False

    def answer(self, name: str, rdtype: str) -> tuple[Query, DnsResult | None]:
        query = Query.of(name, rdtype)
        return query, self.dns.get(query.name, query.rdtype)

    def node(self, domain: str, path: tuple[str, ...], depth: int) -> SpfNode:
        if domain in path:
            return SpfNode(domain, NodeState.LOOP, depth, (*path, domain))
        if depth > WALK_MAX_DEPTH or self.terms >= WALK_TERM_BUDGET:
            self.truncated = True
            return SpfNode(domain, NodeState.NOT_EXPANDED, depth, path)
        path = (*path, domain)
        query, result = self.answer(domain, "TXT")
        if result is None or result.error is not None:
            problem = _describe_missing(query, result)
            return SpfNode(domain, NodeState.UNRESOLVED, depth, path, query, problem=problem)
        try:
            found = spf_records(result)
        except TxtSyntaxError as exc:
            problem = f"{query.key}: malformed TXT evidence ({exc})"
            return SpfNode(domain, NodeState.UNRESOLVED, depth, path, query, problem=problem)
        base = SpfNode(domain, NodeState.NO_RECORD, depth, path, query, result.void)
        if not found:
            return base
        if len(found) > 1:
            return _replace(base, NodeState.MULTIPLE, text=" | ".join(found))
        try:
            record = parse_spf(found[0])
        except SpfSyntaxError as exc:
            return _replace(base, NodeState.INVALID, text=found[0], problem=str(exc))
        lookups: list[TermLookup] = []
        truncated = False
        for term in record.evaluated_terms():
            if self.terms >= WALK_TERM_BUDGET:
                self.truncated = truncated = True
                break
            self.terms += 1
            lookups.append(self.term(term, domain, path, depth))
        return SpfNode(
            domain,
            NodeState.OK,
            depth,
            path,
            query,
            result.void,
            found[0],
            record,
            lookups=tuple(lookups),
            truncated=truncated,
        )

    def term(self, term: Term, domain: str, path: tuple[str, ...], depth: int) -> TermLookup:
        spec = term.value if isinstance(term, Modifier) else term.domain_spec
        if spec is not None and has_macros(spec):
            expanded = expand_domain_spec(spec, domain, self.sender_domain)
            if expanded is None or dns_name_problem(expanded) is not None:
                child = None
                if term.name in ("include", "redirect"):
                    problem = ""
                    if expanded is not None:
                        problem = f"expands to {_clip(expanded)!r}: {dns_name_problem(expanded)}"
                    child = SpfNode(spec, NodeState.MACRO, depth + 1, path, problem=problem)
                return TermLookup(term, domain, None, child=child)
            spec = expanded
        target = normalise_name(spec) if spec is not None else domain
        if term.name in ("include", "redirect"):
            return self.follow(term, domain, target, path, depth)
        if term.name == "ptr":
            return TermLookup(term, domain, None)
        if term.name == "mx":
            return self.mx(term, domain, target)
        rdtypes = ("A",) if term.name == "exists" else ("A", "AAAA")
        answers = [self.answer(target, rdtype) for rdtype in rdtypes]
        unresolved = tuple(
            _describe_missing(q, r) for q, r in answers if r is None or r.error is not None
        )
        known = [r for _, r in answers if r is not None and r.error is None]
        void: bool | None = None
        if any(not r.void for r in known):
            void = False
        elif not unresolved:
            void = True
        queries = tuple(q for q, _ in answers)
        return TermLookup(term, domain, target, queries, void, unresolved)

    def follow(
        self, term: Term, domain: str, target: str, path: tuple[str, ...], depth: int
    ) -> TermLookup:
        """An include or redirect: the target's record becomes a child node."""
        child = self.node(target, path, depth + 1)
        queries: tuple[Query, ...] = (child.query,) if child.query is not None else ()
        unresolved = (child.problem,) if child.state is NodeState.UNRESOLVED else ()
        return TermLookup(term, domain, target, queries, child.void, unresolved, child=child)

    def mx(self, term: Term, domain: str, target: str) -> TermLookup:
        query, result = self.answer(target, "MX")
        if result is None or result.error is not None:
            missing = (_describe_missing(query, result),)
            return TermLookup(term, domain, target, (query,), None, missing)
        exchanges = _mx_exchanges(result)
        queries = [query]
        for exchange in exchanges[:MAX_MX_NAMES]:
            if exchange:
                queries += [Query.of(exchange, "A"), Query.of(exchange, "AAAA")]
        return TermLookup(
            term, domain, target, tuple(queries), result.void, (), mx_names=len(exchanges)
        )


def _replace(node: SpfNode, state: NodeState, *, text: str, problem: str = "") -> SpfNode:
    return SpfNode(
        node.domain, state, node.depth, node.path, node.query, node.void, text, problem=problem
    )


def walk_spf(domain: str, dns: DnsView) -> SpfTree:
    """Follow ``domain``'s SPF record through include and redirect over the answers in ``dns``.

    Never raises for any answers: missing or failed answers become UNRESOLVED nodes (the planner
    asks for them; the judges report them).
    """
    root_name = normalise_name(domain)
    walk = _Walk(dns, root_name)
    root = walk.node(root_name, (), 0)
    return SpfTree(root, walk.truncated)


# --------------------------------------------------------------------------------------------
# The addresses a domain's own SPF record authorises directly (PTR-02)

#: Single addresses PTR-02 follows per domain: each costs a PTR question and up to
#: :data:`~pytest_govmail.records.ptr.MAX_PTR_NAMES` forward questions.
MAX_SENDING_ADDRESSES = 32


@dataclass(frozen=True, slots=True)
class SendingAddress:
    """One address the domain's own SPF record authorises: the address and the term that names it.

    ``host`` is the name whose A/AAAA record gave the address (for ``a`` and ``mx`` terms), or
    ``""`` for an ``ip4``/``ip6`` term that names the address itself.
    """

    address: str
    term: str
    host: str = ""

    @property
    def rdtype(self) -> str:
        """The forward record type of the address: ``A`` or ``AAAA``."""
        return "A" if ipaddress.ip_address(self.address).version == 4 else "AAAA"


@dataclass(frozen=True, slots=True)
class SendingAddresses:
    """What :func:`sending_addresses` found in a domain's own SPF record.

    ``node`` is the root of the SPF walk (its state says whether there is one valid record);
    ``addresses`` are the single addresses authorised directly, each once, in record order;
    ``ranges`` the ``ip4``/``ip6`` terms wider than one address; ``elsewhere`` the authorising
    terms whose addresses belong to someone else's record or name (``include``, ``redirect``,
    ``a``/``mx`` of another domain, ``exists``, ``ptr``, or a target with client macros);
    ``queries`` every DNS question the addresses rest on (answered or not); ``more`` how many
    addresses were left out past :data:`MAX_SENDING_ADDRESSES`.
    """

    node: SpfNode
    addresses: tuple[SendingAddress, ...] = ()
    ranges: tuple[str, ...] = ()
    elsewhere: tuple[str, ...] = ()
    queries: tuple[Query, ...] = ()
    more: int = 0


def _own_name(target: str, domain: str) -> bool:
    return target == domain or target.endswith("." + domain)


def _single(mech: Mechanism) -> str | None:
    """The address of an ``ip4``/``ip6`` term that names exactly one address, else None."""
    if mech.network is None:
        return None
    try:
        address = ipaddress.ip_address(mech.network)
    except ValueError:
        return None
    prefix = mech.cidr6 if mech.name == "ip6" else mech.cidr4
    if prefix is not None and prefix != address.max_prefixlen:
        return None
    return str(address)


def answer_addresses(result: DnsResult | None) -> Iterator[str]:
    """The addresses of an A or AAAA answer, normalised (``ipaddress`` text); junk skipped."""
    if result is None or result.error is not None:
        return
    for text in result.records:
        try:
            yield str(ipaddress.ip_address(text.strip()))
        except ValueError:
            continue


def sending_addresses(domain: str, dns: DnsView) -> SendingAddresses:
    """The addresses ``domain``'s own SPF records authorise directly (RFC 7208 sections 5.2-5.6).

    Only ``+`` (pass) mechanisms before the first ``all`` authorise anything (sections 4.6.2,
    5.1). Of those:

    - ``ip4``/``ip6`` with no prefix or a full one (``/32``, ``/128``) name one address;
      a shorter prefix is a range, listed in ``ranges`` and not enumerated;
    - ``a`` and ``mx`` whose target is the domain itself or a name under it give the addresses of
      that name (for ``mx``, of its first :data:`MAX_MX_NAMES` exchanges); a ``/cidr`` on them
      widens what is authorised around those addresses, but the addresses themselves are judged;
    - ``include`` and ``redirect`` of the domain itself or a name under it (the common
      ``include:_spf.<domain>``) are the domain's own lists: their records are read the same way,
      as deep as the walk went;
    - everything else that authorises (``include``/``redirect`` of other names, ``a``/``mx`` of
      other names, ``exists``, ``ptr``) names another party's addresses, listed in ``elsewhere``.

    Pure: reads the answers in ``dns``; a missing answer simply contributes no address (its
    question is in ``queries`` for the planner to ask and the judge to check).
    """
    domain = normalise_name(domain)
    root = walk_spf(domain, dns).root
    if root.state is not NodeState.OK or root.record is None:
        return SendingAddresses(root)
    senders = _Senders(domain, dns)
    senders.visit(root)
    addresses = tuple(senders.found.values())
    return SendingAddresses(
        root,
        addresses[:MAX_SENDING_ADDRESSES],
        tuple(senders.ranges),
        tuple(senders.elsewhere),
        tuple(senders.queries),
        max(0, len(addresses) - MAX_SENDING_ADDRESSES),
    )


class _Senders:
    """What :func:`sending_addresses` gathers while it reads the domain's own records."""

    def __init__(self, domain: str, dns: DnsView) -> None:
        self.domain = domain
        self.dns = dns
        self.found: dict[str, SendingAddress] = {}
        self.ranges: list[str] = []
        self.elsewhere: list[str] = []
        self.queries: dict[Query, None] = {}

    def visit(self, node: SpfNode) -> None:
        record = node.record
        if record is None:
            return
        where = "" if node.domain == self.domain else f" (in {node.domain})"
        by_term = {id(lookup.term): lookup for lookup in node.lookups}
        for mech in record.mechanisms:
            if mech.name == "all":
                break
            if mech.result_qualifier != "+":
                continue
            text = f"{mech}{where}"
            if mech.name in ("ip4", "ip6"):
                single = _single(mech)
                if single is None:
                    self.ranges.append(text)
                else:
                    self.found.setdefault(single, SendingAddress(single, text))
                continue
            self.term(mech.name, by_term.get(id(mech)), text)
        redirect = record.redirect
        if redirect is not None and record.all is None:
            self.term("redirect", by_term.get(id(redirect)), f"{redirect}{where}")

    def term(self, name: str, lookup: TermLookup | None, text: str) -> None:
        target = lookup.target if lookup is not None else None
        if lookup is None or target is None or not _own_name(target, self.domain):
            self.elsewhere.append(text)
            return
        if name in ("include", "redirect"):
            child = lookup.child
            self.queries.update(dict.fromkeys(lookup.queries))
            if child is not None and child.state is NodeState.OK:
                self.visit(child)
            return
        if name not in ("a", "mx"):
            self.elsewhere.append(text)
            return
        self.queries.update(dict.fromkeys(lookup.queries))
        for query in lookup.queries:
            if query.rdtype in ("A", "AAAA"):
                for address in answer_addresses(self.dns.get(query.name, query.rdtype)):
                    self.found.setdefault(address, SendingAddress(address, text, query.name))
