"""Scan MX addresses over SMTP STARTTLS: the dialogue, TLS versions and suites, the certificate.

This is the only TLS-scanning network code. It turns what it sees into the project's own
evidence (:class:`~pytest_govmail.model.tls.TlsScan`, one per address) and never raises for a
remote failure: a timeout, a refusal, a 421, a 554 or a failed handshake is recorded as data.

How, and why:

* Every connection goes to the address the run's own resolver found (never a name), and the
  MX host name is only sent as SNI and checked against the certificate. Private, loopback,
  link-local and other non-global addresses are refused (``PRIVATE_ADDRESS``) unless allowed.
* The SMTP dialogue (greeting, EHLO, STARTTLS) is spoken here on a plain socket with bounded
  reads, so MX-04 gets the greeting code and TLS-01 the EHLO and STARTTLS replies. A 421
  greeting (or a connection dropped before the greeting, reset, or refused) is retried with
  exponential backoff and jitter a bounded number of times, then recorded as ``THROTTLED`` (or
  ``PROTOCOL``, ``CONNECTION_REFUSED``) with the attempts. A greeting other
  than 220 ends the scan with ``PROTOCOL`` (the code is in ``smtp.banner_code``). STARTTLS not
  advertised, or refused (454), is an observation, not an error: ``smtp`` says so and no TLS
  version is probed. The first connection's STARTTLS is reused for the first handshake.
* Handshakes use nassl (sslyze's OpenSSL bindings) directly, because sslyze's own cipher-suite
  scan opens one SMTP connection per suite in its catalogue (about 540 per address whatever the
  server accepts). For each version the client offers every suite it has, records the server's
  choice, removes it and repeats until the server refuses: accepted + 1 handshakes per version.
  TLS 1.0/1.1, SSL 3.0 and SSL 2.0 use nassl's legacy OpenSSL (1.0.2) client; TLS 1.3 the
  modern one with ``set_ciphersuites``; TLS 1.2 needs both (each knows suites the other lacks):
  a legacy pass, then a modern pass whose first handshake offers every modern suite in the
  client's order, which is the ``preferred`` choice (TLS-05), then the modern-only suites left.
  That is ``accepted + 9`` handshakes per address (see :data:`HANDSHAKE_OVERHEAD`).
* Compression and secure renegotiation are read from the first legacy-client handshake at the
  highest legacy version; client-initiated renegotiation is tried once on that same connection
  (it counts as a handshake). A server that speaks only TLS 1.3 has neither compression nor
  renegotiation: recorded as no compression, secure renegotiation, renegotiation refused.
* The chain, the key exchange and the preferred suite come from the preferred handshake of the
  highest accepted version. Trust is judged here without the host name: the chain is validated
  with ``cryptography``'s X.509 verifier against a DNS name taken from the leaf's own SAN, once
  against sslyze's Mozilla store (:data:`MOZILLA`) and once against ``--govmail-ca-file``
  (:data:`CA_FILE`), so CERT-01 (trust) and CERT-02 (name match, judged from the PEM) stay
  separate facts. Validation is now while the leaf is valid, else as of an instant inside the
  leaf's and its CAs' validity, and leaves the key identifiers aside, so that the leaf's dates
  (CERT-03) and RFC 5280's identifier rules stay apart from trust
  (:mod:`pytest_govmail.collect.trust` says which checks belong to trust).
* The TLS facts of a server belong to its address, the certificate to the name it is asked
  for. Shared providers give every customer its own MX name on a few addresses (Microsoft 365's
  ``<tenant>.mail.protection.outlook.com``, Proofpoint's ``pphosted.com`` names), so the
  versions, suites, key exchange, compression and renegotiation are enumerated once per
  (address, port) per run, with the first name submitted as SNI. Every further name on that
  address gets one connection and one handshake with its own name as SNI, asking what the
  full scan's preferred handshake asked (same version, client and suites): its SMTP dialogue,
  chain and trust are its own (CERT-02 judges the certificate that name is served), the server
  facts are copied from the full scan and ``shared_with`` names it. A name whose handshake
  shows a different server behind the address (another chain *and* another suite choice, or a
  refusal of what the address accepted) is scanned in full after all, and ``sharing`` says
  why. When the address's full scan reached no TLS session (refused, silent, throttled, no
  STARTTLS), the further names share that outcome without a connection: the dialogue before
  STARTTLS cannot depend on a name the server has not been told.
* Politeness per provider: each (address, port) is one lane, worked through by one thread at a
  time, so at most ``connections_per_address`` connections are open to it at once whatever
  names point at it (version probes run side by side on that many workers; further names take
  one connection each, that many at once). A 421, a drop before the greeting, a reset or a
  refused connect is retried after a backoff with jitter, ``max_retries`` times, then recorded
  as the error it was (inconclusive, with the reason and the attempts). Once a server has
  throttled, the rest of its connections, for any name, open one at a time, so a server that
  refuses every other connection still gets a complete scan; retries are noted in the detail
  of the version whose probe needed them and counted in ``TlsScan.retries``.
* Hostile servers are bounded in time and memory. Each SMTP reply must be complete within
  ``timeout`` (however the bytes trickle in: a greeting dripped a byte a second ends at the
  timeout, with the bytes received in the detail), each TLS handshake too (the socket nassl
  reads through enforces it, not just each read), and every connection ends within
  ``connection_timeout`` (3 x ``timeout`` by default) from the connect. No more than
  ``_MAX_LINE + _RECV`` bytes of one reply are ever buffered: a longer line ends the scan with
  ``TOO_LARGE`` ("greeting line over 2048 bytes ..."). A server that answers the ClientHello with
  something that is not TLS (a web server's ``HTTP/1.1 400``, SMTP text) ends the scan with
  ``TLS_HANDSHAKE`` "server sent non-TLS data after STARTTLS 220: b'...'" and no version probes
  (the remaining probes are not tried: nothing about versions can be learnt from it). Bytes
  from the network reach details only through ``repr`` (escaped) and bounded.

Where things are: this module holds the settings, the trust check, the address check, the
assembly of each :class:`~pytest_govmail.model.tls.TlsScan` and the entry points; the SMTP
dialogue and its bounds are in :mod:`pytest_govmail.collect.smtp`, the handshakes and version
probes in :mod:`pytest_govmail.collect.tls_scan`, and the suites each nassl client can offer in
:mod:`pytest_govmail.collect.suites`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import Store

from pytest_govmail.collect import netsafety
from pytest_govmail.collect.scan_settings import (
    DEFAULT_EHLO_NAME,
    ScanRequest,
    TlsScanSettings,
    default_ehlo_name,
)
from pytest_govmail.collect.smtp import _Opened
from pytest_govmail.collect.suites import _suites, iana_name
from pytest_govmail.collect.tls_scan import (
    DROPPED_CLOSED,
    DROPPED_RESET,
    _Handshaker,
    _key_exchange,
    _ok,
    _VersionResult,
)
from pytest_govmail.collect.trust import CA_FILE, MOZILLA
from pytest_govmail.collect.trust import Anchors as _Anchors
from pytest_govmail.collect.trust import file_anchors as _file_anchors
from pytest_govmail.collect.trust import mozilla_anchors as _mozilla_anchors
from pytest_govmail.collect.trust import validate_served_chain as _validate_served_chain
from pytest_govmail.model.dns import ErrorKind, ProbeError
from pytest_govmail.model.tls import (
    NEWEST_FIRST,
    TlsScan,
    TlsVersion,
    TrustCheck,
)

if TYPE_CHECKING:
    from pytest_govmail.collect.vantage import Port25Watch

__all__ = [
    "CA_FILE",
    "DEFAULT_EHLO_NAME",
    "HANDSHAKE_OVERHEAD",
    "MOZILLA",
    "ScanRequest",
    "TlsScanSettings",
    "check_chain",
    "default_ehlo_name",
    "iana_name",
    "scan_address",
    "scan_addresses",
]

_log = logging.getLogger(__name__)

#: Handshakes per address beyond the number of suites accepted: one refusal per version (6),
#: the TLS 1.2 modern pass's refusal and its first "preferred" handshake (2), and one
#: client-initiated renegotiation attempt (1). Only a server whose legacy-client suites are all
#: below TLS 1.2 costs more: one extra session for the renegotiation facts (2 handshakes).
HANDSHAKE_OVERHEAD = 9

_ORDER = tuple(TlsVersion)


# --------------------------------------------------------------------------- trust


def _name_from_san(leaf: x509.Certificate) -> DNSName | IPAddress | None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for dns_name in san.get_values_for_type(x509.DNSName):
        name = dns_name.lower()
        if name.startswith("*."):
            name = "govmail-wildcard" + name[1:]
        with contextlib.suppress(ValueError):
            return DNSName(name)
    for address in san.get_values_for_type(x509.IPAddress):
        return IPAddress(address)
    return None


def check_chain(
    chain_pem: Sequence[str],
    anchors: Sequence[tuple[str, Store, str]] | None = None,
    now: datetime | None = None,
    ca_file: Path | None = None,
) -> tuple[TrustCheck, ...]:
    """Validate a served chain (leaf first) against each trust source, without the host name.

    ``anchors`` are ``(store name, Store, label)``; by default the Mozilla store and, when
    ``ca_file`` is given, that file. The name used is the leaf's own first SAN DNS name (a
    wildcard stands for one label), so the result says whether the chain is trusted, not
    whether it matches the MX host.
    """
    sources: list[_Anchors]
    if anchors is not None:
        sources = [_Anchors(s, c, label) for s, c, label in anchors]
    else:
        sources = [_mozilla_anchors()]
        if ca_file is not None:
            sources.append(_file_anchors(ca_file))
    return _check_chain(chain_pem, sources, now or datetime.now(UTC))


def _check_chain(
    chain_pem: Sequence[str], sources: Sequence[_Anchors], now: datetime
) -> tuple[TrustCheck, ...]:
    if not chain_pem:
        return tuple(TrustCheck(s.store, False, "no certificate was served") for s in sources)
    try:
        certs = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in chain_pem]
    except ValueError as exc:
        return tuple(TrustCheck(s.store, False, f"unparseable certificate: {exc}") for s in sources)
    leaf, intermediates = certs[0], certs[1:]
    subject = _name_from_san(leaf)
    if subject is None:
        why = "the leaf has no subjectAltName DNS name or address to validate it for"
        return tuple(TrustCheck(s.store, False, why) for s in sources)
    # Trust is judged apart from time (CERT-01/07 versus CERT-03) and from the key identifiers
    # (see collect.trust): validated as of an instant inside the path's validity.
    return tuple(
        _validate_served_chain(leaf, intermediates, source, subject, now) for source in sources
    )


@dataclass(frozen=True, slots=True)
class _Reference:
    """The preferred handshake of an address's full scan: what it asked and what it got."""

    version: TlsVersion
    legacy: bool
    offer: tuple[str, ...]
    cipher: str
    chain: tuple[str, ...]


