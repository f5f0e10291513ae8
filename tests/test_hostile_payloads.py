"""Every payload class in every field that reaches output, through a real assessment.

A domain's owner writes its DNS records, its MX host names, its mail server's banner, EHLO
lines and certificates, and its MTA-STS policy body and headers; an assessor writes the waiver
and attestation files. All of it is quoted in the terminal, in JUnit, in our HTML report and in
pytest-html's. This module publishes each payload class in each of those fields from the lab's
own servers on loopback (DNS, SMTP with a certificate made here, HTTPS), runs a real assessment
of the one domain that carries them, and checks each output:

* no raw control character (C0 incl. NUL and CR, C1 incl. the 8-bit CSI U+009B), no bidi
  override or isolate (the "Trojan Source" characters of CVE-2021-42574), so no terminal
  escape (ECMA-48 CSI/OSC, OSC 8 hyperlinks) can act on the assessor's terminal or viewer;
* no unescaped markup in the HTML and XML outputs (OWASP XSS prevention: encode on output);
* the payloads are still shown, as escapes, so the assessor sees what the domain published.

The browser test (``test_html_browser.py``) opens the same two HTML reports in Chromium.
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pytest_govmail.lab.dns_server import LabDnsServer
from pytest_govmail.lab.https_server import LabHttpsServer, Site
from pytest_govmail.lab.pki import LabPki, LeafCert, server_context
from pytest_govmail.lab.smtp_server import COMPLIANT, LabSmtpServer

DOMAIN = "payload-dept.gov.uk"
MX_HOST = f"mx.{DOMAIN}"
SMTP_ADDRESS = "127.0.7.10"
POLICY_ADDRESS = "127.0.7.12"

#: One payload per class, as Python text. Over-long text is applied separately (LONG).
PAYLOADS: dict[str, str] = {
    "C0": "nul\x00bel\x07bs\x08cr\rlf\nvt\x0bdel\x7f",
    "C1": "csi\x9b31mnel\x85",
    "bidi": "\u202eexe.txt\u202c \u2066iso\u2069 \u200f",
    "ESC": "\x1b[2J\x1b]0;owned\x07\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "HTML": '<script>alert(1)</script> <svg onload=alert(2)> "><img src=x onerror=alert(3)> '
    "javascript:alert(4)",
    "IDN": "bücher-ß-\u0434\u0435\u043f",
}
#: 10 KiB of text in one TXT record: past any line or cell a report would show whole.
LONG = "L" * 10240

#: Characters that must not reach any output as themselves (tab and line ends are excepted in
#: files, where they are layout; the terminal is checked for CR, which rewrites a line).
RAW_CONTROLS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
#: Markup from the payloads, exactly as published: never in an HTML or XML file.
MARKUP = (
    "<script>alert(1)",
    "<svg onload=alert(2)>",
    "<img src=x onerror=alert(3)>",
    "<svg/onload",
    "<script>alert('waiver')",
)


def _escape_bytes(data: bytes, keep: bytes) -> str:
    """Master-file text for ``data`` (RFC 1035 section 5.1): ``\\DDD`` for all but ``keep``."""
    return "".join(chr(b) if b in keep else f"\\{b:03d}" for b in data)


_TXT_KEEP = bytes(b for b in range(0x20, 0x7F) if chr(b) not in '"\\;()')
_LABEL_KEEP = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


def txt_rdata(text: str) -> str:
    """A TXT RDATA of ``text`` as UTF-8, split into character-strings of at most 255 bytes."""
    data = text.encode("utf-8")
    pieces = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return " ".join(f'"{_escape_bytes(piece, _TXT_KEEP)}"' for piece in pieces)


def label(text: str) -> str:
    """One DNS label of ``text``'s UTF-8 bytes (at most 63), escaped for a master file."""
    return _escape_bytes(text.encode("utf-8")[:63], _LABEL_KEEP)


def payload_text() -> str:
    """Every payload class in one line, each tagged with its class."""
    return " ".join(f"[{name}]{payload}" for name, payload in PAYLOADS.items())


