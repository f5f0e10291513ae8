"""One scan per MX address, whatever its names: the lab's shared-provider shape (issue 13).

Many tenant MX names resolve to one provider address (as ``<tenant>.mail.protection.outlook.com``
do for Microsoft 365). The collector enumerates that server once, and for every further name makes
one handshake with the name as SNI for the chain it is served: a tenant whose SNI yields its own
certificate is judged by CERT-02 on that certificate, and a name that an SNI router sends to a
different server behind the address is scanned in full. The per-address connection cap holds
across the names, and the handshakes per address stay within accepted suites + 10 + (names - 1).
"""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from connection_counter import OpenCounter
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from pytest_govmail.collect.tls import ScanRequest, TlsScanSettings, scan_addresses
from pytest_govmail.judge.cert import names_mx_host
from pytest_govmail.lab.pki import LabPki
from pytest_govmail.lab.smtp_server import (
    SHARED_PROVIDER_ADDRESS,
    SHARED_PROVIDER_HOST,
    SHARED_PROVIDER_OTHER_SERVER,
    SHARED_PROVIDER_OWN_CERT,
    LabSmtpFleet,
    LabSmtpServer,
    SniRoute,
    _server_name,
    shared_provider,
    shared_provider_tenants,
)
from pytest_govmail.model import evidence as evidence_file
from pytest_govmail.model.dns import DnsSnapshot, ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import (
    TlsScan,
    TlsVersion,
    address_loads,
    busiest_address,
    from_json,
    to_json,
)
from pytest_govmail.model.verdict import Status

TENANTS = shared_provider_tenants(6)
#: A vanity name on the provider's address that the provider has no certificate for: its SNI
#: gets the provider's wildcard, which does not cover it.
VANITY = "mx.vanity-council.gov.uk"
NAMES = (*TENANTS, SHARED_PROVIDER_OWN_CERT, VANITY, SHARED_PROVIDER_OTHER_SERVER)


@dataclass(frozen=True)
class Provider:
    fleet: LabSmtpFleet
    ca_file: Path

    @property
    def server(self) -> LabSmtpServer:
        return self.fleet[SHARED_PROVIDER_HOST]

    def requests(self, names: tuple[str, ...]) -> list[ScanRequest]:
        return [ScanRequest(n, SHARED_PROVIDER_ADDRESS, self.fleet.port) for n in names]

    def settings(self, **changes: object) -> TlsScanSettings:
        base = TlsScanSettings(
            timeout=1.0,
            ca_file=self.ca_file,
            allow_private=True,
            retry_backoff=0.05,
            ehlo_name="scanner.test.example",
        )
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

    def scan(self, names: tuple[str, ...], **changes: object) -> dict[str, TlsScan]:
        results = scan_addresses(self.requests(names), self.settings(**changes))
        return {host: scan for (host, _), scan in results.items()}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    pki = LabPki()
    ca_file = pki.write_ca_file(tmp_path_factory.mktemp("ca") / "lab-ca.pem")
    with LabSmtpFleet([shared_provider()], pki=pki, idle_timeout=3.0) as fleet:
        yield Provider(fleet, ca_file)


@pytest.fixture(scope="module")
def scans(provider: Provider) -> dict[str, TlsScan]:
    provider.server.reset_stats()
    scans = provider.scan(NAMES)
    assert provider.server.wait_idle()
    return scans


def accepted(scan: TlsScan) -> int:
    return sum(len(v.cipher_suites) for v in scan.versions if v.accepted)


def sans(scan: TlsScan) -> list[str]:
    leaf = x509.load_pem_x509_certificate(scan.chain_pem[0].encode())
    ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return ext.value.get_values_for_type(x509.DNSName)


def cert02(scan: TlsScan) -> Status:
    subject = Subject(
        Target("council.gov.uk"), DnsSnapshot(), host=scan.host, tls={scan.host: (scan,)}
    )
    return names_mx_host(subject).status


# --------------------------------------------------------------------------- one full scan


