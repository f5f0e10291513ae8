"""DNSSEC validation of the answers the verdicts rest on, walked from a trust anchor.

For each answer (``name``/``TYPE``) this walks the chain of trust the way a validating resolver
does (RFC 4035 section 5, RFC 9364): from the trust anchor's zone, at every name between it and
the answer, the parent's signed DS RRset (the child is a signed zone, whose DNSKEY RRset must
match the DS and be signed by a matching key) or the parent's signed NSEC/NSEC3 proof that
there is none (an unsigned delegation: insecure; or no zone cut there: carry on); then the
answer's own RRSIGs, CNAME by CNAME, or the signed proof of its absence. Every question is asked
with DO and CD set (RFC 4035 section 3.2.2): with CD, a validating resolver hands over data it
finds bogus, so the evidence can say which RRset failed and why rather than only "SERVFAIL".

Alternatively the user names the resolver as trusted (``--govmail-trusted-resolver``): then
only its AD bit is recorded (RFC 4035 section 3.2.3; RFC 6698 section 4.1 warns that this is
only as good as the path to that resolver).

Like :mod:`pytest_govmail.collect.dns`, failures are data: a timeout makes a step
``indeterminate``, nothing raises. It is bounded (questions per answer, zone cuts, DNSKEYs and
RRSIGs per RRset, NSEC3 iterations, CNAMEs) and every question is timed out; each question is
asked once per run, concurrently, through the same kind of async resolver.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.DS import DS
from dns.rdtypes.ANY.NSEC3 import NSEC3
from dns.rdtypes.ANY.RRSIG import RRSIG

from pytest_govmail.collect.dnssec_crypto import (
    PUBLIC_KEYS,
    BadSignature,
    nsec3_next_hash,
    nsec3_owner_hash,
    verify_rrsig,
)
from pytest_govmail.model.dns import Query
from pytest_govmail.model.dnssec import DnssecChain, DnssecStep, Security, bounded_records
from pytest_govmail.model.evidence import EvidenceError, read_bounded

#: The packaged default: the IANA root zone's KSKs (see the file for its source).
ROOT_ANCHORS = Path(__file__).resolve().parent.parent / "inputs" / "root-anchors.zone"

#: Bounds against hostile zones (RFC 9276, CVE-2023-50387 "KeyTrap", CVE-2023-50868).
MAX_ANCHOR_FILE = 64 * 1024
MAX_ANCHORS = 64
MAX_ZONE_DEPTH = 16  # names walked between the anchor and the answer
MAX_DNSKEYS = 16  # DNSKEY RRs in one RRset
MAX_RRSIGS = 8  # RRSIGs tried for one RRset
MAX_DENIAL_RRSETS = 8  # NSEC/NSEC3 RRsets read from one answer
MAX_CNAMES = 8  # CNAME RRsets followed in one answer
MAX_NSEC3_ITERATIONS = 150  # RFC 9276 section 3.2: above this, treat as insecure

_ORDER = {Security.SECURE: 0, Security.INSECURE: 1, Security.INDETERMINATE: 2, Security.BOGUS: 3}


class TrustAnchorError(ValueError):
    """A trust-anchor file that cannot be used."""


@dataclass(frozen=True, slots=True)
class TrustAnchors:
    """DS or DNSKEY records a validation starts from, by zone, and where they came from."""

    source: str
    ds: Mapping[dns.name.Name, tuple[DS, ...]]
    dnskey: Mapping[dns.name.Name, tuple[DNSKEY, ...]]

    def zones(self) -> set[dns.name.Name]:
        return set(self.ds) | set(self.dnskey)

    def for_name(self, name: dns.name.Name) -> dns.name.Name | None:
        """The closest anchored zone at or above ``name`` (RFC 4035 section 4.3)."""
        best: dns.name.Name | None = None
        for zone in self.zones():
            if name.is_subdomain(zone) and (best is None or len(zone) > len(best)):
                best = zone
        return best

    def describe(self) -> str:
        parts = [f"{z} DS {', '.join(str(d.key_tag) for d in ds)}" for z, ds in self.ds.items()]
        parts += [
            f"{z} DNSKEY {', '.join(str(dns.dnssec.key_id(k)) for k in keys)}"
            for z, keys in self.dnskey.items()
        ]
        return f"{self.source} ({'; '.join(sorted(parts))})"


def parse_trust_anchors(text: str, source: str) -> TrustAnchors:
    """DS and DNSKEY records in presentation form, one a line (``;`` starts a comment):
    ``NAME [TTL] [IN] DS|DNSKEY RDATA``, the form of IANA's anchors and of unbound's
    ``trust-anchor-file``."""
    ds: dict[dns.name.Name, list[DS]] = {}
    keys: dict[dns.name.Name, list[DNSKEY]] = {}
    count = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        try:
            name = dns.name.from_text(tokens[0])
            rest = tokens[1:]
            if rest and rest[0].isdigit():
                rest = rest[1:]
            if rest and rest[0].upper() == "IN":
                rest = rest[1:]
            if not rest or rest[0].upper() not in ("DS", "DNSKEY"):
                raise TrustAnchorError("expected a DS or DNSKEY record")
            rdtype = dns.rdatatype.from_text(rest[0])
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, " ".join(rest[1:]))
        except (dns.exception.DNSException, IndexError, ValueError) as exc:
            raise TrustAnchorError(f"{source}, line {number}: {exc}") from None
        count += 1
        if count > MAX_ANCHORS:
            raise TrustAnchorError(f"{source}: more than {MAX_ANCHORS} trust anchors")
        if isinstance(rdata, DS):
            ds.setdefault(name, []).append(rdata)
        elif isinstance(rdata, DNSKEY):
            keys.setdefault(name, []).append(rdata)
    if not count:
        raise TrustAnchorError(f"{source}: no DS or DNSKEY record")
    return TrustAnchors(
        source, {n: tuple(v) for n, v in ds.items()}, {n: tuple(v) for n, v in keys.items()}
    )


def load_trust_anchors(path: Path | None = None) -> TrustAnchors:
    """The anchors in ``path``, or the packaged IANA root anchors, read bounded
    (:func:`pytest_govmail.model.evidence.read_bounded`: a FIFO, a device or a huge file is
    refused rather than read forever)."""
    chosen = path or ROOT_ANCHORS
    try:
        data = read_bounded(chosen, MAX_ANCHOR_FILE, "trust-anchor file")
    except EvidenceError as exc:
        raise TrustAnchorError(str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TrustAnchorError(f"{str(chosen)!r} is not UTF-8 text") from None
    source = "IANA root trust anchors (packaged)" if path is None else str(path)
    return parse_trust_anchors(text, source)


@dataclass(frozen=True, slots=True)
class _Reply:
    """One DO/CD question's response, or why there was none."""

    rcode: int | None
    answer: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    ad: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class _Zone:
    """Where a walk stands: the zone reached, its state, its validated keys, the steps so far."""

    apex: dns.name.Name
    state: Security
    keys: tuple[DNSKEY, ...] = ()
    steps: tuple[DnssecStep, ...] = ()
    reason: str = ""


