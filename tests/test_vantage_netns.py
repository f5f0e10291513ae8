"""Issue 18's "done when", each in a network namespace of the test's own (``unshare -n``).

Each test runs tests/netns_vantage.py inside a fresh namespace holding only loopback (and, for
the blocked port, a tun device nobody reads, which swallows what is routed to it), so no packet
can reach any outside address. Where the namespace cannot be made (not root, or a container
that forbids it), the tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

RUNNER = Path(__file__).with_name("netns_vantage.py")


@cache
def _namespace_problem() -> str | None:
    """Why a network namespace with a tun device cannot be made here (None: it can)."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare(1) or ip(8) is not installed"
    probe = "ip link set lo up && ip tuntap add dev probe0 mode tun"
    done = subprocess.run(["unshare", "-n", "sh", "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return f"cannot make a network namespace with a tun device: {done.stderr.strip()[:200]}"
    return None


def run_scenario(scenario: str, folder: Path) -> tuple[dict[str, Any], str]:
    """Run one scenario in its own namespace: (what each test decided, the terminal output)."""
    problem = _namespace_problem()
    if problem is not None:
        pytest.skip(problem)
    # The tree under test first on the path, as for the parent (the package may be installed
    # from another checkout).
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(RUNNER.parent.parent)}
    done = subprocess.run(
        ["unshare", "-n", sys.executable, str(RUNNER), scenario, str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (folder / "outcomes.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((folder / "outcomes.json").read_text()), done.stdout


def test_no_ipv6_route_passes_on_ipv4_and_names_the_ipv6_address(tmp_path: Path) -> None:
    outcome, output = run_scenario("no-ipv6", tmp_path)
    tests = outcome["tests"]
    assert {t["requirement"] for t in tests} >= {"TLS-01", "TLS-02", "TLS-10", "CERT-01"}
    for test in tests:
        assert test["status"] == "pass", test
        assert "2001:db8:25::25: not probed from this machine (no IPv6 route)" in test["summary"]
        assert test["summary"].startswith("127.0.25.10:")
    assert outcome["exit"] == 0
    assert "IPv6 no route" in output
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["settings"]["vantage.unrouted"] == "2001:db8:25::25"
    assert evidence["settings"]["vantage.port25"] == "answered"
    assert [s["address"] for s in evidence["tls"]] == ["127.0.25.10"]


def test_both_keeps_an_unreachable_address_inconclusive(tmp_path: Path) -> None:
    outcome, _ = run_scenario("no-ipv6-both", tmp_path)
    assert outcome["tests"]
    for test in outcome["tests"]:
        assert test["status"] == "inconclusive", test
        assert "2001:db8:25::25" in test["summary"] and "unreachable" in test["summary"], test


def test_blocked_port_25_is_named_once_within_one_timeout(tmp_path: Path) -> None:
    outcome, output = run_scenario("blocked", tmp_path)
    host_tests = [t for t in outcome["tests"] if t["host"] is not None]
    assert len(host_tests) >= 3 * 17
    blocked = "outbound port 25 looks blocked from this machine"
    for test in host_tests:
        if test["requirement"] == "MX-02":  # a DNS check of the host name: still judged
            continue
        assert test["status"] == "inconclusive", test
        assert blocked in test["summary"], test
    # One timeout (2 s) for all connects at once, plus a few seconds.
    assert outcome["seconds"] < 2 + 4
    summary = [line for line in output.splitlines() if line.startswith("govmail: " + blocked)]
    assert len(summary) == 1, output[-3000:]
    assert "test(s) inconclusive for that one cause" in summary[0]
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count('name="govmail.vantage.cause"') == 1
    report = (tmp_path / "reports" / "govmail.html").read_text()
    assert report.count("govmail-banner") == 1
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["settings"]["vantage.port25"] == "looks blocked"


def test_scanner_stops_connecting_once_port_25_looks_blocked(tmp_path: Path) -> None:
    outcome, _ = run_scenario("give-up", tmp_path)
    kinds = outcome["kinds"]
    # Two rounds of four 1 s timeouts reach the threshold (8 over 3+ providers); the workers
    # that finished first may have started one more round (3 connects) by then. The rest are
    # not tried, rather than ten rounds of timeouts one after another.
    assert len(kinds) == 40 and set(kinds) == {"timeout", "not_collected"}
    assert 8 <= kinds.count("timeout") <= 8 + 3
    assert outcome["seconds"] < 3 + 1.5


def test_resolver_answering_nxdomain_passes_nothing_and_says_why_once(tmp_path: Path) -> None:
    outcome, output = run_scenario("nxdomain", tmp_path)
    tests = outcome["tests"]
    assert len(tests) > 40
    cause = "the resolver cannot see the public DNS"
    assert {t["status"] for t in tests} == {"inconclusive"}
    assert all(cause in t["summary"] for t in tests)
    told = [line for line in output.splitlines() if line.startswith(f"govmail: {cause}")]
    assert len(told) == 1 and f"{len(tests)} test(s) inconclusive" in told[0]
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["settings"]["vantage.canary_failed"] == "yes"
