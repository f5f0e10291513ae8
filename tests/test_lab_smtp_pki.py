"""The lab's PKI and SMTP servers, exercised with Python's own ssl and smtplib clients.

The collector's tests, the demo and the TLS benchmark trust these servers to behave exactly as
their profiles say (versions, suites, certificates, SMTP failures), and to let TLS alerts reach
the client, so that is tested here with clients that are not the project's own.
"""

from __future__ import annotations

import dataclasses
import datetime
import smtplib
import socket
import ssl
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from sslyze.connection_helpers.opportunistic_tls_helpers import (
    ProtocolWithOpportunisticTlsEnum,
    get_opportunistic_tls_helper,
)

from pytest_govmail.lab.pki import KeySpec, LabPki, SignatureHash
from pytest_govmail.lab.smtp_server import (
    BANNER_554,
    COMPLIANT,
    EXPIRED_CERT,
    LAB_ADDRESSES,
    LEGACY_TLS,
    MAX_LINE,
    MISSING_INTERMEDIATE,
    NO_STARTTLS,
    PROFILES,
    SELF_SIGNED,
    SILENT,
    STARTTLS_454,
    THROTTLED,
    WEAK_SUITES,
    WRONG_HOSTNAME,
    LabMx,
    LabSmtpFleet,
    LabSmtpServer,
    LeafSpec,
    SmtpProfile,
)

HOST = "mx.example-dept.gov.uk"
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def pki() -> LabPki:
    return LabPki()


@pytest.fixture(scope="module")
def servers(pki: LabPki) -> Iterator[dict[str, LabSmtpServer]]:
    """One server per profile, each on its own loopback address (and a free port)."""
    started: dict[str, LabSmtpServer] = {}
    try:
        for name, profile in PROFILES.items():
            started[name] = LabSmtpServer(
                profile, hostname=HOST, pki=pki, host=LAB_ADDRESSES[name], idle_timeout=3.0
            ).start()
        yield started
    finally:
        for server in started.values():
            server.stop()


# --------------------------------------------------------------------------- helpers


class Plain:
    """A minimal SMTP client on a raw socket, to see exactly what the server sends."""

    def __init__(self, server: LabSmtpServer) -> None:
        self.sock = socket.create_connection(server.address, timeout=TIMEOUT)
        self.buffer = b""

    def reply(self) -> tuple[int, list[str]]:
        lines: list[str] = []
        while True:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(4096)
                if not chunk:
                    raise EOFError(f"closed after {lines}")
                self.buffer += chunk
            raw, _, self.buffer = self.buffer.partition(b"\n")
            line = raw.decode().rstrip("\r")
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), lines

    def command(self, text: str) -> tuple[int, list[str]]:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.reply()

    def starttls(self) -> socket.socket:
        assert self.reply()[0] == 220
        assert self.command("EHLO client.example")[0] == 250
        code, lines = self.command("STARTTLS")
        assert code == 220, lines
        return self.sock

    def close(self) -> None:
        self.sock.close()


