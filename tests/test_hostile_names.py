"""Names an assessed domain's owner controls, as they reach test IDs and every report.

A real DNS server on loopback (the lab's) publishes MX targets full of markup, terminal control
sequences and a bidirectional override. The plugin takes them as the MX hosts DNS gave, judges
them, and shows them inert: test IDs percent-encode what is not a host-name character, so that
neither the terminal, JUnit, ``--lf`` nor pytest-html (which writes test IDs into its page
unescaped) receives markup or control bytes from them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.plugin.assessment import id_part

DOMAIN = "evil-dept.gov.uk"
ZONE = (
    f"$ORIGIN {DOMAIN}.\n"
    "@ 300 IN SOA ns hostmaster 1 3600 600 604800 300\n"
    '@ 300 IN TXT "v=spf1 -all"\n'
    "@ 300 IN MX 10 <svg/onload=alert\\(1\\)>\n"  # markup, as a label of the domain
    "@ 300 IN MX 20 mx\\027[2J\\027]0;owned\\007\n"  # ESC sequences: clear screen, OSC title
    "@ 300 IN MX 30 a\\226\\128\\174b\n"  # U+202E, right-to-left override
    "@ 300 IN MX 40 c\\194\\155d\n"  # U+009B, the 8-bit CSI
)


@pytest.fixture(scope="module")
def server() -> Iterator[LabDnsServer]:
    with LabDnsServer({DOMAIN: ZONE}) as running:
        yield running


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("mx1.example.gov.uk", "mx1.example.gov.uk"),
        ("2001:db8::25", "2001:db8::25"),
        ("<svg/onload=alert(1)>.x.gov.uk", "%3Csvg%2Fonload%3Dalert%281%29%3E.x.gov.uk"),
        ("mx\x1b[2J.x", "mx%1B%5B2J.x"),
        ("a\u202eb.x", "a%E2%80%AEb.x"),
        ("c\x9bd.x", "c%C2%9Bd.x"),
        ("tab\tnew\nline", "tab%09new%0Aline"),
    ],
)
def test_id_part(name: str, shown: str) -> None:
    assert id_part(name) == shown


def test_hostile_mx_names_reach_no_output_raw(
    pytester: pytest.Pytester, server: LabDnsServer
) -> None:
    host, port = server.address
    result = pytester.runpytest(
        f"--govmail-nameserver={host}:{port}",
        f"--govmail-domain={DOMAIN}",
        "--govmail-timeout=1",
        "-m",
        "mx",  # the names resolve to nothing, so no SMTP connection is made
        "--html=pytest-html.html",
        "-v",
        "-p",
        "no:cacheprovider",
    )
    outputs = {
        "junit": (pytester.path / "reports" / "junit.xml").read_text("utf-8"),
        "pytest-html": (pytester.path / "pytest-html.html").read_text("utf-8"),
        "govmail.html": (pytester.path / "reports" / "govmail.html").read_text("utf-8"),
    }
    outputs["terminal"] = result.stdout.str()
    for where, text in outputs.items():
        if where != "terminal":  # markup is only text on a terminal; control bytes are not
            assert "<svg/onload" not in text, where
        assert "\x1b" not in text and "\u202e" not in text and "\x9b" not in text, where
    # dnspython gives names in presentation form: control bytes arrive as \DDD escapes, and
    # the ID encodes the backslashes and the markup.
    shown = "MX-02/evil-dept.gov.uk/%3Csvg%2Fonload%3Dalert%5C%281%5C%29%3E.evil-dept.gov.uk"
    assert shown in outputs["junit"]
    assert shown in outputs["pytest-html"]


# --- certificates, banners and EHLO lines on the terminal ------------------------------------
# A certificate's subject and issuer, a banner, an EHLO line and a trust failure's text are the
# server's words; RFC 4514 escaping of names leaves ESC alone. Each payload class must come out
# as visible escapes.

PAYLOADS = {
    "ESC CSI": "\x1b[2J",
    "OSC title": "\x1b]0;owned\x07",
    "OSC 8 link": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI": "\x9b31m",
    "bidi override": "\u202eexe.txt",
    "bidi isolate": "\u2066x\u2069",
    "NUL and DEL": "\x00\x7f",
}
RAW = ("\x1b", "\x9b", "\x07", "\x00", "\x7f", "\u202e", "\u2066", "\u2069")


def _certificate(common_name: str, organisation: str) -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_server_words_reach_the_terminal_inert(payload: str) -> None:
    from pytest_govmail.model.tls import SmtpDialogue, TlsScan, TrustCheck
    from pytest_govmail.reports.terminal import chain_lines, tls_evidence_lines

    pem = _certificate(f"mx{payload}.evil.gov.uk", f"Evil {payload} Ltd")
    scan = TlsScan(
        host="mx.evil.gov.uk",
        address="192.0.2.25",
        port=25,
        smtp=SmtpDialogue(
            banner=f"mx.evil.gov.uk ESMTP {payload}",
            banner_code=220,
            ehlo=(f"mx.evil.gov.uk {payload}", "STARTTLS"),
            starttls_offered=True,
            starttls_reply=f"220 go ahead {payload}",
        ),
        chain_pem=(pem,),
        trust=(TrustCheck("mozilla", False, f"subject CN=mx{payload}: self-signed"),),
    )
    lines = chain_lines(scan.chain_pem) + tls_evidence_lines(scan)
    text = "\n".join(lines)
    assert not any(ch in text for ch in RAW), repr(text)
    assert "\\x1b" in text or "\\x9b" in text or "\\u20" in text or "\\x00" in text
