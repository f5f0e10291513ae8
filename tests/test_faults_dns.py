"""The DNS fault lab: every fault a clear verdict, nothing lost, no neighbour disturbed.

Each faulty domain is served by the lab's real DNS server on loopback next to a healthy one.
The run must end within its timeouts, the faulty domain's tests must ERROR (a probe could not
decide) or FAIL (the answer is wrong) with a message naming what happened, the healthy domain's
outcomes must be exactly those of a run without the neighbours, and the evidence file must
record what was seen.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_govmail.lab.dns_server import Fault, LabDnsServer

SOA = "@ 300 IN SOA ns hostmaster 1 3600 600 604800 300\n"
HEALTHY = (
    "$ORIGIN healthy-dept.gov.uk.\n" + SOA + "@ 300 IN MX 10 mx.healthy-dept.gov.uk.\n"
    "mx 300 IN A 192.0.2.10\n"
    '@ 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
    '_dmarc 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@healthy-dept.gov.uk"\n'
)


def zone(name: str, body: str = "") -> str:
    return f"$ORIGIN {name}.\n" + SOA + body


BIG = " ".join(f'"{"a" * 250}"' for _ in range(70))  # 17.5 KiB of TXT: only TCP carries it
FAULTS: dict[str, tuple[str, Fault, float]] = {
    # domain: (zone body, fault, extra delay)
    "silent-dept.gov.uk": ("", Fault.DROP, 0.0),
    "servfail-dept.gov.uk": ("", Fault.SERVFAIL, 0.0),
    "refused-dept.gov.uk": ("", Fault.REFUSED, 0.0),
    "slow-ok-dept.gov.uk": ('@ 300 IN TXT "v=spf1 -all"\n@ 300 IN MX 0 .\n', Fault.NONE, 0.4),
    "slow-over-dept.gov.uk": ('@ 300 IN TXT "v=spf1 -all"\n', Fault.NONE, 2.5),
    "loop-dept.gov.uk": ("@ 300 IN MX 10 a\na 300 IN CNAME b\nb 300 IN CNAME a\n", Fault.NONE, 0.0),
    "bulky-dept.gov.uk": (f"@ 300 IN TXT {BIG}\n@ 300 IN MX 0 .\n", Fault.NONE, 0.0),
    "binary-dept.gov.uk": (
        '@ 300 IN TXT "v=spf1 ip4:192.0.2.1 \\255\\254\\000 -all"\n@ 300 IN MX 0 .\n',
        Fault.NONE,
        0.0,
    ),
}
TIMEOUT = 1.5


@pytest.fixture(scope="module")
def server() -> Iterator[LabDnsServer]:
    zones = {"healthy-dept.gov.uk": HEALTHY}
    zones.update({d: zone(d, body) for d, (body, _, _) in FAULTS.items()})
    faults = {d: f for d, (_, f, _) in FAULTS.items() if f is not Fault.NONE}
    slow = {d: s for d, (_, _, s) in FAULTS.items() if s}
    with LabDnsServer(zones, faults=faults, slow=slow) as running:
        yield running


def junit_messages(path: Path) -> dict[str, str]:
    """'REQ domain' -> 'passed' or 'failure: <message>' / 'error: ...' / 'skipped: ...'."""
    found = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome = f"{tag}: {element.get('message', '')}"
        found[f"{props['govmail.requirement']} {props['govmail.domain']}"] = outcome
    return found


def assess(pytester: pytest.Pytester, server: LabDnsServer, *domains: str) -> dict[str, str]:
    host, port = server.address
    pytester.runpytest(
        f"--govmail-nameserver={host}:{port}",
        f"--govmail-timeout={TIMEOUT}",
        *(f"--govmail-domain={d}" for d in domains),
        "--govmail-evidence-out=evidence.json",
        "-p",
        "no:cacheprovider",
        "-m",
        "spf or dmarc or mx",
    )
    return junit_messages(pytester.path / "reports" / "junit.xml")


def test_faulty_neighbours_change_nothing_for_a_healthy_domain(
    pytester: pytest.Pytester, server: LabDnsServer
) -> None:
    alone = assess(pytester, server, "healthy-dept.gov.uk")
    start = time.monotonic()
    crowd = assess(pytester, server, "healthy-dept.gov.uk", *FAULTS)
    elapsed = time.monotonic() - start
    healthy = {k: v for k, v in crowd.items() if k.endswith(" healthy-dept.gov.uk")}
    assert healthy == alone
    # Timeouts run side by side: two collection phases, not one timeout per question.
    assert elapsed < 6 * TIMEOUT + 10


@pytest.fixture(scope="module")
def crowd_run(
    tmp_path_factory: pytest.TempPathFactory, server: LabDnsServer
) -> tuple[dict[str, str], dict[str, object]]:
    folder = tmp_path_factory.mktemp("faults")
    host, port = server.address
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--govmail-nameserver={host}:{port}",
            f"--govmail-timeout={TIMEOUT}",
            *(f"--govmail-domain={d}" for d in FAULTS),
            "--govmail-evidence-out=evidence.json",
            "-p",
            "no:cacheprovider",
            "-m",
            "spf or dmarc or mx",
        ],
        cwd=folder,
        capture_output=True,
        timeout=120,
        check=False,
    )
    evidence = json.loads((folder / "evidence.json").read_text())
    return junit_messages(folder / "reports" / "junit.xml"), evidence


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("SPF-01 silent-dept.gov.uk", "error: *timeout*", id="timeout"),
        pytest.param("DMARC-01 servfail-dept.gov.uk", "error: *SERVFAIL*", id="servfail"),
        pytest.param("SPF-01 refused-dept.gov.uk", "error: *REFUSED*", id="refused"),
        pytest.param("SPF-01 slow-ok-dept.gov.uk", "passed", id="slow-under-timeout"),
        pytest.param("SPF-01 slow-over-dept.gov.uk", "error: *timeout*", id="slow-over-timeout"),
        pytest.param("MX-01 loop-dept.gov.uk", "error: *", id="cname-loop"),
        pytest.param("SPF-01 bulky-dept.gov.uk", "failure: *none starting 'v=spf1'*", id="16k-txt"),
        pytest.param("SPF-02 binary-dept.gov.uk", "failure: *", id="non-utf8-txt"),
    ],
)
def test_each_fault_has_a_clear_outcome(
    crowd_run: tuple[dict[str, str], dict[str, object]], key: str, expected: str
) -> None:
    outcomes, _ = crowd_run
    assert fnmatch.fnmatch(outcomes[key], expected), outcomes[key]


def test_evidence_records_every_fault(crowd_run: tuple[dict[str, str], dict[str, object]]) -> None:
    _, evidence = crowd_run
    answers = {(r["name"], r["rdtype"]): r for r in evidence["dns"]}  # type: ignore[index]
    assert answers[("silent-dept.gov.uk", "TXT")]["error"]["kind"] == "timeout"
    assert answers[("servfail-dept.gov.uk", "TXT")]["error"]["kind"] == "servfail"
    assert answers[("refused-dept.gov.uk", "TXT")]["error"]["kind"] == "refused"
    bulky = answers[("bulky-dept.gov.uk", "TXT")]
    assert bulky["rcode"] == "NOERROR" and len(bulky["records"][0]) > 16_000
    binary = answers[("binary-dept.gov.uk", "TXT")]["records"][0]
    assert "\\255\\254\\000" in binary  # the exact bytes, escaped, not "undecodable"