class _AddressScan(_Handshaker):
    """One address: the dialogue, then the version probes on a few workers; or, for a further
    name on an address already scanned, one handshake with that name as SNI (:meth:`run_name`).
    """

    def __init__(
        self,
        request: ScanRequest,
        settings: TlsScanSettings,
        sources: list[_Anchors],
        throttled: threading.Event | None = None,
    ):
        self.request = request
        self.settings = settings
        self.sources = sources
        self._lock = threading.Lock()
        self.connections = 0
        self.handshakes = 0
        self.retries = 0
        self.reference: _Reference | None = None  # set by a full scan that got a chain
        self._spare: _Opened | None = None  # the dialogue's session, after STARTTLS
        # A retry was needed: open one at a time (shared by every name on the address).
        self._throttled = throttled if throttled is not None else threading.Event()
        self._serial = threading.Lock()
        self._non_tls: str | None = None  # the server answered a ClientHello with non-TLS data
        self._sni: str | None = None
        host = request.host.strip().rstrip(".")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            self._sni = host or None

    def run(self) -> TlsScan:
        at = datetime.now(UTC)
        started = time.perf_counter()
        base = TlsScan(
            host=self.request.host,
            address=self.request.address,
            port=self.request.port,
            at=at.isoformat(timespec="milliseconds"),
            profile=self.settings.profile_name,
        )

        def finish(**fields: Any) -> TlsScan:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            return replace(
                base,
                elapsed_ms=elapsed,
                connections=self.connections,
                handshakes=self.handshakes,
                retries=self.retries,
                **fields,
            )

        refusal = netsafety.refusal(self.request.address, self.settings.allow_private)
        if refusal is not None:
            return finish(error=refusal)
        opened = self.open()
        if opened.sock is None:
            return finish(smtp=opened.dialogue, error=opened.error)
        self._spare = opened
        try:
            results = self._probe_versions()
        finally:
            with self._lock:
                spare, self._spare = self._spare, None
            if spare is not None and spare.sock is not None:
                spare.sock.close()
        return finish(smtp=opened.dialogue, **self._facts(results, at))

    def _probe_versions(self) -> dict[TlsVersion, _VersionResult]:
        # TLS 1.3 first: it takes over the dialogue's open connection, so even with one worker
        # no more than connections_per_address connections are ever open at once.
        order = NEWEST_FIRST
        workers = max(1, self.settings.connections_per_address)
        with ThreadPoolExecutor(workers, thread_name_prefix="govmail-tls-version") as pool:
            futures = {v: pool.submit(self.probe, v) for v in order}
            return {v: futures[v].result() for v in order}

    def _facts(self, results: dict[TlsVersion, _VersionResult], now: datetime) -> dict[str, Any]:
        accepted = [v for v in reversed(_ORDER) if results[v].probe.accepted]
        facts: dict[str, Any] = {"versions": tuple(results[v].probe for v in _ORDER)}
        if not accepted:
            if self._non_tls is not None:
                # No version can be judged on a server that does not speak TLS after STARTTLS:
                # no probes are recorded, and the error says what came instead.
                return {"versions": (), "error": ProbeError(ErrorKind.TLS_HANDSHAKE, self._non_tls)}
            unknown = [results[v].probe for v in _ORDER if results[v].probe.accepted is None]
            if unknown:
                detail = "; ".join(f"{p.version.value}: {p.detail}" for p in unknown)
                facts["error"] = ProbeError(
                    ErrorKind.TLS_HANDSHAKE, f"no handshake completed ({detail})"[:1000]
                )
            return facts
        top = results[accepted[0]].preferred
        if top is not None:
            facts["chain_pem"] = top.chain
            facts["key_exchange"] = _key_exchange(top)
            facts["trust"] = _check_chain(top.chain, self.sources, now)
            if top.cipher and top.offer:
                self.reference = _Reference(
                    accepted[0], top.legacy, top.offer, top.cipher, tuple(top.chain)
                )
        legacy = [v for v in accepted if v is not TlsVersion.TLS_1_3 and results[v].legacy_first]
        if legacy:
            first = results[legacy[0]].legacy_first
            assert first is not None
            renegotiation = first.client_renegotiation
            if renegotiation is None:  # not tried on that connection: one more, on purpose
                again = self.renegotiation_followup(
                    legacy[0], results[legacy[0]].probe.cipher_suites
                )
                renegotiation = again.client_renegotiation if _ok(again) else None
            facts.update(
                compression=first.compression,
                secure_renegotiation=first.secure_renegotiation,
                client_renegotiation=renegotiation,
            )
        elif accepted == [TlsVersion.TLS_1_3]:
            # TLS 1.3 has neither compression nor renegotiation (RFC 8446 sections 4.1.2, 4.2).
            facts.update(compression=False, secure_renegotiation=True, client_renegotiation=False)
        return facts

    def run_name(self, full: TlsScan, reference: _Reference) -> TlsScan | str:
        """One connection and one handshake with this name as SNI, asking what ``full``'s
        preferred handshake asked. The scan (server facts from ``full``, the dialogue, chain
        and trust this name's own), or why this name needs a full scan of its own."""
        at = datetime.now(UTC)
        started = time.perf_counter()
        host, by = self.request.host, full.host
        base = replace(
            full,
            host=host,
            at=at.isoformat(timespec="milliseconds"),
            shared_with=by,
            error=None,
        )

        def finish(**fields: Any) -> TlsScan:
            return replace(
                base,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
                connections=self.connections,
                handshakes=self.handshakes,
                retries=self.retries,
                **fields,
            )

        opened = self.open()
        if opened.sock is None:
            why = opened.error.describe() if opened.error else "no STARTTLS on this connection"
            note = f"server facts from {by}'s scan of this address; this name's one connection: "
            # Versions stay those of the address, but this name's own session failed: its
            # certificate is unknown, and the error makes its tests inconclusive with the reason.
            error = opened.error or ProbeError(ErrorKind.TLS_HANDSHAKE, why)
            return finish(
                smtp=opened.dialogue,
                error=error,
                chain_pem=(),
                trust=(),
                sharing=(note + why)[:500],
            )
        self._spare = opened
        shake = self.handshake(reference.version, reference.legacy, reference.offer)
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.sock is not None:
            spare.sock.close()
        # A reset or a close is no answer to the question (a busy provider sheds connections
        # so): the name's certificate is unknown, rather than its server taken for another.
        dropped = shake.status == "refused" and shake.detail.startswith(_DROPPED)
        if shake.status == "unknown" or dropped:
            why = f"the handshake with SNI {host} failed: {shake.detail}"
            return finish(
                smtp=opened.dialogue,
                error=ProbeError(ErrorKind.TLS_HANDSHAKE, why[:1000]),
                chain_pem=(),
                trust=(),
                sharing=f"server facts from {by}'s scan of this address; {why}"[:500],
            )
        same_chain = _ok(shake) and tuple(shake.chain) == reference.chain
        same_suite = _ok(shake) and shake.cipher == reference.cipher
        if not (same_chain or same_suite):
            cipher = iana_name(shake.cipher or "")
            chose = f"chose {cipher}" if _ok(shake) else f"refused ({shake.detail})"
            return (
                f"a different server behind {_where(self.request)}: with SNI {host}, "
                f"{reference.version.value} {chose} and "
                f"{'served another chain' if _ok(shake) else 'served no chain'}, where {by} got "
                f"{iana_name(reference.cipher)}"
            )[:500]
        chain = tuple(shake.chain)
        own = "the same chain as" if same_chain else "its own certificate, not"
        # Path validation depends on the chain, the trust sources and the time, not on the name
        # asked for (the subject validated is the leaf's own; CERT-02 matches the name): the same
        # chain as the full scan's, seconds later, validates as it did. Validating it again for
        # each of a provider's hundreds of tenant names was half of this handshake's CPU.
        trust = full.trust if same_chain and full.trust else _check_chain(chain, self.sources, at)
        return finish(
            smtp=opened.dialogue,
            chain_pem=chain,
            trust=trust,
            sharing=(
                f"one handshake with SNI {host} ({reference.version.value}, "
                f"{iana_name(shake.cipher or '')}): {own} {by}'s; versions, suites, key "
                f"exchange, compression and renegotiation from {by}'s scan of this address"
            )[:500],
        )


