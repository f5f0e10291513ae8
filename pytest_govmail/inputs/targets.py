"""The domain list: parse what the user gave, normalise it, and say exactly what is wrong with it.

Domains come from ``--govmail-domain`` (repeatable, comma lists too) and ``--govmail-domains-file``
(one domain a line, or CSV with a header naming the columns ``domain``, ``role`` and
``dkim_selectors``). Every name becomes an IDNA A-label in lower case with no trailing dot;
duplicates merge. Anything that is not a domain name (a URL, an address, an e-mail address, a
label over 63 octets...) is a :class:`TargetError` naming the line, which the plugin turns into a
``pytest.UsageError``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import idna

from pytest_govmail.model.target import Role, Target

_LDH = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SELECTOR = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_ROLE_WORDS = {
    "receiving": Role.RECEIVING,
    "receive": Role.RECEIVING,
    "sending": Role.SENDING,
    "send": Role.SENDING,
    "parked": Role.PARKED,
    "non-sending": Role.PARKED,
}


class TargetError(ValueError):
    """The domain list holds something that is not a usable domain name."""


def normalise_domain(raw: str) -> str:
    """``raw`` as an IDNA A-label domain in lower case without the trailing dot, or TargetError.

    >>> normalise_domain("Bücher.Example.")
    'xn--bcher-kva.example'
    """
    text = raw.strip()
    if not text:
        raise TargetError("empty domain name")
    if "://" in text or "/" in text:
        raise TargetError(f"{raw!r} looks like a URL; give the bare domain name")
    if "@" in text:
        raise TargetError(f"{raw!r} looks like an e-mail address; give the domain after the @")
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise TargetError(f"{raw!r} is an IP address, not a domain name")
    text = text.rstrip(".")
    if not text or text.startswith(".") or ".." in text:
        raise TargetError(f"{raw!r} has an empty label")
    if text.isascii():
        _check_lengths(raw, text)
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise TargetError(f"{raw!r} is not a valid domain name ({exc})") from None
    ascii_name = ascii_name.lower()
    _check_lengths(raw, ascii_name)
    labels = ascii_name.split(".")
    for label in labels:
        if not _LDH.match(label):
            raise TargetError(f"{raw!r} has a label with characters not allowed: {label!r}")
    if len(labels) < 2:
        raise TargetError(f"{raw!r} is a single label; give a full domain name")
    if labels[-1].isdigit():
        raise TargetError(f"{raw!r} ends in a numeric label, which no top-level domain has")
    return ascii_name


def _check_lengths(raw: str, name: str) -> None:
    """RFC 1035 2.3.4 limits, checked before IDNA so the message names the limit broken."""
    for label in name.split("."):
        if len(label) > 63:
            raise TargetError(f"{raw!r} has a label of {len(label)} octets (at most 63)")
    if len(name) > 253:
        raise TargetError(f"{raw!r} is {len(name)} octets long (at most 253)")


def parse_roles(raw: str, where: str) -> frozenset[Role]:
    """Roles from a domains-file cell: words separated by ``|``, ``;`` or spaces; empty = infer."""
    roles: set[Role] = set()
    for word in re.split(r"[|;\s]+", raw.strip().lower()):
        if not word:
            continue
        if word not in _ROLE_WORDS:
            valid = ", ".join(sorted({r.value for r in Role}))
            raise TargetError(f"{where}: unknown role {word!r} (valid: {valid})")
        roles.add(_ROLE_WORDS[word])
    return frozenset(roles)


def parse_selectors(raw: str, where: str) -> tuple[str, ...]:
    """DKIM selectors from a cell or option: separated by ``|``, ``;``, spaces or commas."""
    selectors = []
    for word in re.split(r"[|;,\s]+", raw.strip()):
        if not word:
            continue
        if not _SELECTOR.match(word) or len(word) > 63:
            raise TargetError(f"{where}: {word!r} is not a valid DKIM selector")
        selectors.append(word.lower())
    return tuple(dict.fromkeys(selectors))


def targets_from_values(values: Iterable[str]) -> list[Target]:
    """Targets from ``--govmail-domain`` values; each may be a comma-separated list."""
    found: list[Target] = []
    for value in values:
        if not value.strip(" ,"):
            # ``--govmail-domain=''`` (an unset shell variable, say) would otherwise run nothing
            # and say nothing: a usage error names the mistake.
            raise TargetError(f"--govmail-domain: {value!r} names no domain; give a domain name")
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                found.append(Target(normalise_domain(part)))
            except TargetError as exc:
                raise TargetError(f"--govmail-domain: {exc}") from None
    return found


def _file_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, line


def targets_from_text(text: str, name: str) -> list[Target]:
    """Targets from a domains file's contents (``name`` is used in error messages).

    A first line whose first cell is ``domain`` makes the file CSV with named columns. Blank lines
    and ``#`` comments are skipped, a UTF-8 byte-order mark and Windows line endings are accepted.
    """
    text = text.removeprefix("\ufeff")
    lines = list(_file_lines(text))
    if not lines:
        return []
    first = lines[0][1]
    if first.split(",")[0].strip().lower() == "domain":
        return _targets_from_csv(lines, name)
    found = []
    for number, line in lines:
        if "," in line:
            # Checked before IDNA, whose complaint ("Codepoint U+002C not allowed") hides this.
            raise TargetError(
                f"{name}, line {number} looks like CSV but the file has no header row "
                "(domain,role,dkim_selectors)"
            )
        try:
            found.append(Target(normalise_domain(line), source=f"{name}:{number}"))
        except TargetError as exc:
            raise TargetError(f"{name}, line {number}: {exc}") from None
    return found


def _targets_from_csv(lines: list[tuple[int, str]], name: str) -> list[Target]:
    numbers = [n for n, _ in lines]
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]]
    known = {"domain", "role", "dkim_selectors"}
    unknown = [h for h in header if h not in known]
    if unknown:
        raise TargetError(
            f"{name}, line {numbers[0]}: unknown column(s) {', '.join(unknown)} "
            f"(valid: domain, role, dkim_selectors)"
        )
    found = []
    for number, row in zip(numbers[1:], rows[1:], strict=True):
        where = f"{name}, line {number}"
        if len(row) > len(header):
            raise TargetError(f"{where}: {len(row)} cells, but the header names {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        try:
            domain = normalise_domain(cells.get("domain", ""))
        except TargetError as exc:
            raise TargetError(f"{where}: {exc}") from None
        found.append(
            Target(
                domain,
                roles=parse_roles(cells.get("role", ""), where),
                dkim_selectors=parse_selectors(cells.get("dkim_selectors", ""), where),
                source=f"{name}:{number}",
            )
        )
    return found


def targets_from_file(path: Path) -> list[Target]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TargetError(f"cannot read domains file {str(path)!r}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TargetError(f"{path}, line {line}: not UTF-8 text") from None
    return targets_from_text(text, str(path))


def merge_targets(targets: Iterable[Target], selectors: Iterable[str] = ()) -> tuple[Target, ...]:
    """Deduplicate by domain (roles and selectors unite), add global selectors, sort by domain."""
    extra = tuple(selectors)
    merged: dict[str, Target] = {}
    for target in targets:
        seen = merged.get(target.domain)
        if seen is None:
            merged[target.domain] = target
        else:
            merged[target.domain] = replace(
                seen,
                roles=seen.roles | target.roles,
                dkim_selectors=tuple(dict.fromkeys(seen.dkim_selectors + target.dkim_selectors)),
            )
    result = []
    for domain in sorted(merged):
        t = merged[domain]
        if extra:
            t = replace(t, dkim_selectors=tuple(dict.fromkeys(extra + t.dkim_selectors)))
        result.append(t)
    return tuple(result)


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) as (K, N), or TargetError."""
    k, sep, n = text.strip().partition("/")
    if not sep or not k.isdigit() or not n.isdigit() or not 1 <= int(k) <= int(n):
        raise TargetError(f"--govmail-shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/8")
    return int(k), int(n)


def in_shard(domain: str, shard: tuple[int, int]) -> bool:
    """Whether a domain belongs to shard K of N: a hash of the name, so the slice is stable
    whatever the order of the list and however many domains are added or removed elsewhere."""
    k, n = shard
    digest = hashlib.sha256(domain.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") % n == k - 1