def client_context(
    pki: LabPki,
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3,
    ciphers: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(cadata=pki.ca_pem)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        ctx.minimum_version = minimum
        ctx.maximum_version = maximum
    if ciphers is not None or minimum < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers(f"{ciphers or 'DEFAULT'}:@SECLEVEL=0")
    return ctx


def cipher_name(tls: ssl.SSLSocket) -> str:
    cipher = tls.cipher()
    assert cipher is not None
    return cipher[0]


def tls_session(server: LabSmtpServer, ctx: ssl.SSLContext, name: str = HOST) -> ssl.SSLSocket:
    client = Plain(server)
    sock = client.starttls()
    return ctx.wrap_socket(sock, server_hostname=name)


def verify(pki: LabPki, cert: x509.Certificate, chain: list[x509.Certificate], name: str) -> int:
    verifier = (
        PolicyBuilder().store(Store([pki.root_cert])).build_server_verifier(x509.DNSName(name))
    )
    return len(verifier.verify(cert, chain))


# --------------------------------------------------------------------------- PKI


def test_leaf_validates_with_the_x509_verifier_sslyze_uses(pki: LabPki) -> None:
    leaf = pki.issue_leaf([HOST, "mx2.example-dept.gov.uk"])
    assert verify(pki, leaf.cert, list(leaf.intermediates), "mx2.example-dept.gov.uk") == 3
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    assert san.value.get_values_for_type(x509.DNSName) == [HOST, "mx2.example-dept.gov.uk"]
    assert leaf.cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == HOST
    assert leaf.cert.issuer == pki.intermediate_cert.subject
    assert pki.intermediate_cert.issuer == pki.root_cert.subject
    assert not leaf.self_signed


def test_intermediate_is_needed_and_root_is_the_anchor(pki: LabPki) -> None:
    leaf = pki.issue_leaf([HOST])
    with pytest.raises(VerificationError):
        verify(pki, leaf.cert, [], HOST)
    assert leaf.chain_pem().count("BEGIN CERTIFICATE") == 2
    assert leaf.chain_pem(include_intermediate=False).count("BEGIN CERTIFICATE") == 1
    assert pki.ca_pem.count("BEGIN CERTIFICATE") == 1


def test_validity_window_makes_expired_and_not_yet_valid(pki: LabPki) -> None:
    now = datetime.datetime.now(datetime.UTC)
    expired = pki.issue_leaf(
        [HOST], not_before=now - datetime.timedelta(days=30), not_after=now - datetime.timedelta(1)
    )
    future = pki.issue_leaf([HOST], not_before=now + datetime.timedelta(days=1))
    for leaf in (expired, future):
        with pytest.raises(VerificationError, match="not valid at validation time"):
            verify(pki, leaf.cert, list(leaf.intermediates), HOST)
    assert expired.cert.not_valid_after_utc < now < future.cert.not_valid_before_utc
    with pytest.raises(ValueError, match="later"):
        pki.issue_leaf([HOST], not_before=now, not_after=now)


@pytest.mark.parametrize(
    ("spec", "kind", "bits"),
    [
        (KeySpec.RSA_2048, rsa.RSAPublicKey, 2048),
        (KeySpec.RSA_1024, rsa.RSAPublicKey, 1024),
        (KeySpec.EC_P256, ec.EllipticCurvePublicKey, 256),
    ],
)
def test_key_types_and_sizes(pki: LabPki, spec: KeySpec, kind: type, bits: int) -> None:
    leaf = pki.issue_leaf([HOST], key=spec)
    key = leaf.cert.public_key()
    assert isinstance(key, kind)
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    assert key.key_size == bits
    assert pki.key_for(spec) is leaf.key  # keys are generated once per PKI


def test_sha1_signature_is_real(pki: LabPki) -> None:
    leaf = pki.issue_leaf([HOST], signature_hash=SignatureHash.SHA1)
    assert isinstance(leaf.cert.signature_hash_algorithm, hashes.SHA1)
    issuer_key = pki.intermediate_cert.public_key()
    assert isinstance(issuer_key, rsa.RSAPublicKey)
    issuer_key.verify(
        leaf.cert.signature, leaf.cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1()
    )
    # The X.509 verifier refuses SHA-1 certificates outright: CERT-06 evidence, CERT-01 fails.
    with pytest.raises(VerificationError, match="signature algorithm"):
        verify(pki, leaf.cert, list(leaf.intermediates), HOST)


def test_self_signed_leaf(pki: LabPki) -> None:
    leaf = pki.issue_leaf([HOST], self_signed=True)
    assert leaf.self_signed and leaf.cert.issuer == leaf.cert.subject
    assert leaf.chain_pem().count("BEGIN CERTIFICATE") == 1
    with pytest.raises(VerificationError):
        verify(pki, leaf.cert, [], HOST)


def test_ca_file_and_contexts(pki: LabPki, tmp_path: Path) -> None:
    path = pki.write_ca_file(tmp_path / "lab-ca.pem")
    assert x509.load_pem_x509_certificates(path.read_bytes()) == [pki.root_cert]
    for leaf in (
        pki.issue_leaf([HOST], key=KeySpec.RSA_1024),
        pki.issue_leaf([HOST], key=KeySpec.EC_P256),
        pki.issue_leaf([HOST], signature_hash=SignatureHash.SHA1),
    ):
        assert isinstance(pki.server_context(leaf), ssl.SSLContext)
    ctx = pki.server_context(pki.issue_leaf([HOST]), minimum_version=ssl.TLSVersion.TLSv1)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1
    assert ctx.options & ssl.OP_NO_RENEGOTIATION


# --------------------------------------------------------------------------- TLS behaviour


def test_compliant_server_tls13_and_tls12(pki: LabPki, servers: dict[str, LabSmtpServer]) -> None:
    server = servers["compliant"]
    with tls_session(server, client_context(pki)) as tls:
        assert tls.version() == "TLSv1.3"
        assert len(tls.getpeercert(binary_form=False) or {}) > 0
    ctx = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    with tls_session(server, ctx) as tls:
        assert tls.version() == "TLSv1.2"
        assert cipher_name(tls) == COMPLIANT.ciphers[0]  # the server's preference wins
    for suite in COMPLIANT.ciphers:
        ctx = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2, ciphers=suite)
        with tls_session(server, ctx) as tls:
            assert cipher_name(tls) == suite