def _type(rdtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))


def _rcode(rcode: int | None) -> str:
    return "no answer" if rcode is None else dns.rcode.to_text(dns.rcode.Rcode.make(rcode))


def _text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower() or "."


def _records(*rrsets: dns.rrset.RRset | None) -> tuple[str, ...]:
    lines: list[str] = []
    for rrset in rrsets:
        if rrset is not None:
            lines.extend(
                f"{_text(rrset.name)} {rrset.ttl} {line.split(' ', 2)[2]}"
                for line in rrset.to_text().splitlines()
            )
    return bounded_records(lines)


def _find(
    rrsets: Iterable[dns.rrset.RRset], name: dns.name.Name, rdtype: int, covers: int = 0
) -> dns.rrset.RRset | None:
    for rrset in rrsets:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.covers == covers:
            return rrset
    return None


def _sigs(rrsets: Iterable[dns.rrset.RRset], rrset: dns.rrset.RRset) -> dns.rrset.RRset | None:
    return _find(rrsets, rrset.name, dns.rdatatype.RRSIG, rrset.rdtype)


def _verify(
    rrset: dns.rrset.RRset, sigs: dns.rrset.RRset | None, zone: _Zone, now: float
) -> str | None:
    """None when one RRSIG of ``sigs`` validates ``rrset`` with ``zone``'s keys; else why not."""
    if sigs is None or not len(sigs):
        return "missing RRSIG: the RRset is not signed, but its zone is"
    reasons: list[str] = []
    for index, rrsig in enumerate(sigs):
        if index >= MAX_RRSIGS:
            reasons.append(f"more than {MAX_RRSIGS} RRSIGs: the rest were not tried")
            break
        assert isinstance(rrsig, RRSIG)
        try:
            verify_rrsig(rrset, rrsig, zone.apex, zone.keys, now)
            return None
        except BadSignature as exc:
            reasons.append(str(exc))
    return "; ".join(dict.fromkeys(reasons))


def _worst(states: Iterable[Security]) -> Security:
    return max(states, key=_ORDER.__getitem__, default=Security.SECURE)


