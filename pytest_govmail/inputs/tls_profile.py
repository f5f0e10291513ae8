"""The TLS profile: which cipher suites, key exchange groups and certificate keys are good enough.

The rules are data (``tls_profile.toml`` ships with the package), named and versioned: a
profile's :attr:`TlsProfile.id` (``name@version``, e.g. ``ncsc@2026.1``) is stamped into every
:class:`~pytest_govmail.model.tls.TlsScan` by the collector and shown in every TLS verdict, so a
report always says which rules judged it. A user may supply their own file with the same layout;
:func:`load_profile` validates it strictly and raises :class:`ProfileError` naming the key at
fault.

Suite classes (NCSC "Using TLS to protect data"; NCSC Mail Check's published TLS rules):
``recommended`` and ``acceptable`` are listed by
IANA name; ``insecure`` (TLS-06: NULL, anonymous, EXPORT, DES, RC4, MD5) is found by rules on the
tokens of the name; everything else is ``weak``. :func:`classify` takes IANA names (what the
collector records: sslyze's ``CipherSuite.name``), the ``SSL_`` spellings some tools use for the
same suites, and OpenSSL names (``ECDHE-RSA-AES128-GCM-SHA256``), translated by
:func:`openssl_to_iana`.

One OpenSSL-to-IANA map: :func:`openssl_to_iana` is the project's only translation, and the
collector (:mod:`pytest_govmail.collect.tls`) names every suite it records through it. It is
built from sslyze's cipher suite tables (``CipherSuitesRepository``, which follow the OpenSSL
and IANA registries, https://www.iana.org/assignments/tls-parameters), because those tables
cover every suite nassl's OpenSSL builds can offer, which is what the collector needs; a list
kept here by hand covered only the packaged profile's dozen suites, so a user profile that
listed others could not be matched against OpenSSL names. sslyze is imported only when an
OpenSSL name is first translated: judging the IANA names in evidence never loads it.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "PACKAGED_SOURCE",
    "ProfileError",
    "SuiteClass",
    "TlsProfile",
    "canonical_group",
    "classify",
    "iana_name",
    "load_profile",
    "openssl_to_iana",
    "parse_profile",
    "profile_from_input",
    "profile_input",
]

SuiteClass = Literal["recommended", "acceptable", "weak", "insecure"]

#: The profile layout version this module reads.
SCHEMA = 1


@functools.lru_cache(maxsize=1)
def _openssl_tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(TLS map, SSL 2.0 map, upper-cased TLS map), from sslyze's tables; built once."""
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository
    from sslyze.server_connectivity import TlsVersionEnum

    names: dict[str, str] = {}
    ssl2: dict[str, str] = {}
    for version in TlsVersionEnum:
        table = ssl2 if version is TlsVersionEnum.SSL_2_0 else names
        for suite in CipherSuitesRepository.get_all_cipher_suites(version):
            table.setdefault(suite.openssl_name, suite.name)
    upper = {k.upper(): v for k, v in names.items()}
    return names, ssl2, upper


def openssl_to_iana(openssl_name: str, *, ssl2: bool = False) -> str | None:
    """The IANA name of an OpenSSL suite name, exactly as IANA spells it, or None if unknown.

    ``ssl2``: the name is an SSL 2.0 suite's, which has names of its own (``RC4-MD5`` is
    ``SSL_CK_RC4_128_WITH_MD5`` there, ``TLS_RSA_WITH_RC4_128_MD5`` elsewhere).
    """
    names, ssl2_names, _ = _openssl_tables()
    if ssl2 and openssl_name in ssl2_names:
        return ssl2_names[openssl_name]
    return names.get(openssl_name)


#: Canonical key exchange group names and the other spellings tools use for them.
_GROUP_ALIASES: Mapping[str, tuple[str, ...]] = {
    "P-256": ("secp256r1", "prime256v1", "nistp256", "p256"),
    "P-384": ("secp384r1", "nistp384", "p384"),
    "P-521": ("secp521r1", "nistp521", "p521"),
    "X25519": ("x25519", "curve25519"),
    "X448": ("x448", "curve448"),
}


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


