"""The evidence file: everything a run saw, as JSON that replays to the same verdicts offline.

This module is the only code that knows the file format. ``schema_version`` rises whenever a
field changes meaning; a file from a newer schema is refused with a message rather than misread.
``catalogue_version`` says which requirement catalogue judged the run that wrote the file, so
that a replay under a newer catalogue can say so (files written before it was recorded were
all judged by catalogue version 1, :data:`CATALOGUE_BEFORE_RECORDED`).
"""

from __future__ import annotations

import json
import os
import platform
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from pytest_govmail.model import dnssec as model_dnssec
from pytest_govmail.model import https as model_https
from pytest_govmail.model import tls as model_tls
from pytest_govmail.model.dkim import SampleMessage
from pytest_govmail.model.dns import DnsResult, DnsSnapshot, ErrorKind, ProbeError, Query
from pytest_govmail.model.dnssec import DnssecChain
from pytest_govmail.model.feedback import Feedback, feedback_from_json, feedback_to_json
from pytest_govmail.model.https import PolicyFetch
from pytest_govmail.model.target import Role, Target
from pytest_govmail.model.text import inert
from pytest_govmail.model.tls import TlsScan

#: 2: a TLS scan may share its server facts with another name's scan of the same address
#: (``shared_with``, ``sharing``, ``retries``), and ``tls_addresses`` sums each address's load.
#: A version 1 file reads as before: every scan its own (no field it lacks is needed).
SCHEMA_VERSION = 2
#: The catalogue version that judged every evidence file written before the field was recorded
#: (pytest-govmail 0.1.0 and the releases after it up to catalogue version 2).
CATALOGUE_BEFORE_RECORDED = "1"
_CATALOGUE_VERSION_MAX = 12

#: The largest evidence file read (a 10,000-domain sweep writes about 100 MiB): anything larger
#: is refused before it is read, so that a wrong path (a disk image, /dev/zero) cannot exhaust
#: memory.
MAX_EVIDENCE_BYTES = 2 * 1024**3

#: What goes wrong when decoding a hostile or damaged file, besides a missing key: a value of
#: the wrong type, a number out of range (``1e400`` as a TTL), nesting deeper than the parser
#: recurses. Every one becomes an :class:`EvidenceError` naming the file.
_MALFORMED = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    OverflowError,
    RecursionError,
)