def test_compliant_server_refuses_tls10_with_an_alert(
    pki: LabPki, servers: dict[str, LabSmtpServer]
) -> None:
    server = servers["compliant"]
    ctx = client_context(pki, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1, verify=False)
    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
        tls_session(server, ctx)
    ctx = client_context(pki, ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1, verify=False)
    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
        tls_session(server, ctx)


def test_compliant_server_refuses_weak_suites_with_an_alert(
    pki: LabPki, servers: dict[str, LabSmtpServer]
) -> None:
    ctx = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2, ciphers="AES128-SHA", verify=False)
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        tls_session(servers["compliant"], ctx)


def test_legacy_server_accepts_tls10_and_tls11(
    pki: LabPki, servers: dict[str, LabSmtpServer]
) -> None:
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = client_context(pki, version, version)
        with tls_session(servers["legacy-tls"], ctx) as tls:
            assert tls.version() == ("TLSv1" if version is ssl.TLSVersion.TLSv1 else "TLSv1.1")
            assert cipher_name(tls) == "ECDHE-RSA-AES256-SHA"
    assert LEGACY_TLS.minimum_version is ssl.TLSVersion.TLSv1


def test_weak_server_accepts_static_rsa_and_cbc_sha1(
    pki: LabPki, servers: dict[str, LabSmtpServer]
) -> None:
    for suite in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA"):
        ctx = client_context(pki, maximum=ssl.TLSVersion.TLSv1_2, ciphers=suite)
        with tls_session(servers["weak-suites"], ctx) as tls:
            assert cipher_name(tls) == suite
    assert "AES128-SHA" in WEAK_SUITES.ciphers


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (EXPIRED_CERT, "certificate has expired"),
        (WRONG_HOSTNAME, "Hostname mismatch"),
        (SELF_SIGNED, "self-signed certificate"),
        (MISSING_INTERMEDIATE, "unable to get local issuer certificate"),
    ],
)
def test_certificate_problems_are_what_a_verifying_client_sees(
    pki: LabPki, servers: dict[str, LabSmtpServer], profile: SmtpProfile, message: str
) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=message):
        tls_session(servers[profile.name], client_context(pki))
    # ...and the handshake itself completes for a client that does not verify.
    with tls_session(servers[profile.name], client_context(pki, verify=False)) as tls:
        assert tls.version() == "TLSv1.3"