_GROUP_BY_SQUASHED = {
    _squash(alias): canonical
    for canonical, aliases in _GROUP_ALIASES.items()
    for alias in (canonical, *aliases)
}


def canonical_group(name: str) -> str:
    """The canonical name of a key exchange group (``secp256r1`` -> ``P-256``), else ``name``."""
    return _GROUP_BY_SQUASHED.get(_squash(name), name.strip())


def iana_name(suite: str) -> str:
    """The IANA spelling of a suite name, upper-cased, as far as :func:`openssl_to_iana` knows.

    ``SSL_RSA_WITH_...`` becomes ``TLS_RSA_WITH_...`` (the same suite); an OpenSSL name becomes
    its IANA name; anything else is returned upper-cased.
    """
    text = suite.strip().upper()
    if text.startswith("SSL_") and not text.startswith("SSL_CK_"):
        return "TLS_" + text[4:]
    if text.startswith(("TLS_", "SSL_CK_")) or not _OPENSSL_LIKE.fullmatch(text):
        return text
    found = _openssl_tables()[2].get(text)
    return found.upper() if found is not None else text


#: What an OpenSSL suite name looks like (``ECDHE-RSA-AES128-GCM-SHA256``, ``RC4-MD5``): only
#: such text is looked up, so arbitrary text never loads sslyze.
_OPENSSL_LIKE = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")