class EvidenceError(ValueError):
    """An evidence file that cannot be read: missing, corrupt, truncated, or from a newer schema."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One run's targets, settings and raw answers."""

    targets: tuple[Target, ...]
    dns: DnsSnapshot
    settings: Mapping[str, str] = field(default_factory=dict)
    generator: Mapping[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    #: The user's own statements the run used, by kind ("waivers", "attestations"): the
    #: file's name and its text, so that a replay judges with the same inputs.
    inputs: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: TLS scans by (MX host, address); MTA-STS policy fetches by domain; sample messages.
    tls: Mapping[tuple[str, str], TlsScan] = field(default_factory=dict)
    policies: Mapping[str, PolicyFetch] = field(default_factory=dict)
    messages: tuple[SampleMessage, ...] = ()
    #: DNSSEC validations by the answer they validate; files written before DNSSEC was
    #: collected have none (the key is simply absent), and replay the same.
    dnssec: Mapping[Query, DnssecChain] = field(default_factory=dict)
    #: The catalogue version that judged the run that wrote the file; "" when the file does not
    #: say (written before catalogue version 2; see :attr:`judged_by`).
    catalogue_version: str = ""

    @property
    def judged_by(self) -> str:
        """The catalogue version that judged the run that wrote this file."""
        return self.catalogue_version or CATALOGUE_BEFORE_RECORDED

    #: What the DMARC aggregate and TLS-RPT reports given said, per domain (None: none given).
    feedback: Feedback | None = None


def generator_versions() -> dict[str, str]:
    """The versions that produced the evidence, so an assessor can reproduce the run."""
    versions = {"python": platform.python_version()}
    for dist in ("pytest-govmail", "pytest", "dnspython", "publicsuffixlist", "dkimpy", "nassl"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def _result_to_json(r: DnsResult) -> dict[str, Any]:
    data: dict[str, Any] = {"name": r.name, "rdtype": r.rdtype, "rcode": r.rcode}
    if r.records:
        data["records"] = list(r.records)
    if r.ttl is not None:
        data["ttl"] = r.ttl
    if r.authenticated:
        data["ad"] = True
    if r.cname_chain:
        data["cname_chain"] = list(r.cname_chain)
    if r.error is not None:
        data["error"] = {"kind": r.error.kind.value, "detail": r.error.detail}
    data.update(resolver=r.resolver, elapsed_ms=r.elapsed_ms, at=r.at)
    return data


def _result_from_json(data: Mapping[str, Any]) -> DnsResult:
    error = data.get("error")
    return DnsResult(
        name=str(data["name"]),
        rdtype=str(data["rdtype"]),
        rcode=None if data.get("rcode") is None else str(data["rcode"]),
        records=tuple(str(x) for x in data.get("records", ())),
        ttl=None if data.get("ttl") is None else int(data["ttl"]),
        authenticated=bool(data.get("ad", False)),
        cname_chain=tuple(str(x) for x in data.get("cname_chain", ())),
        error=None if error is None else ProbeError(ErrorKind(error["kind"]), str(error["detail"])),
        resolver=str(data.get("resolver", "")),
        elapsed_ms=float(data.get("elapsed_ms", 0.0)),
        at=str(data.get("at", "")),
    )


def _target_to_json(t: Target) -> dict[str, Any]:
    return {
        "domain": t.domain,
        "roles": sorted(r.value for r in t.roles),
        "dkim_selectors": list(t.dkim_selectors),
        "source": t.source,
    }


def _target_from_json(data: Mapping[str, Any]) -> Target:
    from pytest_govmail.inputs.targets import TargetError, normalise_domain

    domain = data["domain"]
    try:
        if not isinstance(domain, str) or normalise_domain(domain) != domain:
            raise TargetError("not in the form a run writes")
    except TargetError as exc:
        # A replayed name becomes a test ID and appears in every report: only a domain name in
        # the form the run wrote it (IDNA A-labels, lower case) is taken.
        raise ValueError(f"target {domain!r} is not a domain name ({exc})") from None
    return Target(
        domain=domain,
        roles=frozenset(Role(r) for r in data.get("roles", ())),
        dkim_selectors=tuple(str(s) for s in data.get("dkim_selectors", ())),
        source=inert(str(data.get("source", ""))),
    )


def _head(evidence: Evidence) -> dict[str, Any]:
    """The file's fields before its lists."""
    return {
        "schema_version": SCHEMA_VERSION,
        "catalogue_version": evidence.catalogue_version,
        "generator": dict(evidence.generator),
        "started_at": evidence.started_at,
        "finished_at": evidence.finished_at,
        "settings": dict(evidence.settings),
        "inputs": {k: {"source": src, "text": text} for k, (src, text) in evidence.inputs.items()},
        **({"feedback": feedback_to_json(evidence.feedback)} if evidence.feedback else {}),
    }


def _lists(evidence: Evidence) -> dict[str, Iterable[Any]]:
    """The file's lists, each item made as it is read (:func:`write` streams them)."""
    return {
        "targets": (_target_to_json(t) for t in evidence.targets),
        "dns": (_result_to_json(r) for r in sorted(evidence.dns, key=lambda r: r.query)),
        "tls": (model_tls.to_json(evidence.tls[k]) for k in sorted(evidence.tls)),
        # Derived from "tls" (and recomputed on reading): what each address was asked.
        "tls_addresses": (
            load.to_json() for load in model_tls.address_loads(evidence.tls.values())
        ),
        "policies": model_https.policies_to_json(evidence.policies),
        "messages": (m.to_json() for m in evidence.messages),
        "dnssec": model_dnssec.chains_to_json(evidence.dnssec),
    }


def encode(evidence: Evidence) -> dict[str, Any]:
    return {**_head(evidence), **{k: list(v) for k, v in _lists(evidence).items()}}


def decode(data: object, source: str = "evidence") -> Evidence:
    if not isinstance(data, dict):
        raise EvidenceError(f"{source}: not an evidence file (the top level is not an object)")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EvidenceError(f"{source}: no schema_version: not a pytest-govmail evidence file")
    if version > SCHEMA_VERSION:
        raise EvidenceError(
            f"{source}: schema_version {version} is newer than this pytest-govmail understands "
            f"({SCHEMA_VERSION}); upgrade pytest-govmail to replay it"
        )
    try:
        return Evidence(
            targets=tuple(_target_from_json(t) for t in data["targets"]),
            dns=DnsSnapshot(_result_from_json(r) for r in data.get("dns", ())),
            # Shown in every report's header and provenance (the resolver, the vantage point,
            # when it was collected, by what): inert as read, so that no output shows a control
            # or formatting character a hand-made file put there. A run writes printable ASCII.
            settings={inert(str(k)): inert(str(v)) for k, v in data.get("settings", {}).items()},
            generator={inert(str(k)): inert(str(v)) for k, v in data.get("generator", {}).items()},
            started_at=inert(str(data.get("started_at", ""))),
            finished_at=inert(str(data.get("finished_at", ""))),
            inputs={
                str(k): (inert(str(v["source"])), str(v["text"]))
                for k, v in data.get("inputs", {}).items()
            },
            tls={
                (scan.host, scan.address): scan
                for scan in (model_tls.from_json(t) for t in data.get("tls", ()))
            },
            policies=model_https.policies_from_json(data.get("policies", [])),
            messages=tuple(SampleMessage.from_json(m) for m in data.get("messages", ())),
            dnssec=model_dnssec.chains_from_json(data.get("dnssec", ())),
            catalogue_version=_catalogue_version(data.get("catalogue_version", "")),
            feedback=(
                feedback_from_json(data["feedback"]) if data.get("feedback") is not None else None
            ),
        )
    except _MALFORMED as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:300]
        raise EvidenceError(
            f"{source}: malformed evidence ({type(exc).__name__}: {reason})"
        ) from None


def _catalogue_version(value: object) -> str:
    """The file's catalogue version: digits (a run writes "2"), or "" when it has none."""
    if value == "":
        return ""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ValueError(f"catalogue_version {inert(str(value))[:40]!r} is not a version number")
    if len(value) > _CATALOGUE_VERSION_MAX:
        raise ValueError("catalogue_version is too long")
    return value


def write(evidence: Evidence, path: Path) -> None:
    """Write atomically: an interrupted run never leaves half a file for replay to misread.

    The file is what ``json.dumps(encode(evidence))`` would give, but written a list item at a
    time (one a line): a 10,000-domain sweep has 200,000 DNS answers, and building them all as
    one dict and then one string would need several times the evidence's own memory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    lists = _lists(evidence)
    with tmp.open("w", encoding="utf-8") as out:
        out.write("{\n")
        for key, value in _head(evidence).items():
            out.write(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=True)},\n")
        for number, (key, items) in enumerate(lists.items()):
            out.write(f" {json.dumps(key)}: [")
            for index, item in enumerate(items):
                out.write(("," if index else "") + "\n  " + json.dumps(item, ensure_ascii=True))
            out.write("\n ]" + ("," if number < len(lists) - 1 else "") + "\n")
        out.write("}\n")
    tmp.replace(path)


class FileRefused(Exception):
    """Why :func:`read_regular` would not read a file: ``why`` is ``"unreadable"`` (with the
    system's ``detail``), ``"irregular"``, ``"too large"`` (with the file's ``size``) or
    ``"grew"``. Each caller words it for its own kind of file."""

    def __init__(self, why: str, detail: str = "", size: int = 0) -> None:
        super().__init__(why)
        self.why, self.detail, self.size = why, detail, size


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, or :class:`FileRefused`.

    Opened without blocking and checked before reading: a FIFO would wait for a writer forever,
    a device (``/dev/zero``) never ends, and a huge file would be read whole into memory. Every
    file a user gives (evidence, waivers, levels, trust anchors, DMARC and TLS-RPT reports) is
    read through here.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise FileRefused("unreadable", exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("irregular")
        if info.st_size > limit:
            raise FileRefused("too large", size=info.st_size)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileRefused("grew")
    return data


def read_bounded(path: Path, limit: int, kind: str) -> bytes:
    """:func:`read_regular`, refusals as :class:`EvidenceError` naming the file and ``kind``."""
    try:
        return read_regular(path, limit)
    except FileRefused as refused:
        where = repr(str(path))
        message = {
            "unreadable": f"cannot read {kind} {where}: {refused.detail}",
            "irregular": f"{where} is not a regular file, not a {kind}",
            "too large": f"{where} is {refused.size:,} bytes, more than a {kind} can be "
            f"({limit:,} bytes)",
            "grew": f"{where} grew past {limit:,} bytes while being read",
        }[refused.why]
        raise EvidenceError(message) from None


def read(path: Path) -> Evidence:
    """Read an evidence file: any file that is not one gives :class:`EvidenceError`, whose
    message names the file and what is wrong, and nothing else."""
    raw = read_bounded(path, MAX_EVIDENCE_BYTES, "evidence file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EvidenceError(f"{path}: not UTF-8 text, not an evidence file") from None
    # Each stage is let go as soon as the next exists: a 10,000-domain sweep's file is 135 MB,
    # as bytes and again as text, both alive while the JSON was parsed and decoded.
    del raw
    try:
        data = json.loads(text)
        del text
    except json.JSONDecodeError as exc:
        raise EvidenceError(
            f"{path}: corrupt or truncated JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise EvidenceError(f"{path}: JSON nested too deeply, not an evidence file") from None
    except ValueError as exc:  # an integer of thousands of digits, say
        raise EvidenceError(f"{path}: unreadable JSON ({str(exc)[:200]})") from None
    return decode(data, str(path))


def merge(parts: Iterable[Evidence]) -> Evidence:
    """Several evidence files (shards of one sweep) as one: targets and answers united."""
    parts = list(parts)
    if not parts:
        raise EvidenceError("no evidence to merge")
    targets: dict[str, Target] = {}
    results: list[DnsResult] = []
    tls: dict[tuple[str, str], TlsScan] = {}
    policies: dict[str, PolicyFetch] = {}
    messages: dict[str, SampleMessage] = {}
    dnssec: dict[Query, DnssecChain] = {}
    feedback: Feedback | None = None
    for part in parts:
        for t in part.targets:
            targets.setdefault(t.domain, t)
        results.extend(part.dns)
        tls.update(part.tls)
        policies.update(part.policies)
        messages.update((m.source, m) for m in part.messages)
        dnssec.update(part.dnssec)
        if part.feedback is not None:
            # Shards assess different domains: their report totals unite.
            base = feedback if feedback is not None else part.feedback
            feedback = replace(base, domains={**base.domains, **part.feedback.domains})
    first = parts[0]
    return Evidence(
        targets=tuple(targets[d] for d in sorted(targets)),
        dns=DnsSnapshot(results),
        settings=first.settings,
        generator=first.generator,
        started_at=min(p.started_at for p in parts),
        finished_at=max(p.finished_at for p in parts),
        inputs=first.inputs,
        tls=tls,
        policies=policies,
        messages=tuple(messages.values()),
        dnssec=dnssec,
        catalogue_version=_merged_version(parts),
        feedback=feedback,
    )


def _merged_version(parts: list[Evidence]) -> str:
    """The shards' catalogue version; shards judged by different catalogues are refused."""
    versions = {p.judged_by for p in parts}
    if len(versions) > 1:
        raise EvidenceError(
            "the evidence files were judged by different catalogue versions "
            f"({', '.join(sorted(versions))}): replay them separately"
        )
    return parts[0].catalogue_version