def test_smtplib_starttls(pki: LabPki, servers: dict[str, LabSmtpServer]) -> None:
    address, port = servers["compliant"].address
    with smtplib.SMTP(address, port, local_hostname="client.example", timeout=TIMEOUT) as smtp:
        code, _ = smtp.ehlo()
        assert code == 250 and smtp.has_extn("starttls")
        ctx = client_context(pki)
        ctx.check_hostname = False  # smtplib sends the address as the name; the chain is checked
        smtp.starttls(context=ctx)
        code, _ = smtp.ehlo()
        assert code == 250 and not smtp.has_extn("starttls")
        assert smtp.noop()[0] == 250
        assert smtp.rset()[0] == 250
        assert smtp.docmd("MAIL", "FROM:<a@b.example>")[0] == 502
        assert smtp.docmd("STARTTLS")[0] == 503


def test_sslyze_starttls_helper_speaks_to_it(
    pki: LabPki, servers: dict[str, LabSmtpServer]
) -> None:
    helper = get_opportunistic_tls_helper(
        ProtocolWithOpportunisticTlsEnum.SMTP, None, "probe.example"
    )
    sock = socket.create_connection(servers["compliant"].address, timeout=TIMEOUT)
    helper.prepare_socket_for_tls_handshake(sock)
    with client_context(pki).wrap_socket(sock, server_hostname=HOST) as tls:
        assert tls.version() == "TLSv1.3"


# --------------------------------------------------------------------------- SMTP behaviour


def test_no_starttls(servers: dict[str, LabSmtpServer]) -> None:
    client = Plain(servers["no-starttls"])
    assert client.reply()[0] == 220
    code, lines = client.command("EHLO client.example")
    assert code == 250 and not any("STARTTLS" in line for line in lines)
    assert client.command("STARTTLS")[0] == 502
    assert client.command("QUIT")[0] == 221
    client.close()
    assert NO_STARTTLS.needs_tls is False


def test_banner_554(servers: dict[str, LabSmtpServer]) -> None:
    client = Plain(servers["banner-554"])
    code, lines = client.reply()
    assert code == 554 and HOST in lines[0]
    assert client.command("EHLO client.example")[0] == 503
    assert client.command("QUIT")[0] == 221
    client.close()
    assert BANNER_554.greeting.value == "554"


def test_silent_server_never_greets(servers: dict[str, LabSmtpServer]) -> None:
    server = servers["silent"]
    before = server.connections
    sock = socket.create_connection(server.address, timeout=0.3)
    with pytest.raises(TimeoutError):
        sock.recv(1)
    sock.close()
    assert server.connections == before + 1
    assert SILENT.needs_tls is False


def test_starttls_454(servers: dict[str, LabSmtpServer]) -> None:
    client = Plain(servers["starttls-454"])
    assert client.reply()[0] == 220
    code, lines = client.command("EHLO client.example")
    assert code == 250 and any(line.endswith("STARTTLS") for line in lines)
    code, lines = client.command("STARTTLS")
    assert code == 454 and "TLS not available" in lines[0]
    assert client.command("NOOP")[0] == 250  # still a plain session
    client.close()
    assert STARTTLS_454.needs_tls is False


def test_throttling_every_nth_connection(pki: LabPki) -> None:
    profile = dataclasses.replace(COMPLIANT, name="throttle-3", throttle_every=3)
    with LabSmtpServer(profile, hostname=HOST, pki=pki, host="127.0.4.200") as server:
        codes = []
        for _ in range(6):
            client = Plain(server)
            codes.append(client.reply()[0])
            client.close()
        assert codes == [220, 220, 421, 220, 220, 421]
    with LabSmtpServer(THROTTLED, hostname=HOST, host="127.0.4.201") as server:
        client = Plain(server)
        assert client.reply()[0] == 421
        client.close()


