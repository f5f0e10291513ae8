"""The lab's mail services beside its DNS: MX servers, MTA-STS policy hosts, DKIM keys and mail.

Everything here runs on loopback under a certificate authority made for the run
(:class:`~pytest_govmail.lab.pki.LabPki`), so the demo and the tests exercise the real
collectors end to end: each sample MX host on its own 127.0.x.y address with the behaviour its
department's story needs, one HTTPS server for every ``mta-sts.<department>`` name, DKIM keys
published in the zones, and sample messages signed with them.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import hashlib
import shutil
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pytest_govmail.lab.https_server import LabHttpsServer, Site
from pytest_govmail.lab.pki import KeySpec, LabPki, SignatureHash, server_context
from pytest_govmail.lab.smtp_server import (
    BANNER_554,
    COMPLIANT,
    EXPIRED_CERT,
    LEGACY_TLS,
    MISSING_INTERMEDIATE,
    NO_STARTTLS,
    SELF_SIGNED,
    SILENT,
    THROTTLED,
    WEAK_SUITES,
    WRONG_HOSTNAME,
    LabMx,
    LabSmtpFleet,
    LeafSpec,
    SmtpProfile,
)

#: Where every ``mta-sts.<department>`` name points: the lab's one HTTPS server.
POLICY_ADDRESS = "127.0.1.12"

#: A server from another decade: TLS 1.2 at most, preferring static-RSA CBC-SHA1, client
#: renegotiation allowed, a 1024-bit key and a SHA-1 signature on its certificate.
MUSEUM = SmtpProfile(
    "museum",
    "TLS 1.2 at most, static RSA preferred, client renegotiation, RSA-1024, SHA-1 signature",
    maximum_version=ssl.TLSVersion.TLSv1_2,
    ciphers=("AES128-SHA", "ECDHE-RSA-AES128-GCM-SHA256"),
    leaf=LeafSpec(key=KeySpec.RSA_1024, signature_hash=SignatureHash.SHA1),
    allow_client_renegotiation=True,
)
#: A server stuck before TLS 1.2: it negotiates TLS 1.1 at best.
ANCIENT = SmtpProfile(
    "ancient",
    "TLS 1.0 and 1.1 only",
    minimum_version=ssl.TLSVersion.TLSv1,
    maximum_version=ssl.TLSVersion.TLSv1_1,
    ciphers=("ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA"),
)
#: A server that also accepts the insecure families: anonymous and NULL-encryption suites.
INSECURE = SmtpProfile(
    "insecure",
    "also accepts anonymous (aNULL) and NULL-encryption suites",
    maximum_version=ssl.TLSVersion.TLSv1_2,
    ciphers=(
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AECDH-AES128-SHA",
        "ECDHE-RSA-NULL-SHA",
        "@SECLEVEL=0",
    ),
)

#: Departments whose only fault is their mail server's TLS (issue 3's list). Each has its own
#: MX host ``mx.<domain>`` at the address given, with the profile given, and otherwise
#: publishes what the policy asks (SPF, DMARC, TLS-RPT, MTA-STS), so its failures are the
#: server's alone.
TLS_DEPARTMENTS: tuple[tuple[str, str, SmtpProfile], ...] = (
    ("legacy-tls-dept.gov.uk", "127.0.4.11", LEGACY_TLS),
    ("weak-cipher-dept.gov.uk", "127.0.4.12", WEAK_SUITES),
    ("expired-cert-dept.gov.uk", "127.0.4.13", EXPIRED_CERT),
    ("wrong-name-dept.gov.uk", "127.0.4.14", WRONG_HOSTNAME),
    ("self-signed-dept.gov.uk", "127.0.4.15", SELF_SIGNED),
    ("no-intermediate-dept.gov.uk", "127.0.4.16", MISSING_INTERMEDIATE),
    ("plaintext-dept.gov.uk", "127.0.4.17", NO_STARTTLS),
    ("rejecting-dept.gov.uk", "127.0.4.18", BANNER_554),
    ("silent-mx-dept.gov.uk", "127.0.4.19", SILENT),
    ("throttled-dept.gov.uk", "127.0.4.20", THROTTLED),
    ("museum-dept.gov.uk", "127.0.4.23", MUSEUM),
    ("insecure-cipher-dept.gov.uk", "127.0.4.24", INSECURE),
    ("ancient-tls-dept.gov.uk", "127.0.4.25", ANCIENT),
)

#: The MX hosts of the zone files, with the behaviour of each.
ZONE_MX: tuple[LabMx, ...] = (
    LabMx("mail1.exemplary-dept.gov.uk", "127.0.1.10", COMPLIANT),
    LabMx("mail2.exemplary-dept.gov.uk", "127.0.1.11", COMPLIANT),
    LabMx("mx.sharedmail.example", "127.0.2.10", COMPLIANT),
    LabMx("relay.aliased-mx-dept.gov.uk", "127.0.3.21", COMPLIANT),
)

SOA = (
    "@ 3600 IN SOA ns1.lab-dns.example. hostmaster.lab-dns.example. 2026112901 3600 600 "
    "604800 300\n@ 3600 IN NS ns1.lab-dns.example.\n"
)


def tls_department_zone(domain: str, address: str) -> str:
    return (
        f"; {domain}: everything published right; its MX server is the story.\n"
        f"$ORIGIN {domain}.\n{SOA}"
        f"@ 3600 IN MX 10 mx.{domain}.\n"
        f"mx 3600 IN A {address}\n"
        '@ 3600 IN TXT "v=spf1 include:spf.sharedmail.example -all"\n'
        # Reports go to the department's own mailboxes: NCSC Mail Check, where they went
        # before, was retired on 31 March 2026 (DMARC-09, TLSRPT-03).
        f'_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@{domain}"\n'
        f'_smtp._tls 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{domain}"\n'
        '_mta-sts 3600 IN TXT "v=STSv1; id=20261129;"\n'
        f"mta-sts 3600 IN A {POLICY_ADDRESS}\n"
    )


#: Policy hosts whose certificate expires within CERT-04's 30-day window (MTASTS-09), in days.
POLICY_CERT_DAYS_LEFT: Mapping[str, int] = {"mta-sts.expired-cert-dept.gov.uk": 20}


def mta_sts_sites() -> dict[str, Site]:
    """What each department's policy host serves: good policies and issue 4's faults."""
    enforce = Site.policy
    sites = {
        "exemplary-dept.gov.uk": enforce(
            "enforce", ["mail1.exemplary-dept.gov.uk", "mail2.exemplary-dept.gov.uk"]
        ),
        "monitoring-dept.gov.uk": enforce("testing", ["mx.sharedmail.example"], 86400),
        "sprawling-spf-dept.gov.uk": enforce("enforce", ["mail.sprawling-spf-dept.gov.uk"]),
        "aliased-mx-dept.gov.uk": Site.not_found(),
        "broken-dns-dept.gov.uk": Site.redirect("https://www.broken-dns-dept.gov.uk/mta-sts.txt"),
        "hostile-dept.gov.uk": Site.text(
            "version: STSv1\nmode: <script>alert('mta-sts')</script>\nmax_age: 86400\n"
        ),
        "weak-cipher-dept.gov.uk": enforce(
            "enforce", ["mx.weak-cipher-dept.gov.uk"], body_size=70_000
        ),
        "wrong-name-dept.gov.uk": enforce(
            "enforce", ["mx.wrong-name-dept.gov.uk"], cert_name="www.wrong-name-dept.gov.uk"
        ),
        "self-signed-dept.gov.uk": enforce(
            "enforce", ["mx.self-signed-dept.gov.uk"], content_type="text/html"
        ),
        "no-intermediate-dept.gov.uk": enforce(
            "enforce", ["mx.no-intermediate-dept.gov.uk"], max_age=3600
        ),
        # Certificates left to lapse: the policy covers the MX by a valid "*." pattern (RFC 8461
        # section 3.2; MTASTS-08, advisory) on a host whose own certificate is about to expire
        # (POLICY_CERT_DAYS_LEFT; MTASTS-09).
        "expired-cert-dept.gov.uk": enforce("enforce", ["*.expired-cert-dept.gov.uk"]),
    }
    for domain, _address, _profile in TLS_DEPARTMENTS:
        sites.setdefault(domain, enforce("enforce", [f"mx.{domain}"]))
    return {f"mta-sts.{domain}": site for domain, site in sites.items()}


#: A 768-bit RSA public key (SubjectPublicKeyInfo, base64), under RFC 8301's 1024-bit floor:
#: cryptography will not generate one, so it was made once with ``openssl genrsa 768``.
RSA_768_PUBLIC = (
    "MHwwDQYJKoZIhvcNAQEBBQADawAwaAJhAMCnRHg7MjBx82FhmpqWAIoKAprDKjKxHIiSfq4l6khDbofV61qWmn3C"
    "nlNbA3ASUGzC+eET6lQaxLMudlRJKSddKVzTf2GS48FJ8M11qWcnoM9IUcpqjmQR7oUQe9XhbQIDAQAB"
)


@dataclass
class DkimMaterial:
    """Keys to publish (zone additions) and sample messages signed with them (files)."""

    records: dict[str, list[str]] = field(default_factory=dict)  # zone origin -> lines
    messages: list[Path] = field(default_factory=list)


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _key_record(key: rsa.RSAPrivateKey, tags: str = "") -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = f"v=DKIM1; k=rsa; {tags}p={base64.b64encode(public).decode('ascii')}"
    return " ".join(f'"{text[i : i + 250]}"' for i in range(0, len(text), 250))


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _message(sender: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: assessor@example.gov.uk\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Message-ID: <{abs(hash(subject))}@lab.example>\r\n\r\n"
        "A sample message for the pytest-govmail demo lab.\r\n"
    ).encode()


def _sign(message: bytes, selector: str, domain: str, key: rsa.RSAPrivateKey) -> bytes:
    """The message with a DKIM-Signature header (dkimpy returns the header alone)."""
    header = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        _pem(key),
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    return bytes(header) + message


def make_dkim_material(folder: Path) -> DkimMaterial:
    """Keys for the stories of DKIM-01..07, and two sample messages.

    exemplary: a 2048-bit key at its declared selector, and a message it signed (DKIM-07 pass).
    monitoring: a 1024-bit key at a common selector (DKIM-04 fails), and a message signed only
    by its mail provider's domain (DKIM-07 fails: not aligned). sprawling: a key limited to
    SHA-1 and in test mode (DKIM-05 and DKIM-06 fail). hostile: a key record that is markup.
    The TLS departments share one good key at ``selector1``.
    """
    material = DkimMaterial()
    good, weak, provider = _rsa(2048), _rsa(1024), _rsa(2048)
    material.records["exemplary-dept.gov.uk"] = [
        f"s2026._domainkey 3600 IN TXT {_key_record(good)}"
    ]
    material.records["monitoring-dept.gov.uk"] = [
        f"selector1._domainkey 3600 IN TXT {_key_record(weak)}"
    ]
    material.records["sprawling-spf-dept.gov.uk"] = [
        f"google._domainkey 3600 IN TXT {_key_record(good, 'h=sha1; t=y; ')}"
    ]
    material.records["sprawling-spf-dept.gov.uk"].append(
        f'k1._domainkey 3600 IN TXT "v=DKIM1; k=rsa; p={RSA_768_PUBLIC}"'
    )
    material.records["hostile-dept.gov.uk"] = [
        "default._domainkey 3600 IN TXT \"v=DKIM1; k=rsa; p=<script>alert('dkim')</script>\""
    ]
    material.records["sharedmail.example"] = [f"k1._domainkey 3600 IN TXT {_key_record(provider)}"]
    for domain, _address, _profile in TLS_DEPARTMENTS:
        material.records[domain] = [f"selector1._domainkey 3600 IN TXT {_key_record(good)}"]
    exemplary = _message("Press Office <press@exemplary-dept.gov.uk>", "exemplary")
    exemplary = _sign(exemplary, "s2026", "exemplary-dept.gov.uk", good)
    # Signed only by the provider's domain: verifies, but does not align with From.
    monitoring = _message("News <news@monitoring-dept.gov.uk>", "monitoring")
    monitoring = _sign(monitoring, "k1", "sharedmail.example", provider)
    for name, raw in (("exemplary.eml", exemplary), ("monitoring.eml", monitoring)):
        path = folder / name
        path.write_bytes(raw)
        material.messages.append(path)
    return material


@dataclass
class MailServices:
    """The running SMTP fleet and policy host, with the CA file a checker needs to trust them."""

    pki: LabPki
    fleet: LabSmtpFleet
    https: LabHttpsServer
    folder: Path
    ca_file: Path
    dkim: DkimMaterial

    @property
    def smtp_port(self) -> int:
        return self.fleet.port

    @property
    def https_port(self) -> int:
        return self.https.address[1]

    def stop(self) -> None:
        self.fleet.stop()
        self.https.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_mail_services() -> MailServices:
    """Start every MX server and the policy host; the caller publishes :func:`zone_additions`."""
    folder = Path(tempfile.mkdtemp(prefix="govmail-lab-"))
    pki = LabPki("pytest-govmail demo lab")
    ca_file = pki.write_ca_file(folder / "lab-ca.pem")
    hosts = list(ZONE_MX) + [
        LabMx(f"mx.{domain}", address, profile) for domain, address, profile in TLS_DEPARTMENTS
    ]
    fleet = LabSmtpFleet(hosts, pki=pki, idle_timeout=5.0).start()

    def certificate(name: str) -> ssl.SSLContext:
        days = POLICY_CERT_DAYS_LEFT.get(name)
        if days is None:
            return server_context(pki.issue_leaf([name]))
        now = datetime.datetime.now(datetime.UTC)
        return server_context(pki.issue_leaf([name], not_after=now + datetime.timedelta(days=days)))

    https = LabHttpsServer(mta_sts_sites(), certificate, host=POLICY_ADDRESS).start()
    return MailServices(pki, fleet, https, folder, ca_file, make_dkim_material(folder))


def zone_additions(services: MailServices) -> Mapping[str, str]:
    """Zones of the TLS departments, and DKIM keys to append to existing zones."""
    extra = {d: tls_department_zone(d, a) for d, a, _ in TLS_DEPARTMENTS}
    # Reverse DNS for the TLS departments' MX addresses (127.0.4.N), so PTR-01 passes there.
    extra["127.in-addr.arpa"] = "".join(
        f"{a.split('.')[3]}.4.0 3600 IN PTR mx.{d}.\n" for d, a, _ in TLS_DEPARTMENTS
    )
    # DANE: TLSA 3 1 1 (the leaf's public key) for the exemplary MX hosts, and a record for
    # another key at wrong-name-dept's MX, so DANE-01 passes and fails where the story says.
    spki = (
        services.pki.key_for(KeySpec.RSA_2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    good = hashlib.sha256(spki).hexdigest()
    wrong = hashlib.sha256(b"not this server's key").hexdigest()
    extra["exemplary-dept.gov.uk"] = "".join(
        f"_25._tcp.{h} 3600 IN TLSA 3 1 1 {good}\n" for h in ("mail1", "mail2")
    )
    extra["wrong-name-dept.gov.uk"] += f"_25._tcp.mx 3600 IN TLSA 3 1 1 {wrong}\n"
    for origin, lines in services.dkim.records.items():
        extra[origin] = extra.get(origin, "") + "".join(f"{line}\n" for line in lines)
    return extra
