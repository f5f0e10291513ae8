"""DMARC policy records (RFC 7489 section 6, RFC 9989 section 4) and organisational domains.

The catalogue (DMARC-01, -02) cites both the original specification (RFC 7489) and its successor
(RFC 9989, "DMARCbis"). Section numbers for RFC 9989 are those of draft-ietf-dmarc-dmarcbis-41,
the text that was published as RFC 9989. The parser is *strict*: where a receiver would quietly
ignore a bad part of a record (RFC 9989 section 4.8: "syntax errors in the remainder of the record
MUST be discarded"), we raise :class:`DmarcSyntaxError`, because DMARC-02 asks that every tag be
valid. Where the two RFCs disagree and a record is valid under one of them, it parses, and
:attr:`DmarcRecord.notes` says what an older or newer receiver does differently.

Decisions, with their sources:

- The record starts with the version tag, exactly ``DMARC1`` (RFC 7489 section 6.3 "The value of
  this tag MUST match precisely"; RFC 9989 section 4.7 "The tag value is case sensitive", ABNF
  ``%s"DMARC1"``). Nothing may come before it, not even white space: both ABNFs start
  ``dmarc-record = dmarc-version ...``.
- Tag *names* are compared case-insensitively: both formal grammars (RFC 7489 section 6.4,
  RFC 9989 section 4.8) write them as ABNF quoted strings, which are case-insensitive (RFC 5234
  section 2.3). RFC 6376 section 3.2, whose tag-value syntax DMARC borrows, says tags are
  case-sensitive, so a name that is not lower case parses but gets a note.
- Keyword *values* (``p=Reject``) are case-insensitive for the same ABNF reason, and are
  normalised to lower case.
- Tags are separated by ``;`` with optional spaces or tabs around it (``dmarc-sep``); one trailing
  ``;`` is allowed; an empty tag between two separators (``;;``) is not (RFC 9989 section 4.8
  ``dmarc-record = dmarc-version *(dmarc-sep dmarc-tag) [dmarc-sep]``).
- A tag name that appears twice (in any case) makes the record invalid: DMARC records "follow the
  extensible tag-value syntax for DNS-based key records defined in DKIM" (RFC 7489 section 6.3,
  RFC 9989 section 4.7), and RFC 6376 section 3.2 says "if a tag name does occur more than once,
  the entire tag-list is invalid". The catalogue's DMARC-02 fails on duplicates too.
- Unknown tags are ignored as both RFCs require (RFC 9989 section 4.7 "unknown tags MUST be
  ignored"), but they are kept in :attr:`DmarcRecord.unknown` so the report can show them. Their
  names must still be tag names (RFC 6376 ``ALPHA *(ALPHA / DIGIT / "_")``) and their values must
  be RFC 9989's ``1*dmarc-value`` (printable ASCII except ``;``).
- ``p`` is REQUIRED by RFC 7489 and only RECOMMENDED by RFC 9989, which reads a record without it
  as ``p=none`` (section 4.7): it is optional here, with a note. RFC 7489's grammar also wants
  ``p`` straight after ``v``; RFC 9989 dropped that, so it is a note too.
- ``pct`` (0-100), ``rf`` and ``ri`` (a 32-bit unsigned integer) are RFC 7489 tags that RFC 9989
  removed (Appendix A.6, C.5.2): they are validated as RFC 7489 defines them, with a note. ``rf``
  accepts ``afrf`` (the only format in IANA's DMARC report-format registry) and ``iodef``, which
  the pre-RFC DMARC specification defined and which is still seen in published records.
- ``fo`` follows RFC 7489 (``0``, ``1``, ``d``, ``s`` separated by ``:``); RFC 9989's stricter
  grammar (``0`` and ``1`` exclusive, no repeats) is a note.
- ``rua``/``ruf`` are comma-separated URIs (RFC 3986; commas and ``!`` must be percent-encoded),
  each with RFC 7489's optional size limit ``!`` digits [``k``/``m``/``g``/``t``], which RFC 9989
  keeps only as obsolete syntax that reporters ignore (a note). A ``mailto:`` URI must hold one
  address ``local@domain`` with a host-name domain (RFC 6068).
- ``np``, ``psd`` and ``t`` are RFC 9989 tags (section 4.7); RFC 7489 receivers ignore them.

Each record is judged as RFC 9989 reads it: :func:`rfc9989_reading` gives the policies a receiver
applies (section 4.10.1: a record without ``p`` is ``p=none`` when ``rua`` holds a URI and
otherwise means no DMARC processing; ``t=y`` lowers each policy one level), and
:func:`rfc7489_differences` says, line by line, where an RFC 7489 receiver reads the same record
otherwise (``pct``, ``t``, ``np``, ``psd``, ``rf``/``ri``, ``p`` missing or out of place, ``fo``,
``!size``).

Which record applies is found by RFC 9989's DNS tree walk (section 4.10, :func:`tree_walk` and
:func:`discover_policy`, at the end of this module). The Public Suffix List way (RFC 7489 section
3.2, :func:`organisational_domain`) remains for saying where an RFC 7489 receiver differs, for
the external-report check (RFC 7489 section 7.1) and for DKIM alignment. The list is the one
packaged with ``publicsuffixlist``; nothing is downloaded. Both sections of the list are used,
ICANN and private: GDS registered ``service.gov.uk`` and ``campaign.gov.uk`` in the private
section precisely so that each service under them is administered (and so is its own
organisational domain) apart from the others, and ``gov.uk`` itself is an ICANN public suffix
either way. This is what most receivers that use the list do (``publicsuffixlist``'s default
too).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

from pytest_govmail.model.dns import DnsResult, DnsView, normalise_name
from pytest_govmail.model.text import show_value
from pytest_govmail.records.txt import txt_values

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

Policy = Literal["none", "quarantine", "reject"]
POLICIES: tuple[Policy, ...] = ("none", "quarantine", "reject")

#: The tags RFC 7489 (section 6.3) and RFC 9989 (section 4.7) define, in RFC 9989's order.
KNOWN_TAGS = frozenset(
    {"v", "p", "sp", "np", "adkim", "aspf", "fo", "pct", "psd", "rf", "ri", "rua", "ruf", "t"}
)


class DmarcSyntaxError(ValueError):
    """The text is not a valid DMARC record. ``code`` is a stable dotted name for the finding.

    Codes: ``dmarc.syntax.version`` (no ``v=DMARC1`` first), ``dmarc.syntax.tag`` (a malformed
    tag or separator), ``dmarc.syntax.duplicate`` (a tag twice), ``dmarc.syntax.value`` (a value
    outside the tag's grammar) and ``dmarc.syntax.uri`` (a bad reporting URI).
    """

    def __init__(self, message: str, code: str = "dmarc.syntax.tag", tag: str | None = None):
        super().__init__(message)
        self.code = code
        self.tag = tag


_VERSION = re.compile(r"[vV][ \t]*=[ \t]*DMARC1(?=[ \t]*(?:;|\Z))")
_LOOSE_VERSION = re.compile(r"\s*v\s*=\s*dmarc1", re.IGNORECASE | re.ASCII)
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]+\Z")  # RFC 9989 dmarc-value: printable ASCII but ';'
_WSP = " \t"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
# RFC 3986 characters a URI may hold, less ',' and '!' (RFC 7489/9989: they MUST be encoded).
_URI_REST = re.compile(r"(?:[A-Za-z0-9\-._~$&'()*+;=:@/?#\[\]]|%[0-9A-Fa-f]{2})+\Z")
_SIZE = re.compile(r"([0-9]{1,20})([kKmMgGtT]?)\Z")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9\-]{1,63}(?<!-)\Z")
_LOCAL = re.compile(r"[\x21-\x3f\x41-\x7e]+\Z")  # printable ASCII, no space, no '@'
_UINT = re.compile(r"[0-9]{1,10}\Z")
_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def is_dmarc_record(text: str) -> bool:
    """True when the TXT value starts with the version tag a receiver keeps: ``v=DMARC1``.

    RFC 7489 section 6.6.3 step 2 and RFC 9989 section 4.10 step 2: "Records that do not start
    with a "v" tag that identifies the current version of DMARC are discarded." The value is
    case-sensitive and must be followed by ``;`` or the end of the record.
    """
    return _VERSION.match(text) is not None


def looks_like_dmarc(text: str) -> bool:
    """True when a record was evidently *meant* as DMARC (``v=dmarc1``, leading spaces...).

    Used to explain why a record a receiver would discard does not count.
    """
    return _LOOSE_VERSION.match(text) is not None


def dmarc_records(result: DnsResult) -> tuple[str, ...]:
    """The TXT values of an answer that are DMARC records (see :func:`is_dmarc_record`)."""
    return tuple(v for v in txt_values(result) if is_dmarc_record(v))


@dataclass(frozen=True, slots=True)
class ReportUri:
    """One DMARC reporting URI (``rua``/``ruf``), as written and taken apart.

    ``uri`` is the URI without its size limit; ``scheme`` is lower case (RFC 3986 section 3.1);
    ``address`` is, for ``mailto:``, the percent-decoded ``local@domain`` (without ``?hfields``),
    and for any other scheme everything after the colon. ``size`` is the limit in bytes.
    """

    text: str
    uri: str
    scheme: str
    address: str
    size_text: str | None = None
    size: int | None = None

    @property
    def is_mailto(self) -> bool:
        return self.scheme == "mailto"

    @property
    def host(self) -> str | None:
        """The destination host (RFC 7489 section 7.1 step 1), lower case, or None if there is none.

        A ``mailto:`` URI has no authority component; its host is the address's domain.
        """
        if self.is_mailto:
            return self.address.rpartition("@")[2].lower().rstrip(".")
        if not self.address.startswith("//"):
            return None
        authority = re.split(r"[/?#]", self.address[2:], maxsplit=1)[0]
        host = authority.rpartition("@")[2]
        if host.startswith("["):
            host = host.partition("]")[0] + "]"  # an IP literal, without any ":port"
        else:
            host = host.partition(":")[0]
        return host.lower().rstrip(".") or None

    def same_mailbox(self, address: str) -> bool:
        """True for a ``mailto:`` of ``address``: local part exact, domain case-insensitive."""
        if not self.is_mailto:
            return False
        local, _, domain = self.address.rpartition("@")
        want_local, _, want_domain = address.rpartition("@")
        return local == want_local and normalise_name(domain) == normalise_name(want_domain)


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    """A parsed DMARC record. A tag that is absent is None (or empty), never its default.

    ``tags`` keeps every tag in order as (lower-case name, value as written), ``v`` first, so
    :meth:`with_changes` can write the record back with the user's tags kept.
    """

    text: str
    tags: tuple[tuple[str, str], ...]
    p: Policy | None = None
    sp: Policy | None = None
    np: Policy | None = None
    adkim: Literal["r", "s"] | None = None
    aspf: Literal["r", "s"] | None = None
    fo: tuple[str, ...] = ()
    pct: int | None = None
    psd: Literal["y", "n", "u"] | None = None
    rf: tuple[str, ...] = ()
    ri: int | None = None
    rua: tuple[ReportUri, ...] = ()
    ruf: tuple[ReportUri, ...] = ()
    t: Literal["y", "n"] | None = None
    unknown: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def policy(self) -> Policy:
        """The policy for the domain that published the record: ``p``, or none when absent."""
        return self.p or "none"

    @property
    def subdomain_policy(self) -> Policy:
        """The policy for its (existing) subdomains: ``sp``, else ``p`` (RFC 9989 section 4.7)."""
        return self.sp or self.policy

    def tag(self, name: str) -> str | None:
        """The value of a tag as written, or None."""
        for key, value in self.tags:
            if key == name:
                return value
        return None

    def with_changes(
        self, changes: Mapping[str, str] | None = None, drop: Iterable[str] = ()
    ) -> str:
        """The record as text with some tags set and some removed; other tags stay as they are.

        A new ``p`` goes straight after ``v`` (where RFC 7489 wants it); other new tags go last.
        """
        changes = dict(changes or {})
        dropped = set(drop)
        out: list[tuple[str, str]] = []
        for name, value in self.tags:
            if name in dropped:
                continue
            out.append((name, changes.pop(name, value)))
        if "p" in changes:
            out.insert(1, ("p", changes.pop("p")))
        out.extend(changes.items())
        return "; ".join(f"{name}={value}" for name, value in out)


def parse_report_uri(text: str) -> ReportUri:
    """One ``rua``/``ruf`` entry. Raises :class:`DmarcSyntaxError` (code ``dmarc.syntax.uri``)."""
    uri, bang, size_text = text.partition("!")
    size: int | None = None
    if bang:
        match = _SIZE.match(size_text)
        if match is None:
            raise DmarcSyntaxError(
                f"{_short(text)!r}: the size limit after '!' must be digits and an optional "
                "k/m/g/t (and a '!' inside a URI must be written %21)",
                "dmarc.syntax.uri",
            )
        size = int(match.group(1)) * _UNIT[match.group(2).lower()]
    scheme, colon, rest = uri.partition(":")
    if not colon or _SCHEME.match(scheme) is None:
        raise DmarcSyntaxError(
            f"{_short(uri)!r} is not a URI (it needs a scheme such as 'mailto:')",
            "dmarc.syntax.uri",
        )
    if _URI_REST.match(rest) is None:
        raise DmarcSyntaxError(
            f"{_short(uri)!r} is not a valid URI (RFC 3986; ',' and '!' must be percent-encoded)",
            "dmarc.syntax.uri",
        )
    scheme = scheme.lower()
    problem = uri_structure_problem(scheme, rest)
    if problem is not None:
        raise DmarcSyntaxError(
            f"{_short(uri)!r} is not a valid URI (RFC 3986: {problem})", "dmarc.syntax.uri"
        )
    address = rest
    if scheme == "mailto":
        address = _mailto_address(uri, rest)
    return ReportUri(text, uri, scheme, address, size_text if bang else None, size)


_PORT = re.compile(r"[0-9]*\Z")
_IPV_FUTURE = re.compile(r"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\Z")
#: Schemes whose URIs must name a host (RFC 9110 section 4.2: "MUST NOT generate" an empty one).
_HOST_REQUIRED = frozenset({"http", "https"})


def uri_structure_problem(scheme: str, rest: str) -> str | None:
    """What breaks the RFC 3986 section 3 structure of ``scheme ":" rest``, or None.

    The caller has already checked the character set (every character is unreserved, reserved
    or a ``%XX`` escape). A character set admits ``https://[``, ``https://[::::]/x`` and
    ``https://h/#one#two``; the grammar does not::

        URI         = scheme ":" hier-part [ "?" query ] [ "#" fragment ]
        hier-part   = "//" authority path-abempty / path-absolute / path-rootless / path-empty
        authority   = [ userinfo "@" ] host [ ":" port ]
        host        = IP-literal / IPv4address / reg-name
        IP-literal  = "[" ( IPv6address / IPvFuture ) "]"
        fragment    = *( pchar / "/" / "?" )      ; so no second "#"

    ``[`` and ``]`` are gen-delims that only an IP-literal host may hold (sections 2.2, 3.2.2):
    anywhere else they must be percent-encoded. The IPv6 address inside the brackets is checked
    with :mod:`ipaddress` (RFC 3986 section 3.2.2 has no zone identifier, so none is allowed).
    ``http``/``https`` URIs must also name a host (RFC 9110 section 4.2.1, 4.2.2).
    """
    before_fragment, hash_mark, fragment = rest.partition("#")
    if hash_mark and "#" in fragment:
        return "a second '#' (the fragment cannot hold '#': percent-encode it as %23)"
    hier, _, query = before_fragment.partition("?")
    if "[" in query or "]" in query or "[" in fragment or "]" in fragment:
        return "'[' or ']' outside a host (percent-encode them as %5B and %5D)"
    if not hier.startswith("//"):
        if "[" in hier or "]" in hier:
            return "'[' or ']' outside a host (percent-encode them as %5B and %5D)"
        if scheme in _HOST_REQUIRED:
            return f"a {scheme}: URI needs '//' and a host"
        return None
    authority, _, path = hier[2:].partition("/")
    if "[" in path or "]" in path:
        return "'[' or ']' outside a host (percent-encode them as %5B and %5D)"
    userinfo, at, hostport = authority.rpartition("@")
    if at and ("@" in userinfo or "[" in userinfo or "]" in userinfo):
        return "the user information holds '@', '[' or ']'"
    if hostport.startswith("["):
        literal, close, port_part = hostport[1:].partition("]")
        if not close:
            return "an IP-literal host opened with '[' is not closed with ']'"
        if port_part and not port_part.startswith(":"):
            return "text after the ']' of an IP-literal host that is not ':port'"
        port = port_part[1:]
        if _IPV_FUTURE.match(literal) is None:
            try:
                ipaddress.IPv6Address(literal)
            except ValueError:
                return f"[{_short(literal, 40)}] is not an IPv6 address"
        host = literal
    else:
        if "[" in hostport or "]" in hostport:
            return "'[' or ']' in a host that is not an IP literal"
        host, _, port = hostport.partition(":")
    if _PORT.match(port) is None:
        return f"the port {_short(port, 20)!r} is not digits"
    if not host and scheme in _HOST_REQUIRED:
        return f"a {scheme}: URI needs a host"
    return None


def _percent_decode(text: str) -> str:
    """Undo ``%XX`` escapes (RFC 3986 section 2.1); bytes that are not UTF-8 become U+FFFD."""
    raw = re.sub(
        rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8")
    )
    return raw.decode("utf-8", errors="replace")


def _mailto_address(uri: str, rest: str) -> str:
    address = _percent_decode(rest.partition("?")[0])
    local, at, domain = address.rpartition("@")
    domain = domain[:-1] if domain.endswith(".") else domain
    labels = domain.split(".")
    if (
        not at
        or _LOCAL.match(local) is None
        or len(domain) > 253
        or not all(_LABEL.match(label) for label in labels)
    ):
        raise DmarcSyntaxError(
            f"{_short(uri)!r} is not a mailto: URI with one address local@domain (RFC 6068)",
            "dmarc.syntax.uri",
        )
    return address


def _keyword(tag: str, value: str, allowed: tuple[str, ...]) -> str:
    low = value.lower()
    if low not in allowed:
        raise DmarcSyntaxError(
            f"{tag}={_short(value)!r} is not valid: expected one of {', '.join(allowed)}",
            "dmarc.syntax.value",
            tag,
        )
    return low


def _uint(tag: str, value: str, maximum: int) -> int:
    if _UINT.match(value) is None or int(value) > maximum:
        raise DmarcSyntaxError(
            f"{tag}={_short(value)!r} is not valid: expected a whole number from 0 to {maximum}",
            "dmarc.syntax.value",
            tag,
        )
    return int(value)


def _colon_list(tag: str, value: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    items = tuple(item.strip(_WSP).lower() for item in value.split(":"))
    bad = [item for item in items if item not in allowed]
    if bad:
        raise DmarcSyntaxError(
            f"{tag}={_short(value)!r} is not valid: each ':'-separated value must be one of "
            f"{', '.join(allowed)}",
            "dmarc.syntax.value",
            tag,
        )
    return items


def _uri_list(tag: str, value: str) -> tuple[ReportUri, ...]:
    uris = []
    for item in value.split(","):
        item = item.strip(_WSP)
        if not item:
            raise DmarcSyntaxError(
                f"{tag}={_short(value)!r}: an empty URI in the list", "dmarc.syntax.uri", tag
            )
        try:
            uris.append(parse_report_uri(item))
        except DmarcSyntaxError as exc:
            raise DmarcSyntaxError(f"{tag}: {exc}", exc.code, tag) from None
    return tuple(uris)


def _split_tags(text: str) -> list[tuple[str, str, str]]:
    """(lower-case name, name as written, value) for every tag after ``v``, checked for form."""
    parts = text.split(";")
    tags: list[tuple[str, str, str]] = []
    seen = {"v"}
    for index, part in enumerate(parts[1:], start=1):
        chunk = part.strip(_WSP)
        if not chunk:
            if index == len(parts) - 1:
                break  # one trailing ';' (with optional white space) is allowed
            raise DmarcSyntaxError("an empty tag between two ';' (write one ';' between tags)")
        name, equals, value = chunk.partition("=")
        name, value = name.strip(_WSP), value.strip(_WSP)
        if not equals:
            raise DmarcSyntaxError(f"{_short(chunk)!r} is not a tag=value pair")
        if _TAG_NAME.match(name) is None:
            raise DmarcSyntaxError(f"{_short(name)!r} is not a valid tag name")
        low = name.lower()
        if low in seen:
            raise DmarcSyntaxError(
                f"the tag {_short(low)!r} appears more than once: RFC 6376 section 3.2 makes "
                "the whole record invalid",
                "dmarc.syntax.duplicate",
                low,
            )
        seen.add(low)
        if not value:
            raise DmarcSyntaxError(
                f"the tag {_short(name)!r} has an empty value", "dmarc.syntax.value", low
            )
        if _VALUE.match(value) is None:
            raise DmarcSyntaxError(
                f"the value of {_short(name)!r} holds characters other than printable ASCII "
                "(RFC 9989 section 4.8 dmarc-value)",
                "dmarc.syntax.value",
                low,
            )
        tags.append((low, name, value))
    return tags


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def parse_dmarc(text: str) -> DmarcRecord:
    """Parse a DMARC record (its TXT strings already joined). Raises only :class:`DmarcSyntaxError`.

    See the module docstring for the rules and their sources.
    """
    if not isinstance(text, str):  # defensive: callers pass str; keep the one-error contract
        raise DmarcSyntaxError("a DMARC record must be text", "dmarc.syntax.version")
    if not is_dmarc_record(text):
        raise DmarcSyntaxError(_version_problem(text), "dmarc.syntax.version", "v")
    tags = _split_tags(text)
    notes: list[str] = []
    values: dict[str, object] = {}
    unknown: list[tuple[str, str]] = []
    for position, (low, name, value) in enumerate(tags):
        if name != low:
            notes.append(
                f"the tag name {_short(name)!r} is not lower case: RFC 6376 section 3.2 "
                "compares tag names case-sensitively, so some receivers will not recognise it"
            )
        if low in ("p", "sp", "np"):
            values[low] = _keyword(low, value, POLICIES)
            if low == "p" and position != 0:
                notes.append(
                    "p is not the tag after v, which RFC 7489's grammar requires "
                    "(RFC 9989 allows any order)"
                )
        elif low in ("adkim", "aspf"):
            values[low] = _keyword(low, value, ("r", "s"))
        elif low == "psd":
            values[low] = _keyword(low, value, ("y", "n", "u"))
        elif low == "t":
            values[low] = _keyword(low, value, ("y", "n"))
        elif low == "pct":
            values[low] = _uint(low, value, 100)
            notes.append(
                "pct was removed by RFC 9989 (Appendix A.6): receivers that follow it "
                "ignore the tag"
            )
        elif low == "ri":
            values[low] = _uint(low, value, 0xFFFFFFFF)
            notes.append("ri was removed by RFC 9989 (Appendix C.5.2) and is ignored there")
        elif low == "rf":
            values[low] = _colon_list(low, value, ("afrf", "iodef"))
            notes.append("rf was removed by RFC 9989 (Appendix C.5.2) and is ignored there")
        elif low == "fo":
            items = _colon_list(low, value, ("0", "1", "d", "s"))
            values[low] = items
            if len(set(items)) != len(items) or {"0", "1"} <= set(items):
                notes.append(
                    f"fo={_short(value)!r}: RFC 9989 allows each option once and not both 0 and 1"
                )
        elif low in ("rua", "ruf"):
            uris = _uri_list(low, value)
            values[low] = uris
            if any(u.size_text is not None for u in uris):
                notes.append(
                    f"{low}: the '!size' limit is obsolete in RFC 9989 (section 4.8), "
                    "whose reporters ignore it"
                )
        else:
            unknown.append((low, value))
            notes.append(f"unknown tag {_short(low)!r} is ignored (RFC 9989 section 4.7)")
    if "p" not in values:
        notes.append("p is absent: RFC 7489 requires it; RFC 9989 reads the record as p=none")
    if "fo" in values and "ruf" not in values:
        notes.append("fo has no effect without ruf (RFC 9989 section 4.7)")
    return DmarcRecord(
        text=text,
        tags=(("v", "DMARC1"), *((low, value) for low, _, value in tags)),
        p=cast("Policy | None", values.get("p")),
        sp=cast("Policy | None", values.get("sp")),
        np=cast("Policy | None", values.get("np")),
        adkim=cast('Literal["r", "s"] | None', values.get("adkim")),
        aspf=cast('Literal["r", "s"] | None', values.get("aspf")),
        fo=cast("tuple[str, ...]", values.get("fo", ())),
        pct=cast("int | None", values.get("pct")),
        psd=cast('Literal["y", "n", "u"] | None', values.get("psd")),
        rf=cast("tuple[str, ...]", values.get("rf", ())),
        ri=cast("int | None", values.get("ri")),
        rua=cast("tuple[ReportUri, ...]", values.get("rua", ())),
        ruf=cast("tuple[ReportUri, ...]", values.get("ruf", ())),
        t=cast('Literal["y", "n"] | None', values.get("t")),
        unknown=tuple(unknown),
        notes=tuple(notes),
    )


def _tags_alone(text: str) -> Iterator[tuple[str, DmarcRecord | None]]:
    """Each non-empty tag after the version tag, with the record it makes alone (None: invalid).

    The one reading of "valid on its own" that :func:`salvage_dmarc` keeps and
    :func:`invalid_tags` names. Nothing for text that does not start with the version tag.
    """
    for chunk in text.split(";")[1:] if is_dmarc_record(text) else ():
        chunk = chunk.strip(_WSP)
        if not chunk:
            continue
        alone: DmarcRecord | None
        try:
            alone = parse_dmarc(f"v=DMARC1; {chunk}")
        except DmarcSyntaxError:
            alone = None
        yield chunk, alone


def salvage_dmarc(text: str) -> DmarcRecord:
    """The valid part of a DMARC record: every tag that is valid on its own, first of each name.

    For remediation: it keeps what the user wrote that can be kept. The text must start with the
    version tag (:func:`is_dmarc_record`); otherwise the result is just ``v=DMARC1``.
    """
    kept: dict[str, str] = {}
    for _, one in _tags_alone(text):
        if one is not None:
            name, value = one.tags[1]
            kept.setdefault(name, value)
    return parse_dmarc("; ".join(["v=DMARC1", *(f"{n}={v}" for n, v in kept.items())]))


def invalid_tags(text: str) -> tuple[str, ...]:
    """The lower-case names of the tags whose value is invalid on its own, in order, each once.

    A receiver that follows RFC 9989 section 4.8 discards exactly these ("syntax errors in the
    remainder of the record MUST be discarded in favor of default values"); the rest is what
    :func:`salvage_dmarc` keeps. Empty for text that does not start with the version tag.
    """
    bad: dict[str, None] = {}
    for chunk, one in _tags_alone(text):
        if one is None:
            bad.setdefault(chunk.partition("=")[0].strip(_WSP).lower()[:40])
    return tuple(bad)


def _version_problem(text: str) -> str:
    if text[:1] in (" ", "\t") and is_dmarc_record(text.lstrip(_WSP)):
        return "white space before v=DMARC1: the record must start with the version tag"
    if looks_like_dmarc(text):
        return (
            "the record must start with exactly 'v=DMARC1' (the value is case-sensitive) "
            "followed by ';' or the end of the record"
        )
    if re.search(r"(?:^|;)[ \t]*v[ \t]*=", text, re.IGNORECASE):
        return "v=DMARC1 must be the first tag"
    return "the record does not start with v=DMARC1"


# --- organisational domains and external report destinations ---------------------------------


@functools.lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    # The list shipped inside the package (no download); ICANN and private sections.
    return PublicSuffixList()


def organisational_domain(name: str) -> str:
    """The organisational domain of ``name`` (RFC 7489 section 3.2): public suffix plus one label.

    ``a.example-dept.gov.uk`` gives ``example-dept.gov.uk``. A name that is itself a public suffix
    (``gov.uk``) or not under any known one gives the name itself (normalised).
    """
    normal = normalise_name(name)
    found = _psl().privatesuffix(normal) if normal else None
    return str(found) if found else normal


def is_public_suffix(name: str) -> bool:
    """True when ``name`` is a public suffix on the packaged Public Suffix List (``gov.uk``,
    ``service.gov.uk``...), so no organisation below it publishes there."""
    normal = normalise_name(name)
    return bool(normal) and bool(_psl().is_public(normal))


def needs_authorisation(policy_domain: str, destination_host: str) -> bool:
    """RFC 7489 section 7.1: the destination's organisational domain differs from the policy's."""
    return organisational_domain(destination_host) != organisational_domain(policy_domain)


def authorisation_name(policy_domain: str, destination_host: str) -> str:
    """``<policy domain>._report._dmarc.<destination host>`` (RFC 7489 section 7.1 steps 1-3).

    ``policy_domain`` is "the domain name from which the policy was retrieved": the target when
    its own ``_dmarc`` record applies, the organisational domain when the record was inherited.
    """
    return f"{normalise_name(policy_domain)}._report._dmarc.{normalise_name(destination_host)}"


# --- how receivers read a record: RFC 9989, and where RFC 7489 differs ----------------------------

#: RFC 9989 section 4.7 ``t=y``: "the policy applied to any failing messages will be one level
#: below the specified policy".
ONE_LEVEL_BELOW: Mapping[Policy, Policy] = {
    "reject": "quarantine",
    "quarantine": "none",
    "none": "none",
}


@dataclass(frozen=True, slots=True)
class Rfc9989Reading:
    """What an RFC 9989 receiver applies for a record (section 4.10.1), before ``t=y``.

    ``processed`` is False when the record has no ``p`` and no ``rua`` URI: "the Mail Receiver
    applies no DMARC processing". Otherwise ``domain``, ``subdomains`` and ``nonexistent`` are the
    policies for the domain that published the record, for its existing subdomains (``sp``, else
    ``p``) and for its non-existent subdomains (``np``, else ``sp``, else ``p``); ``testing`` is
    ``t=y``, which lowers each of them one level (:meth:`applied`).
    """

    processed: bool
    domain: Policy = "none"
    subdomains: Policy = "none"
    nonexistent: Policy = "none"
    testing: bool = False

    def applied(self, policy: Policy) -> Policy:
        """``policy`` as receivers apply it: one level below in test mode (``t=y``)."""
        return ONE_LEVEL_BELOW[policy] if self.testing else policy


def rfc9989_reading(record: DmarcRecord) -> Rfc9989Reading:
    """How an RFC 9989 receiver reads ``record`` (sections 4.7 and 4.10.1).

    A record without ``p`` "is treated as if it included p=none" when its ``rua`` holds at least
    one valid URI ("the Mail Receiver MUST act as if a record containing p=none was retrieved");
    without either, "the Mail Receiver applies no DMARC processing to this message". ``pct``,
    ``rf`` and ``ri`` do not exist in RFC 9989 and change nothing here.
    """
    if record.p is None and not record.rua:
        return Rfc9989Reading(processed=False)
    domain = record.p or "none"
    subdomains = record.sp or domain
    return Rfc9989Reading(True, domain, subdomains, record.np or subdomains, record.t == "y")


def rfc7489_differences(record: DmarcRecord) -> tuple[str, ...]:
    """Where an RFC 7489 receiver reads ``record`` otherwise than an RFC 9989 one, one line each.

    RFC 7489 receivers know neither ``t``, ``np`` nor ``psd`` (its section 6.3 has no such tags,
    and unknown tags are ignored), still apply ``pct`` (section 6.6.4: the policy to that
    percentage of failing mail, the next lower one to the rest) and read ``rf``/``ri``, which RFC
    9989 removed (Appendix C.5.2); its grammar (section 6.4) wants ``p`` as the second tag, and
    its ``fo`` allows repeats that RFC 9989's grammar does not.
    """
    out: list[str] = []
    reading = rfc9989_reading(record)
    if record.p is None:
        if reading.processed:
            out.append(
                "no p: RFC 9989 reads the record as p=none (rua holds a URI); RFC 7489's grammar "
                "requires p, so a strict RFC 7489 receiver may discard the record, and one that "
                "follows its section 6.6.3 reads it as p=none too"
            )
        else:
            out.append(
                "no p and no rua: RFC 9989 receivers apply no DMARC processing; RFC 7489 "
                "receivers discard the record as invalid: either way it protects nothing"
            )
    elif record.tags[1][0] != "p":
        out.append(
            "p is not the tag after v: RFC 7489's grammar (section 6.4) requires that order, so "
            "a strict RFC 7489 receiver may discard the record; RFC 9989 accepts any order"
        )
    if record.t == "y" and reading.processed:
        lowered = [
            f"{tag}={policy} as {ONE_LEVEL_BELOW[policy]}"
            for tag, policy in (("p", record.p), ("sp", record.sp), ("np", record.np))
            if policy not in (None, "none")
        ]
        if lowered:
            out.append(
                f"t=y: RFC 9989 receivers apply {', '.join(lowered)} (test mode); RFC 7489 "
                "receivers do not know t and apply the policy in full"
            )
    if record.pct is not None and record.pct < 100:
        policy = record.p or "none"
        lower = ONE_LEVEL_BELOW[policy]
        full = reading.applied(policy)
        shown = f"p={policy}" + (f" (as {full}, t=y)" if full != policy else "")
        text = (
            f"pct={record.pct}: RFC 7489 receivers apply p={policy} to {record.pct}% of failing "
            f"mail and {lower} to the rest; RFC 9989 receivers ignore pct and apply {shown} "
            "to all of it"
        )
        if record.pct == 0:
            text += " (pct=0 was used as a test mode: RFC 9989's t=y says that)"
        out.append(text)
    if record.np is not None:
        sp = record.sp or record.p or "none"
        out.append(
            f"np={record.np}: RFC 7489 receivers ignore np, so mail from non-existent subdomains "
            f"gets sp/p ({sp}) there"
        )
    if record.psd is not None:
        out.append(
            f"psd={record.psd}: RFC 7489 receivers ignore psd and take the organisational domain "
            "from the Public Suffix List (RFC 7489 section 3.2), not from RFC 9989's DNS tree walk"
        )
    for tag in ("rf", "ri"):
        if record.tag(tag) is not None:
            out.append(
                f"{tag}={show_value(record.tag(tag) or '', 40)}: read by RFC 7489 receivers, "
                "ignored by RFC 9989 receivers (removed, Appendix C.5.2)"
            )
    if len(set(record.fo)) != len(record.fo) or {"0", "1"} <= set(record.fo):
        out.append(
            "fo repeats an option or holds both 0 and 1: valid for RFC 7489, outside RFC 9989's "
            "grammar, whose receivers discard it for the default fo=0 (section 4.8)"
        )
    if any(u.size_text is not None for u in (*record.rua, *record.ruf)):
        out.append(
            "a '!size' limit on a report URI: RFC 7489 reporters honour it, RFC 9989 reporters "
            "ignore it (obsolete syntax, section 4.8)"
        )
    return tuple(out)


#: Tags RFC 9989 removed: kept and validated as RFC 7489 defines them, each with a warning.
REMOVED_TAGS = ("pct", "rf", "ri")


# --- RFC 9989 policy discovery: the DNS tree walk ------------------------------------------------

#: RFC 9989 section 4.10: "Author Domains with more than eight labels do not result in more than
#: eight DNS queries".
MAX_TREE_WALK_QUERIES = 8
#: Section 4.10 step 4: "If x >= 8, remove the left-most (highest-numbered) labels from the
#: subject domain until 7 labels remain."
TREE_WALK_SHORTCUT_LABELS = 7

DiscoveryKind = Literal["own", "organisational", "public suffix", "none"]


def tree_walk_names(domain: str) -> tuple[str, ...]:
    """The names whose ``_dmarc`` record a full RFC 9989 DNS tree walk from ``domain`` asks for.

    Section 4.10: the domain itself first; then, if it has fewer than eight labels, its parent,
    else the name shortened to its last seven labels; then one label less each time, down to the
    top-level domain. So never more than :data:`MAX_TREE_WALK_QUERIES` names: for
    ``a.b.c.d.e.f.g.h.i.j.mail.example.com`` the RFC's own list, ``a.b.c...``, then
    ``g.h.i.j.mail.example.com`` down to ``com``. An empty name gives no names.
    """
    normal = normalise_name(domain)
    if not normal:
        return ()
    labels = normal.split(".")
    names = [normal]
    rest = labels[-TREE_WALK_SHORTCUT_LABELS:] if len(labels) >= 8 else labels[1:]
    while rest:
        names.append(".".join(rest))
        rest = rest[1:]
    return tuple(names)


def _psd_flag(text: str) -> str | None:
    """``psd`` of a DMARC record as a receiver reads it: invalid tags discarded (section 4.8)."""
    return salvage_dmarc(text).psd


@dataclass(frozen=True, slots=True)
class WalkStep:
    """One name of the walk and its answer: ``records`` are the ``v=DMARC1`` records there."""

    name: str
    result: DnsResult
    records: tuple[str, ...]

    @property
    def record(self) -> str | None:
        """The DMARC record at this name, or None: none, or several (all discarded, step 2)."""
        return self.records[0] if len(self.records) == 1 else None

    @property
    def psd(self) -> str | None:
        """The record's ``psd`` flag (``y``, ``n``, ``u``), or None without a record or tag."""
        return _psd_flag(self.record) if self.record is not None else None


@dataclass(frozen=True, slots=True)
class TreeWalk:
    """How far the policy-discovery walk for ``domain`` got with the answers at hand.

    ``steps`` are the names answered, in the order asked. The walk is ``complete`` when it
    stopped as RFC 9989 says: at the domain's own record (section 4.10.1), at a record with
    ``psd=y`` or ``psd=n`` (step 6) or after the top-level domain. Otherwise ``pending`` is the
    next name to ask (not in the evidence yet) or ``failed`` the answer that was an error
    (timeout, SERVFAIL...), after which nothing can be concluded.
    """

    domain: str
    steps: tuple[WalkStep, ...]
    pending: str | None = None
    failed: DnsResult | None = None

    @property
    def complete(self) -> bool:
        return self.pending is None and self.failed is None

    @property
    def asked(self) -> tuple[str, ...]:
        """The ``_dmarc`` names asked so far (answered or failed), in order."""
        names = [f"_dmarc.{s.name}" for s in self.steps]
        if self.failed is not None:
            names.append(self.failed.name)
        return tuple(names)


def tree_walk(domain: str, dns: DnsView) -> TreeWalk:
    """RFC 9989 section 4.10.1's walk for ``domain`` over the answers in ``dns``.

    The domain's own ``_dmarc`` name first: a single DMARC record there applies and ends the
    walk. Otherwise the names of :func:`tree_walk_names` in turn, stopping after a single record
    with ``psd=y`` or ``psd=n`` (step 6, read with invalid tags discarded as section 4.8 says).
    """
    normal = normalise_name(domain)
    steps: list[WalkStep] = []
    for index, name in enumerate(tree_walk_names(normal)):
        result = dns.get(f"_dmarc.{name}", "TXT")
        if result is None:
            return TreeWalk(normal, tuple(steps), pending=name)
        if result.error is not None:
            return TreeWalk(normal, tuple(steps), failed=result)
        step = WalkStep(name, result, dmarc_records(result))
        steps.append(step)
        if index == 0 and step.record is not None:
            break
        if step.psd in ("y", "n"):
            break
    return TreeWalk(normal, tuple(steps))


@dataclass(frozen=True, slots=True)
class PolicyDiscovery:
    """The outcome of RFC 9989 policy discovery (section 4.10.1) for a complete walk.

    ``kind`` says where the record that applies was found: at the domain (``own``), at its
    organisational domain, at its public suffix domain (a record with ``psd=y``), or nowhere.
    ``step`` is that record's walk step. ``organisational_domain`` is section 4.10.2's choice
    among the records the walk found (None when the domain's own record applies: receivers need
    no walk to find its policy).
    """

    walk: TreeWalk
    kind: DiscoveryKind
    step: WalkStep | None
    organisational_domain: str | None

    @property
    def policy_domain(self) -> str | None:
        """The domain that published the record that applies."""
        return self.step.name if self.step is not None else None


def _one_label_below(domain: str, parent: str) -> str:
    labels = domain.split(".")
    return ".".join(labels[-(len(parent.split(".")) + 1) :])


def discover_policy(walk: TreeWalk) -> PolicyDiscovery:
    """Which record applies to ``walk.domain`` (RFC 9989 sections 4.10.1 and 4.10.2).

    The domain's own record, if there is one. Otherwise the organisational domain is chosen
    from the names with a record, longest first: a record with ``psd=n`` makes its name the
    organisational domain; one with ``psd=y`` makes the name one label below it (towards the
    domain) the organisational domain; else the name with the fewest labels; with no record at
    all the domain is its own. The record that applies is the organisational domain's, else
    that of the public suffix domain (``psd=y``), else none ("MUST NOT apply the DMARC
    mechanism").
    """
    steps = walk.steps
    if steps and steps[0].record is not None:
        return PolicyDiscovery(walk, "own", steps[0], None)
    found = [s for s in steps[1:] if s.record is not None]
    org: str | None = None
    psd_step: WalkStep | None = None
    for step in found:
        if step.psd == "n":
            org = step.name
            break
        if step.psd == "y":
            org = _one_label_below(walk.domain, step.name)
            psd_step = step
            break
    if org is None:
        org = found[-1].name if found else walk.domain
    at_org = next((s for s in found if s.name == org), None)
    if at_org is not None:
        return PolicyDiscovery(walk, "organisational", at_org, org)
    if psd_step is not None:
        return PolicyDiscovery(walk, "public suffix", psd_step, org)
    return PolicyDiscovery(walk, "none", None, org)


def inherited_policy(record: DmarcRecord, exists: bool) -> tuple[str, Policy]:
    """(tag, policy) that a record inherited from an ancestor applies to a subdomain of it.

    RFC 9989 section 4.10.1: ``sp`` if the domain exists, ``np`` if it does not, and ``p`` in
    the absence of the applicable tag (for a non-existent domain section 4.7 puts ``sp`` before
    ``p``). RFC 7489 (section 6.3) knows no ``np``: ``sp``, else ``p``.
    """
    if not exists and record.np is not None:
        return "np", record.np
    if record.sp is not None:
        return "sp", record.sp
    return "p", record.policy


def domain_exists(domain: str, dns: DnsView) -> bool | None:
    """Whether ``domain`` exists (RFC 9989 Appendix A.4: any RR; NXDOMAIN means it does not).

    Read from the domain's MX answer, which every run asks: NXDOMAIN is False, any other answer
    True, no answer or an error None (unknown).
    """
    result = dns.get(normalise_name(domain), "MX")
    if result is None or result.error is not None:
        return None
    return not result.nxdomain