def zone() -> str:
    """The domain's zone: payloads in MX names, SPF, DMARC, TLS-RPT, MTA-STS and DKIM TXT."""
    every = payload_text()
    lines = [
        f"$ORIGIN {DOMAIN}.",
        "@ 300 IN SOA ns hostmaster 1 3600 600 604800 300",
        f"@ 300 IN MX 10 {MX_HOST}.",
        f"mx 300 IN A {SMTP_ADDRESS}",
        f"mta-sts 300 IN A {POLICY_ADDRESS}",
        f"@ 300 IN TXT {txt_rdata('v=spf1 include:' + every + ' -all')}",
        f"long 300 IN TXT {txt_rdata(LONG)}",
        f"_dmarc 300 IN TXT {txt_rdata('v=DMARC1; p=' + every + '; rua=mailto:' + every)}",
        f"_smtp._tls 300 IN TXT {txt_rdata('v=TLSRPTv1; rua=' + every)}",
        f"_mta-sts 300 IN TXT {txt_rdata('v=STSv1; id=' + every)}",
        f"sel._domainkey 300 IN TXT {txt_rdata('v=DKIM1; k=rsa; p=' + every)}",
        f"@ 300 IN TXT {txt_rdata('v=spf1 ' + LONG + ' -all')}",  # a second SPF: over-long
    ]
    # Each class as an MX target name of its own (they resolve to nothing: no connection).
    for preference, (name, payload) in enumerate(PAYLOADS.items(), start=20):
        lines.append(f"@ 300 IN MX {preference} {label(payload)}.{label(name)}")
    lines.append("@ 300 IN MX 30 xn--bcher-kva.example.")  # an A-label, shown as published
    lines.append(f"@ 300 IN MX 31 {'.'.join(['m' * 63] * 3)}.example.")  # a 200-byte name
    return "\n".join(lines) + "\n"


def _name(common_name: str, organisation: str) -> x509.Name:
    """A name past RFC 5280's upper bounds (64 characters), as a hostile issuer would write."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation, _validate=False),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=False),
            ]
        )


def hostile_certificate() -> LeafCert:
    """A leaf and its issuing CA whose subject, issuer and SANs carry the payloads.

    X.509 names are UTF8String (RFC 5280 section 4.1.2.4) and hold any character; a dNSName is
    an IA5String (section 4.2.1.6), so the SANs carry the ASCII classes (C0, ESC, markup).
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    issuer = _name(f"CA {PAYLOADS['ESC']} {PAYLOADS['bidi']}", f"Org {PAYLOADS['HTML']}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    sans = [MX_HOST] + [
        f"{PAYLOADS[c].replace(chr(0), '')}.{DOMAIN}" for c in ("C0", "ESC", "HTML")
    ]
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{MX_HOST} {PAYLOADS['C1']} {PAYLOADS['IDN']}", payload_text()))
        .issuer_name(issuer)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return LeafCert(cert=leaf, key=leaf_key, intermediates=(ca,))


#: The banner and EHLO greeting's host part. The lab server sends ASCII (anything else as
#: ``?``), and CR/LF would end the line, so the ASCII classes go here without them.
SMTP_NAME = f"{MX_HOST} {PAYLOADS['ESC']} {PAYLOADS['HTML']} nul\x00bel\x07del\x7f"


def policy_site() -> Site:
    """The MTA-STS policy: payloads in its body and its headers (latin-1 on the wire)."""
    body = f"version: STSv1\nmode: {payload_text()}\nmx: {payload_text()}\nmax_age: {LONG}\n"
    return Site.text(
        body,
        content_type="text/<svg onload=alert(5)>\x9b31m",
        headers=(("X-Payload", '"><img src=x onerror=alert(6)>\x9b'),),
    )


def waivers_file() -> str:
    """A waiver whose reason is every payload; it expires within the default horizon."""
    expires = datetime.date.today() + datetime.timedelta(days=30)
    reason = f"{payload_text()} <script>alert('waiver')</script>".encode("unicode_escape").decode(
        "ascii"
    )
    reason = reason.replace('"', '\\"').replace("\\x", "\\u00")
    return (
        f'[[waiver]]\nrequirement = "SPF-01"\ndomain = "{DOMAIN}"\n'
        f'reason = "{reason}"\nexpires = {expires.isoformat()}\n'
    )


def attestations_file() -> str:
    text = payload_text().encode("unicode_escape").decode("ascii")
    text = text.replace('"', '\\"').replace("\\x", "\\u00")
    return (
        f'[[attestation]]\ndomain = "{DOMAIN}"\ncontrol = "inbound-dmarc-enforcement"\n'
        f'attested_by = "{text}"\ndate = 2026-10-01\nevidence = "javascript:alert(7) {text}"\n'
    )


@dataclass(frozen=True)
class PayloadLab:
    """The running servers and the options that point a run at them."""

    args: tuple[str, ...]


@dataclass(frozen=True)
class Outputs:
    """What one assessment wrote: terminal text, the three report files and the evidence."""

    terminal: str
    junit: str
    govmail_html: Path
    pytest_html: Path
    evidence: Path

    def files(self) -> dict[str, str]:
        return {
            "junit.xml": self.junit,
            "govmail.html": self.govmail_html.read_text("utf-8"),
            "pytest-html": self.pytest_html.read_text("utf-8"),
        }


@dataclass
class _Running:
    dns: LabDnsServer
    smtp: LabSmtpServer
    https: LabHttpsServer