def test_unknown_commands_and_long_lines(servers: dict[str, LabSmtpServer]) -> None:
    client = Plain(servers["compliant"])
    assert client.reply()[0] == 220
    assert client.command("HELO client.example")[0] == 250
    assert client.command("VRFY postmaster")[0] == 502
    assert client.command("X" * (MAX_LINE + 10))[0] == 500
    with pytest.raises((EOFError, ConnectionResetError)):
        client.command("NOOP")
    client.close()


def test_plaintext_after_starttls_is_discarded(
    pki: LabPki, servers: dict[str, LabSmtpServer]
) -> None:
    client = Plain(servers["compliant"])
    assert client.reply()[0] == 220
    assert client.command("EHLO client.example")[0] == 250
    client.sock.sendall(b"STARTTLS\r\nRSET\r\n")  # an injected command rides along
    code, _ = client.reply()
    assert code == 220
    with client_context(pki).wrap_socket(client.sock, server_hostname=HOST) as tls:
        tls.sendall(b"NOOP\r\n")
        reply = tls.recv(1024)
        assert reply.startswith(b"250 ")
        tls.sendall(b"QUIT\r\n")
        assert tls.recv(1024).startswith(b"221")


def test_counters_and_connection_log(pki: LabPki) -> None:
    with LabSmtpServer(COMPLIANT, hostname=HOST, pki=pki, host="127.0.4.202") as server:
        with tls_session(server, client_context(pki)) as tls:
            tls.sendall(b"QUIT\r\n")
            tls.recv(1024)
        assert server.wait_idle()  # the server's thread may outlive the client's close a little
        ctx = client_context(pki, ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1, verify=False)
        with pytest.raises(ssl.SSLError):
            tls_session(server, ctx)
        assert server.wait_idle()
        assert server.connections == 2
        assert server.handshakes == 2
        assert server.handshakes_completed == 1
        assert server.peak_connections == 1
        first, second = server.connection_log
        assert first.greeting == 220 and first.commands == ("EHLO", "STARTTLS", "QUIT")
        assert first.tls_version == "TLSv1.3" and first.tls_error is None
        assert second.handshake_attempted and second.tls_version is None
        assert second.tls_error is not None and "PROTOCOL" in second.tls_error.upper()
        server.reset_stats()
        assert (server.connections, server.handshakes, server.connection_log) == (0, 0, [])


def test_needs_pki_for_tls_profiles() -> None:
    with pytest.raises(ValueError, match="pki"):
        LabSmtpServer(COMPLIANT, hostname=HOST)
    with pytest.raises(ValueError, match="port"):
        LabSmtpServer(SILENT, hostname=HOST, port=70000)


def test_stop_is_quick_with_open_connections(pki: LabPki) -> None:
    server = LabSmtpServer(SILENT, hostname=HOST, host="127.0.4.203", idle_timeout=30).start()
    socks = [socket.create_connection(server.address, timeout=TIMEOUT) for _ in range(3)]
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.5
    for sock in socks:
        sock.close()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.start()


def test_fleet_shares_one_port(pki: LabPki) -> None:
    hosts = [
        LabMx("mx1.fleet.example", "127.0.4.210", COMPLIANT),
        LabMx("mx2.fleet.example", "127.0.4.211", NO_STARTTLS),
        LabMx(
            "mx3.fleet.example",
            "127.0.4.212",
            dataclasses.replace(COMPLIANT, name="ec", leaf=LeafSpec(key=KeySpec.EC_P256)),
        ),
    ]
    with LabSmtpFleet(hosts, pki=pki) as fleet:
        assert {s.address for s in fleet} == {(mx.address, fleet.port) for mx in hosts}
        with tls_session(fleet["mx3.fleet.example"], client_context(pki), "mx3.fleet.example"):
            pass