def _tokens(suite: str) -> list[str]:
    tokens = [t for t in re.split(r"[_\-\s]+", suite.strip().upper()) if t]
    if "CBC3" in tokens:  # OpenSSL's DES-CBC3-SHA is triple DES, not single DES
        tokens = ["3DES" if t == "DES" else t for t in tokens]
    return tokens


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the key at fault."""


@dataclass(frozen=True, slots=True)
class TlsProfile:
    """A validated profile. Build one with :func:`load_profile` or :func:`parse_profile`."""

    name: str
    version: str
    description: str
    recommended: tuple[str, ...]
    acceptable: tuple[str, ...]
    insecure_tokens: frozenset[str]
    insecure_prefixes: tuple[str, ...]
    insecure_names: frozenset[str]
    groups: tuple[str, ...]
    hybrid_groups: tuple[str, ...]
    min_dhe_bits: int
    min_rsa_bits: int
    min_ec_bits: int
    expiry_warning_days: int
    source: str = ""
    _recommended: frozenset[str] = field(init=False, repr=False, compare=False)
    _acceptable: frozenset[str] = field(init=False, repr=False, compare=False)
    _groups: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_recommended", frozenset(s.upper() for s in self.recommended))
        object.__setattr__(self, "_acceptable", frozenset(s.upper() for s in self.acceptable))
        squashed = {_squash(canonical_group(g)) for g in self.groups}
        squashed.update(_squash(g) for g in self.hybrid_groups)
        object.__setattr__(self, "_groups", frozenset(squashed))

    @property
    def id(self) -> str:
        """``name@version``: what the collector stamps into ``TlsScan.profile``."""
        return f"{self.name}@{self.version}"

    def is_insecure(self, suite: str) -> bool:
        """True when the suite belongs to a TLS-06 family (rules on the name's tokens)."""
        name = iana_name(suite)
        if name in self.insecure_names:
            return True
        for token in (*_tokens(suite), *_tokens(name)):
            if token in self.insecure_tokens:
                return True
            if any(token.startswith(prefix) for prefix in self.insecure_prefixes):
                return True
        return False

    def classify(self, suite: str) -> SuiteClass:
        """``recommended``, ``acceptable``, ``weak`` or ``insecure``; never raises."""
        if self.is_insecure(suite):
            return "insecure"
        name = iana_name(suite)
        if name in self._recommended:
            return "recommended"
        if name in self._acceptable:
            return "acceptable"
        return "weak"

    def group_allowed(self, group: str) -> bool:
        """True for an allowed ECDHE group or hybrid group, in any usual spelling."""
        return _squash(canonical_group(group)) in self._groups


def classify(suite: str, profile: TlsProfile | None = None) -> SuiteClass:
    """The class of ``suite`` under ``profile`` (the packaged profile by default)."""
    return (profile or load_profile()).classify(suite)


# ------------------------------------------------------------------------------------------
# Loading and validation
# ------------------------------------------------------------------------------------------

_LAYOUT: Mapping[str, frozenset[str]] = {
    "": frozenset(
        {
            "schema",
            "name",
            "version",
            "description",
            "suites",
            "insecure",
            "key_exchange",
            "certificate",
        }
    ),
    "suites": frozenset({"recommended", "acceptable"}),
    "insecure": frozenset({"tokens", "token_prefixes", "names"}),
    "key_exchange": frozenset({"groups", "hybrid_groups", "min_dhe_bits"}),
    "certificate": frozenset({"min_rsa_bits", "min_ec_bits", "expiry_warning_days"}),
}
_OPTIONAL = frozenset({"description"})
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,31}")
_SUITE = re.compile(r"(TLS|SSL)_[A-Z0-9_]{1,100}")
_TOKEN = re.compile(r"[A-Z0-9]{1,32}")
_GROUP = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, problem: str) -> ProfileError:
        return ProfileError(
            f"{self.source}: {key}: {problem}" if key else f"{self.source}: {problem}"
        )

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        allowed = _LAYOUT[key]
        where = f"{key}." if key else ""
        for name in data:
            if name not in allowed:
                raise self.error(
                    f"{where}{name}", f"unknown key (expected one of {', '.join(sorted(allowed))})"
                )
        for name in sorted(allowed - _OPTIONAL):
            if name not in data:
                raise self.error(f"{where}{name}", "missing")
        return data

    def sub(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data[key]
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {type(value).__name__}")
        return self.table(value, key)

    def text(self, data: Mapping[str, Any], key: str, pattern: re.Pattern[str] | None) -> str:
        value = data.get(key, "")
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {type(value).__name__}")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.error(key, f"{value!r} does not match {pattern.pattern}")
        return value

    def integer(self, data: Mapping[str, Any], key: str, low: int, high: int) -> int:
        value = data[key.rpartition(".")[2]]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {type(value).__name__}")
        if not low <= value <= high:
            raise self.error(key, f"{value} is outside {low}..{high}")
        return value

    def strings(
        self,
        data: Mapping[str, Any],
        key: str,
        pattern: re.Pattern[str],
        *,
        upper: bool = False,
        non_empty: bool = False,
    ) -> tuple[str, ...]:
        value = data[key.rpartition(".")[2]]
        if not isinstance(value, list):
            raise self.error(key, f"expected a list of strings, got {type(value).__name__}")
        if non_empty and not value:
            raise self.error(key, "must not be empty")
        out: list[str] = []
        seen: set[str] = set()
        for index, item in enumerate(value):
            where = f"{key}[{index}]"
            if not isinstance(item, str):
                raise self.error(where, f"expected a string, got {type(item).__name__}")
            text = item.strip().upper() if upper else item.strip()
            if not pattern.fullmatch(text):
                raise self.error(where, f"{item!r} does not match {pattern.pattern}")
            if text.upper() in seen:
                raise self.error(where, f"{item!r} is listed twice")
            seen.add(text.upper())
            out.append(text)
        return tuple(out)


def parse_profile(text: str, source: str = "TLS profile") -> TlsProfile:
    """A profile from TOML text; ``source`` names it in error messages.

    Raises :class:`ProfileError` for bad TOML, unknown or missing keys, wrong types, names that
    are not IANA suite names, a suite listed twice or in both sets, and a recommended or
    acceptable suite that the insecure rules would call insecure.
    """
    reader = _Reader(source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise reader.error("", f"not valid TOML: {exc}") from None
    data = reader.table(raw, "")
    schema = data["schema"]
    if isinstance(schema, bool) or schema != SCHEMA:
        raise reader.error("schema", f"{schema!r} is not a supported schema (expected {SCHEMA})")
    suites = reader.sub(data, "suites")
    insecure = reader.sub(data, "insecure")
    kex = reader.sub(data, "key_exchange")
    cert = reader.sub(data, "certificate")
    recommended = reader.strings(suites, "suites.recommended", _SUITE, upper=True, non_empty=True)
    acceptable = reader.strings(suites, "suites.acceptable", _SUITE, upper=True)
    profile = TlsProfile(
        name=reader.text(data, "name", _NAME),
        version=reader.text(data, "version", _VERSION),
        description=reader.text(data, "description", None).strip(),
        recommended=recommended,
        acceptable=acceptable,
        insecure_tokens=frozenset(
            reader.strings(insecure, "insecure.tokens", _TOKEN, upper=True, non_empty=True)
        ),
        insecure_prefixes=reader.strings(insecure, "insecure.token_prefixes", _TOKEN, upper=True),
        insecure_names=frozenset(reader.strings(insecure, "insecure.names", _SUITE, upper=True)),
        groups=tuple(
            canonical_group(g)
            for g in reader.strings(kex, "key_exchange.groups", _GROUP, non_empty=True)
        ),
        hybrid_groups=reader.strings(kex, "key_exchange.hybrid_groups", _GROUP),
        min_dhe_bits=reader.integer(kex, "key_exchange.min_dhe_bits", 1024, 16384),
        min_rsa_bits=reader.integer(cert, "certificate.min_rsa_bits", 1024, 16384),
        min_ec_bits=reader.integer(cert, "certificate.min_ec_bits", 160, 571),
        expiry_warning_days=reader.integer(cert, "certificate.expiry_warning_days", 0, 3650),
        source=source,
    )
    both = set(recommended) & set(acceptable)
    if both:
        raise reader.error(
            "suites.acceptable", f"{sorted(both)[0]} is also listed in suites.recommended"
        )
    for key, names in (("suites.recommended", recommended), ("suites.acceptable", acceptable)):
        for index, name in enumerate(names):
            if profile.is_insecure(name):
                raise reader.error(
                    f"{key}[{index}]", f"{name} is insecure by the rules in [insecure]"
                )
    return profile


#: How the packaged profile is named as a source (in error messages and in evidence inputs).
PACKAGED_SOURCE = "packaged tls_profile.toml"


@functools.lru_cache(maxsize=1)
def _packaged_text() -> str:
    resource = importlib.resources.files("pytest_govmail.inputs").joinpath("tls_profile.toml")
    return resource.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _packaged() -> TlsProfile:
    return parse_profile(_packaged_text(), PACKAGED_SOURCE)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read the TLS profile: {exc}") from None


@functools.lru_cache(maxsize=16)
def _from_file(path: Path) -> TlsProfile:
    return parse_profile(_read(path), str(path))


def profile_input(path: Path | None = None) -> tuple[str, str]:
    """``(source, text)`` of the packaged profile or the user's file, for the evidence's inputs.

    A run stores the text of the profile it judged with (as it stores waivers and
    attestations), so that a replay judges with the same rules even after the packaged profile
    changes. Raises :class:`ProfileError` when the file cannot be read.
    """
    if path is None:
        return (PACKAGED_SOURCE, _packaged_text())
    return (str(path), _read(Path(path).expanduser().resolve()))


@functools.lru_cache(maxsize=16)
def profile_from_input(source: str, text: str) -> TlsProfile:
    """The profile held in an evidence input ``(source, text)``; cached, since a sweep's shards
    and every subject of a run share one. Raises :class:`ProfileError` for an invalid text."""
    if source == PACKAGED_SOURCE and text == _packaged_text():
        return _packaged()
    return parse_profile(text, source)


def load_profile(path: Path | None = None) -> TlsProfile:
    """The packaged profile, or the user's profile file at ``path``; cached per file.

    Raises :class:`ProfileError` (a ``ValueError``) when the file cannot be read or is invalid.
    """
    if path is None:
        return _packaged()
    return _from_file(Path(path).expanduser().resolve())