def start_lab(folder: Path, hostile_inputs: bool) -> tuple[PayloadLab, _Running]:
    """Start DNS, SMTP and HTTPS servers on loopback; with ``hostile_inputs``, also write
    waiver and attestation files full of payloads."""
    pki = LabPki("payload lab")
    ca_file = pki.write_ca_file(folder / "lab-ca.pem")
    smtp = LabSmtpServer(
        COMPLIANT,
        hostname=SMTP_NAME,
        host=SMTP_ADDRESS,
        context=server_context(hostile_certificate()),
        idle_timeout=3.0,
    ).start()
    try:
        https = LabHttpsServer(
            {f"mta-sts.{DOMAIN}": policy_site()},
            lambda name: server_context(pki.issue_leaf([name])),
            host=POLICY_ADDRESS,
        ).start()
    except BaseException:
        smtp.stop()
        raise
    try:
        dns = LabDnsServer({DOMAIN: zone()}).start()
    except BaseException:
        smtp.stop()
        https.stop()
        raise
    host, port = dns.address
    args: tuple[str, ...] = (
        f"--govmail-nameserver={host}:{port}",
        f"--govmail-domain={DOMAIN}",
        "--govmail-dkim-selector=sel",
        "--govmail-timeout=1",
        f"--govmail-smtp-port={smtp.address[1]}",
        f"--govmail-https-port={https.address[1]}",
        f"--govmail-ca-file={ca_file}",
        "--govmail-allow-private",
    )
    if hostile_inputs:
        waivers, attestations = folder / "waivers.toml", folder / "attestations.toml"
        waivers.write_text(waivers_file(), "utf-8")
        attestations.write_text(attestations_file(), "utf-8")
        args += (f"--govmail-waivers={waivers}", f"--govmail-attestations={attestations}")
    return PayloadLab(args), _Running(dns, smtp, https)


def run_assessment(folder: Path, hostile_inputs: bool = False) -> Outputs:
    """Start the payload lab, assess its domain in a fresh pytest, and stop the lab.

    DANE, PTR and parked-domain tests are left out (``-m``): they quote nothing the other areas
    do not, and the run stays at a few seconds.
    """
    lab, running = start_lab(folder, hostile_inputs)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                *lab.args,
                "-m",
                "not dane and not ptr and not park",
                "--html=pytest-html.html",
                "--govmail-evidence-out=evidence.json",
                "--color=no",
                "-v",
                "-rA",
                "-p",
                "no:cacheprovider",
            ],
            cwd=folder,
            capture_output=True,  # bytes: text mode would turn a raw CR into a line end
            timeout=300,
            check=False,
            env={**os.environ, "PYTEST_ADDOPTS": ""},
        )
    finally:
        running.smtp.stop()
        running.https.stop()
        running.dns.stop()
    reports = folder / "reports"
    assert (reports / "govmail.html").exists(), result.stdout + result.stderr
    assert b"collected" in result.stdout and b"passed" in result.stdout, result.stdout
    return Outputs(
        terminal=(result.stdout + result.stderr).decode("utf-8", "backslashreplace"),
        junit=(reports / "junit.xml").read_text("utf-8"),
        govmail_html=reports / "govmail.html",
        pytest_html=folder / "pytest-html.html",
        evidence=folder / "evidence.json",
    )


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    """One assessment with every network field hostile, and the assessor's inputs not given."""
    return run_assessment(tmp_path_factory.mktemp("payloads"))


@pytest.fixture(scope="module")
def input_outputs(tmp_path_factory: pytest.TempPathFactory) -> Outputs:
    """The same assessment with a waiver and an attestation whose text is the payloads."""
    return run_assessment(tmp_path_factory.mktemp("inputs"), hostile_inputs=True)


def raw_controls(text: str) -> list[str]:
    """Each raw control or bidi character in ``text``, with what surrounds it (for messages)."""
    return [repr(text[max(0, m.start() - 60) : m.end() + 20]) for m in RAW_CONTROLS.finditer(text)]


def raw_markup(text: str) -> list[str]:
    """Each payload's markup found as itself in ``text``, with what surrounds it."""
    found = []
    for markup in MARKUP:
        start = text.find(markup)
        if start >= 0:
            found.append(repr(text[max(0, start - 80) : start + len(markup) + 20]))
    return found


OUTPUTS = ("terminal", "junit.xml", "govmail.html", "pytest-html")


def _text(outputs: Outputs, where: str) -> str:
    return outputs.terminal if where == "terminal" else outputs.files()[where]


@pytest.mark.parametrize("where", OUTPUTS)
def test_network_payloads_reach_no_output_raw(outputs: Outputs, where: str) -> None:
    text = _text(outputs, where)
    assert raw_controls(text) == [], where
    if where != "terminal":  # markup is only text on a terminal; control bytes are not
        assert raw_markup(text) == [], where


