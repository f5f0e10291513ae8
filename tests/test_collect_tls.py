"""The TLS collector against the lab's SMTP servers: every profile, every failure path.

One module-scoped scan covers every lab profile at once (as a run would, in parallel); the
servers' own counters check the collector's connection and handshake figures, and the handshake
budget (accepted suites + 10 per address) is held for every profile. Timeouts are about a second
so the whole module stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from connection_counter import OpenCounter
from cryptography import x509

from pytest_govmail.collect.suites import offered_codes
from pytest_govmail.collect.tls import (
    CA_FILE,
    HANDSHAKE_OVERHEAD,
    MOZILLA,
    ScanRequest,
    TlsScanSettings,
    check_chain,
    default_ehlo_name,
    iana_name,
    scan_address,
    scan_addresses,
)
from pytest_govmail.judge import cert, tls
from pytest_govmail.lab.pki import LabPki, LeafCert, PrivateCa, server_context
from pytest_govmail.lab.smtp_server import (
    COMPLIANT,
    COMPLIANT_SUITES,
    LAB_ADDRESSES,
    LEGACY_TLS,
    PROFILES,
    WEAK_SUITES,
    LabMx,
    LabSmtpFleet,
    LabSmtpServer,
    SmtpProfile,
)
from pytest_govmail.model.dns import DnsSnapshot, ErrorKind
from pytest_govmail.model.subject import Subject
from pytest_govmail.model.target import Target
from pytest_govmail.model.tls import KeyExchange, TlsScan, TlsVersion, from_json, to_json
from pytest_govmail.model.verdict import Status, Verdict

TIMEOUT = 1.0
BACKOFF = 0.05

TLS13 = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}
COMPLIANT12 = {
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}
OLD = (TlsVersion.SSL_2_0, TlsVersion.SSL_3_0, TlsVersion.TLS_1_0, TlsVersion.TLS_1_1)

#: Extra servers beyond issue 3's list, for facts the standard profiles do not show.
EXTRA = {
    "renegotiation": dataclasses.replace(
        COMPLIANT, name="renegotiation", allow_client_renegotiation=True
    ),
    "tls13-only": dataclasses.replace(
        COMPLIANT, name="tls13-only", minimum_version=ssl.TLSVersion.TLSv1_3
    ),
    "static-rsa": dataclasses.replace(
        COMPLIANT,
        name="static-rsa",
        maximum_version=ssl.TLSVersion.TLSv1_2,
        ciphers=("AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"),
    ),
}
EXTRA_ADDRESSES = {
    "renegotiation": "127.0.5.10",
    "tls13-only": "127.0.5.11",
    "static-rsa": "127.0.5.12",
}


def hostname(profile: str) -> str:
    return f"mx.{profile}-dept.gov.uk"


@dataclass(frozen=True)
class Lab:
    pki: LabPki
    ca_file: Path
    fleet: LabSmtpFleet
    profiles: dict[str, SmtpProfile]

    def request(self, profile: str) -> ScanRequest:
        server = self.fleet[hostname(profile)]
        address, port = server.address
        return ScanRequest(hostname(profile), address, port)

    def settings(self, **changes: object) -> TlsScanSettings:
        base = TlsScanSettings(
            timeout=TIMEOUT,
            ca_file=self.ca_file,
            allow_private=True,
            retry_backoff=BACKOFF,
            ehlo_name="scanner.test.example",
        )
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Seen:
    """What the servers counted during the module's main scan."""

    connections: int
    handshakes: int


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    pki = LabPki()
    ca_file = pki.write_ca_file(tmp_path_factory.mktemp("ca") / "lab-ca.pem")
    profiles = {**PROFILES, **EXTRA}
    addresses = {**LAB_ADDRESSES, **EXTRA_ADDRESSES}
    hosts = [LabMx(hostname(name), addresses[name], p) for name, p in profiles.items()]
    with LabSmtpFleet(hosts, pki=pki, idle_timeout=3.0) as fleet:
        yield Lab(pki, ca_file, fleet, profiles)


@pytest.fixture(scope="module")
def scanned(lab: Lab) -> tuple[dict[str, TlsScan], dict[str, Seen]]:
    names = list(lab.profiles)
    for server in lab.fleet:
        server.reset_stats()
    results = scan_addresses([lab.request(n) for n in names], lab.settings())
    seen: dict[str, Seen] = {}
    for name in names:
        server = lab.fleet[hostname(name)]
        assert server.wait_idle()
        seen[name] = Seen(server.connections, server.handshakes)
    scans = {n: results[(hostname(n), lab.request(n).address)] for n in names}
    return scans, seen