def test_the_address_is_enumerated_once(scans: dict[str, TlsScan]) -> None:
    full = scans[TENANTS[0]]
    assert full.shared_with == "" and full.sharing == "" and accepted(full) == 6
    (load,) = address_loads(scans.values())
    assert load.full_scans == (TENANTS[0], SHARED_PROVIDER_OTHER_SERVER)
    assert set(load.names) == set(NAMES)
    for name in (*TENANTS[1:], SHARED_PROVIDER_OWN_CERT, VANITY):
        scan = scans[name]
        assert (scan.connections, scan.handshakes, scan.retries) == (1, 1, 0), name
        assert scan.shared_with == TENANTS[0] and scan.error is None
        assert f"one handshake with SNI {name}" in scan.sharing
        # The server's facts are the address's; the dialogue and the chain are the name's own.
        assert scan.versions == full.versions and scan.key_exchange == full.key_exchange
        assert scan.compression == full.compression
        assert scan.client_renegotiation == full.client_renegotiation
        assert scan.smtp is not None and scan.smtp.starttls_offered is True


def test_handshakes_per_address_within_accepted_plus_ten_plus_names(
    provider: Provider, scans: dict[str, TlsScan]
) -> None:
    shared = [s for s in scans.values() if s.host != SHARED_PROVIDER_OTHER_SERVER]
    full = scans[TENANTS[0]]
    assert sum(s.handshakes for s in shared) <= accepted(full) + 10 + (len(shared) - 1)
    # The different server's own full scan keeps its own budget, plus the handshake that found it.
    other = scans[SHARED_PROVIDER_OTHER_SERVER]
    assert other.handshakes <= accepted(other) + 10 + 1
    # The server counts every handshake after STARTTLS, not renegotiations (one per full scan).
    total = sum(s.handshakes for s in scans.values())
    assert provider.server.handshakes <= total <= provider.server.handshakes + 2
    assert provider.server.connections == sum(s.connections for s in scans.values())


def test_tenants_only_meet_the_issue_budget(provider: Provider) -> None:
    # The plain shape, no different server on the address: the bound of issue 13 as written.
    provider.server.reset_stats()
    scans = provider.scan(TENANTS)
    (load,) = address_loads(scans.values())
    full = scans[TENANTS[0]]
    assert load.handshakes <= accepted(full) + 10 + (len(load.names) - 1)
    assert load.full_scans == (TENANTS[0],) and load.connections == full.connections + 5
    assert provider.server.wait_idle()
    assert provider.server.connections == load.connections


# --------------------------------------------------------------------------- certificates by SNI


def test_a_name_whose_sni_yields_another_certificate_is_judged_on_it(
    scans: dict[str, TlsScan],
) -> None:
    own, full = scans[SHARED_PROVIDER_OWN_CERT], scans[TENANTS[0]]
    assert own.chain_pem and own.chain_pem != full.chain_pem
    assert sans(own) == [SHARED_PROVIDER_OWN_CERT]
    assert "its own certificate" in own.sharing
    assert cert02(own) is Status.PASS
    # The provider's wildcard, which the address's full scan saw, would not have matched it.
    assert cert02(dataclasses.replace(own, chain_pem=full.chain_pem)) is Status.FAIL
    assert [t.verified for t in own.trust] == [False, True]  # lab CA: trusted by the CA file


def test_tenants_under_the_wildcard_pass_and_a_vanity_name_fails(
    scans: dict[str, TlsScan],
) -> None:
    assert "*.mail.sharedprovider.example" in sans(scans[TENANTS[0]])
    for name in TENANTS:
        assert cert02(scans[name]) is Status.PASS, name
    vanity = scans[VANITY]
    assert vanity.chain_pem == scans[TENANTS[0]].chain_pem
    assert "the same chain as" in vanity.sharing
    assert cert02(vanity) is Status.FAIL