#: How :mod:`.tls_scan` words a handshake the server cut off without a TLS alert.
_DROPPED = (DROPPED_RESET, DROPPED_CLOSED)


def _where(request: ScanRequest) -> str:
    address = f"[{request.address}]" if ":" in request.address else request.address
    return f"{address}:{request.port}"


def _shared_outcome(full: TlsScan, host: str) -> TlsScan:
    """A further name on an address whose full scan reached no TLS session: the same outcome,
    without a connection (nothing before STARTTLS can depend on a name never sent)."""
    what = full.error.describe() if full.error is not None else "no TLS session"
    return replace(
        full,
        host=host,
        elapsed_ms=0.0,
        connections=0,
        handshakes=0,
        retries=0,
        chain_pem=(),
        trust=(),
        shared_with=full.host,
        sharing=(
            f"no connection made for this name: {full.host}'s scan of this address gave no "
            f"handshake to repeat with this name as SNI ({what})"
        )[:500],
    )


# --------------------------------------------------------------------------- entry points


def scan_address(request: ScanRequest, settings: TlsScanSettings | None = None) -> TlsScan:
    """Scan one address; see :func:`scan_addresses`."""
    settings = settings or TlsScanSettings()
    return scan_addresses([request], settings)[(request.host, request.address)]


def scan_addresses(
    requests: Sequence[ScanRequest], settings: TlsScanSettings
) -> dict[tuple[str, str], TlsScan]:
    """Scan every ``(host, address)`` once, in parallel, and return the scans keyed by it.

    Remote failures are recorded in each :class:`TlsScan`; only a local misconfiguration (an
    unreadable ``ca_file``) raises ``ValueError``, before any connection is made.
    """
    scanner = AddressScanner(settings)
    scanner.submit(requests)
    return scanner.results()


