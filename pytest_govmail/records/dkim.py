"""DKIM key records (RFC 6376 section 3.6.1, RFC 8301, RFC 8463), parsed strictly.

:func:`parse_dkim_key` takes the TXT record at ``<selector>._domainkey.<domain>`` (its strings
joined) and returns a :class:`DkimKey` or raises :class:`DkimKeyError`, and only that, whatever
the text. The tag list is split as dkimpy splits it (:func:`parse_tag_list`, a copy of
``dkim.util.parse_tag_value``, which also rejects a tag given twice, RFC 6376 section 3.2) and an
RSA key is decoded as dkimpy decodes it when it verifies a signature for DKIM-07
(:func:`rsa_public_numbers`, a copy of ``dkim.crypto.parse_public_key``), so that a key judged
valid here is one dkimpy can use; the key's size comes from the ``cryptography`` package, which
also checks that the numbers form a usable key. On top of dkimpy, which is lenient, the rules of
RFC 6376 section 3.6.1 hold:

- Only printable ASCII, spaces and tabs (``tag-list`` is ``VALCHAR`` and ``WSP``); tag names are
  ``ALPHA *(ALPHA / DIGIT / "_")``; tag names and values are case-sensitive (section 3.2), so
  ``K=rsa`` is an unknown tag and ``k=RSA`` an unknown key type.
- ``v`` is optional; when present it is the first tag and exactly ``DKIM1``.
- ``k`` is ``rsa`` (the default) or ``ed25519`` (RFC 8463 section 4.2); any other type is an
  error, since no verifier could use the key (the catalogue's DKIM-02: "k rsa/ed25519").
- ``p`` is required. Empty means the key is revoked (valid, and :attr:`DkimKey.revoked`).
  Otherwise it is base64 (white space inside is allowed, as ``base64string`` has ``FWS``) that
  decodes, for ``rsa``, to a DER ``SubjectPublicKeyInfo`` or ``RSAPublicKey``, and for
  ``ed25519`` to the bare 32-byte public key (RFC 8463 section 4.2, not a ``SubjectPublicKeyInfo``).
- ``h``, ``s`` and ``t`` are ``:``-separated lists of ``hyphenated-word`` (``s`` also ``*``);
  unknown hash algorithms, service types and flags are kept but, as the RFC says, ignored.
  ``h`` absent allows every algorithm; ``s`` absent means ``*``.
- ``n`` (notes) is kept as written; other tags (``g`` from RFC 4871, say) are kept in
  :attr:`DkimKey.unknown` and otherwise ignored.

RSA key sizes are judged by DKIM-03/04 (RFC 8301 section 3.2), not here: a 512-bit key parses.

The two parsers are copied (from dkimpy 1.1.8, whose licence allows it) rather than imported
because importing any part of the ``dkim`` package runs ``dkim/__init__.py``, which imports
dnspython's resolver, its query modules, ``socket`` and ``ssl``: records are pure parsers and
load no network library (tests/test_layers.py checks both that and that the copies agree with
dkimpy on any input).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

KEY_TYPES = ("rsa", "ed25519")
#: The hash algorithms RFC 6376 section 3.6.1 names for ``h=``; RFC 8301 forbids using sha1.
HASH_ALGORITHMS = ("sha1", "sha256")
#: The ``t=`` flags RFC 6376 section 3.6.1 defines: testing, and strict subdomain use of ``i=``.
FLAGS = ("y", "s")
#: Service types for which a key may sign mail: ``*`` and ``email`` (RFC 6376 section 3.6.1).
EMAIL_SERVICES = ("*", "email")
ED25519_KEY_BYTES = 32
# An Ed25519 SubjectPublicKeyInfo is this prefix and the 32-byte key (RFC 8410 section 4).
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")

_ALLOWED = re.compile(r"[\x20-\x7e\t]*\Z")
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_HYPHENATED = re.compile(r"[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")
_WSP = re.compile(r"[ \t]+")


class DkimKeyError(ValueError):
    """The text is not a usable DKIM key record; the message says which rule it breaks."""


class TagListError(ValueError):
    """A tag-list that dkimpy's ``parse_tag_value`` refuses (its ``InvalidTagValueList``).

    ``args[0]`` is the offending ``tag=value`` spec, as bytes, as dkimpy gives it.
    """


class DuplicateTagError(TagListError):
    """A tag named twice (dkimpy's ``DuplicateTag``); ``args[0]`` is the tag name, as bytes."""


_TAG_START = re.compile(rb"^[a-zA-Z](\w)*")


def parse_tag_list(tag_list: bytes) -> dict[bytes, bytes]:
    """A DKIM tag-list (RFC 6376 section 3.2) as dkimpy 1.1.8's ``dkim.util.parse_tag_value``
    reads it: split on ``;`` (a trailing one allowed), each spec split at its first ``=``, names
    and values stripped of white space, a name that does not start with a letter refused, a name
    given twice refused. Raises :class:`TagListError` (or :class:`DuplicateTagError`) only."""
    tags: dict[bytes, bytes] = {}
    tag_specs = tag_list.strip().split(b";")
    if not tag_specs[-1]:
        tag_specs.pop()
    for tag_spec in tag_specs:
        parts = [x.strip() for x in tag_spec.split(b"=", 1)]
        if len(parts) != 2:
            raise TagListError(tag_spec)
        key, value = parts
        if _TAG_START.match(key) is None:
            raise TagListError(tag_spec)
        if key in tags:
            raise DuplicateTagError(key)
        tags[key] = value
    return tags


class _Asn1FormatError(Exception):
    """dkimpy's ``ASN1FormatError``: the bytes do not follow the template."""


class _Asn1NullError(Exception):
    """A NULL with content, which dkimpy refuses with an ``assert`` (not a format error, so it
    stops :func:`rsa_public_numbers` from trying the ``RSAPublicKey`` form)."""


_INTEGER, _BIT_STRING, _NULL, _OID, _SEQUENCE = 0x02, 0x03, 0x05, 0x06, 0x30
_Template = tuple[tuple[int, "_Template"] | tuple[int], ...]
_SPKI: _Template = (((_SEQUENCE, ((_SEQUENCE, ((_OID,), (_NULL,))), (_BIT_STRING,)))),)
_RSA_PUBLIC_KEY: _Template = ((_SEQUENCE, ((_INTEGER,), (_INTEGER,))),)


def _asn1_parse(template: _Template, data: bytes) -> list[object]:
    """dkimpy 1.1.8's ``dkim.asn1.asn1_parse``, for the tags its public-key templates use.

    Lenient as dkimpy is: trailing bytes are ignored and a length past the end is cut short.
    """
    result: list[object] = []
    i = 0
    try:
        for spec in template:
            tag = data[i]
            i += 1
            if tag != spec[0]:
                raise _Asn1FormatError(f"unexpected tag (got {tag:02x}, expecting {spec[0]:02x})")
            length = data[i]
            i += 1
            if length & 0x80:
                count = length & 0x7F
                length = 0
                for _ in range(count):
                    length = (length << 8) | data[i]
                    i += 1
            if tag == _INTEGER:
                number = 0
                for _ in range(length):
                    number = (number << 8) | data[i]
                    i += 1
                result.append(number)
            elif tag == _NULL:
                if length != 0:
                    raise _Asn1NullError("NULL with content")
                result.append(None)
            elif tag == _SEQUENCE:
                inner = spec[1] if len(spec) == 2 else ()
                result.append(_asn1_parse(inner, data[i : i + length]))
                i += length
            else:  # BIT STRING, OBJECT IDENTIFIER
                result.append(data[i : i + length])
                i += length
        return result
    except IndexError:
        raise _Asn1FormatError(f"data truncated at byte {i}") from None


def rsa_public_numbers(data: bytes) -> tuple[int, int]:
    """(modulus, public exponent) of a DER ``SubjectPublicKeyInfo`` or bare ``RSAPublicKey``
    (RFC 8017 appendix A.1.1), read as dkimpy 1.1.8's ``dkim.crypto.parse_public_key`` reads it.

    Raises ValueError when dkimpy could not read the key either.
    """
    try:
        try:
            spki = _asn1_parse(_SPKI, data)
            bit_string = _nested(spki, 0, 1)
            assert isinstance(bit_string, bytes)
            numbers = _asn1_parse(_RSA_PUBLIC_KEY, bit_string[1:])  # skip the unused-bits byte
        except _Asn1FormatError:
            numbers = _asn1_parse(_RSA_PUBLIC_KEY, data)
    except (_Asn1FormatError, _Asn1NullError) as exc:
        raise ValueError(f"not an RSA public key: {exc}") from None
    modulus, exponent = _nested(numbers, 0, 0), _nested(numbers, 0, 1)
    assert isinstance(modulus, int) and isinstance(exponent, int)
    return modulus, exponent


def _nested(parsed: list[object], outer: int, inner: int) -> object:
    sequence = parsed[outer]
    assert isinstance(sequence, list)
    return sequence[inner]


@dataclass(frozen=True, slots=True)
class DkimKey:
    """A parsed DKIM key record. Lists hold what was written, unknown values included.

    ``public_key`` is the decoded ``p=`` (empty when revoked). ``bits`` is the RSA modulus size
    or 256 for ed25519, and None when revoked. ``hashes`` is None when ``h=`` is absent (every
    algorithm allowed); ``services`` is ``("*",)`` when ``s=`` is absent.
    """

    text: str
    key_type: str
    public_key: bytes
    bits: int | None
    version: str | None = None
    hashes: tuple[str, ...] | None = None
    services: tuple[str, ...] = ("*",)
    flags: tuple[str, ...] = ()
    notes: str | None = None
    unknown: tuple[tuple[str, str], ...] = ()

    @property
    def revoked(self) -> bool:
        """An empty ``p=``: "this public key has been revoked" (RFC 6376 section 3.6.1)."""
        return not self.public_key

    @property
    def testing(self) -> bool:
        """``t=y``: the domain is testing DKIM (RFC 6376 section 3.6.1)."""
        return "y" in self.flags

    @property
    def strict_identity(self) -> bool:
        """``t=s``: an ``i=`` must be in exactly the ``d=`` domain, not a subdomain of it."""
        return "s" in self.flags

    @property
    def for_email(self) -> bool:
        """True when ``s=`` lets the key sign mail (``*`` or ``email``)."""
        return any(s in EMAIL_SERVICES for s in self.services)

    def allows(self, hash_algorithm: str) -> bool:
        """Whether ``h=`` allows ``sha1`` or ``sha256`` (an absent ``h=`` allows all)."""
        return self.hashes is None or hash_algorithm in self.hashes

    @property
    def sha256_allowed(self) -> bool:
        return self.allows("sha256")

    def describe(self) -> str:
        """``rsa 2048-bit key`` / ``ed25519 key`` / ``revoked key (empty p=)``, with flags."""
        if self.revoked:
            return "revoked key (empty p=)"
        text = f"rsa {self.bits}-bit key" if self.key_type == "rsa" else "ed25519 key"
        extras = []
        if self.hashes is not None:
            extras.append("h=" + ":".join(self.hashes))
        if self.flags:
            extras.append("t=" + ":".join(self.flags))
        if self.services != ("*",):
            extras.append("s=" + ":".join(self.services))
        return f"{text} ({', '.join(extras)})" if extras else text


def looks_like_key_record(text: str) -> bool:
    """Whether a TXT value at a ``_domainkey`` name is evidently *meant* as a DKIM key record.

    True when it starts with ``v=DKIM1`` (loosely: any case, spaces) or has a ``p`` or ``k`` tag.
    Used for guessed selectors, where a wildcard TXT record (``*.example`` holding a site
    verification string, say) answers every name and must not count as a broken key. A record
    that starts with another ``v=`` value and has neither tag (``v=spf1 -all``) is not one;
    RFC 6376 section 3.6.1: such records "MUST be discarded".
    """
    parts = [p.strip() for p in text.split(";")]
    names = [p.partition("=")[0].strip() for p in parts if "=" in p]
    first = parts[0].replace(" ", "").replace("\t", "").lower() if parts else ""
    return first == "v=dkim1" or "p" in names or "k" in names


def parse_dkim_key(text: str) -> DkimKey:
    """The key record ``text`` (TXT strings joined), or :class:`DkimKeyError`."""
    if not isinstance(text, str):
        raise DkimKeyError(f"a key record is text, not {type(text).__name__}")
    bad = next((ch for ch in text if not _ALLOWED.match(ch)), None)
    if bad is not None:
        raise DkimKeyError(
            f"the record holds {_char(bad)}: only printable ASCII, spaces and tabs are allowed "
            "(RFC 6376 section 3.2)"
        )
    try:
        raw_tags = parse_tag_list(text.encode("ascii"))
    except DuplicateTagError as exc:
        raise DkimKeyError(
            f"tag {_tag_name(exc)} appears more than once, which makes the whole record invalid "
            "(RFC 6376 section 3.2)"
        ) from None
    except TagListError as exc:
        name = _tag_name(exc)
        what = "an empty tag (two ';' in a row)" if name == "''" else f"malformed tag {name}"
        raise DkimKeyError(
            f"{what}: tags are name=value separated by ';' (RFC 6376 section 3.2)"
        ) from None
    tags: dict[str, str] = {}
    for raw_name, raw_value in raw_tags.items():
        name = bytes(raw_name).decode("ascii")
        if not _TAG_NAME.match(name):
            raise DkimKeyError(
                f"{name!r} is not a tag name (a letter, then letters, digits or '_'; "
                "RFC 6376 section 3.2)"
            )
        tags[name] = bytes(raw_value).decode("ascii")
    return _build(text, tags)


def _build(text: str, tags: dict[str, str]) -> DkimKey:
    version = tags.get("v")
    if version is not None:
        if next(iter(tags)) != "v":
            raise DkimKeyError("v= must be the first tag when present (RFC 6376 section 3.6.1)")
        if version != "DKIM1":
            raise DkimKeyError(
                f"v={version}: the version must be exactly DKIM1 (RFC 6376 section 3.6.1)"
            )
    key_type = tags.get("k", "rsa")
    if key_type not in KEY_TYPES:
        raise DkimKeyError(
            f"k={key_type}: unknown key type; use k=rsa or k=ed25519 (RFC 6376 section 3.6.1, "
            "RFC 8463; names are case-sensitive)"
        )
    if "p" not in tags:
        raise DkimKeyError("no p= tag: the public key is required (RFC 6376 section 3.6.1)")
    public_key = _decode_base64(tags["p"])
    bits = _key_bits(key_type, public_key) if public_key else None
    known = {"v", "k", "p", "h", "s", "t", "n"}
    return DkimKey(
        text=text,
        key_type=key_type,
        public_key=public_key,
        bits=bits,
        version=version,
        hashes=_words("h", tags["h"]) if "h" in tags else None,
        services=_words("s", tags["s"], star=True) if "s" in tags else ("*",),
        flags=_words("t", tags["t"]) if "t" in tags else (),
        notes=tags.get("n"),
        unknown=tuple((k, v) for k, v in tags.items() if k not in known),
    )


def _decode_base64(value: str) -> bytes:
    compact = _WSP.sub("", value)
    if not _BASE64.match(compact) or len(compact) % 4:
        raise DkimKeyError(
            "p= is not valid base64 (letters, digits, '+', '/', and '=' padding to a multiple of "
            "4 characters)"
        )
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise DkimKeyError(f"p= is not valid base64: {exc}") from None


def _key_bits(key_type: str, data: bytes) -> int:
    if key_type == "ed25519":
        return _ed25519_bits(data)
    return _rsa_bits(data)


def _ed25519_bits(data: bytes) -> int:
    if len(data) != ED25519_KEY_BYTES:
        hint = (
            ": it looks like a SubjectPublicKeyInfo; publish only the last 32 bytes"
            if data.startswith(_ED25519_SPKI_PREFIX)
            else ""
        )
        raise DkimKeyError(
            f"p= decodes to {len(data)} bytes; an ed25519 key is the bare 32-byte public key "
            f"(RFC 8463 section 4.2){hint}"
        )
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(data)
    except Exception as exc:  # cryptography's errors for a bad point vary by version
        raise DkimKeyError(f"p= is not an ed25519 public key: {exc}") from None
    return ED25519_KEY_BYTES * 8


def _rsa_bits(data: bytes) -> int:
    try:
        modulus, exponent = rsa_public_numbers(data)
    except ValueError:
        raise DkimKeyError(
            "p= does not decode to an RSA public key (DER SubjectPublicKeyInfo or RSAPublicKey)"
        ) from None
    try:
        key = load_der_public_key(data)
    except Exception:  # not a SubjectPublicKeyInfo cryptography knows; dkimpy's numbers decide
        key = None
    if key is not None and not isinstance(key, rsa.RSAPublicKey):
        raise DkimKeyError(
            f"p= holds a {type(key).__name__.removesuffix('PublicKey') or 'non-RSA'} key, "
            "not an RSA key as k=rsa says"
        )
    try:
        checked = rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except Exception as exc:  # ValueError for bad numbers; others for absurd sizes
        raise DkimKeyError(f"p= does not hold a usable RSA key: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey) and key.public_numbers().n != modulus:
        raise DkimKeyError("p= is an RSA key that dkimpy and cryptography read differently")
    return checked.key_size


def _words(tag: str, value: str, *, star: bool = False) -> tuple[str, ...]:
    words = tuple(w.strip(" \t") for w in value.split(":"))
    for word in words:
        if not (_HYPHENATED.match(word) or (star and word == "*")):
            shown = f"{tag}={value}"
            raise DkimKeyError(
                f"{shown}: every entry must be a word of letters, digits and inner '-'"
                + (" or '*'" if star else "")
                + ", separated by ':' (RFC 6376 section 3.6.1)"
            )
    return words


def _tag_name(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else b""
    text = bytes(arg).decode("ascii", errors="replace") if isinstance(arg, bytes) else str(arg)
    return repr(text.strip()[:60])


def _char(ch: str) -> str:
    code = ord(ch)
    return f"character U+{code:04X}"