def test_a_different_server_behind_the_address_gets_a_full_scan(
    scans: dict[str, TlsScan],
) -> None:
    other = scans[SHARED_PROVIDER_OTHER_SERVER]
    assert other.shared_with == ""
    assert other.sharing.startswith("full scan: a different server behind 127.0.6.10:")
    assert f"with SNI {SHARED_PROVIDER_OTHER_SERVER}, TLSv1.3 refused" in other.sharing
    # Its own facts, not the address's: TLS 1.2 at most, with the CBC-SHA1 suite it prefers.
    tls13, tls12 = other.version(TlsVersion.TLS_1_3), other.version(TlsVersion.TLS_1_2)
    assert tls13 is not None and tls13.accepted is False
    assert tls12 is not None and tls12.preferred == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
    assert sans(other) == [SHARED_PROVIDER_OTHER_SERVER]
    assert cert02(other) is Status.PASS


def test_a_name_whose_handshake_is_reset_is_inconclusive_not_rescanned(
    provider: Provider,
) -> None:
    # An SNI router with no backend for a name resets its handshake: that says nothing about
    # which server is behind it, so the name is inconclusive with the reason, not scanned again.
    dropped = "mx.dropped-council.gov.uk"
    router = dataclasses.replace(
        shared_provider(), address="127.0.6.40", sni_routes=(SniRoute(dropped, None),)
    )
    with LabSmtpFleet([router], pki=LabPki(), idle_timeout=3.0) as fleet:
        requests = [ScanRequest(n, router.address, fleet.port) for n in (TENANTS[0], dropped)]
        results = scan_addresses(requests, provider.settings())
    scan = results[(dropped, router.address)]
    assert scan.error is not None and scan.error.kind is ErrorKind.TLS_HANDSHAKE
    assert "failed: connection reset during the handshake" in scan.error.detail
    assert (scan.connections, scan.handshakes, scan.chain_pem) == (1, 1, ())
    assert scan.shared_with == TENANTS[0] and scan.sharing.startswith("server facts from")
    assert cert02(scan) is Status.INCONCLUSIVE
    (load,) = address_loads(results.values())
    assert load.full_scans == (TENANTS[0],)


def test_the_server_saw_each_name_as_sni(provider: Provider) -> None:
    provider.server.reset_stats()
    provider.scan(NAMES)
    assert provider.server.wait_idle()
    seen = [r.sni for r in provider.server.connection_log if r.handshake_attempted]
    assert set(seen) - {None} == set(NAMES)  # None: the SSL 2.0 probes, which carry no SNI
    for name in (*TENANTS[1:], SHARED_PROVIDER_OWN_CERT, VANITY):
        assert seen.count(name) == 1, name