def _covers(owner: dns.name.Name, nxt: dns.name.Name, name: dns.name.Name) -> bool:
    """An NSEC from ``owner`` to ``nxt`` covers ``name`` (RFC 4034 section 6.1 order)."""
    if owner < nxt:
        return bool(owner < name < nxt)
    return bool(name > owner or name < nxt)  # the last NSEC wraps round to the apex


def _hash_covers(owner: str, nxt: str, hashed: str) -> bool:
    if owner < nxt:
        return owner < hashed < nxt
    return hashed > owner or hashed < nxt


@dataclass
class _Denial:
    """What a signed NSEC/NSEC3 proof shows about ``name``/``rdtype``."""

    proven: bool
    reason: str
    cut: bool = False  # an NS without SOA or DS at the name: an unsigned delegation
    optout: bool = False
    insecure: bool = False  # NSEC3 iterations above the RFC 9276 limit


def _denial(
    name: dns.name.Name, rdtype: int, reply: _Reply, zone: _Zone, now: float
) -> tuple[_Denial, tuple[str, ...]]:
    """Check the authority section's NSEC or NSEC3 proof that ``name``/``rdtype`` is absent.

    NODATA: an NSEC (or NSEC3) at the name whose type bitmap lacks the type and CNAME (RFC 4035
    section 5.4, RFC 5155 section 8.5). Name absent: an NSEC covering the name and one covering
    the wildcard at its closest encloser (RFC 4035 section 5.4), or NSEC3's closest-encloser
    proof (RFC 5155 section 8.4); an opt-out NSEC3 covering the next closer name proves only
    that no signed delegation exists there (RFC 5155 section 6).
    """
    nsecs = [r for r in reply.authority if r.rdtype == dns.rdatatype.NSEC][:MAX_DENIAL_RRSETS]
    nsec3s = [r for r in reply.authority if r.rdtype == dns.rdatatype.NSEC3][:MAX_DENIAL_RRSETS]
    records = _records(*nsecs, *nsec3s)
    if not nsecs and not nsec3s:
        return _Denial(False, "no NSEC or NSEC3 record proves it (missing RRSIG or proof)"), ()
    for rrset in nsecs + nsec3s:
        if not rrset.name.is_subdomain(zone.apex):
            return _Denial(False, f"{_text(rrset.name)} is outside the zone"), records
        failure = _verify(rrset, _sigs(reply.authority, rrset), zone, now)
        if failure is not None:
            kind = _type(rrset.rdtype)
            return _Denial(False, f"{kind} {_text(rrset.name)}: {failure}"), records
    kind_text = _type(rdtype)
    for rrset in nsecs:
        nsec = rrset[0]
        types = _bitmap(nsec.windows)
        if rrset.name == name:
            if rdtype in types or dns.rdatatype.CNAME in types:
                return _Denial(False, f"the NSEC at {_text(name)} lists {kind_text}"), records
            cut = dns.rdatatype.NS in types and dns.rdatatype.SOA not in types
            return _Denial(True, f"NSEC at {_text(name)} lists no {kind_text}", cut=cut), records
    covering = [r for r in nsecs if _covers(r.name, r[0].next, name)]
    for rrset in covering:
        following = rrset[0].next
        if following != name and following.is_subdomain(name):
            # The next name lies below: the name is an empty non-terminal (RFC 4035 s3.1.3.2).
            return _Denial(True, f"NSEC {_text(rrset.name)} shows {_text(name)} is empty"), records
    if covering:
        encloser = _closest_encloser(name, covering[0].name, covering[0][0].next)
        wildcard = dns.name.Name((b"*", *encloser.labels))
        source = [r for r in nsecs if r.name == wildcard]
        if source:  # the wildcard exists: no data only if it lacks the type (RFC 4035 s3.1.3.4)
            types = _bitmap(source[0][0].windows)
            if rdtype in types or dns.rdatatype.CNAME in types:
                return _Denial(False, f"the wildcard {_text(wildcard)} lists {kind_text}"), records
            return _Denial(True, f"the wildcard {_text(wildcard)} lists no {kind_text}"), records
        if not any(_covers(r.name, r[0].next, wildcard) for r in nsecs):
            return _Denial(False, f"no NSEC proves that {_text(wildcard)} is absent"), records
        return _Denial(True, f"NSEC {_text(covering[0].name)} covers {_text(name)}"), records
    if not nsec3s:
        return _Denial(False, f"no NSEC matches or covers {_text(name)}"), records
    params = nsec3s[0][0]
    assert isinstance(params, NSEC3)
    if params.iterations > MAX_NSEC3_ITERATIONS:
        return _Denial(
            False,
            f"NSEC3 with {params.iterations} iterations (over {MAX_NSEC3_ITERATIONS}): "
            "treated as insecure (RFC 9276 section 3.2)",
            insecure=True,
        ), records

    def hashed(n: dns.name.Name) -> str:
        return dns.dnssec.nsec3_hash(n, params.salt, params.iterations, params.algorithm)

    by_hash = {nsec3_owner_hash(r.name): r for r in nsec3s}
    target = hashed(name)
    match = by_hash.get(target)
    if match is not None:
        types = _bitmap(match[0].windows)
        if rdtype in types or dns.rdatatype.CNAME in types:
            return _Denial(False, f"the NSEC3 for {_text(name)} lists {kind_text}"), records
        cut = dns.rdatatype.NS in types and dns.rdatatype.SOA not in types
        return _Denial(True, f"NSEC3 for {_text(name)} lists no {kind_text}", cut=cut), records
    # Closest-encloser proof: the longest existing ancestor matches, the next closer is covered.
    closer = name
    for depth in range(len(name) - 1, len(zone.apex) - 1, -1):
        encloser = name.split(depth)[1]
        if hashed(encloser) in by_hash:
            hashed_closer = hashed(closer)
            for rrset in nsec3s:
                nsec3 = rrset[0]
                owner = nsec3_owner_hash(rrset.name)
                if _hash_covers(owner, nsec3_next_hash(nsec3.next), hashed_closer):
                    optout = bool(nsec3.flags & 1)
                    what = "opt-out NSEC3" if optout else "NSEC3"
                    star = hashed(dns.name.Name((b"*", *encloser.labels)))
                    star_nsec3 = by_hash.get(star)
                    if star_nsec3 is not None:  # wildcard no data (RFC 5155 section 8.7)
                        types = _bitmap(star_nsec3[0].windows)
                        proven = rdtype not in types and dns.rdatatype.CNAME not in types
                        why = f"the NSEC3 of the wildcard *.{_text(encloser)} lists "
                        why += f"{'no ' if proven else ''}{kind_text}"
                        return _Denial(proven, why), records
                    if not optout and not any(
                        _hash_covers(nsec3_owner_hash(r.name), nsec3_next_hash(r[0].next), star)
                        for r in nsec3s
                    ):
                        why = f"no NSEC3 proves that *.{_text(encloser)} is absent"
                        return _Denial(False, why), records
                    return _Denial(
                        True,
                        f"{what} proves {_text(closer)} absent below {_text(encloser)}",
                        optout=optout,
                    ), records
            return _Denial(False, f"no NSEC3 covers {_text(closer)}"), records
        closer = encloser
    return _Denial(False, f"no NSEC3 closest-encloser proof for {_text(name)}"), records


