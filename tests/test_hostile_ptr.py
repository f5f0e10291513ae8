"""PTR names, as the owner of a reverse zone writes them, in every output of a real assessment.

``test_hostile_payloads`` leaves the PTR area out of its run. PTR-02 quotes the names the reverse
DNS of each sending address gives, and those are written by whoever holds the address block
(a hosting provider, an ISP), not by the domain's owner. Here the lab's DNS server on loopback
publishes a domain whose SPF authorises one address, and a reverse zone that names it with
markup and an ESC sequence. The names are under the domain, so the forward check gets NXDOMAIN
and PTR-02 fails quoting them; each output must show them, inert.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_hostile_payloads import label, raw_controls, raw_markup

from pytest_govmail.lab.dns_server import LabDnsServer

DOMAIN = "ptr-payload-dept.gov.uk"
SENDER = "127.0.7.20"
#: Markup, and ECMA-48 "erase display" after a raw ESC.
PTR_LABELS = ("<script>ptr</script>", "\x1b[2Jptr")


def zones() -> dict[str, str]:
    head = "@ 300 IN SOA ns hostmaster 1 3600 600 604800 300\n"
    forward = f'$ORIGIN {DOMAIN}.\n{head}@ 300 IN TXT "v=spf1 ip4:{SENDER} -all"\n'
    last, third, second, _ = reversed(SENDER.split("."))
    reverse = "$ORIGIN 127.in-addr.arpa.\n" + head
    reverse += "".join(
        f"{last}.{third}.{second} 300 IN PTR {label(text)}.{DOMAIN}.\n" for text in PTR_LABELS
    )
    return {DOMAIN: forward, "127.in-addr.arpa": reverse}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The terminal, JUnit, our HTML and pytest-html of a PTR-only assessment of the domain."""
    folder = tmp_path_factory.mktemp("ptr-payloads")
    with LabDnsServer(zones()) as dns:
        host, port = dns.address
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--govmail-nameserver={host}:{port}",
                f"--govmail-domain={DOMAIN}",
                "--govmail-timeout=1",
                "--govmail-allow-private",
                "-m",
                "ptr",
                "--html=pytest-html.html",
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
    reports = folder / "reports"
    assert (reports / "govmail.html").exists(), result.stdout + result.stderr
    return {
        "terminal": (result.stdout + result.stderr).decode("utf-8", "backslashreplace"),
        "junit.xml": (reports / "junit.xml").read_text("utf-8"),
        "govmail.html": (reports / "govmail.html").read_text("utf-8"),
        "pytest-html": Path(folder / "pytest-html.html").read_text("utf-8"),
    }


@pytest.mark.parametrize("where", ["terminal", "junit.xml", "govmail.html", "pytest-html"])
def test_ptr_names_reach_no_output_raw(outputs: dict[str, str], where: str) -> None:
    text = outputs[where]
    assert "whose A records do not include it" in text, where  # PTR-02 failed, quoting them
    assert raw_controls(text) == [], where
    assert "\x1b[2Jptr" not in text, where
    if where != "terminal":
        assert raw_markup(text) == [], where
        assert "<script>ptr" not in text, where


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("terminal", r"\027[2jptr"),  # presentation form (RFC 1035 section 5.1), lower-cased
        ("govmail.html", r"\\027[2jptr"),  # the same, inside our report's JSON data
        ("terminal", "<script>ptr</script>"),  # markup is only text on a terminal
        ("junit.xml", "&lt;script&gt;ptr&lt;/script&gt;"),
    ],
)
def test_ptr_names_are_shown_as_text(outputs: dict[str, str], where: str, needle: str) -> None:
    assert needle in outputs[where], where