@dataclass(slots=True)
class _Lane:
    """One (address, port): its names waiting, in order, and its full scan once made."""

    queue: deque[ScanRequest] = field(default_factory=deque)
    active: bool = False
    full: TlsScan | None = None
    reference: _Reference | None = None
    throttled: threading.Event = field(default_factory=threading.Event)
    serial: threading.Lock = field(default_factory=threading.Lock)  # once throttled


class AddressScanner:
    """Scans ``(host, address)`` pairs as they are submitted, each once, in a bounded pool.

    :func:`scan_addresses` submits a whole list; the engine submits each domain's MX addresses
    as soon as DNS has found them, so that the scans (and a mute server's timeout) run while
    the rest of DNS is still answering. :meth:`results` waits for every scan submitted.

    Pairs are grouped by (address, port) into lanes: the first name on an address gets the
    full scan, the others one handshake each (see the module's docstring). A lane is worked
    by one pool thread at a time, so the per-address connection cap holds across its names,
    and the names of a provider's address never wait behind each other's timeouts in the pool.
    """

    def __init__(self, settings: TlsScanSettings, watch: Port25Watch | None = None) -> None:
        self.settings = settings
        #: Sees each scan as it comes back; once outbound port 25 looks blocked from this
        #: machine, the scans not yet started are recorded as not tried instead of each waiting
        #: out its own timeout (see :mod:`pytest_govmail.collect.vantage`).
        self._watch = watch
        self._sources = [_mozilla_anchors()]
        if settings.ca_file is not None:
            self._sources.append(_file_anchors(settings.ca_file))
        _suites()  # build the catalogue once, outside the worker threads
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[tuple[str, str], Future[TlsScan]] = {}
        self._lanes: dict[tuple[str, int], _Lane] = {}
        self._lock = threading.Lock()  # submit() may be called from another thread

    def submit(self, requests: Sequence[ScanRequest]) -> int:
        """Start scanning the requests not yet submitted; how many were new."""
        new = 0
        with self._lock:
            for request in requests:
                key = (request.host, request.address)
                if key in self._futures:
                    continue
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        max(1, self.settings.max_parallel_addresses),
                        thread_name_prefix="govmail-tls",
                    )
                self._futures[key] = Future()
                lane = self._lanes.setdefault((request.address, request.port), _Lane())
                lane.queue.append(request)
                if not lane.active:
                    lane.active = True
                    self._pool.submit(self._drain, lane)
                new += 1
        return new

    def results(self) -> dict[tuple[str, str], TlsScan]:
        """Every submitted scan, once all are done; the pool's threads are then let go."""
        with self._lock:
            futures = dict(self._futures)
        wait(futures.values())
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        return {key: future.result() for key, future in futures.items()}

    # ----------------------------------------------------------------- one lane

    def _drain(self, lane: _Lane) -> None:
        """Work through a lane's names until none is waiting (more may come while it runs)."""
        while True:
            with self._lock:
                if not lane.queue:
                    lane.active = False
                    return
                batch = list(lane.queue)
                lane.queue.clear()
            try:
                if lane.full is None:
                    scan, lane.reference = self._full(batch[0], lane, "")
                    lane.full = scan
                    self._done(batch[0], scan)
                    batch = batch[1:]
                self._names(lane, batch)
            except Exception as exc:  # a bug: no name may be left waiting for ever
                for request in batch:
                    if not self._future(request).done():
                        self._done(request, self._failed(request, exc))

    def _names(self, lane: _Lane, batch: list[ScanRequest]) -> None:
        """The further names: one handshake each, ``connections_per_address`` at a time (one
        at a time once the server has throttled); then a full scan for any that showed a
        different server, one after another."""
        if not batch:
            return
        workers = 1 if lane.throttled.is_set() else self.settings.connections_per_address
        workers = max(1, min(workers, len(batch)))
        if workers == 1:
            outcomes = [self._name(lane, r) for r in batch]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="govmail-tls-name") as pool:
                outcomes = list(pool.map(lambda r: self._name(lane, r), batch))
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, TlsScan):
                self._done(request, outcome)
                continue
            scan, _ = self._full(request, lane, outcome[1], outcome[0])
            self._done(request, scan)

    def _name(self, lane: _Lane, request: ScanRequest) -> TlsScan | tuple[_AddressScan, str]:
        """A further name's scan, or (its scanner so far, why it needs a full scan)."""
        full, reference = lane.full, lane.reference
        assert full is not None
        why = self._give_up()
        if why is not None:
            return self._not_tried(request, why)
        if reference is None:
            return _shared_outcome(full, request.host)
        scanner = _AddressScan(request, self.settings, self._sources, lane.throttled)
        # Once the server has throttled, its names take one connection at a time.
        gate: contextlib.AbstractContextManager[Any] = (
            lane.serial if lane.throttled.is_set() else contextlib.nullcontext()
        )
        try:
            with gate:
                outcome = scanner.run_name(full, reference)
        except Exception as exc:  # a bug must cost one name, not the run
            return self._failed(request, exc)
        if isinstance(outcome, TlsScan):
            self._note(outcome)
            return outcome
        return scanner, outcome

    def _full(
        self,
        request: ScanRequest,
        lane: _Lane,
        fallback: str,
        scanner: _AddressScan | None = None,
    ) -> tuple[TlsScan, _Reference | None]:
        """The full scan of an address with this name as SNI (``fallback``: why a further
        name needed one; ``scanner`` then carries what its first handshake cost)."""
        why = self._give_up()
        if why is not None:
            return self._not_tried(request, why), None
        if scanner is None:
            scanner = _AddressScan(request, self.settings, self._sources, lane.throttled)
        try:
            scan = scanner.run()
        except Exception as exc:  # a bug must cost one address, not the run
            return self._failed(request, exc), None
        if fallback:
            scan = replace(scan, sharing=f"full scan: {fallback}"[:500])
        self._note(scan)
        return scan, scanner.reference

    def _future(self, request: ScanRequest) -> Future[TlsScan]:
        with self._lock:
            return self._futures[(request.host, request.address)]

    def _done(self, request: ScanRequest, scan: TlsScan) -> None:
        future = self._future(request)
        if not future.done():
            future.set_result(scan)

    def _give_up(self) -> str | None:
        return self._watch.give_up() if self._watch is not None else None

    def _note(self, scan: TlsScan) -> None:
        if self._watch is not None:
            self._watch.note(scan)

    def _not_tried(self, request: ScanRequest, why: str) -> TlsScan:
        return TlsScan(
            host=request.host,
            address=request.address,
            port=request.port,
            error=ProbeError(ErrorKind.NOT_COLLECTED, why),
            profile=self.settings.profile_name,
        )

    def _failed(self, request: ScanRequest, exc: Exception) -> TlsScan:
        _log.warning("TLS scan of %s failed", request, exc_info=True)
        return TlsScan(
            host=request.host,
            address=request.address,
            port=request.port,
            error=ProbeError(ErrorKind.OTHER, f"scanner error: {exc!r}"[:500]),
            profile=self.settings.profile_name,
        )