def _wildcard_proof(
    rrset: dns.rrset.RRset, sigs: dns.rrset.RRset, reply: _Reply, zone: _Zone, now: float
) -> str | None:
    """A wildcard-expanded answer (RRSIG labels fewer than the owner's) validates only with a
    signed proof that no closer name exists (RFC 4035 section 5.3.4, RFC 5155 section 8.8):
    an NSEC covering the owner, or an NSEC3 covering the next closer name. None when proven
    (or not a wildcard answer); else why not."""
    labels = min(r.labels for r in sigs if isinstance(r, RRSIG))
    owner = rrset.name
    if labels >= len(owner) - 1:
        return None
    proofs = [r for r in reply.authority if r.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)][
        :MAX_DENIAL_RRSETS
    ]
    closer = owner.split(labels + 2)[1]
    for proof in proofs:
        if _verify(proof, _sigs(reply.authority, proof), zone, now) is not None:
            continue
        record = proof[0]
        if isinstance(record, NSEC3):
            hashed = dns.dnssec.nsec3_hash(closer, record.salt, record.iterations, 1)
            if record.iterations <= MAX_NSEC3_ITERATIONS and _hash_covers(
                nsec3_owner_hash(proof.name), nsec3_next_hash(record.next), hashed
            ):
                return None
        elif _covers(proof.name, record.next, owner):
            return None
    return (
        f"a wildcard answer, but no signed NSEC or NSEC3 proves that {_text(closer)} does not "
        "exist (RFC 4035 section 5.3.4)"
    )


def _bitmap(windows: Sequence[tuple[int, bytes]]) -> set[int]:
    types: set[int] = set()
    for window, bits in windows:
        for index, byte in enumerate(bits):
            for bit in range(8):
                if byte & (0x80 >> bit):
                    types.add(window * 256 + index * 8 + bit)
    return types