# --------------------------------------------------------------------------- politeness


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_connection_cap_holds_across_names(
    provider: Provider, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    counter = OpenCounter()
    monkeypatch.setattr(socket, "create_connection", counter.create_connection)
    scans = provider.scan(NAMES, connections_per_address=limit)
    assert all(s.error is None for s in scans.values())
    assert counter.peak <= limit
    assert counter.open == 0


def test_a_refused_address_is_retried_with_backoff_then_shared(provider: Provider) -> None:
    names = TENANTS[:3]
    requests = [ScanRequest(n, "127.0.6.250", provider.fleet.port) for n in names]
    results = scan_addresses(requests, provider.settings(max_retries=2))
    first, *rest = (results[(r.host, r.address)] for r in requests)
    assert first.error is not None and first.error.kind is ErrorKind.CONNECTION_REFUSED
    assert "(3 attempts)" in first.error.detail and first.retries == 2
    assert first.elapsed_ms >= 0.75 * (0.05 + 0.1) * 1000  # the backoff, jitter +-25 %
    for scan in rest:
        # Nothing before STARTTLS depends on a name never sent: no connection, same outcome.
        assert (scan.connections, scan.handshakes, scan.retries) == (0, 0, 0)
        assert scan.error == first.error and scan.shared_with == first.host
        assert scan.sharing.startswith("no connection made for this name")
    (load,) = address_loads(results.values())
    assert (load.retries, load.full_scans, len(load.names)) == (2, (names[0],), 3)


def test_a_throttling_provider_still_serves_every_name(provider: Provider) -> None:
    # 421 on every third connection, as a provider limiting a client's rate does: the names
    # after the throttling go one at a time, each 421 is retried, none is left inconclusive.
    throttling = dataclasses.replace(shared_provider(), address="127.0.6.30")
    profile = dataclasses.replace(throttling.profile, throttle_every=3)
    throttling = dataclasses.replace(throttling, profile=profile)
    with LabSmtpFleet([throttling], pki=LabPki(), idle_timeout=3.0) as fleet:
        requests = [ScanRequest(n, throttling.address, fleet.port) for n in TENANTS]
        results = scan_addresses(requests, provider.settings(connections_per_address=1))
        assert fleet[SHARED_PROVIDER_HOST].wait_idle()
        served = fleet[SHARED_PROVIDER_HOST].connections
    scans = [results[(r.host, r.address)] for r in requests]
    assert all(s.error is None for s in scans), [s.error for s in scans]
    (load,) = address_loads(scans)
    assert load.retries > 0 and load.full_scans == (TENANTS[0],)
    assert load.connections == served
    assert all(v.accepted is not None for v in scans[0].versions)


# --------------------------------------------------------------------------- evidence


def test_shared_scans_round_trip_and_old_scans_read_as_their_own(
    scans: dict[str, TlsScan], tmp_path: Path
) -> None:
    for scan in scans.values():
        assert from_json(to_json(scan)) == scan
    old = to_json(scans[TENANTS[1]])
    for key in ("retries", "shared_with", "sharing"):
        del old[key]
    assert from_json(old).shared_with == "" and from_json(old).retries == 0
    evidence = evidence_file.Evidence(
        targets=(Target("council.gov.uk"),),
        dns=DnsSnapshot(),
        tls={(s.host, s.address): s for s in scans.values()},
    )
    path = tmp_path / "evidence.json"
    evidence_file.write(evidence, path)
    assert evidence_file.read(path).tls == evidence.tls

    data = json.loads(path.read_text())
    assert data["schema_version"] == 2
    (load,) = data["tls_addresses"]
    assert load["handshakes"] == sum(s.handshakes for s in scans.values())
    assert len(load["names"]) == len(NAMES) and load["retries"] == 0


# --------------------------------------------------------------------------- the lab's SNI router


def _hello(name: bytes) -> bytes:
    entry = b"\x00" + len(name).to_bytes(2, "big") + name
    sni = len(entry).to_bytes(2, "big") + entry
    ext = b"\x00\x00" + len(sni).to_bytes(2, "big") + sni
    body = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += len(ext).to_bytes(2, "big") + ext
    return b"\x01" + len(body).to_bytes(3, "big") + body


def test_the_lab_reads_sni_from_a_client_hello() -> None:
    assert _server_name(_hello(b"Tenant1.Example.")) == "tenant1.example"
    assert _server_name(_hello(b"")) is None  # an empty name is no name
    assert _server_name(_hello(b"x")[:-3]) is None  # truncated
    assert _server_name(b"\x02" + _hello(b"x")[1:]) is None  # not a ClientHello


@given(st.binary(max_size=300))
def test_the_lab_sni_reader_never_raises_on_hostile_bytes(data: bytes) -> None:
    name = _server_name(data)
    assert name is None or isinstance(name, str)


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("2001:db8::25", "[2001:db8::25]:25"),
        ("192.0.2.1\x1b[2J\u202e", "192.0.2.1\\x1b[2J\\u202e:25"),  # a hand-made replay file
    ],
)
def test_the_busiest_address_line_is_inert(address: str, shown: str) -> None:
    scans = [
        TlsScan("mx.a.example", address, 25, connections=14, handshakes=15),
        TlsScan("mx.b.example", address, 25, connections=1, handshakes=1, shared_with="x"),
        TlsScan("mx.c.example", "192.0.2.9", 25, connections=2, handshakes=2, retries=1),
    ]
    assert busiest_address(scans) == [
        f"busiest MX address {shown}: 16 handshake(s), 15 connection(s), 2 MX name(s) served, "
        "0 retried"
    ]
    assert busiest_address([]) == []