@pytest.fixture(scope="module")
def scans(scanned: tuple[dict[str, TlsScan], dict[str, Seen]]) -> dict[str, TlsScan]:
    return scanned[0]


def accepted_suites(scan: TlsScan) -> int:
    return sum(len(v.cipher_suites) for v in scan.versions)


def suites(scan: TlsScan, version: TlsVersion) -> set[str]:
    probe = scan.version(version)
    assert probe is not None
    return set(probe.cipher_suites)


# --------------------------------------------------------------------------- the compliant MX


def test_compliant_versions_suites_and_preference(scans: dict[str, TlsScan]) -> None:
    scan = scans["compliant"]
    assert scan.error is None
    assert [v.version for v in scan.versions] == list(TlsVersion)
    for version in OLD:
        probe = scan.version(version)
        assert probe is not None and probe.accepted is False and probe.cipher_suites == ()
        assert probe.detail  # why: the alert or the closed connection
    tls12, tls13 = scan.version(TlsVersion.TLS_1_2), scan.version(TlsVersion.TLS_1_3)
    assert tls12 is not None and tls13 is not None
    assert tls12.accepted is True and set(tls12.cipher_suites) == COMPLIANT12
    assert tls12.preferred == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert tls13.accepted is True and set(tls13.cipher_suites) == TLS13
    assert tls13.preferred == "TLS_AES_256_GCM_SHA384"
    assert scan.key_exchange == KeyExchange("ECDHE", group="X25519")
    assert scan.compression is False
    assert scan.secure_renegotiation is True
    assert scan.client_renegotiation is False
    assert scan.profile == "ncsc-2026.1"
    assert scan.at and scan.elapsed_ms > 0


def test_compliant_dialogue(scans: dict[str, TlsScan]) -> None:
    smtp = scans["compliant"].smtp
    assert smtp is not None
    assert smtp.banner_code == 220
    assert smtp.banner == f"220 {hostname('compliant')} ESMTP govmail lab"
    assert smtp.ehlo[0] == f"{hostname('compliant')} greets you"
    assert "STARTTLS" in smtp.ehlo and smtp.starttls_offered is True
    assert smtp.starttls_reply == "220 2.0.0 Ready to start TLS"


def test_compliant_chain_and_trust(lab: Lab, scans: dict[str, TlsScan]) -> None:
    scan = scans["compliant"]
    assert len(scan.chain_pem) == 2
    leaf = x509.load_pem_x509_certificate(scan.chain_pem[0].encode())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [hostname("compliant")]
    assert x509.load_pem_x509_certificate(scan.chain_pem[1].encode()) == lab.pki.intermediate_cert
    trust = {t.store: t for t in scan.trust}
    assert set(trust) == {MOZILLA, CA_FILE}
    assert trust[MOZILLA].verified is False and "Mozilla" in trust[MOZILLA].detail
    assert trust[CA_FILE].verified is True
    assert hostname("compliant") in trust[CA_FILE].detail


# --------------------------------------------------------------------------- versions and suites


@pytest.mark.parametrize("profile", [COMPLIANT, LEGACY_TLS, WEAK_SUITES], ids=lambda p: p.name)
def test_suites_found_equal_the_server_configuration(
    scans: dict[str, TlsScan], profile: SmtpProfile
) -> None:
    scan = scans[profile.name]
    assert suites(scan, TlsVersion.TLS_1_2) == {iana_name(c) for c in profile.ciphers}
    assert suites(scan, TlsVersion.TLS_1_3) == TLS13
    preferred = scan.version(TlsVersion.TLS_1_2)
    assert preferred is not None and preferred.preferred == iana_name(profile.ciphers[0])


def test_legacy_versions_accepted(scans: dict[str, TlsScan]) -> None:
    scan = scans["legacy-tls"]
    cbc = {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}
    for version in (TlsVersion.TLS_1_0, TlsVersion.TLS_1_1):
        probe = scan.version(version)
        assert probe is not None and probe.accepted is True
        assert set(probe.cipher_suites) == cbc
        assert probe.preferred == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
    for version in (TlsVersion.SSL_2_0, TlsVersion.SSL_3_0):
        probe = scan.version(version)
        assert probe is not None and probe.accepted is False