def _closest_encloser(
    name: dns.name.Name, owner: dns.name.Name, nxt: dns.name.Name
) -> dns.name.Name:
    best = dns.name.root
    for other in (owner, nxt):
        common = name.fullcompare(other)[2]
        if common > len(best):
            best = name.split(common)[1]
    return best


@dataclass
class DnssecValidator:
    """Validates answers against ``anchors`` through the resolvers ``nameservers``.

    ``trusted_resolver`` takes the resolvers' AD bit instead of walking the chain (only when the
    user names the resolver as trusted). ``now`` (seconds since the epoch) dates signatures; it
    defaults to the time each validation starts.
    """

    nameservers: Sequence[tuple[str, int]]
    anchors: TrustAnchors
    timeout: float = 5.0
    trusted_resolver: bool = False
    concurrency: int = 50
    now: float | None = None
    _replies: dict[tuple[dns.name.Name, int], asyncio.Task[_Reply]] = field(default_factory=dict)
    _zones: dict[dns.name.Name, asyncio.Task[_Zone]] = field(default_factory=dict)
    _semaphore: asyncio.Semaphore | None = None
    _resolver: dns.asyncresolver.Resolver | None = None

    @property
    def questions(self) -> int:
        """Distinct questions asked so far (each once per run)."""
        return len(self._replies)

    @property
    def label(self) -> str:
        servers = ", ".join(f"{a}:{p}" for a, p in self.nameservers) or "the system resolver"
        if self.trusted_resolver:
            return f"AD bit of the trusted resolver {servers}"
        return self.anchors.describe()

    def validate_sync(self, queries: Iterable[Query]) -> dict[Query, DnssecChain]:
        """Validate every query (in a thread of its own, as the DNS collector settles)."""
        wanted = sorted(set(queries))
        found: dict[Query, DnssecChain] = {}
        failure: list[BaseException] = []

        async def run() -> None:
            self._replies.clear()
            self._zones.clear()
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._resolver = self._make_resolver()
            chains = await asyncio.gather(*(self.validate(q) for q in wanted))
            found.update((chain.query, chain) for chain in chains)

        def work() -> None:
            try:
                asyncio.run(run())
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)

        thread = threading.Thread(target=work, name="govmail-dnssec", daemon=True)
        thread.start()
        thread.join()
        if failure:
            raise failure[0]
        return found

    def _make_resolver(self) -> dns.asyncresolver.Resolver:
        if self.nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [a for a, _ in self.nameservers]
            resolver.port = self.nameservers[0][1]
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.cache = None
        resolver.use_edns(0, dns.flags.DO, 1232)
        flags = dns.flags.RD if self.trusted_resolver else dns.flags.RD | dns.flags.CD
        resolver.set_flags(flags)
        return resolver

    async def _ask(self, name: dns.name.Name, rdtype: int) -> _Reply:
        key = (name, rdtype)
        task = self._replies.get(key)
        if task is None:
            task = self._replies[key] = asyncio.ensure_future(self._ask_now(name, rdtype))
        return await task

    async def _ask_now(self, name: dns.name.Name, rdtype: int) -> _Reply:
        assert self._semaphore is not None and self._resolver is not None
        async with self._semaphore:
            try:
                answer = await self._resolver.resolve(
                    name,
                    dns.rdatatype.RdataType.make(rdtype),
                    raise_on_no_answer=False,
                    lifetime=self.timeout,
                    search=False,
                )
                response = answer.response
            except dns.resolver.NXDOMAIN as exc:
                responses = exc.responses()  # type: ignore[no-untyped-call]
                if not responses:
                    return _Reply(dns.rcode.NXDOMAIN)
                response = next(iter(responses.values()))
            except dns.resolver.LifetimeTimeout:
                return _Reply(None, error=f"no answer within {self.timeout:g} s")
            except dns.resolver.NoNameservers as exc:
                return _Reply(None, error=f"the resolver failed: {str(exc)[:200]}")
            except dns.exception.DNSException as exc:
                return _Reply(None, error=(str(exc) or type(exc).__name__)[:200])
        return _Reply(
            response.rcode(),
            tuple(response.answer),
            tuple(response.authority),
            bool(response.flags & dns.flags.AD),
        )

    async def validate(self, query: Query) -> DnssecChain:
        """The validation of one answer, from the anchor down."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        now = self.now if self.now is not None else time.time()
        try:
            name = dns.name.from_text(query.name)
            rdtype = dns.rdatatype.from_text(query.rdtype)
        except dns.exception.DNSException as exc:
            return DnssecChain(query.name, query.rdtype, Security.INDETERMINATE, str(exc), at=at)
        if self.trusted_resolver:
            result, reason, steps = await self._ad_bit(name, rdtype)
            return DnssecChain(query.name, query.rdtype, result, reason, self.label, steps, at)
        result, reason, steps = await self._walk_answer(name, rdtype, now)
        anchor = self.anchors.for_name(name)
        label = f"{self.anchors.source}: {_text(anchor)}" if anchor is not None else ""
        return DnssecChain(query.name, query.rdtype, result, reason, label, steps, at)

    async def _ad_bit(
        self, name: dns.name.Name, rdtype: int
    ) -> tuple[Security, str, tuple[DnssecStep, ...]]:
        reply = await self._ask(name, rdtype)
        question = f"{_text(name)}/{_type(rdtype)}"
        zone = _text(name)
        if reply.error or reply.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            why = reply.error or f"the trusted resolver answered {_rcode(reply.rcode)}"
            step = DnssecStep(zone, "resolver AD", question, Security.INDETERMINATE, why)
            return Security.INDETERMINATE, why, (step,)
        if reply.ad:
            why = "the trusted resolver validated the answer (AD bit set)"
            step = DnssecStep(zone, "resolver AD", question, Security.SECURE, why)
            return Security.SECURE, why, (step,)
        why = "the trusted resolver did not set the AD bit: the answer is not DNSSEC-validated"
        return (
            Security.INSECURE,
            why,
            (DnssecStep(zone, "resolver AD", question, Security.INSECURE, why),),
        )

    async def _walk_answer(
        self, name: dns.name.Name, rdtype: int, now: float
    ) -> tuple[Security, str, tuple[DnssecStep, ...]]:
        question = f"{_text(name)}/{_type(rdtype)}"
        first = await self._zone_for(name, now)
        if first.state is not Security.SECURE:
            # An unsigned (or broken) zone decides the answer: its records are not asked for.
            return first.state, first.reason, first.steps
        reply = await self._ask(name, rdtype)
        if reply.error or reply.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            why = reply.error or f"the resolver answered {_rcode(reply.rcode)}"
            step = DnssecStep(_text(name), "answer", question, Security.INDETERMINATE, why)
            return Security.INDETERMINATE, f"{question}: {why}", (step,)
        steps: list[DnssecStep] = []
        owner = name
        decided: list[tuple[Security, str]] = []
        seen: set[dns.name.Name] = set()
        for _ in range(MAX_CNAMES + 1):
            if owner in seen:
                why = f"{question}: a CNAME loop at {_text(owner)}: no answer to validate"
                decided.append((Security.INDETERMINATE, why))
                break
            seen.add(owner)
            zone = await self._zone_for(owner, now)
            steps.extend(s for s in zone.steps if s not in steps)
            if zone.state is not Security.SECURE:
                decided.append((zone.state, zone.reason))
                break
            rrset = _find(reply.answer, owner, rdtype) or _find(
                reply.answer, owner, dns.rdatatype.CNAME
            )
            here = f"{_text(owner)}/{_type(rdtype)}"
            if rrset is None:
                denial, records = _denial(owner, rdtype, reply, zone, now)
                what = "NXDOMAIN" if reply.rcode == dns.rcode.NXDOMAIN else "no data"
                if denial.proven:
                    state = Security.INSECURE if denial.optout else Security.SECURE
                    why = f"{what}, proven: {denial.reason}"
                else:
                    state = Security.INSECURE if denial.insecure else Security.BOGUS
                    why = f"{what}, not proven: {denial.reason}"
                steps.append(DnssecStep(_text(zone.apex), "denial", here, state, why, records))
                decided.append((state, f"{here}: {why}"))
                break
            kind = _type(rrset.rdtype)
            sigs = _sigs(reply.answer, rrset)
            failure = _verify(rrset, sigs, zone, now)
            at = f"{_text(owner)}/{kind}"
            if failure is None and sigs is not None:
                failure = _wildcard_proof(rrset, sigs, reply, zone, now)
            if failure is None:
                why = f"RRSIG by {_text(zone.apex)} validates"
                steps.append(
                    DnssecStep(
                        _text(zone.apex), "answer", at, Security.SECURE, why, _records(rrset, sigs)
                    )
                )
                decided.append((Security.SECURE, ""))
            else:
                steps.append(
                    DnssecStep(
                        _text(zone.apex),
                        "answer",
                        at,
                        Security.BOGUS,
                        failure,
                        _records(rrset, sigs),
                    )
                )
                decided.append((Security.BOGUS, f"{at}: {failure}"))
                break
            if rrset.rdtype != dns.rdatatype.CNAME or rdtype == dns.rdatatype.CNAME:
                break
            owner = rrset[0].target
        else:
            why = f"{question}: more than {MAX_CNAMES} CNAMEs: not followed further"
            decided.append((Security.INDETERMINATE, why))
        result = _worst(state for state, _ in decided)
        reasons = [why for state, why in decided if state is result and why]
        reason = reasons[0] if reasons else f"{question} validates from the trust anchor"
        return result, reason, tuple(steps)

    async def _zone_for(self, name: dns.name.Name, now: float) -> _Zone:
        """The zone holding ``name``, walked down from the closest trust anchor."""
        anchor = self.anchors.for_name(name)
        if anchor is None:
            why = f"no trust anchor covers {_text(name)} ({self.anchors.source})"
            step = DnssecStep(_text(name), "anchor", _text(name), Security.INDETERMINATE, why)
            return _Zone(name, Security.INDETERMINATE, steps=(step,), reason=why)
        zone = await self._cached(anchor, self._anchored(anchor, now))
        start = len(anchor)
        if len(name) - start > MAX_ZONE_DEPTH:
            why = f"{_text(name)} is more than {MAX_ZONE_DEPTH} labels below the anchor"
            return _Zone(zone.apex, Security.INDETERMINATE, steps=zone.steps, reason=why)
        for depth in range(start + 1, len(name) + 1):
            if zone.state is not Security.SECURE:
                break
            child = name.split(depth)[1]
            zone = await self._cached(child, self._descend(zone, child, now))
        return zone

    async def _cached(self, key: dns.name.Name, work: Coroutine[Any, Any, _Zone]) -> _Zone:
        """Each zone is walked once per run, however many answers it holds."""
        task = self._zones.get(key)
        if task is None:
            task = self._zones[key] = asyncio.ensure_future(work)
        else:
            work.close()
        return await task

    async def _anchored(self, apex: dns.name.Name, now: float) -> _Zone:
        """The anchor's zone: its DNSKEY RRset, matched to the anchor and self-signed."""
        question = f"{_text(apex)}/DNSKEY"
        reply = await self._ask(apex, dns.rdatatype.DNSKEY)
        step, keys = self._keyset(
            apex,
            reply,
            self.anchors.ds.get(apex, ()),
            self.anchors.dnskey.get(apex, ()),
            "anchor",
            now,
        )
        if step.result is not Security.SECURE:
            return _Zone(apex, step.result, steps=(step,), reason=f"{question}: {step.reason}")
        return _Zone(apex, Security.SECURE, keys, (step,))

    def _keyset(
        self,
        apex: dns.name.Name,
        reply: _Reply,
        ds: Sequence[DS],
        trusted: Sequence[DNSKEY],
        what: str,
        now: float,
    ) -> tuple[DnssecStep, tuple[DNSKEY, ...]]:
        """Check a zone's DNSKEY RRset against the DS (or trusted keys) that vouch for it."""
        question = f"{_text(apex)}/DNSKEY"
        zone = _text(apex)
        if reply.error or reply.rcode != dns.rcode.NOERROR:
            why = reply.error or f"the resolver answered {_rcode(reply.rcode)}"
            state = Security.INDETERMINATE if reply.error else Security.BOGUS
            return DnssecStep(zone, what, question, state, f"DNSKEY lookup: {why}"), ()
        keyset = _find(reply.answer, apex, dns.rdatatype.DNSKEY)
        sigs = _find(reply.answer, apex, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
        records = _records(keyset, sigs)
        if keyset is None:
            why = "the zone publishes no DNSKEY, but its parent (or the anchor) vouches for one"
            return DnssecStep(zone, what, question, Security.BOGUS, why), ()
        if len(keyset) > MAX_DNSKEYS:
            why = (
                f"{len(keyset)} DNSKEYs, more than a validator checks ({MAX_DNSKEYS}; "
                "KeyTrap, CVE-2023-50387)"
            )
            return DnssecStep(zone, what, question, Security.BOGUS, why, records[:4]), ()
        keys = tuple(k for k in keyset if isinstance(k, DNSKEY))
        usable_ds = [d for d in ds if d.digest_type in (1, 2, 4)]
        matching = [k for k in keys if k in trusted or any(_ds_matches(apex, k, d) for d in ds)]
        if not matching:
            tags = ", ".join(str(d.key_tag) for d in ds) or "the anchor's keys"
            why = f"wrong key: no DNSKEY matches the DS ({tags})"
            if ds and not usable_ds:
                why = "the DS records use only digest types a validator cannot check"
            return DnssecStep(zone, what, question, Security.BOGUS, why, records), ()
        if not any(k.algorithm in PUBLIC_KEYS for k in matching):
            why = "the DS points at a key whose algorithm this validator does not support"
            return DnssecStep(zone, what, question, Security.INSECURE, why, records), ()
        trusted_zone = _Zone(apex, Security.SECURE, tuple(matching))
        failure = _verify(keyset, sigs, trusted_zone, now)
        if failure is not None:
            return DnssecStep(zone, what, question, Security.BOGUS, failure, records), ()
        tags = ", ".join(str(dns.dnssec.key_id(k)) for k in matching)
        voucher = "anchor" if what == "anchor" else "DS"
        why = f"DNSKEY RRset signed by key {tags}, which the {voucher} vouches for"
        # A secure link's records are left out: every chain through the zone repeats it (a
        # sweep validates thousands), and its key tags say what validated.
        return DnssecStep(zone, what, question, Security.SECURE, why), keys

    async def _descend(self, parent: _Zone, child: dns.name.Name, now: float) -> _Zone:
        """From a secure ``parent`` to ``child``: a signed zone, an unsigned one, or no cut."""
        question = f"{_text(child)}/DS"
        zone = _text(parent.apex)
        reply = await self._ask(child, dns.rdatatype.DS)
        if reply.error or reply.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            why = reply.error or f"the resolver answered {_rcode(reply.rcode)}"
            step = DnssecStep(zone, "DS", question, Security.INDETERMINATE, why)
            return _Zone(
                parent.apex,
                Security.INDETERMINATE,
                steps=(*parent.steps, step),
                reason=f"{question}: {why}",
            )
        ds_rrset = _find(reply.answer, child, dns.rdatatype.DS)
        if ds_rrset is None and _find(reply.answer, child, dns.rdatatype.CNAME) is not None:
            return parent  # an alias is no zone cut (RFC 2181 s10.1): the answer walk checks it
        if ds_rrset is None:
            denial, records = _denial(child, dns.rdatatype.DS, reply, parent, now)
            if not denial.proven:
                state = Security.INSECURE if denial.insecure else Security.BOGUS
                why = f"no DS, and its absence is not proven: {denial.reason}"
                step = DnssecStep(zone, "DS", question, state, why, records)
                return _Zone(
                    parent.apex, state, steps=(*parent.steps, step), reason=f"{question}: {why}"
                )
            if denial.cut or denial.optout:
                why = (
                    f"{_text(child)} is an unsigned zone: its parent {zone} proves there is no DS "
                    f"({denial.reason})"
                )
                step = DnssecStep(zone, "DS", question, Security.INSECURE, why, records)
                return _Zone(child, Security.INSECURE, steps=(*parent.steps, step), reason=why)
            return parent  # no zone cut here: the parent's keys sign the names below
        sigs = _sigs(reply.answer, ds_rrset)
        records = _records(ds_rrset, sigs)
        failure = _verify(ds_rrset, sigs, parent, now)
        if failure is not None:
            step = DnssecStep(zone, "DS", question, Security.BOGUS, failure, records)
            return _Zone(
                parent.apex,
                Security.BOGUS,
                steps=(*parent.steps, step),
                reason=f"{question}: {failure}",
            )
        ds_list = [d for d in ds_rrset if isinstance(d, DS)]
        tags = ", ".join(str(d.key_tag) for d in ds_list)
        ds_step = DnssecStep(
            zone, "DS", question, Security.SECURE, f"RRSIG by {zone} validates (DS {tags})"
        )
        keys_reply = await self._ask(child, dns.rdatatype.DNSKEY)
        step, keys = self._keyset(child, keys_reply, ds_list, (), "DNSKEY", now)
        steps = (*parent.steps, ds_step, step)
        if step.result is not Security.SECURE:
            return _Zone(
                child, step.result, steps=steps, reason=f"{_text(child)}/DNSKEY: {step.reason}"
            )
        return _Zone(child, Security.SECURE, keys, steps)


def _ds_matches(apex: dns.name.Name, key: DNSKEY, ds: DS) -> bool:
    """The DS is a digest of ``key`` (RFC 4034 section 5.1.4) in a digest type we can check."""
    if ds.key_tag != dns.dnssec.key_id(key) or ds.algorithm != key.algorithm:
        return False
    try:
        made = dns.dnssec.make_ds(apex, key, ds.digest_type, validating=True)
    except (dns.exception.DNSException, ValueError):
        return False
    return made.digest == ds.digest


__all__ = [
    "MAX_DNSKEYS",
    "ROOT_ANCHORS",
    "DnssecValidator",
    "TrustAnchorError",
    "TrustAnchors",
    "load_trust_anchors",
    "parse_trust_anchors",
]