#: Each field, and a piece of its payload as an output shows it: escaped, percent-encoded in a
#: test ID, or cut short. Banners and EHLO lines carry the collector's ``?`` for a control byte
#: (pytest_govmail.collect.smtp). The SANs are served but quoted by no output (the name matches).
SHOWN: dict[str, tuple[str, str]] = {
    "MX name (markup, in a test ID)": ("junit.xml", "%3Cscript%3Ealert%5C%281%5C%29"),
    "MX name (C1, DNS presentation form)": ("terminal", r"csi\194\15531m"),
    "MX name (A-label)": ("pytest-html", "xn--bcher-kva.example"),
    "SPF record (C0)": ("junit.xml", r"include:[C0]nul\x00bel"),
    "DMARC and other TXT (bidi)": ("terminal", r"[bidi]\u202eexe.txt"),
    "TXT (markup)": ("junit.xml", "[HTML]&lt;script&gt;alert(1)"),
    "TXT (non-ASCII)": ("terminal", "bücher-ß-деп"),
    "TXT over-long": ("govmail.html", "characters in all)"),
    "SMTP banner and EHLO": ("terminal", "nul?bel?del? greets you"),
    "certificate issuer (ESC, bidi)": ("terminal", r"CN=CA \x1b[2J"),
    "certificate subject (C1)": ("terminal", r"CN=mx.payload-dept.gov.uk csi\x9b31mnel\x85"),
    "certificate subject (JSON in our report)": ("govmail.html", r"\\x9b31m"),
    "policy body": ("govmail.html", "mode: [C0]"),
    "policy Content-Type (markup, C1)": ("junit.xml", r"text/&lt;svg onload=alert(5)&gt;\x9b31m"),
}


def test_network_payloads_reach_the_evidence_file_escaped(outputs: Outputs) -> None:
    """The evidence file keeps what the domain published (markup included: JSON is data, no
    viewer renders it), every control, bidi and non-ASCII character as a JSON escape, so that
    reading it in a terminal or a pager is as safe as reading the reports."""
    raw = outputs.evidence.read_bytes()
    assert raw.isascii()
    text = raw.decode("ascii")
    assert raw_controls(text) == []
    for needle in (
        r"[bidi]\u202eexe.txt",  # a TXT record
        r"[C1]csi\u009b31mnel\u0085",
        "[HTML]<script>alert(1)</script>",  # kept as published
        "nul?bel?del?",  # the banner, as the collector records it
    ):
        assert needle in text, needle


@pytest.mark.parametrize(
    ("field", "where", "needle"), [(f, *s) for f, s in SHOWN.items()], ids=list(SHOWN)
)
def test_payloads_are_shown_as_text(outputs: Outputs, field: str, where: str, needle: str) -> None:
    """The payloads reach the assessor, in a form that cannot act: the checks above are not
    passing because a field was dropped."""
    assert needle in _text(outputs, where), field


#: The assessor's own inputs, as an output shows them (waiver reason; attestation evidence).
INPUTS_SHOWN: dict[str, tuple[str, str]] = {
    "waiver reason (JUnit)": ("junit.xml", r"[C0]nul\x00bel\x07bs\x08cr\x0dlf\x0avt"),
    "waiver reason (our report's data)": ("govmail.html", r"[C0]nul\\x00bel"),
    "attestation evidence": ("govmail.html", r"javascript:alert(7) [C0]nul\x00bel"),
    "attestation text (pytest-html)": ("pytest-html", r"javascript:alert(7) [C0]nul\x00bel"),
}


@pytest.mark.parametrize("where", OUTPUTS)
def test_waiver_and_attestation_payloads_reach_no_output_raw(
    input_outputs: Outputs, where: str
) -> None:
    text = _text(input_outputs, where)
    assert raw_controls(text) == [], where
    if where != "terminal":
        assert raw_markup(text) == [], where


@pytest.mark.parametrize(
    ("field", "where", "needle"), [(f, *s) for f, s in INPUTS_SHOWN.items()], ids=list(INPUTS_SHOWN)
)
def test_waiver_and_attestation_payloads_are_shown_as_text(
    input_outputs: Outputs, field: str, where: str, needle: str
) -> None:
    assert needle in _text(input_outputs, where), field


def test_waiver_and_attestation_markup_is_escaped(input_outputs: Outputs) -> None:
    """Markup in the inputs is escaped in every file, and still shown."""
    for where in OUTPUTS[1:]:
        assert raw_markup(_text(input_outputs, where)) == [], where
    assert "javascript:alert(7)" in _text(input_outputs, "govmail.html")
    assert "&lt;script&gt;alert('waiver')" in _text(input_outputs, "junit.xml").replace(
        "&#x27;", "'"
    ).replace("&#39;", "'")