def test_weak_suites_found(scans: dict[str, TlsScan]) -> None:
    found = suites(scans["weak-suites"], TlsVersion.TLS_1_2)
    assert {"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384"} <= found
    assert "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA" in found


def test_static_rsa_key_exchange(scans: dict[str, TlsScan]) -> None:
    scan = scans["static-rsa"]
    tls13 = scan.version(TlsVersion.TLS_1_3)
    assert tls13 is not None and tls13.accepted is False
    tls12 = scan.version(TlsVersion.TLS_1_2)
    assert tls12 is not None and tls12.preferred == "TLS_RSA_WITH_AES_256_GCM_SHA384"
    assert scan.key_exchange == KeyExchange("RSA")


def test_tls13_only_server(scans: dict[str, TlsScan]) -> None:
    scan = scans["tls13-only"]
    assert [v.version for v in scan.versions if v.accepted] == [TlsVersion.TLS_1_3]
    assert scan.compression is False
    assert scan.secure_renegotiation is True
    assert scan.client_renegotiation is False


def test_client_renegotiation_accepted(scans: dict[str, TlsScan]) -> None:
    assert scans["renegotiation"].client_renegotiation is True
    assert scans["renegotiation"].secure_renegotiation is True


# --------------------------------------------------------------------------- handshake economy


def test_handshakes_within_accepted_plus_ten(
    scanned: tuple[dict[str, TlsScan], dict[str, Seen]],
) -> None:
    scans, seen = scanned
    for name, scan in scans.items():
        accepted = accepted_suites(scan)
        assert scan.handshakes <= accepted + HANDSHAKE_OVERHEAD <= accepted + 10, name
        # The servers count every handshake after STARTTLS but not renegotiations (at most 1).
        assert seen[name].handshakes <= scan.handshakes <= seen[name].handshakes + 1, name
        assert scan.connections == seen[name].connections, name


def test_compliant_handshake_count_is_exact(scans: dict[str, TlsScan]) -> None:
    scan = scans["compliant"]
    # 6 accepted + 6 refused versions + TLS 1.2 modern pass (preferred + refusal) + 1 reneg
    assert scan.handshakes == 6 + 6 + 2 + 1
    assert scan.connections == scan.handshakes - 1  # the renegotiation reuses a connection


@pytest.fixture
def open_counter(monkeypatch: pytest.MonkeyPatch) -> OpenCounter:
    counter = OpenCounter()
    # The collector's module-level ``socket`` is the standard module: patch it there.
    monkeypatch.setattr(socket, "create_connection", counter.create_connection)
    from pytest_govmail.collect import tls_scan  # where the SMTP connections are opened

    assert tls_scan.socket is socket  # type: ignore[attr-defined]
    return counter


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_connections_per_address_limit(lab: Lab, open_counter: OpenCounter, limit: int) -> None:
    scan = scan_address(lab.request("compliant"), lab.settings(connections_per_address=limit))
    assert scan.error is None and accepted_suites(scan) == 6
    assert open_counter.opened == scan.connections
    assert open_counter.peak <= limit
    assert open_counter.open == 0  # every connection was closed


# --------------------------------------------------------------------------- certificates


def test_expired_certificate_is_judged_for_trust_apart_from_time(
    scans: dict[str, TlsScan],
) -> None:
    # Trust (CERT-01) and validity (CERT-03) are separate facts: an expired leaf is validated
    # as of the last moment it was valid, and the detail says so.
    scan = scans["expired-cert"]
    assert scan.error is None and len(scan.chain_pem) == 2
    trust = {check.store: check for check in scan.trust}
    assert trust["ca-file"].verified is True
    assert "validated as of" in trust["ca-file"].detail and "expired" in trust["ca-file"].detail
    assert trust["mozilla"].verified is False


def test_wrong_hostname_is_still_a_trusted_chain(scans: dict[str, TlsScan]) -> None:
    scan = scans["wrong-hostname"]
    trust = {t.store: t.verified for t in scan.trust}
    assert trust == {MOZILLA: False, CA_FILE: True}  # trust and name match are separate facts
    leaf = x509.load_pem_x509_certificate(scan.chain_pem[0].encode())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert hostname("wrong-hostname") not in names.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize("profile", ["self-signed", "missing-intermediate"])
def test_untrusted_chains(scans: dict[str, TlsScan], profile: str) -> None:
    scan = scans[profile]
    assert len(scan.chain_pem) == 1
    assert {t.store: t.verified for t in scan.trust} == {MOZILLA: False, CA_FILE: False}


