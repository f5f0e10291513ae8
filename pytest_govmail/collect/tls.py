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
  greeting (or a connection dropped before the greeting) is retried with exponential backoff a
  bounded number of times, then recorded as ``THROTTLED`` (or ``PROTOCOL``). A greeting other
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
  separate facts. Validation is as of an instant inside the path's validity (now when it can
  be) and leaves the key identifiers aside, so that dates (CERT-03) and RFC 5280's profile
  rules for CAs stay apart from trust (:mod:`pytest_govmail.collect.trust` says which checks
  belong to trust).
* Per address at most ``connections_per_address`` connections are open at once (version probes
  run side by side on that many workers); addresses are scanned in parallel. Once a server has
  throttled (a 421, or a drop before the greeting, that was retried), the rest of its version
  probes open one connection at a time, so a server that refuses every other connection still
  gets a complete scan; retries are noted in the detail of the version whose probe needed them.
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
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
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
from pytest_govmail.collect.tls_scan import _Handshaker, _key_exchange, _ok, _VersionResult
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


def _subject_text(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if names:
        return str(names[0].value)
    return cert.subject.rfc4514_string() or "(empty subject)"


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


class _AddressScan(_Handshaker):
    """One address: the dialogue, then the version probes on a few workers."""

    def __init__(self, request: ScanRequest, settings: TlsScanSettings, sources: list[_Anchors]):
        self.request = request
        self.settings = settings
        self.sources = sources
        self._lock = threading.Lock()
        self.connections = 0
        self.handshakes = 0
        self._spare: _Opened | None = None  # the dialogue's session, after STARTTLS
        self._throttled = threading.Event()  # a retry was needed: open one at a time
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


class AddressScanner:
    """Scans ``(host, address)`` pairs as they are submitted, each once, in a bounded pool.

    :func:`scan_addresses` submits a whole list; the engine submits each domain's MX addresses
    as soon as DNS has found them, so that the scans (and a mute server's timeout) run while
    the rest of DNS is still answering. :meth:`results` waits for every scan submitted.
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
                self._futures[key] = self._pool.submit(self._one, request)
                new += 1
        return new

    def results(self) -> dict[tuple[str, str], TlsScan]:
        """Every submitted scan, once all are done; the pool's threads are then let go."""
        with self._lock:
            futures = dict(self._futures)
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        return {key: future.result() for key, future in futures.items()}

    def _one(self, request: ScanRequest) -> TlsScan:
        watch = self._watch
        why = watch.give_up() if watch is not None else None
        if why is not None:
            return TlsScan(
                host=request.host,
                address=request.address,
                port=request.port,
                error=ProbeError(ErrorKind.NOT_COLLECTED, why),
                profile=self.settings.profile_name,
            )
        scan = self._scan(request)
        if watch is not None:
            watch.note(scan)
        return scan

    def _scan(self, request: ScanRequest) -> TlsScan:
        try:
            return _AddressScan(request, self.settings, self._sources).run()
        except Exception as exc:  # a bug must cost one address, not the run
            _log.warning("TLS scan of %s failed", request, exc_info=True)
            return TlsScan(
                host=request.host,
                address=request.address,
                port=request.port,
                error=ProbeError(ErrorKind.OTHER, f"scanner error: {exc!r}"[:500]),
                profile=self.settings.profile_name,
            )
