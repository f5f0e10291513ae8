"""DNSSEC options end to end, through pytester, against the demo lab's DNS server on loopback:
the lab's own trust anchor, a trusted resolver's AD bit, and the usage errors of both options."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_govmail.lab.demo import DemoLab, start_demo_lab

BASE = ["-p", "no:cacheprovider", "-p", "no:randomly", "--govmail-no-reports", "-m", "dnssec"]


@pytest.fixture(scope="module")
def lab() -> Iterator[DemoLab]:
    running = start_demo_lab(services=False)
    yield running
    running.stop()


def test_the_lab_anchor_gives_pass_unsigned_and_bogus(
    pytester: pytest.Pytester, lab: DemoLab
) -> None:
    domains = "exemplary-dept.gov.uk,bare-dept.gov.uk,monitoring-dept.gov.uk"
    result = pytester.runpytest(
        *lab.cli_args(), f"--govmail-domain={domains}", "--govmail-evidence-out=e.json", "-v", *BASE
    )
    assert {k: v for k, v in result.parseoutcomes().items() if k != "deselected"} == {
        "passed": 1,
        "failed": 2,
    }
    result.stdout.fnmatch_lines_random(
        [
            "*observed: bare-dept.gov.uk/MX is not DNSSEC-signed*proves there is no DS*",
            "*observed: monitoring-dept.gov.uk/MX fails DNSSEC validation*expired*",
        ]
    )
    saved = json.loads((pytester.path / "e.json").read_text("utf-8"))
    assert saved["settings"]["dnssec"].startswith(str(lab.trust_anchor))
    chains = {(c["name"], c["rdtype"]): c for c in saved["dnssec"]}
    assert chains[("exemplary-dept.gov.uk", "MX")]["result"] == "secure"
    assert [s["what"] for s in chains[("exemplary-dept.gov.uk", "MX")]["steps"]] == [
        "anchor",
        "DS",
        "DNSKEY",
        "answer",
    ]
    # Replayed offline, the same verdicts from the stored chains.
    replay = pytester.runpytest("--govmail-replay=e.json", *BASE)
    assert replay.parseoutcomes()["passed"] == 1 and replay.parseoutcomes()["failed"] == 2


def test_a_trusted_resolver_is_taken_at_its_ad_bit(pytester: pytest.Pytester, lab: DemoLab) -> None:
    """The lab is an authoritative server: it never sets AD, so nothing is validated."""
    result = pytester.runpytest(
        *lab.cli_args(),
        f"--govmail-trusted-resolver={lab.nameserver}",
        "--govmail-domain=exemplary-dept.gov.uk",
        *BASE,
    )
    assert result.parseoutcomes()["failed"] == 1 and "passed" not in result.parseoutcomes()
    result.stdout.fnmatch_lines(["*DNSSEC-01 FAIL*did not set the AD bit*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--govmail-trusted-resolver=192.0.2.53"], "*not one of the resolvers given*"),
        (["--govmail-trusted-resolver=nonsense"], "*--govmail-trusted-resolver*not an IP address*"),
        (["--govmail-trust-anchor=missing.zone"], "*--govmail-trust-anchor: cannot read*"),
        (["--govmail-trust-anchor=bad.zone"], "*--govmail-trust-anchor: bad.zone, line 1*"),
    ],
)
def test_option_errors_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    Path(pytester.path / "bad.zone").write_text("example. IN DS 1 8 2 zz\n", "utf-8")
    result = pytester.runpytest(
        "--govmail-domain=example-dept.gov.uk", "--govmail-nameserver=127.0.0.1:53", *args, *BASE
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