def test_without_a_ca_file_only_mozilla_is_checked(lab: Lab) -> None:
    scan = scan_address(lab.request("compliant"), lab.settings(ca_file=None))
    assert [(t.store, t.verified) for t in scan.trust] == [(MOZILLA, False)]


def test_unreadable_ca_file_is_a_usage_error(lab: Lab, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("nothing here")
    with pytest.raises(ValueError, match="CA certificates"):
        scan_addresses([lab.request("compliant")], lab.settings(ca_file=bad))


def test_check_chain_edge_cases(lab: Lab) -> None:
    leaf = lab.pki.issue_leaf(["*.wild-dept.gov.uk"])
    pems = [leaf.cert_pem, lab.pki.intermediate_pem]
    checks = check_chain(pems, ca_file=lab.ca_file)
    assert [(c.store, c.verified) for c in checks] == [(MOZILLA, False), (CA_FILE, True)]
    assert all(not c.verified for c in check_chain([], ca_file=lab.ca_file))
    garbage = check_chain(["-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"])
    assert garbage[0].verified is False and "unparseable" in garbage[0].detail


# --------------------------------------------------------------------------- SMTP failures


def test_banner_554(scans: dict[str, TlsScan]) -> None:
    scan = scans["banner-554"]
    assert scan.smtp is not None and scan.smtp.banner_code == 554
    assert scan.smtp.banner is not None and scan.smtp.banner.startswith("554 5.3.2")
    assert scan.error is not None and scan.error.kind is ErrorKind.PROTOCOL
    assert (scan.versions, scan.handshakes, scan.connections) == ((), 0, 1)


def test_silent_server_times_out_within_the_timeout(scans: dict[str, TlsScan]) -> None:
    scan = scans["silent"]
    assert scan.error is not None and scan.error.kind is ErrorKind.TIMEOUT
    assert scan.smtp is not None and scan.smtp.banner_code is None  # connected, no greeting
    assert scan.elapsed_ms < 1.9 * TIMEOUT * 1000  # one wait, no retry (a retry doubles it)
    assert scan.connections == 1 and scan.handshakes == 0


def test_always_421_is_throttled_after_bounded_retries(scans: dict[str, TlsScan]) -> None:
    scan = scans["throttled"]
    assert scan.error is not None and scan.error.kind is ErrorKind.THROTTLED
    assert "3 attempts" in scan.error.detail
    assert scan.smtp is not None and scan.smtp.banner_code == 421
    assert scan.connections == 3 and scan.handshakes == 0 and scan.retries == 2
    assert scan.elapsed_ms >= 0.75 * (BACKOFF + 2 * BACKOFF) * 1000  # jitter: +-25 %


def test_421_every_third_connection_is_retried(lab: Lab) -> None:
    # One connection at a time, so that which connection the server throttles is known: with
    # two, the other worker's connections can fall between one worker's retries so that each
    # retry is a third connection again, and the scan rightly ends that version's
    # enumeration as incomplete after its bounded retries (a race, not a fault).
    scan = scan_address(lab.request("throttling"), lab.settings(connections_per_address=1))
    assert scan.error is None
    assert suites(scan, TlsVersion.TLS_1_2) == COMPLIANT12
    assert suites(scan, TlsVersion.TLS_1_3) == TLS13
    assert all(v.accepted is not None for v in scan.versions)
    assert scan.connections > scan.handshakes - 1  # the 421s cost connections, not handshakes


def test_starttls_454(scans: dict[str, TlsScan]) -> None:
    scan = scans["starttls-454"]
    assert scan.error is None
    assert scan.smtp is not None and scan.smtp.starttls_offered is True
    assert scan.smtp.starttls_reply is not None and scan.smtp.starttls_reply.startswith("454")
    assert (scan.versions, scan.handshakes) == ((), 0)


def test_no_starttls(scans: dict[str, TlsScan]) -> None:
    scan = scans["no-starttls"]
    assert scan.error is None
    assert scan.smtp is not None and scan.smtp.starttls_offered is False
    assert scan.smtp.starttls_reply is None and "STARTTLS" not in scan.smtp.ehlo
    assert (scan.versions, scan.handshakes) == ((), 0)


def test_connection_refused(lab: Lab) -> None:
    request = ScanRequest("mx.nobody-dept.gov.uk", "127.0.4.250", lab.fleet.port)
    scan = scan_address(request, lab.settings())
    assert scan.error is not None and scan.error.kind is ErrorKind.CONNECTION_REFUSED
    assert scan.smtp is None and scan.connections == 0
    # A provider shedding load refuses for a moment: retried politely, then inconclusive.
    assert "(3 attempts)" in scan.error.detail and scan.retries == 2


@pytest.fixture
def blackhole() -> Iterator[tuple[str, int]]:
    """A listener whose backlog is full: the kernel drops further SYNs, so connects time out."""
    listener = socket.socket()
    listener.bind(("127.0.4.251", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(4):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(address)
        except BlockingIOError:
            pass
        fillers.append(sock)
    time.sleep(0.05)
    yield address
    for sock in fillers:
        sock.close()
    listener.close()


def test_connect_timeout(lab: Lab, blackhole: tuple[str, int]) -> None:
    address, port = blackhole
    started = time.monotonic()
    scan = scan_address(ScanRequest("mx.dark-dept.gov.uk", address, port), lab.settings())
    assert time.monotonic() - started < 1.9 * TIMEOUT  # one wait, no retry
    assert scan.error is not None and scan.error.kind is ErrorKind.TIMEOUT
    assert scan.smtp is None  # no TCP session: MX-04 says inconclusive, not fail


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "address", ["127.0.4.10", "::ffff:127.0.4.10", "10.1.2.3", "169.254.1.1", "192.0.2.1", "::1"]
)
def test_private_addresses_are_refused_without_a_connection(lab: Lab, address: str) -> None:
    server = lab.fleet[hostname("compliant")]
    before = server.connections
    scan = scan_address(
        ScanRequest(hostname("compliant"), address, lab.fleet.port),
        lab.settings(allow_private=False),
    )
    assert scan.error is not None and scan.error.kind is ErrorKind.PRIVATE_ADDRESS
    assert "--govmail-allow-private" in scan.error.detail
    assert (scan.connections, scan.handshakes, scan.smtp) == (0, 0, None)
    assert server.connections == before


def test_malformed_address(lab: Lab) -> None:
    scan = scan_address(ScanRequest("mx.x-dept.gov.uk", "mx.x-dept.gov.uk", 25), lab.settings())
    assert scan.error is not None and scan.error.kind is ErrorKind.MALFORMED


def test_duplicates_are_scanned_once_and_ip_literal_hosts_work(lab: Lab) -> None:
    server = lab.fleet[hostname("no-starttls")]
    server.reset_stats()
    request = lab.request("no-starttls")
    results = scan_addresses([request, request], lab.settings())
    assert list(results) == [(request.host, request.address)]
    assert server.wait_idle() and server.connections == 1
    literal = ScanRequest(request.address, request.address, request.port)
    scan = scan_address(literal, lab.settings())
    assert scan.host == request.address and scan.smtp is not None
    assert scan_addresses([], lab.settings()) == {}


def test_settings_defaults() -> None:
    settings = TlsScanSettings()
    assert settings.timeout == 10.0 and settings.connections_per_address == 2
    assert settings.allow_private is False and settings.ca_file is None
    assert "." in settings.ehlo_name and settings.ehlo_name == default_ehlo_name()
    assert settings.profile_name == "ncsc-2026.1"


def test_profile_is_stamped(lab: Lab) -> None:
    scan = scan_address(lab.request("no-starttls"), lab.settings(profile_name="custom@1"))
    assert scan.profile == "custom@1"


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_address(lab: Lab) -> None:
    with LabSmtpServer(COMPLIANT, hostname="mx.v6-dept.gov.uk", pki=lab.pki, host="::1") as server:
        request = ScanRequest("mx.v6-dept.gov.uk", "::1", server.address[1])
        scan = scan_address(request, lab.settings())
    assert scan.error is None and scan.address == "::1"
    assert suites(scan, TlsVersion.TLS_1_2) == COMPLIANT12
    assert {t.store: t.verified for t in scan.trust} == {MOZILLA: False, CA_FILE: True}


def test_anonymous_and_null_suites_are_found_not_crashed_on() -> None:
    """An anonymous suite presents no certificate; the scan still lists it (for TLS-06)."""
    insecure = SmtpProfile(
        "insecure",
        maximum_version=ssl.TLSVersion.TLSv1_2,
        ciphers=(
            "ECDHE-RSA-AES256-GCM-SHA384",
            "AECDH-AES128-SHA",
            "ECDHE-RSA-NULL-SHA",
            "@SECLEVEL=0",
        ),
    )
    with LabSmtpServer(
        insecure, hostname="mx.anon.example", pki=LabPki(), host="127.0.6.99"
    ) as server:
        scan = scan_address(
            ScanRequest("mx.anon.example", "127.0.6.99", server.address[1]),
            TlsScanSettings(timeout=2, allow_private=True),
        )
    assert scan.error is None
    tls12 = scan.version(TlsVersion.TLS_1_2)
    assert tls12 is not None and tls12.accepted
    assert "TLS_ECDH_anon_WITH_AES_128_CBC_SHA" in tls12.cipher_suites
    assert "TLS_ECDHE_RSA_WITH_NULL_SHA" in tls12.cipher_suites
    assert scan.chain_pem  # the preferred (certificate) suite's chain is still recorded


# --------------------------------------------------------------------------- issue 19: trust


def private_ca_scan(
    leaf: LeafCert, ca: PrivateCa, tmp_path: Path, host: str, address: str
) -> TlsScan:
    """Serve ``leaf`` alone (as Postfix serves a private CA's leaf) and scan it with a CA file
    that holds ``ca``."""
    ca_file = tmp_path / "private-ca.pem"
    ca_file.write_text(ca.pem, encoding="ascii")
    context = server_context(leaf, include_intermediate=False)
    with LabSmtpServer(COMPLIANT, hostname=host, context=context, host=address) as server:
        request = ScanRequest(host, address, server.address[1])
        return scan_address(
            request, TlsScanSettings(timeout=TIMEOUT, allow_private=True, ca_file=ca_file)
        )


def cert_verdicts(scan: TlsScan) -> dict[str, Verdict]:
    subject = Subject(
        Target("private-ca-dept.gov.uk"), DnsSnapshot(()), host=scan.host, tls={scan.host: (scan,)}
    )
    return {
        "CERT-01": cert.chain_trusted(subject),
        "CERT-03": cert.within_validity(subject),
        "CERT-07": cert.chain_complete_in_order(subject),
    }


def test_expired_leaf_of_a_ca_in_the_ca_file_is_expired_not_unanchored(tmp_path: Path) -> None:
    # The CA was made after its leaf expired (a test CA made today, a leaf dated in the past):
    # no instant when both were valid. The chain is one certificate, in order, issued by a trust
    # anchor of the CA file: CERT-07 passes, CERT-03 says expired, and CERT-01's headline names
    # the dates, not "not a trusted root".
    host = "mx.expired-private-dept.gov.uk"
    ca = PrivateCa(valid_from_days=-1.0)
    leaf = ca.issue([host], valid_from_days=-100.0, valid_until_days=-10.0)
    scan = private_ca_scan(leaf, ca, tmp_path, host, "127.0.5.20")
    assert scan.error is None
    ca_check = next(t for t in scan.trust if t.store == CA_FILE)
    assert ca_check.verified is False and ca_check.anchored_by == "pytest-govmail lab private CA"
    assert "outside its validity at " in ca_check.detail
    assert "pytest-govmail lab private CA (valid " in ca_check.detail
    assert from_json(json.loads(json.dumps(to_json(scan)))) == scan  # anchored_by kept
    got = cert_verdicts(scan)
    assert got["CERT-07"].status is Status.PASS, got["CERT-07"].summary
    assert "a trust anchor of the CA file" in got["CERT-07"].summary
    assert [f.code for f in got["CERT-03"].findings] == ["cert.validity.expired"]
    assert [f.code for f in got["CERT-01"].findings] == ["cert.chain.dates"]
    observed = got["CERT-01"].findings[0].observed
    assert "outside its validity period when checked" in observed
    assert "pytest-govmail lab private CA (valid " in observed and "CERT-03" in observed
    assert "not a trusted root" not in observed


def test_an_expired_ca_certificate_still_fails_trust(tmp_path: Path) -> None:
    # The leaf is valid, its CA expired yesterday: the CA's dates are trust's (CERT-01), not
    # CERT-03's, and the path is validated now.
    host = "mx.expired-ca-dept.gov.uk"
    ca = PrivateCa(valid_from_days=-400.0, valid_until_days=-1.0)
    leaf = ca.issue([host], valid_from_days=-100.0, valid_until_days=60.0)
    scan = private_ca_scan(leaf, ca, tmp_path, host, "127.0.5.24")
    got = cert_verdicts(scan)
    assert got["CERT-03"].status is Status.PASS
    assert [f.code for f in got["CERT-01"].findings] == ["cert.chain.dates"]
    assert "pytest-govmail lab private CA (valid " in got["CERT-01"].findings[0].observed
    assert got["CERT-07"].status is Status.PASS  # in order, issued by an anchor


def test_expired_leaf_of_an_older_ca_is_judged_by_dates_alone(tmp_path: Path) -> None:
    host = "mx.expired-older-ca-dept.gov.uk"
    ca = PrivateCa(valid_from_days=-400.0)
    leaf = ca.issue([host], valid_from_days=-100.0, valid_until_days=-10.0)
    scan = private_ca_scan(leaf, ca, tmp_path, host, "127.0.5.21")
    ca_check = next(t for t in scan.trust if t.store == CA_FILE)
    assert ca_check.verified is True and "expired, see CERT-03" in ca_check.detail
    got = cert_verdicts(scan)
    assert (got["CERT-01"].status, got["CERT-07"].status) == (Status.PASS, Status.PASS)
    assert got["CERT-03"].status is Status.FAIL


def test_private_ca_leaf_without_aki_anchored_in_the_ca_file_is_trusted(tmp_path: Path) -> None:
    # RFC 5280 4.2.1.1 asks CAs for the Authority Key Identifier, but path validation (6.1)
    # does not check it, nor does OpenSSL in the sending MTAs: not a trust failure.
    host = "mx.private-no-aki-dept.gov.uk"
    ca = PrivateCa()
    leaf = ca.issue([host])
    assert not any(e.oid.dotted_string == "2.5.29.35" for e in leaf.cert.extensions)
    scan = private_ca_scan(leaf, ca, tmp_path, host, "127.0.5.22")
    assert {t.store: t.verified for t in scan.trust} == {MOZILLA: False, CA_FILE: True}
    got = cert_verdicts(scan)
    assert got["CERT-01"].status is Status.PASS and "CA file" in got["CERT-01"].summary
    assert (got["CERT-03"].status, got["CERT-07"].status) == (Status.PASS, Status.PASS)


# --------------------------------------------------------------------------- issue 19: suites


#: Postfix's default cipher list lets these through (OpenSSL names; IANA codes 0x00BF, 0x00C5).
ANON_CAMELLIA = ("ADH-CAMELLIA128-SHA256", "ADH-CAMELLIA256-SHA256")
ANON_CAMELLIA_IANA = {
    "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
    "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
}


def scan_profile(profile: SmtpProfile, address: str) -> TlsScan:
    host = f"mx.{profile.name}-dept.gov.uk"
    with LabSmtpServer(profile, hostname=host, pki=LabPki(), host=address) as server:
        return scan_address(
            ScanRequest(host, address, server.address[1]),
            TlsScanSettings(timeout=TIMEOUT, allow_private=True),
        )


def host_verdict_of(judge: Any, scan: TlsScan) -> Verdict:
    subject = Subject(
        Target("suites-dept.gov.uk"), DnsSnapshot(()), host=scan.host, tls={scan.host: (scan,)}
    )
    return judge(subject)  # type: ignore[no-any-return]


def test_the_probe_offers_anonymous_suites_in_its_client_hello() -> None:
    # OpenSSL 1.1.1 at security level 1 leaves them out of the ClientHello though its cipher
    # list names them; the probe's modern client runs at level 0 and really offers them.
    codes = offered_codes(TlsVersion.TLS_1_2, False, ANON_CAMELLIA)
    assert codes == [0x00BF, 0x00C5]
    assert offered_codes(TlsVersion.TLS_1_2, False, ["NO-SUCH-SUITE"]) is None


def test_every_suite_of_every_pool_can_be_offered() -> None:
    from pytest_govmail.collect.suites import _suites

    assert _suites().unofferable == {TlsVersion.TLS_1_2: (), TlsVersion.TLS_1_3: ()}


def test_a_server_accepting_only_anonymous_dh_fails_tls06() -> None:
    only_anon = SmtpProfile(
        "anon-only",
        maximum_version=ssl.TLSVersion.TLSv1_2,
        ciphers=(*ANON_CAMELLIA, "@SECLEVEL=0"),
        dh_bits=2048,
    )
    scan = scan_profile(only_anon, "127.0.5.30")
    tls12 = scan.version(TlsVersion.TLS_1_2)
    assert tls12 is not None and tls12.accepted is True and tls12.suites_complete is True
    assert set(tls12.cipher_suites) == ANON_CAMELLIA_IANA
    assert scan.chain_pem == ()  # anonymous: no certificate
    verdict = host_verdict_of(tls.no_insecure_suites, scan)
    assert verdict.status is Status.FAIL
    assert "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256" in verdict.findings[0].observed


def test_anonymous_camellia_beside_good_suites_is_shown() -> None:
    postfix_like = SmtpProfile(
        "anon-beside-good",
        ciphers=(*COMPLIANT_SUITES, *ANON_CAMELLIA, "@SECLEVEL=0"),
        dh_bits=2048,
    )
    scan = scan_profile(postfix_like, "127.0.5.31")
    tls12 = scan.version(TlsVersion.TLS_1_2)
    assert tls12 is not None and tls12.suites_complete is True
    assert set(tls12.cipher_suites) == COMPLIANT12 | ANON_CAMELLIA_IANA
    assert host_verdict_of(tls.no_insecure_suites, scan).status is Status.FAIL


# --------------------------------------------------------------------------- issue 19: TLS-09


def test_1024_bit_dhe_as_the_second_choice_fails_tls09() -> None:
    # The server prefers ECDHE (the negotiated key exchange is strong) and also accepts
    # DHE-RSA on RFC 2409's 1024-bit group: every accepted suite's key exchange is recorded.
    second_choice = SmtpProfile(
        "dhe-1024-second",
        maximum_version=ssl.TLSVersion.TLSv1_2,
        ciphers=("ECDHE-RSA-AES256-GCM-SHA384", "DHE-RSA-AES128-GCM-SHA256", "@SECLEVEL=0"),
        dh_bits=1024,
    )
    scan = scan_profile(second_choice, "127.0.5.32")
    assert scan.key_exchange is not None and scan.key_exchange.kind == "ECDHE"
    tls12 = scan.version(TlsVersion.TLS_1_2)
    assert tls12 is not None
    by_suite = {k.suite: k for k in tls12.key_exchanges}
    assert set(by_suite) == set(tls12.cipher_suites)
    assert by_suite["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"] == KeyExchange(
        "DHE", bits=1024, suite="TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"
    )
    assert from_json(json.loads(json.dumps(to_json(scan)))) == scan
    verdict = host_verdict_of(tls.key_exchange_strong, scan)
    assert verdict.status is Status.FAIL
    assert [f.code for f in verdict.findings] == ["tls.kex.dhe_small"]
    assert "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256" in verdict.findings[0].observed


def test_anonymous_dh_is_recorded_as_anonymous_whatever_its_size() -> None:
    only_anon = SmtpProfile(
        "anon-kex",
        maximum_version=ssl.TLSVersion.TLSv1_2,
        ciphers=("ADH-AES128-GCM-SHA256", "@SECLEVEL=0"),
        dh_bits=2048,
    )
    scan = scan_profile(only_anon, "127.0.5.33")
    assert scan.key_exchange == KeyExchange("DH_anon", bits=2048)
    verdict = host_verdict_of(tls.key_exchange_strong, scan)
    assert [f.code for f in verdict.findings] == ["tls.kex.anonymous"]


def test_self_signed_leaf_without_aki_is_worded_for_people(tmp_path: Path) -> None:
    # A self-signed "snakeoil" certificate without an Authority Key Identifier: untrusted
    # because nothing anchors it, said in words; anchored in the CA file, it is trusted (the
    # key identifiers are not part of trust).
    host = "mx.snakeoil-dept.gov.uk"
    pki = LabPki()
    leaf = pki.issue_leaf([host], self_signed=True, authority_key_identifier=False)
    context = server_context(leaf, include_intermediate=False)
    pinned = tmp_path / "pinned.pem"
    pinned.write_text(leaf.cert_pem, encoding="ascii")
    with LabSmtpServer(COMPLIANT, hostname=host, context=context, host="127.0.5.23") as server:
        request = ScanRequest(host, "127.0.5.23", server.address[1])
        alone = scan_address(request, TlsScanSettings(timeout=TIMEOUT, allow_private=True))
        anchored = scan_address(
            request, TlsScanSettings(timeout=TIMEOUT, allow_private=True, ca_file=pinned)
        )
    verdict = cert_verdicts(alone)["CERT-01"]
    assert [f.code for f in verdict.findings] == ["cert.chain.self_signed"]
    text = verdict.summary + " ".join(v for _, v in verdict.details)
    assert "2.5.29.35" not in text and "missing required extension" not in text
    assert "no chain from it leads to a trusted root" in verdict.findings[0].observed
    assert cert_verdicts(anchored)["CERT-01"].status is Status.PASS
